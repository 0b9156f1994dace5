// DelayService: RocketMQ's ScheduleMessageService for delay levels. MessageWriter parks a message
// with DELAY=N in SCHEDULE_TOPIC_XXXX queue N-1; this service reads each level's queue in order
// and, once a message's store time + the level's delay has passed, stores it again in its real
// topic and queue (REAL_TOPIC / REAL_QID; DELAY removed so it is not parked again), then advances
// the level's offset past it.
//
// Delivery: per level, up to kBatch due messages are put at once (they share the disk flush) and
// the offset advances over the delivered prefix. A put refused as busy (ResourceExhausted) or
// failed by the store is retried later, never skipped; a record that cannot be delivered at all
// (no valid REAL_TOPIC / REAL_QID, or a put rejected as illegal) is logged and skipped, so that one
// bad record cannot stall its level forever.
//
// Durability: parked messages are ordinary durable records; the per-level offsets are persisted
// in <storePathRootDir>/config/delayOffset.json (RocketMQ's {"offsetTable":{"1":5,...}}) after
// every delivery batch (at most every kPersistIntervalMs) and at Stop. A crash between a delivery
// and the offset write delivers that message again (at-least-once), never loses it. An offset
// beyond its queue's end (parked messages lost in a machine crash under ASYNC_FLUSH) is pulled
// back to the end at Start; one below its start (deleted by retention) is moved up to the start.
//
// Threading: one thread, started by Start() and joined by Stop() (the owner calls Load, Start and
// Stop, one at a time). Offset(), Persist() and Notify() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "net/broker/message_writer.h"
#include "net/broker/service_thread.h"
#include "net/broker/state/broker_config.h"
#include "net/broker/state/json_file.h"
#include "stele/store.h"

namespace stele::broker {

class DelayService {
 public:
  // Most records read (and put) per level in one pass.
  static constexpr int kBatch = 32;
  // Longest sleep without a Notify: a message parked meanwhile is noticed this late at most.
  static constexpr int64_t kIdleWaitMs = 100;
  // Retry delays after a put refused as busy and after other store failures.
  static constexpr int64_t kBusyRetryMs = 100;
  static constexpr int64_t kErrorRetryMs = 1000;
  static constexpr int64_t kPersistIntervalMs = 100;
  static constexpr int64_t kWarnIntervalMs = 10000;

  // `store`, `writer` and `config` must outlive the service. `fs` null = POSIX (the file system of
  // the other config files).
  DelayService(Store& store, MessageWriter& writer, const BrokerConfig& config,
               std::shared_ptr<FileSystem> fs = nullptr);
  ~DelayService();  // Stop()

  // Reads delayOffset.json (missing = all levels at 0). Call before Start().
  absl::Status Load();
  // Pulls offsets past their queue's end back to it (see Durability), then starts the thread.
  // Call before anything can park messages (before the broker serves requests).
  void Start();
  // Stops the thread and, if it was started, persists the offsets. Idempotent. Call before the
  // store is closed.
  void Stop();
  absl::Status Persist();
  // Next schedule-queue offset to deliver for `level` (1-based).
  int64_t Offset(int level) const;
  // Wakes the service: a message was parked at `level` (SCHEDULE_TOPIC_XXXX queue level-1), e.g.
  // from the store's arrival listener. Never blocks on I/O.
  void Notify(int level);

  const std::string& path() const { return file_.path(); }

 private:
  struct Item;
  // One pass of the service thread: every level; returns the ms until the next is needed.
  int64_t RunOnce();
  // Delivers what is due at `level`; returns the ms until the level needs another look (0 = at
  // once).
  int64_t DeliverDue(int level);
  // Puts the items that need a put, all at once, and waits for every result.
  void PutAll(std::vector<Item>& items);
  void SetOffset(int level, int64_t offset);
  // Persists if offsets changed and kPersistIntervalMs has passed; lowers `*wait_ms` to when the
  // next persist is due otherwise.
  void MaybePersist(int64_t* wait_ms);

  Store& store_;
  MessageWriter& writer_;
  JsonFile file_;  // guarded by persist_mu_

  mutable std::mutex mu_;
  // Level -> next offset. Levels beyond the configured ones (from an older config) are kept and
  // written back unchanged.
  std::map<int, int64_t> offsets_;  // guarded by mu_
  bool dirty_ = false;              // guarded by mu_: offsets_ changed since the last persist
  std::mutex persist_mu_;
  int64_t last_persist_ms_ = 0;  // steady clock; run thread only

  // Run thread only: per level, queue offsets past offsets_[level] already delivered (a put in
  // the middle of a batch failed and is being retried; these must not be put twice).
  std::vector<std::set<int64_t>> delivered_ahead_;
  // Run thread only: per level, when a failed delivery was last logged (a busy broker would
  // otherwise log every retry).
  std::vector<int64_t> last_warn_ms_;
  ServiceThread thread_;  // last: stopped (joined) before the members it uses go
};

}  // namespace stele::broker
