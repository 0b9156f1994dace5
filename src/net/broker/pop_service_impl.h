// PopServiceImpl: the PopService of a BrokerController, split over pop_service.cc (pops and
// the waiting pops) and pop_service_ops.cc (acks, changes, the DLQ, the service thread, replay and
// snapshots). Private to those files. See pop_service.h for the contract and pop_state.h for the
// journal, snapshot and receipt-handle formats.
//
// Locking: mu_ guards the table, the waiters and the generation counter. Every journal record is
// handed to the MessageWriter while mu_ is held, so records reach the commit log in the order in
// which their changes were made in memory, and a replay rebuilds the same state. wake_mu_ guards
// only the service thread's wake-up state; it is taken alone or after mu_, never before it, so the
// store's dispatcher (NotifyArrival) never waits behind a pop that is reading the store.
//
// Waiting pops: the service thread retries a waiter when its topic is kicked (a message arrived,
// or an ack / change / failed DLQ move may have made something visible) or at its retry_at (its
// deadline, or when an in-flight delivery it could take becomes visible), so a new waiter or an
// arrival costs one pass over the waiters, not one pop attempt per waiter.
//
// A consumer group new to a queue starts at its committed offset (ConsumerOffsetManager, e.g. of a
// remoting consumer of the same group), else at the queue's min offset: messages sent before the
// group's first pop are delivered. Acks move the committed offset to the lowest offset still in
// flight or never delivered, so admin tools show progress and a remoting consumer continues there.
#pragma once

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <future>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/message_writer.h"
#include "net/broker/pop_state.h"
#include "net/broker/state/json_file.h"
#include "net/broker/state/names.h"
#include "net/broker/subscription_filter.h"

#include "net/broker/pop_service.h"

namespace stele::broker::pop_internal {

using SteadyTime = std::chrono::steady_clock::time_point;

inline constexpr size_t kMaxWaiters = 10000;
inline constexpr size_t kMaxInFlightPerQueue = 100000;
inline constexpr int kMaxPopBatch = 32;
inline constexpr int64_t kMaxInvisibleMs = 24 * 3600 * 1000;
inline constexpr int kMaxFilterScans =
    16;  // Get calls per queue per pop when the filter skips entries
inline constexpr auto kSnapshotInterval = std::chrono::seconds(10);
inline constexpr int64_t kDlqRetryMs =
    1000;  // a failed DLQ put is retried when it becomes visible again
inline constexpr int64_t kDlqPending = INT64_MAX;

// Runs `finish(status)` once every party has arrived: the journal write's callback, and the
// caller once it has released mu_ (a MessageWriter callback may run before Put returns, while mu_
// is still held, and `finish` must not run under it).
struct Completion {
  explicit Completion(int n, std::function<void(absl::Status)> f)
      : parties(n), finish(std::move(f)) {}
  void Arrive() {
    if (parties.fetch_sub(1) == 1) finish(status);
  }
  std::atomic<int> parties;
  absl::Status status;  // written by the journal callback before it arrives
  std::function<void(absl::Status)> finish;
};
using CompletionPtr = std::shared_ptr<Completion>;

inline absl::Status Wait(std::future<absl::Status> f) { return f.get(); }

class PopServiceImpl final : public PopService {
 public:
  explicit PopServiceImpl(BrokerController& b)
      : b_(b), snapshot_(nullptr, b.config().store_path_root_dir + "/config/popState.json") {}
  ~PopServiceImpl() override { Stop(); }

  absl::Status Start() override;
  void Stop() override;
  void PopAsync(PopRequest req, SteadyTime deadline, PopCallback done) override;
  absl::Status Ack(const std::string& group, const std::string& topic,
                   const std::string& receipt_handle) override;
  absl::StatusOr<std::string> ChangeInvisibleDuration(const std::string& group,
                                                      const std::string& topic,
                                                      const std::string& receipt_handle,
                                                      std::chrono::milliseconds invisible) override;
  absl::Status ForwardToDeadLetter(const std::string& group, const std::string& topic,
                                   const std::string& receipt_handle) override;
  void NotifyArrival(std::string_view topic, int32_t queue_id) override;
  int64_t InFlight(const std::string& group, const std::string& topic) const override;

