// One consume queue: the index of one (topic, queue id) into the commit log, in RocketMQ's format.
//
// Entry N (the message with queue offset N) is 20 big-endian bytes at byte N*20 of the virtual
// queue: commit-log offset (8), record size (4), tags code (8). The queue is cut into files of
// `file_size` bytes named by the 20-digit byte position of their first entry, in
// <root>/consumequeue/<topic>/<queueId>/. A queue whose first message has offset > 0 (its older
// records were deleted, or it was rebuilt from a trimmed log) starts with "pre-blank" entries
// (offset 0, size INT32_MAX), as RocketMQ writes them; readers skip them.
//
// Threads: one writer (the dispatcher: Append/Commit/Truncate) and any number of readers. Entries
// become visible to readers only when Commit() publishes the new max offset, after they are in the
// page cache. Sync() may run concurrently with the writer; DeleteBelow() with both.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "stele/file_system.h"

namespace stele::index {

constexpr int64_t kCqUnitSize = 20;
constexpr int32_t kPreBlankSize = 0x7fffffff;

struct CqEntry {
  int64_t phy_offset = 0;
  int32_t size = 0;
  int64_t tags_code = 0;
  bool is_blank() const { return size == kPreBlankSize && phy_offset == 0; }
  // Written by someone: not a hole (zeros where an unsynced write was lost, or past the end).
  bool is_valid() const { return phy_offset >= 0 && size > 0; }
  // Points at a message in the commit log.
  bool is_message() const { return is_valid() && !is_blank(); }
};

// One 20-byte big-endian unit.
CqEntry DecodeCqEntry(const char* p);

class ConsumeQueue {
 public:
  ConsumeQueue(FileSystem* fs, std::string dir, std::string topic, int32_t queue_id,
               int64_t file_size);
  ~ConsumeQueue();

  // Opens the existing files and finds the end: the first unit that is not a valid entry in the
  // last file. Non-zero bytes after it (a torn tail) are zeroed. Fails on misnamed, misaligned or
  // wrongly sized files and on gaps between files.
  absl::Status Load();

  // Stages the entry for queue offset `queue_offset` (the writer's only way in). Offsets below
  // the staged end are duplicates and ignored; a jump ahead is filled with pre-blank entries (and
  // in an empty queue just sets where it starts). Returns true if the entry was staged.
  bool Append(int64_t queue_offset, const CqEntry& e);
  // Writes what Append staged to the files and publishes it to readers.
  absl::Status Commit();
  // Makes every committed entry durable, and the entries of its new files in its directory.
  absl::Status Sync();
  // True once per directory this queue created (not found by Load): the caller must then sync
  // the parents, or the whole queue can vanish in a power loss. Call after Sync() succeeded;
  // MarkNewDir() puts the flag back if syncing the parents failed.
  bool TakeNewDir();
  void MarkNewDir();

  // Removes every entry whose commit-log offset is >= `phy_offset` (recovery: those records are
  // dispatched again or no longer exist). Returns how many entries were removed.
  absl::StatusOr<int64_t> TruncateFrom(int64_t phy_offset);
  // Retention: deletes files (never the last) whose entries all point below `min_phy_offset`,
  // then moves the min offset to the first entry at or above it. Returns files deleted.
  absl::StatusOr<int> DeleteBelow(int64_t min_phy_offset);

  // Reads up to `max` entries starting at queue offset `from` (>= MinOffset()); returns how many
  // were read (fewer at the end of the queue).
  size_t Read(int64_t from, size_t max, CqEntry* out) const;
  std::optional<CqEntry> Get(int64_t queue_offset) const;

  int64_t MinOffset() const { return min_.load(std::memory_order_acquire); }
  // One past the last committed entry (RocketMQ's maxOffsetInQueue).
  // seq_cst: pairs with the dispatcher's check for waiters (see Dispatcher::Notify).
  int64_t MaxOffset() const { return max_.load(std::memory_order_seq_cst); }
  // Commit-log end of the last committed entry (0 if none).
  int64_t MaxPhyOffset() const { return max_phy_.load(std::memory_order_acquire); }
  const std::string& topic() const { return topic_; }
  int32_t queue_id() const { return queue_id_; }
  const std::string& dir() const { return dir_; }
  size_t FileCount() const;

 private:
  struct CqFile {
    int64_t start = 0;  // byte position in the virtual queue
    std::string path;
    std::unique_ptr<File> file;
    std::shared_ptr<const MappedRegion> map;
    bool dirty = false;
  };

  std::shared_ptr<CqFile> FileFor(int64_t byte_pos) const;
  absl::StatusOr<std::shared_ptr<CqFile>> OpenFile(int64_t start, bool create);
  void StageBlanks(int64_t count);
  // Sets min_ to the first non-blank entry at or after `from` that points at >= min_phy.
  void CorrectMin(int64_t from, int64_t min_phy);

  FileSystem* fs_;
  std::string dir_;
  std::string topic_;
  int32_t queue_id_;
  int64_t file_size_;

  mutable std::mutex mu_;  // files_ and dirty flags
  std::map<int64_t, std::shared_ptr<CqFile>> files_;
  bool need_dir_sync_ = false;
  bool new_dir_ = false;  // created by us, its entry in the parent not yet synced

  std::atomic<int64_t> min_{0};
  std::atomic<int64_t> max_{0};
  std::atomic<int64_t> max_phy_{0};
  // Writer state: entries staged since the last Commit, starting at queue offset staged_from_.
  std::string staged_;
  int64_t staged_from_ = 0;
  int64_t pending_min_ = -1;  // where a new queue starts, published with its first entries
  bool dir_created_ = false;
};

}  // namespace stele::index
