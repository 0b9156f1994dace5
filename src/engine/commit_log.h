// The commit log behind stele::Store.
//
// Append pipeline. Appenders encode their record outside the lock (CRC of the body included), then
// under `mu_` take the next commit-log offset and queue offset, patch those into the record and
// copy it into an in-memory staging ring. Bytes move from the ring to the segment file in order,
// by whichever thread holds the I/O token (`io_busy_`): a blocking appender that finds no I/O in
// progress takes the token and writes (and under SYNC_FLUSH fdatasyncs) everything staged so far,
// its own record and everyone else's, in one submission; the appenders that arrived meanwhile wait
// and are served by the next leader. That is group commit without a handoff to another thread for
// a lone appender. The background thread does the same for AppendAsync callers, runs their
// callbacks, flushes under ASYNC_FLUSH and writes checkpoints.
//
// Positions (commit-log offsets), each <= the one before:
//   reserved_  end of the last record placed in the ring
//   written_   end of what has reached the file (readers see up to here)
//   flushed_   end of what is durable
// A record never spans segments: when it does not fit (with 8 bytes to spare), an 8-byte BLANK
// record is staged and the position jumps to the next segment's start (`rolls_`).
//
// Failure: the first failed write or fdatasync is remembered in `failed_`; from then on appends are
// refused and waiters not yet acknowledged get the error. Nothing is retried.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/record.h"
#include "engine/segments.h"
#include "stele/store.h"

namespace stele {

class CommitLog {
 public:
  static absl::StatusOr<std::unique_ptr<CommitLog>> Open(StoreOptions opts);
  ~CommitLog();

  absl::Status Close();
  absl::StatusOr<AppendResult> Append(const Message& m);
  absl::StatusOr<std::vector<AppendResult>> AppendBatch(std::span<const Message> msgs);
  void AppendAsync(const Message& m, Store::AppendCallback done);
  // Without `verify_crc` only the record's framing is checked (what consumers and the dispatcher
  // need: the bytes were checked when recovered or were written by this process).
  absl::StatusOr<RecordRef> Read(int64_t offset, bool verify_crc = true) const;
  absl::StatusOr<std::string> ReadBytes(int64_t offset, int32_t size) const;
  absl::Status Flush();

  int64_t MinOffset() const;
  // seq_cst: the dispatcher's sleep/wake handshake relies on it (a plain load on x86).
  int64_t MaxOffset() const { return visible_.load(std::memory_order_seq_cst); }
  int64_t FlushedOffset() const;
  int64_t NextQueueOffset(std::string_view topic, int32_t queue_id) const;
  const RecoveryReport& report() const { return report_; }
  FlushStats flush_stats() const;

  // Hooks for what is built from the log (src/index). `hook` runs whenever the visible end
  // advances, on the thread that advanced it and under the log's lock: it must only wake someone.
  // Set it before the first append.
  void SetVisibleHook(std::function<void()> hook);
  // Everything before `offset` is durably in the consume queues and index; the next checkpoint
  // records it (capped at its safe offset).
  void SetDispatchDurable(int64_t offset);
  // The dispatch offset the checkpoint found at open (clamped to the recovered log), or -1.
  int64_t RecoveredDispatchOffset() const { return recovered_dispatch_; }

  // Retention support.
  std::vector<int64_t> SegmentStarts() const;
  int64_t ActiveSegmentStart() const;
  int64_t segment_size() const { return seg_size_; }
  // Store timestamp of the first record in the segment starting at `seg_start`.
  absl::StatusOr<int64_t> SegmentFirstTimestamp(int64_t seg_start) const;
  // Deletes whole segments ending at or before `offset`, never the active one. Returns how many.
  absl::StatusOr<int> DeleteSegmentsBefore(int64_t offset);
  const StoreOptions& options() const { return opts_; }
  FileSystem* file_system() const { return fs_.get(); }
  const std::string& dir() const { return segs_->dir(); }

 private:
  using Clock = std::chrono::steady_clock;
  using Lock = std::unique_lock<std::mutex>;

  struct Roll {
    int64_t blank_end;   // end of the BLANK record closing a segment
    int64_t next_start;  // where writing continues
  };
  // A blocking appender waiting for its record to be written or durable. Waiters are woken one
  // by one (only those whose record is covered, plus the next leader), not all at once.
  struct Waiter {
    int64_t end;
    bool durable;
    bool signaled = false;
    std::condition_variable cv;
  };
  struct Pending {
    int64_t end;
    bool durable;
    Clock::time_point deadline;
    Store::AppendCallback done;
    AppendResult result;
  };

  explicit CommitLog(StoreOptions opts);
  absl::Status Init();
  absl::Status Recover();                                       // recovery.cc
  absl::Status CleanTail(int64_t end, const std::string& why);  // recovery.cc

