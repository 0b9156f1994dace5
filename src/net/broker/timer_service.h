// TimerService: RocketMQ 5's TimerMessageStore for timer messages (arbitrary delivery time).
// MessageWriter parks a timer message in rmq_sys_wheel_timer queue 0 with TIMER_OUT_MS = its due
// time; this service scans that queue into an on-disk timer wheel (TimerStore: one 40-byte log
// entry per timer, linked into the slot of the first precision tick at or after its due time)
// and, once a slot's time has come, stores each of its messages again in the real topic and queue
// (REAL_TOPIC / REAL_QID; TIMER_OUT_MS stays, so it is not parked again; TIMER_DEQUEUE_MS added).
// A parked timer is thus delivered no earlier than its time and at most one precision (plus the
// put) later. Memory is constant: pending timers live only on disk.
//
// Delivery: up to kBatch messages of a slot are put at once; a put refused as busy or failed by
// the store is retried (the ones of the batch already stored are not put twice); a record that
// cannot be delivered at all (no REAL_TOPIC, deleted by retention, put rejected as illegal) is
// logged and skipped. A timer due beyond the wheel's last slot (a config with a shorter
// timerMaxDelaySec, or a long outage) sits in the last slot and is linked again when that slot
// comes, instead of being delivered.
//
// Durability: the parked messages are ordinary durable records. A checkpoint
// (<storePathRootDir>/config/timerCheckpoint.json) records how far the parked queue has been
// scanned into the timer log (enqueueOffset, logEnd) and the next slot to deliver (dequeueMs); it
// is written at most every kCheckpointIntervalMs after a change and at Stop, each time after the
// commit log (so the delivered copies) and the timer files are made durable. On Load everything
// past the checkpoint is dropped and rescanned from the parked queue, and after an unclean stop
// the wheel is rebuilt from the timer log, so kill -9 or a power loss loses no timer; a slot
// partly delivered before a crash is delivered again (at-least-once, duplicates only across a
// crash).
//
// Threading: one thread, started by Start() and joined by Stop(); the owner calls Load, Start and
// Stop one at a time. Notify() and stats() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "net/broker/message_writer.h"
#include "net/broker/service_thread.h"
#include "net/broker/state/broker_config.h"
#include "net/broker/state/json_file.h"
#include "net/broker/timer_store.h"
#include "stele/store.h"

namespace stele::broker {

class TimerService {
 public:
  static constexpr int kBatch = 32;
  // Most parked-queue batches scanned (and slot batches delivered) per pass, so neither side
  // starves the other.
  static constexpr int kPassBatches = 64;
  static constexpr int64_t kPassEmptySlots = 100000;
  static constexpr int64_t kIdleWaitMs = 100;
  static constexpr int64_t kBusyRetryMs = 100;
  static constexpr int64_t kErrorRetryMs = 1000;
  static constexpr int64_t kCheckpointIntervalMs = 500;
  static constexpr int64_t kWarnIntervalMs = 10000;

  using Clock = std::function<int64_t()>;  // epoch ms
  struct Stats {
    int64_t enqueue_offset = 0;  // next parked-queue offset to scan into the wheel
    int64_t dequeue_ms = 0;      // next slot to deliver
    int64_t log_end = 0;
    int64_t delivered = 0;  // since Load
    int64_t relinked = 0;   // linked again (due beyond the wheel)
    int64_t skipped = 0;    // undeliverable
    int64_t cancelled = 0;  // not delivered: a TIMER_DEL_UNIQKEY marker, or cancelled by one
  };

  // `store`, `writer` and `config` must outlive the service. `fs` null = POSIX. `clock` null =
  // the system clock (it must agree with MessageWriter's). `segment_entries` 0 = TimerStore's
  // default.
  TimerService(Store& store, MessageWriter& writer, const BrokerConfig& config,
               std::shared_ptr<FileSystem> fs = nullptr, Clock clock = nullptr,
               int64_t segment_entries = 0);
  ~TimerService();  // Stop()

  // Reads the checkpoint, opens (and if needed rebuilds) the timer files under
  // <storePathRootDir>/timer, and durably marks the run unclean. Call before Start().
  absl::Status Load();
  // Starts the thread. Call before anything can park messages.
  void Start();
  // Stops the thread and writes a clean checkpoint. Idempotent. Call before the store is closed.
  void Stop();
  // Wakes the service (a message was parked). Never blocks on I/O.
  void Notify();
  // One pass (scan, deliver due slots, maybe checkpoint) on the caller's thread, for tests with
  // an injected clock; not while started. Returns the ms until another pass is needed.
  int64_t RunOnce();
  // Writes a checkpoint now (after the same syncs as the periodic one).
  absl::Status Checkpoint(bool clean);
  Stats stats() const;

  const std::string& checkpoint_path() const { return file_.path(); }

 private:
  struct Item;
  // Scans newly parked messages into the wheel; returns the ms until it needs another look.
  int64_t Enqueue();
  // Delivers due slots; returns the ms until it needs another look.
  int64_t Dequeue();
  // One batch of the current slot; returns -1 when it went through, else a retry delay.
  int64_t DeliverBatch(int64_t now);
  // The slot for a timer due at `deliver_ms`, inside the wheel's live range.
  int64_t Place(int64_t deliver_ms) const;
  void MaybeCheckpoint(int64_t* wait_ms);
  void Publish();

  Store& store_;
  MessageWriter& writer_;
  const BrokerConfig& config_;
  std::shared_ptr<FileSystem> fs_;
  Clock clock_;
  int64_t segment_entries_;
  std::string root_;
  JsonFile file_;

  // Run thread only (or the Load/RunOnce caller).
  std::unique_ptr<TimerStore> timer_;
  int64_t enqueue_offset_ = 0;
  int64_t dequeue_ms_ = 0;
  // Next log position to deliver in slot dequeue_ms_; kNotStarted before its first batch.
  static constexpr int64_t kNotStarted = -2;
  int64_t cursor_ = kNotStarted;
  std::set<int64_t> done_;  // entries of the current batch already handled (a put is retried)
  // TIMER_DEL_UNIQKEY values ("<real topic>+<UNIQ_KEY>") met so far in slot dequeue_ms_. A slot
  // is walked newest first, so a cancel (parked after its target, for the same time) is met
  // before the target; after a crash the slot is walked again from its head.
  std::set<std::string, std::less<>> cancels_;
  bool dirty_ = false;
  int64_t last_checkpoint_ms_ = 0;  // steady clock
  int64_t last_warn_ms_ = INT64_MIN / 2;
  int64_t delivered_ = 0, relinked_ = 0, skipped_ = 0, cancelled_ = 0;

  mutable std::mutex mu_;
  bool loaded_ = false;   // guarded by mu_
  bool stopped_ = false;  // guarded by mu_: the final checkpoint was taken
  Stats stats_;           // guarded by mu_: a copy published by the run thread
  ServiceThread thread_;  // last: stopped (joined) before the members it uses go
};

}  // namespace stele::broker
