// TimerStore: the on-disk timer wheel and timer log behind TimerService (RocketMQ 5's TimerWheel
// + TimerLog, in Stele's own format). Memory use is constant: every timer lives on disk.
//
// Layout under `dir` (big-endian integers):
//   wheel         N slots x 24 bytes { i64 slot_ms, i64 head, i64 count }. Slot time T (a multiple
//                 of the precision) lives at index (T / precision) % N. A slot is live only while
//                 its slot_ms equals the time asked for, so a slot left from an earlier lap of the
//                 wheel reads as empty and never needs clearing.
//   log/<20-digit start position>
//                 segments of `segment_entries` x 40-byte entries, append-only:
//                 { i64 slot_ms, i64 deliver_ms, i64 commit-log offset, i64 prev, i32 size,
//                   u32 CRC-32 of the first 36 bytes }. `prev` is the log position of the entry
//                 linked into the same slot before it (-1: none), so a slot is a list from its
//                 head, newest first.
//
// Durability: nothing is durable until Sync(). The owner checkpoints (log_end, dequeue_ms) after
// a Sync; Open() drops entries at or past the checkpointed log_end and, after an unclean stop
// (rebuild = true) or a change of precision or slot count, rebuilds the whole wheel from the log
// entries whose slot is not yet delivered (slot_ms >= dequeue_ms), rewriting entries whose slot or
// prev pointer changed. Segments whose entries are all delivered are deleted by DeleteDelivered.
//
// Thread safety: none; one thread (TimerService's) owns it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stele/file_system.h"

namespace stele::broker {

struct TimerEntry {
  int64_t slot_ms = 0;        // the slot it is linked into
  int64_t deliver_ms = 0;     // when it is due (past slot_ms only if parked beyond the wheel)
  int64_t commit_offset = 0;  // the parked message
  int64_t prev = -1;          // previous entry of the slot; -1 = none
  int32_t size = 0;           // the parked message's record size
};

struct TimerSlot {
  int64_t slot_ms = 0;
  int64_t head = -1;  // newest entry; -1 = empty
  int64_t count = 0;
};

class TimerStore {
 public:
  static constexpr int64_t kEntryBytes = 40;
  static constexpr int64_t kSlotBytes = 24;

  struct Options {
    int64_t precision_ms = 1000;
    int64_t slots = 0;                     // N
    int64_t segment_entries = 256 * 1024;  // 10 MiB segments
  };
  // What the owner checkpointed.
  struct State {
    int64_t log_end = 0;       // entries before it are durable and reflected in the wheel
    int64_t dequeue_ms = 0;    // slots before it are delivered
    bool rebuild = true;       // the wheel may not match the log (unclean stop, no checkpoint)
    int64_t precision_ms = 0;  // the checkpoint's; another value forces a rebuild
    int64_t slots = 0;
    std::map<int64_t, int64_t> segment_max;  // segment start -> greatest slot_ms in it
  };

  static absl::StatusOr<std::unique_ptr<TimerStore>> Open(std::shared_ptr<FileSystem> fs,
                                                          std::string dir, Options options,
                                                          State state);

  // The slot time for a timer due at `ms`: the first tick at or after it.
  int64_t SlotFor(int64_t ms) const;
  int64_t precision_ms() const { return opt_.precision_ms; }
  int64_t slots() const { return opt_.slots; }
  // The latest slot time the wheel can hold while slot `dequeue_ms` is the next delivered.
  int64_t LastSlot(int64_t dequeue_ms) const { return dequeue_ms + (opt_.slots - 1) * precision(); }

  // Appends an entry linked into slot `slot_ms` (which must lie within the wheel's live range)
  // and returns its log position.
  absl::StatusOr<int64_t> Add(int64_t slot_ms, int64_t deliver_ms, int64_t commit_offset,
                              int32_t size);
  // The slot for time `slot_ms` (empty if it holds an earlier lap).
  absl::StatusOr<TimerSlot> Slot(int64_t slot_ms);
  // DataLoss if the entry fails its CRC.
  absl::StatusOr<TimerEntry> Read(int64_t pos);

  int64_t log_end() const { return log_end_; }
  const std::map<int64_t, int64_t>& segment_max() const { return segment_max_; }
  int64_t log_start() const {
    return segment_max_.empty() ? log_end_ : segment_max_.begin()->first;
  }
  // Makes the log and the wheel durable (fdatasync both).
  absl::Status Sync();
  // Deletes segments, other than the one being written, whose entries all lie in slots before
  // `dequeue_ms`.
  absl::Status DeleteDelivered(int64_t dequeue_ms);

 private:
  TimerStore(std::shared_ptr<FileSystem> fs, std::string dir, Options options);
  int64_t precision() const { return opt_.precision_ms; }
  int64_t segment_bytes() const { return opt_.segment_entries * kEntryBytes; }
  std::string SegmentPath(int64_t start) const;
  absl::StatusOr<File*> Segment(int64_t start, bool create);
  absl::Status WriteEntry(int64_t pos, const TimerEntry& e);
  absl::Status WriteSlot(const TimerSlot& s);
  absl::Status LoadLog(const State& state);
  absl::Status OpenWheel(bool* rebuild);
  absl::Status Rebuild(int64_t dequeue_ms);

  std::shared_ptr<FileSystem> fs_;
  std::string dir_;
  Options opt_;
  std::unique_ptr<File> wheel_;
  std::map<int64_t, std::unique_ptr<File>> segments_;  // open segment files by start
  std::map<int64_t, int64_t> segment_max_;             // start -> greatest slot_ms (-1: empty)
  int64_t log_end_ = 0;
  bool wheel_dirty_ = false;
  std::set<int64_t> dirty_segments_;  // written since the last Sync
};

}  // namespace stele::broker