  bool sync_mode() const { return opts_.flush_disk_type == FlushDiskType::kSyncFlush; }
  absl::Status Prepare(const Message& m, engine::PreparedRecord* rec) const;
  // Places `recs` contiguously in the ring; fills `out`. Holds mu_ (may release it while waiting).
  absl::Status ReserveLocked(Lock& l, std::span<engine::PreparedRecord> recs, AppendResult* out);
  // Waits until `end` is written (durable=false) or durable, leading I/O when nobody is. Returns
  // true if it timed out first (only with a deadline).
  absl::StatusOr<bool> WaitLocked(Lock& l, int64_t end, bool durable,
                                  std::optional<Clock::time_point> deadline);
  // Writes (and with `sync`, makes durable) what was staged when it was called; holds the I/O
  // token meanwhile. Bounded, so a leader's own wait is bounded too.
  void DoIoLocked(Lock& l, bool sync);
  // Signals waiters whose records are now covered, and the first remaining one to lead next.
  void WakeWaitersLocked();
  void FlushLocked(Lock& l);
  void CheckpointLocked(Lock& l);
  absl::Status SyncRange(int64_t from, int64_t to) const;
  // Records one successful fdatasync that took from `t0` until now (flush_stats()).
  void NoteSync(Clock::time_point t0) const;
  void FailLocked(const absl::Status& st, int64_t offset);
  absl::Status FencedError() const;
  absl::StatusOr<AppendResult> FinishAppend(Lock& l, AppendResult r);
  void CopyToRing(const char* p, size_t n);
  // Places `n` bytes at reserved_: into the segment mapping (direct) or the staging ring.
  void Place(const char* p, size_t n);
  size_t RingFree() const { return ring_size_ - (ring_in_ - ring_out_); }
  void PublishVisibleLocked();
  // Start of the oldest segment retention must keep: the one holding bytes not yet durable.
  int64_t ActiveSegmentStartLocked() const;
  void BackgroundLoop();
  void WatcherLoop();

  StoreOptions opts_;
  std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<FileLock> lock_file_;
  std::unique_ptr<engine::SegmentSet> segs_;
  engine::EncodeParams enc_;
  RecoveryReport report_;
  int64_t seg_size_ = 0;
  bool direct_ = false;  // records are copied straight into writable segment mappings

  mutable std::mutex mu_;
  std::condition_variable ring_cv_;  // ring space freed (waited on by appenders in ReserveLocked)
  int ring_waiters_ = 0;
  std::condition_variable bg_cv_;  // wakes the background thread
  int64_t reserved_ = 0;
  int64_t written_ = 0;
  int64_t flushed_ = 0;
  std::atomic<int64_t> visible_{0};  // == written_, for lock-free readers
  // Appenders between entering Append and finishing their reservation. A SYNC_FLUSH leader gives
  // them a moment to join its fdatasync (a lone appender never waits: the count is 0 then).
  std::atomic<int> arriving_{0};
  std::deque<Roll> rolls_;
  std::unique_ptr<char[]> ring_;
  size_t ring_size_ = 0;
  uint64_t ring_in_ = 0;   // bytes ever staged
  uint64_t ring_out_ = 0;  // bytes ever written out
  bool io_busy_ = false;
  absl::Status failed_;
  bool closing_ = false;
  bool closed_ = false;
  bool stop_bg_ = false;
  engine::QueueOffsetTable queues_;
  int64_t last_store_ts_ = 0;
  std::deque<Pending> pending_;
  std::deque<Waiter*> waiters_;
  int64_t checkpointed_ = -1;
  int64_t checkpointed_dispatch_ = -1;
  std::atomic<int64_t> dispatch_durable_{-1};
  int64_t recovered_dispatch_ = -1;
  std::function<void()> on_visible_;
  Clock::time_point last_flush_;
  Clock::time_point last_thorough_flush_;
  Clock::time_point last_checkpoint_;
  std::string last_checkpoint_error_;
  // Checkpoint writes run without mu_; this serializes them (they share "checkpoint.tmp"), and the
  // offsets last written keep an older snapshot from replacing a newer one on disk.
  std::mutex ckpt_io_mu_;
  int64_t ckpt_written_safe_ = -1;
  int64_t ckpt_written_dispatch_ = -1;
  // Flush statistics (NoteSync), relaxed atomics: monitoring only.
  mutable std::atomic<uint64_t> sync_count_{0}, sync_us_total_{0}, sync_us_max_{0},
      sync_us_last_{0};
  std::thread bg_;
  // FlushDiskWatcher (as RocketMQ calls it): answers AppendAsync callers FLUSH_DISK_TIMEOUT when
  // their fdatasync outlives syncFlushTimeout, even while the background thread is stuck in it.
  std::thread watcher_;
  std::condition_variable watcher_cv_;
};

}  // namespace stele
