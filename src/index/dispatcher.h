// The dispatcher (RocketMQ's "reput" service): follows the commit log and turns every record into
// a consume-queue entry and hash-index keys, then tells waiting readers.
//
// One thread dispatches; it sleeps when it has caught up and is woken by the commit log's visible
// hook, so a record is usually in its queue microseconds after it became readable. A second thread
// makes the queues and the index durable every flushIntervalConsumeQueue ms and then hands the
// offset they cover to the commit log, whose next checkpoint records it: recovery re-dispatches
// only from there.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "engine/commit_log.h"
#include "index/index_file.h"
#include "index/queue_store.h"

namespace stele::index {

// Called on the dispatcher thread after new entries of a queue became readable.
using ArrivalListener =
    std::function<void(std::string_view topic, int32_t queue_id, int64_t max_offset)>;

class Dispatcher {
 public:
  // `idx` may be null (messageIndexEnable=false).
  Dispatcher(CommitLog* log, QueueStore* queues, IndexService* idx, int flush_interval_ms);
  ~Dispatcher();

  // Dispatches on the calling thread from `from` to the log's current end (recovery).
  absl::Status CatchUp(int64_t from);
  void Start();
  // Dispatches what is visible, stops both threads, makes the queues and index durable and tells
  // the commit log. Call with appends stopped.
  absl::Status Stop();
  // Makes everything dispatched so far durable and hands the offset to the commit log.
  absl::Status FlushNow();
  // The commit log's visible hook.
  void OnVisible();

  int64_t dispatched() const { return dispatched_.load(std::memory_order_acquire); }
  void SetListener(ArrivalListener l);
  // Waits until `queue` has an entry at `offset` (MaxOffset() > offset), at most until `deadline`.
  bool WaitFor(std::string_view topic, int32_t queue_id, int64_t offset,
               std::chrono::steady_clock::time_point deadline);
  // Set when dispatching fails (e.g. a full disk); cleared when it succeeds again.
  absl::Status health() const;

 private:
  // Dispatches records from pos_ up to `end` (at most a bounded batch). Returns false on error.
  absl::Status DispatchBatch(int64_t end);
  // Dispatches until the log's current end (or until nothing decodable is left).
  absl::Status DispatchToEnd();
  int64_t NextSegmentStart(int64_t offset) const;
  void Loop();
  void FlushLoop();
  void Notify(const std::vector<ConsumeQueue*>& touched);

  CommitLog* log_;
  QueueStore* queues_;
  IndexService* idx_;
  std::chrono::milliseconds flush_interval_;

  int64_t pos_ = 0;  // dispatcher thread only
  std::atomic<int64_t> dispatched_{0};

  std::mutex mu_;  // sleeping/stop state of both threads
  std::condition_variable cv_;
  std::condition_variable flush_cv_;
  std::atomic<bool> sleeping_{false};
  bool stop_ = false;
  std::thread thread_;
  std::thread flusher_;
  std::mutex flush_mu_;  // one flush at a time

  std::mutex listener_mu_;
  std::shared_ptr<const ArrivalListener> listener_;

  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  std::atomic<int> waiters_{0};

  mutable std::mutex health_mu_;
  absl::Status health_;
  std::string last_error_;
};

}  // namespace stele::index
