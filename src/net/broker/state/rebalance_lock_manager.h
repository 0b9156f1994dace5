// Queue locks for orderly consumers (RocketMQ's RebalanceLockManager), and the JSON bodies of the
// requests that take and release them (LOCK_BATCH_MQ 41, UNLOCK_BATCH_MQ 42):
//
//   request  {"consumerGroup":"G","clientId":"ip@pid","onlyThisBroker":false,
//             "mqSet":[{"topic":"T","brokerName":"broker-a","queueId":0}, ...]}
//   response {"lockOKMQSet":[{"topic":"T","brokerName":"broker-a","queueId":0}, ...]}
//
// An orderly consumer consumes a queue only while it holds that queue's lock for its group on the
// queue's broker. It re-locks every queue it owns every 20 s (which renews the locks), and a lock
// not renewed for longer than the max live time (rocketmq.broker.rebalance.lockMaxLiveTime,
// 60 s) has expired: any client of the group may then take it. As in RocketMQ:
//   - a lock is free, held (renewed within the live time) or expired; the holder re-locking
//     renews it, even after it expired;
//   - unlocking releases only the caller's own locks (expired or not); other clients' stay;
//   - nothing else releases a lock: not a closed connection, not an unregistered client (a
//     consumer that vanishes loses its locks to expiry).
// Locks live in memory only; a restarted broker has none (clients re-lock within 20 s).
//
// Time is passed in (now_ms, from a monotonic clock in the broker) so that expiry is testable
// without sleeping. This class does no I/O and starts no threads.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace stele::broker {

// RocketMQ's default rocketmq.broker.rebalance.lockMaxLiveTime.
inline constexpr int64_t kDefaultLockMaxLiveTimeMs = 60000;
// Fixed bounds. A request naming more queues is refused; past the table bound (after dropping
// expired locks) new locks are not granted (the queue is left out of the result), while held
// locks can still be renewed.
inline constexpr size_t kMaxLockBatchQueues = 65536;
inline constexpr size_t kMaxLockEntries = 1000000;
inline constexpr size_t kMaxBrokerNameLength = 255;

// A queue as clients name it (Java MessageQueue). Ordered by (topic, brokerName, queueId), the
// order RocketMQ clients sort queues in.
struct MessageQueue {
  std::string topic;
  std::string broker_name;
  int32_t queue_id = 0;
  auto operator<=>(const MessageQueue&) const = default;
};

// A LockBatchRequestBody or UnlockBatchRequestBody (the two have the same fields).
struct LockBatchRequest {
  std::string consumer_group;
  std::string client_id;
  // Set by brokers relaying to their replicas in lockInStrictMode; Stele has no strict mode, so
  // every request locks on this broker only, whatever this says.
  bool only_this_broker = false;
  std::vector<MessageQueue> mqs;  // sorted, without duplicates (Java sends a Set)
};

// Parses and validates a lock/unlock body: the group passes ValidateGroup, the clientId is
// non-empty and bounded, each topic passes ValidateInternalTopic (retry topics are locked too),
// the brokerName is bounded, queueIds are non-negative int32s, and there are at most
// kMaxLockBatchQueues queues. Missing onlyThisBroker/mqSet take false/empty. Anything else is
// InvalidArgument naming the field; never throws.
absl::StatusOr<LockBatchRequest> ParseLockBatchRequest(std::string_view body);
// A LockBatchResponseBody.
std::string EncodeLockBatchResponse(const std::vector<MessageQueue>& locked);

class RebalanceLockManager {
 public:
  explicit RebalanceLockManager(int64_t max_live_ms = kDefaultLockMaxLiveTimeMs,
                                size_t max_entries = kMaxLockEntries)
      : max_live_ms_(max_live_ms), max_entries_(max_entries) {}

  // For each queue: takes the lock for `client_id` if it is free or expired, renews it if the
  // client already holds it, and leaves it alone if another client holds it. Returns the queues
  // `client_id` holds afterwards, sorted.
  std::vector<MessageQueue> TryLockBatch(std::string_view group,
                                         const std::vector<MessageQueue>& mqs,
                                         std::string_view client_id, int64_t now_ms);
  // Releases those of the queues whose lock `client_id` holds (expired or not).
  void UnlockBatch(std::string_view group, const std::vector<MessageQueue>& mqs,
                   std::string_view client_id);

  // Whether `client_id` holds an unexpired lock on the queue. Does not renew it.
  bool IsLocked(std::string_view group, const MessageQueue& mq, std::string_view client_id,
                int64_t now_ms) const;
  // True if no lock of the group is held (none, or all expired).
  bool IsLockAllExpired(std::string_view group, int64_t now_ms) const;
  // Lock entries in the table, expired ones included.
  size_t size() const;

 private:
  struct LockEntry {
    std::string client_id;
    int64_t last_update_ms = 0;
  };
  using GroupLocks = std::map<MessageQueue, LockEntry>;

  bool Expired(const LockEntry& e, int64_t now_ms) const {
    return now_ms - e.last_update_ms > max_live_ms_;
  }
  // Drops every expired entry (and emptied groups). Caller holds mu_.
  void DropExpiredLocked(int64_t now_ms);

  const int64_t max_live_ms_;
  const size_t max_entries_;
  mutable std::mutex mu_;
  std::map<std::string, GroupLocks, std::less<>> groups_;  // guarded by mu_
  size_t entries_ = 0;                                     // guarded by mu_
};

}  // namespace stele::broker
