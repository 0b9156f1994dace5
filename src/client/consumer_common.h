// What the push and lite-pull consumers share: subscriptions, the PULL_MESSAGE exchange, queue
// allocation, the consumer-group queries and queue locks. Stateless functions over a
// ClientInstance; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/client_instance.h"
#include "client/offset_store.h"
#include "net/broker/state/heartbeat.h"
#include "stele/client/message.h"
#include "stele/client/push_consumer.h"

namespace stele::client {

// "A || B" -> tags {A, B} and their Java hash codes; "*" / "" -> everything. SQL92 expressions
// are compiled here too, so a malformed one is InvalidArgument (with the offset) at once.
absl::StatusOr<broker::SubscriptionData> BuildSubscription(const std::string& topic,
                                                           const std::string& expression,
                                                           ExpressionType type);
// CHECK_CLIENT_CONFIG of each SQL92 subscription on the masters of its topic (RocketMQ's
// checkClientInBroker): an error names the broker's refusal (enablePropertyFilter off, or an
// expression it cannot parse). TAG subscriptions, and topics without a route yet, pass.
absl::Status CheckSubscriptionsInBrokers(ClientInstance& c, const std::string& group,
                                         const std::vector<broker::SubscriptionData>& subs);
// Client-side re-check of the broker's hash-code filter (hash collisions).
bool TagMatches(const broker::SubscriptionData& sub, const MessageExt& m);

std::string RetryTopicOf(const std::string& group);  // %RETRY%<group>
bool IsRetryTopic(const std::string& topic);
// A message consumed from %RETRY%<group> gets its original topic back (property RETRY_TOPIC).
void RestoreRetryTopic(const std::string& group, MessageExt* m);

enum class PullStatus { kFound, kNoNewMsg, kNoMatchedMsg, kOffsetIllegal };

struct PullResult {
  PullStatus status = PullStatus::kNoNewMsg;
  int64_t next_begin_offset = 0;
  int64_t min_offset = 0;
  int64_t max_offset = 0;
  std::vector<MessageExt> msgs;  // tag-filtered, retry topics restored
};

struct PullArgs {
  std::string group;
  MessageQueue queue;
  int64_t offset = 0;
  int max_msgs = 32;
  int64_t commit_offset = -1;            // > 0: piggy-back an offset commit
  std::chrono::milliseconds suspend{0};  // > 0: long poll this long
  const broker::SubscriptionData* sub = nullptr;
};

using PullCallback = std::function<void(absl::StatusOr<PullResult>)>;
// Asynchronous PULL_MESSAGE to the queue's master; `done` runs on the callback executor. The
// request timeout is the suspend time plus the client's timeout.
void PullAsync(ClientInstance& c, const PullArgs& args, PullCallback done);
absl::StatusOr<PullResult> PullSync(ClientInstance& c, const PullArgs& args);

// RocketMQ's AllocateMessageQueueAveragely: `queues` and `cids` sorted; contiguous ranges, the
// first (queues % consumers) consumers get one more. Empty if `me` is not in cids.
std::vector<MessageQueue> AllocateAveragely(const std::string& me,
                                            const std::vector<MessageQueue>& queues,
                                            const std::vector<std::string>& cids);

// GET_CONSUMER_LIST_BY_GROUP from a broker that serves `topic` (sorted).
absl::StatusOr<std::vector<std::string>> ConsumerIds(ClientInstance& c, const std::string& topic,
                                                     const std::string& group);

// Queue offsets on the broker.
absl::StatusOr<int64_t> MaxOffset(ClientInstance& c, const MessageQueue& q);
absl::StatusOr<int64_t> MinOffset(ClientInstance& c, const MessageQueue& q);
absl::StatusOr<int64_t> SearchOffset(ClientInstance& c, const MessageQueue& q, int64_t ts_ms);

// LOCK_BATCH_MQ on the queues' broker: the queues now locked by this client.
absl::StatusOr<std::set<MessageQueue>> LockQueues(ClientInstance& c, const std::string& group,
                                                  const std::string& broker_name,
                                                  const std::vector<MessageQueue>& queues);
void UnlockQueues(ClientInstance& c, const std::string& group, const std::string& broker_name,
                  const std::vector<MessageQueue>& queues, bool oneway);

// --- what both consumers do the same way ---

// RocketMQ's name of the setting, as heartbeats carry it.
std::string_view ConsumeFromWhereName(ConsumeFromWhere w);

// HEART_BEAT with `member`'s data to every broker in the cached routes, waiting for each answer
// (so that a consumer list asked for next includes this client). Failures are logged.
void HeartbeatSync(ClientInstance& c, ClientMember& member, std::string_view who);

// Where a queue new to this consumer starts (Java computePullFromWhere): the stored offset, else
// by `from`: the queue's end (LAST; 0 for a retry topic), 0 (FIRST), or the first message at or
// after ts_ms (TIMESTAMP, 0 = half an hour ago; a retry topic starts at its end).
absl::StatusOr<int64_t> StartOffset(ClientInstance& c, OffsetStore& offsets, const MessageQueue& q,
                                    ConsumeFromWhere from, int64_t ts_ms);

// Broadcasting offsets: <dir>/[<instance_name>/]<group>/offsets.json, loaded. dir "" means
// $HOME/.rocketmq_offsets.
absl::StatusOr<std::unique_ptr<OffsetStore>> OpenLocalOffsetStore(const std::string& dir,
                                                                  const std::string& instance_name,
                                                                  const std::string& group);

// UNREGISTER_CLIENT of a consumer group from every broker in the cached routes (1 s each).
void UnregisterConsumer(ClientInstance& c, const std::string& group);

// Routes of `topics` fetched now (a missing topic is not an error: it may be created later).
void FetchRoutes(ClientInstance& c, const std::vector<std::string>& topics, std::string_view who);

// CONSUMER_SEND_MSG_BACK of a consumed message (retry later / DLQ).
absl::Status SendBack(ClientInstance& c, const std::string& group, const MessageExt& m,
                      int delay_level, int max_reconsume_times);

// A consumer's periodic task (rebalance, offset commits, lock renewal): fn(*impl) every `period`
// on the client's callback executor, never on the scheduler thread (which must not block). The
// timer holds the consumer weakly: once it is destroyed or its `running` flag is false the task
// does nothing. Impl has `std::shared_ptr<ClientInstance> instance` and `std::atomic<bool>
// running`.
template <typename Impl, typename Fn>
void RunPeriodically(const std::shared_ptr<Impl>& impl, std::chrono::milliseconds period, Fn fn) {
  std::weak_ptr<Impl> weak = impl;
  impl->instance->scheduler().RunEvery(period, period, [weak, fn] {
    if (auto self = weak.lock()) {
      self->instance->callbacks().Submit([weak, fn] {
        if (auto s = weak.lock(); s && s->running.load()) fn(*s);
      });
    }
  });
}

}  // namespace stele::client
