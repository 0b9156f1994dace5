// The checkpoint file (<root>/checkpoint) and the queue-offset table it carries.
//
// The first 40 bytes are RocketMQ's StoreCheckpoint layout (big-endian longs: physicMsgTimestamp,
// logicsMsgTimestamp, indexMsgTimestamp, masterFlushedOffset, confirmPhyOffset), so RocketMQ tools
// reading it see sensible values. Stele's own part follows:
//
//   40  8  "STELECKP"
//   48  4  version (2)
//   52  4  entry count N
//   56  8  safe offset S: every commit-log byte before S is durable and reflected in the table
//   64  8  commit-log min offset
//   72  4  flags: bit 0 = records after S carry the whole-record __CRC32# property
//   76  8  dispatch offset D <= S: every record before D is durably in its consume queue and the
//          hash index (version 2; a version-1 file reads as D = -1, "rebuild from the start")
//   84  .  N x { u16 topic length, topic, i32 queue id, i64 next queue offset }
//    end  4  CRC-32 of every byte before it
//
// Recovery scans the commit log only from S, so the time it takes is bounded by what was appended
// since the last checkpoint. The file is replaced atomically (write temp, fdatasync, rename, fsync
// the directory), so a crash leaves either the old or the new checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "stele/file_system.h"

namespace stele::engine {

// Heterogeneous std::string_view lookup (Debian's Abseil has its own string_view type).
struct SvHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
struct SvEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

class QueueOffsetTable {
 public:
  int64_t Next(std::string_view topic, int32_t queue_id) const;
  // Returns the next offset for (topic, queue) and advances it by `n`.
  int64_t Assign(std::string_view topic, int32_t queue_id, int64_t n = 1);
  // Records that `queue_offset` is taken (recovery): next becomes at least queue_offset + 1.
  void Observe(std::string_view topic, int32_t queue_id, int64_t queue_offset);
  bool Has(std::string_view topic, int32_t queue_id) const;
  size_t size() const;
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [topic, queues] : map_) {
      for (const auto& [qid, next] : queues) f(topic, qid, next);
    }
  }

 private:
  absl::flat_hash_map<std::string, absl::flat_hash_map<int32_t, int64_t>, SvHash, SvEq> map_;
};

struct CheckpointData {
  int64_t physic_msg_timestamp = 0;
  int64_t logics_msg_timestamp = 0;
  int64_t index_msg_timestamp = 0;
  int64_t safe_offset = 0;
  int64_t min_offset = 0;
  // Written by the run that appends after safe_offset: whether its records carry __CRC32#.
  bool records_have_crc = false;
  // -1: unknown (the consume queues and the index must be rebuilt from the commit log's start).
  int64_t dispatch_offset = -1;
  QueueOffsetTable queues;
};

std::string EncodeCheckpoint(const CheckpointData& c);
// DataLoss if the bytes are not a complete, CRC-valid Stele checkpoint.
absl::StatusOr<CheckpointData> DecodeCheckpoint(std::string_view bytes);

absl::Status WriteCheckpoint(FileSystem* fs, const std::string& root, const CheckpointData& c);
// NotFound if there is none; DataLoss if it is damaged.
absl::StatusOr<CheckpointData> ReadCheckpoint(FileSystem* fs, const std::string& root);

// Replaces `path` with `data` atomically and durably (temp file, fdatasync, rename, dir fsync).
absl::Status WriteFileAtomically(FileSystem* fs, const std::string& path, std::string_view data);

}  // namespace stele::engine