 private:
  struct DlqItem {
    PopKey key;
    int64_t qoff = 0;
    int64_t gen = 0;
    int64_t phys = 0;
    int32_t attempt = 0;
  };
  // What one pop attempt produced; answered after mu_ is released.
  struct Outcome {
    std::vector<PoppedMessage> msgs;
    std::string journal;
    std::vector<DlqItem> dlq;
    int64_t next_visible_ms = INT64_MAX;  // earliest in-flight delivery of it becoming visible
  };
  struct Waiter {
    PopRequest req;
    SubscriptionFilter filter;
    SteadyTime deadline;
    PopCallback done;
    SteadyTime retry_at;  // deadline, or when an in-flight delivery it could take becomes visible
  };

  absl::Status Validate(PopRequest* req, SubscriptionFilter* filter) const;
  // The rest require mu_.
  PopQueue& QueueFor(const PopKey& k, Outcome* out);
  void TryPop(const PopRequest& req, const SubscriptionFilter& filter, int64_t now, Outcome* out);
  void PopQueue1(const PopRequest& req, const SubscriptionFilter& filter, const PopKey& key,
                 int64_t now, Outcome* out);
  void ReadNew(const PopRequest& req, const SubscriptionFilter& filter, const PopKey& key,
               PopQueue& q, int64_t now, Outcome* out);
  // Appends `journal` to the store (if any) and answers `finish` once it is acknowledged.
  CompletionPtr JournalLocked(std::string journal, std::function<void(absl::Status)> finish);
  CompletionPtr AnswerLocked(Outcome* out, PopCallback done);
  // The delivery `handle` names (InvalidArgument / NotFound / FailedPrecondition).
  absl::StatusOr<PopDelivery*> FindLocked(const std::string& group, const std::string& topic,
                                          const std::string& handle, ReceiptHandle* h);
  CompletionPtr AckLocked(const PopKey& key, int64_t qoff, std::function<void(absl::Status)> f);
  void CommitLocked(const PopKey& key, const PopQueue& q);

  void SendToDlq(const DlqItem& item, std::function<void(absl::Status)> done);
  void AckIfGen(const DlqItem& item, std::function<void(absl::Status)> done);
  void DlqFailed(const DlqItem& item, absl::Status s, std::function<void(absl::Status)> done);
  void Dispatch(std::vector<DlqItem> dlq);
  // Has the service thread retry the waiting pops of `topic` (something may have become visible).
  void Kick(std::string_view topic);
  // Counts a waiter of `topic` in or out; a new one with an earlier retry time than the thread
  // plans wakes it to reschedule.
  void AddWaiting(const std::string& topic, int delta, SteadyTime retry_at);
  static SteadyTime RetryAt(const Outcome& out, SteadyTime deadline, int64_t now, SteadyTime snow);
  void Run();
  absl::Status Replay();
  void Snapshot();

  BrokerController& b_;

  mutable std::mutex mu_;
  PopTable table_;             // guarded by mu_
  int64_t gen_ = 0;            // guarded by mu_; last generation handed out
  std::list<Waiter> waiters_;  // guarded by mu_
  uint32_t rr_ = 0;            // guarded by mu_; first queue of the next any-queue pop
  int64_t changes_ = 0;        // guarded by mu_; journal records written
  int64_t snapshotted_ = -1;   // guarded by mu_; changes_ covered by the last snapshot
  bool stopping_ = false;      // guarded by mu_
  bool started_ = false;       // guarded by mu_

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  // Guarded by wake_mu_. Topics whose waiters should be retried; whether the thread must recompute
  // its wake-up time (a waiter came while it was computing, or with an earlier retry time).
  std::set<std::string, std::less<>> kicked_;
  bool reschedule_ = false;
  bool computing_ = true;  // the thread has not planned a wake-up yet
  SteadyTime planned_wake_ = SteadyTime::max();
  bool stop_thread_ = false;
  std::map<std::string, int, std::less<>> waiting_;  // topic -> waiters
  std::thread thread_;

  std::mutex snapshot_mu_;
  JsonFile snapshot_;  // guarded by snapshot_mu_
};

}  // namespace stele::broker::pop_internal
