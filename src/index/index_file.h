// The hash index: finds commit-log offsets by message key and store time, as RocketMQ's
// IndexService/IndexFile do (store/index). It knows nothing of the commit log; the engine's
// dispatcher feeds it and checks every hit against the record (the index stores only key hashes).
//
// Files live in <root>/index, named by creation time (local yyyyMMddHHmmssSSS), and are
// byte-compatible with RocketMQ's. All integers big-endian:
//
//   header, 40 bytes
//      0  i64  beginTimestamp   store time (ms) of the first entry
//      8  i64  endTimestamp     store time of the last entry
//     16  i64  beginPhyOffset   commit-log offset of the first entry
//     24  i64  endPhyOffset     commit-log offset of the last entry
//     32  i32  hashSlotCount    slots in use
//     36  i32  indexCount       1 + number of entries (entry 0 is never used, so 0 means "none")
//   slot table at 40: hashSlotNum x i32, the index of the newest entry of the slot's chain, or 0
//   entry i (1 <= i < indexCount) at 40 + hashSlotNum*4 + i*20, 20 bytes
//      0  i32  keyHash          abs(Java String.hashCode(key)); 0 where abs overflows
//      4  i64  phyOffset
//     12  i32  timeDiff         whole seconds since beginTimestamp, clamped to [0, INT32_MAX]
//     16  i32  prevIndex        the slot's previous chain head (0 = end of chain)
//
// File size = 40 + hashSlotNum*4 + maxIndexNum*20; a file is full when indexCount == maxIndexNum
// (it holds maxIndexNum-1 entries). key = "topic#key"; slot = keyHash % hashSlotNum. A new file's
// begin/end values are seeded from the previous file's end values until its first entry, which
// sets the begin values before its timeDiff is computed (so it is 0; RocketMQ computes it against
// the seeded beginTimestamp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stele/file_system.h"

namespace stele::index {

struct IndexConfig {
  uint32_t max_hash_slot_num = 5'000'000;  // maxHashSlotNum
  uint32_t max_index_num = 20'000'000;     // maxIndexNum
};

// abs(JavaStringHash(key)), 0 for INT32_MIN: the keyHash stored in entries.
int32_t IndexKeyHash(std::string_view key);
// The file name for a creation time: local time, yyyyMMddHHmmssSSS.
std::string IndexFileName(int64_t ms);

class IndexFile;

// Thread safety: Put is called by one thread at a time (the dispatcher); Sync may run concurrently
// with it (the flusher). Query, DeleteFilesBelow, FileCount and TotalEntries may be called from any
// thread at any time. Put takes an uncontended mutex and stores into a writable mapping (no
// syscall) except when it rolls to a new file; queries read the mappings without holding it, and
// a file deleted under a query stays mapped until the query is done with it.
//
// Durability: nothing is durable until Sync returns OK. After a power loss the files may hold any
// mix of synced and unsynced pages; readers never follow an index >= indexCount, so a damaged file
// only loses hits, but those can be durable ones (a slot naming an entry that never reached the
// disk hides its whole chain). The index is derived data: after a crash the caller runs
// RepairAfterCrash and re-indexes from the offset it gave.
// After a failed write or Sync, Put and Sync return that error until Close and Load again.
class IndexService {
 public:
  // `dir` = <root>/index. `now_ms` names new files; if the name is taken, 1 ms is added until it
  // is free, and names always sort after the newest file's (so a clock step back keeps the order).
  IndexService(FileSystem* fs, std::string dir, IndexConfig cfg, std::function<int64_t()> now_ms);
  ~IndexService();
  IndexService(const IndexService&) = delete;
  IndexService& operator=(const IndexService&) = delete;

  // Call once before anything else (or again after Close). Creates `dir` if missing, removes
  // "*.tmp" leftovers of an interrupted file creation, opens index files oldest to newest by name
  // (the newest writable). A file whose size does not match the config or whose header is
  // impossible is renamed to "<name>.corrupt" with a warning and skipped; other names are ignored
  // with a warning. InvalidArgument if the config is unusable.
  absl::Status Load();

  // Indexes one commit-log record under "topic#uniq_key" (if non-empty) and "topic#k" for every
  // non-empty k in the space-separated `keys`. A record without keys costs nothing. Rolls to a new
  // file when the current one is full. Errors creating a file (disk full) are returned and the
  // record's remaining keys are not indexed; a later Put tries again. Unlike RocketMQ's
  // buildIndex, records below the current endPhyOffset are not skipped (that is the caller's
  // call); Query drops the duplicates a re-dispatch creates.
  absl::Status Put(std::string_view topic, std::string_view keys, std::string_view uniq_key,
                   int64_t phy_offset, int64_t store_timestamp_ms);

  // Makes every Put that returned before this call durable (fdatasync of each file written since
  // the last Sync). Concurrent Syncs are serialized.
  absl::Status Sync();

  // After an unclean shutdown, before the first Put: in every file that may have been written
  // after the last Sync, keeps only the consistent entries for records before `from` (all that a
  // Sync made durable before the caller's durable dispatch offset `from` was), rebuilds the hash
  // slots from them and syncs. The caller then re-indexes the commit log from `from`. Reads every
  // entry of those files (usually just the newest). Returns how many entries were dropped.
  absl::StatusOr<int64_t> RepairAfterCrash(int64_t from);

  // Commit-log offsets indexed under "topic#key" (by hash: collisions are possible) whose store
  // time may lie in [begin_ms, end_ms], newest first, without duplicates, at most max_num. Entry
  // times have 1 s resolution, so hits up to 999 ms before begin_ms may be included. As in
  // RocketMQ, a chain walk stops at the first entry older than begin_ms: it assumes store times
  // do not go backwards in Put order (a clock step back can hide older hits from a time window).
  std::vector<int64_t> Query(std::string_view topic, std::string_view key, size_t max_num,
                             int64_t begin_ms, int64_t end_ms) const;

  // Deletes the oldest index files whose endPhyOffset < min_phy_offset, never the newest, then
  // syncs the directory. Returns how many were deleted. A file whose unlink fails leaves the index
  // anyway (it is below the mark) and the error is returned; the next Load sees it again.
  absl::StatusOr<int> DeleteFilesBelow(int64_t min_phy_offset);

  size_t FileCount() const;
  // Entries in all files: the sum of indexCount-1.
  int64_t TotalEntries() const;

  // Stops using the files (in-flight queries finish on their mappings). Idempotent; does not Sync.
  void Close();

 private:
  absl::Status PutKeyLocked(std::unique_lock<std::mutex>& l, std::string_view key,
                            int64_t phy_offset, int64_t store_timestamp_ms);
  absl::Status RollLocked(std::unique_lock<std::mutex>& l);
  absl::StatusOr<std::shared_ptr<IndexFile>> CreateFile(const std::string& newest_name,
                                                        int64_t seed_phy, int64_t seed_ts);
  std::vector<std::shared_ptr<IndexFile>> Snapshot() const;

  FileSystem* const fs_;
  const std::string dir_;
  const IndexConfig cfg_;
  const std::function<int64_t()> now_ms_;

  // Guards the members below, not the file contents: entries are published through atomics in the
  // mapping (see index_file.cc), so queries hold it only to copy `files_`.
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<IndexFile>> files_;  // oldest first; back() is the one written
  std::vector<std::shared_ptr<IndexFile>> dirty_;  // written since the last Sync
  bool open_ = false;
  absl::Status failed_;  // sticky write/Sync failure

  std::mutex sync_mu_;  // serializes Sync, so a Sync never returns before an earlier one's fsyncs
};

}  // namespace stele::index
