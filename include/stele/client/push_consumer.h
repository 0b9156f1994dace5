// PushConsumer: RocketMQ's DefaultMQPushConsumer. The client long-polls the brokers and calls a
// listener with the messages; offsets are committed for you.
//
//   stele::client::PushConsumer c({.group = "CG", .namesrv_addr = "127.0.0.1:9876"});
//   c.Subscribe("T", "TagA || TagB");
//   c.RegisterListener([](const std::vector<MessageExt>& msgs, ConsumeContext&) {
//     ...; return ConsumeStatus::kSuccess; });
//   c.Start();
//
// Clustering (default): the group's queues are divided among its live consumers with RocketMQ's
// average allocation, recomputed when a consumer joins or leaves (the broker notifies) and every
// rebalance_interval; offsets live on the broker. Broadcasting: every consumer reads every queue;
// offsets live in a local file (offset_store_dir/<group>/offsets.json).
//
// Delivery is at least once. A message is committed only after its listener call returned
// SUCCESS and every earlier message of its queue did too. RECONSUME_LATER sends it back to the
// broker (retried after RocketMQ's delay schedule via %RETRY%<group>, then %DLQ%<group> after
// max_reconsume_times). Orderly listeners consume one queue at a time, in queue order, holding
// the queue's broker lock; SUSPEND retries the same messages after suspend_time.
//
// Flow control: a queue with more than pull_threshold_for_queue cached messages (or
// pull_threshold_size_for_queue_mib MiB) is not pulled until its listener catches up.
//
// Threads: consume_threads listener threads plus the client's io, callback and timer threads,
// however many queues there are. A listener call that blocks holds one of the consume threads:
// consume_threads blocked calls stall every queue of the consumer.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "stele/client/message.h"

namespace stele::client {

enum class MessageModel { kClustering, kBroadcasting };
enum class ConsumeFromWhere { kLastOffset, kFirstOffset, kTimestamp };
enum class ExpressionType { kTag, kSql92 };
enum class ConsumeStatus { kSuccess, kReconsumeLater };
enum class OrderlyStatus { kSuccess, kSuspendCurrentQueueAMoment };

struct ConsumeContext {
  MessageQueue queue;
  // Concurrent listeners: the delay level of the retry after RECONSUME_LATER (0 = the broker's
  // schedule by reconsume count, -1 = straight to the DLQ).
  int delay_level_when_next_consume = 0;
  // Orderly listeners: how long to wait before SUSPEND retries (0 = the consumer's default).
  std::chrono::milliseconds suspend_time{0};
};

using ConcurrentListener =
    std::function<ConsumeStatus(const std::vector<MessageExt>& msgs, ConsumeContext& ctx)>;
using OrderlyListener =
    std::function<OrderlyStatus(const std::vector<MessageExt>& msgs, ConsumeContext& ctx)>;

struct PushConsumerOptions {
  std::string group;
  std::string namesrv_addr;
  std::string instance_name;  // "" = unique in this process
  MessageModel model = MessageModel::kClustering;
  ConsumeFromWhere consume_from_where = ConsumeFromWhere::kLastOffset;
  int64_t consume_timestamp_ms = 0;  // kTimestamp; 0 = half an hour ago (as RocketMQ)
  int consume_threads = 4;
  int pull_batch_size = 32;
  int consume_batch_size = 1;
  int pull_threshold_for_queue = 1000;
  int pull_threshold_size_for_queue_mib = 100;
  int max_reconsume_times = -1;  // -1: 16 (concurrent), unlimited (orderly)
  std::chrono::milliseconds suspend_time{1000};
  std::chrono::milliseconds long_poll_timeout{15000};
  std::chrono::milliseconds persist_offset_interval{5000};
  std::chrono::milliseconds rebalance_interval{20000};
  std::chrono::milliseconds lock_interval{20000};  // orderly: lock renewal
  std::chrono::milliseconds pull_delay_on_error{3000};
  std::chrono::milliseconds poll_name_server_interval{30000};
  std::chrono::milliseconds heartbeat_interval{30000};
  std::chrono::milliseconds timeout{3000};
  std::string offset_store_dir;  // broadcasting; "" = $HOME/.rocketmq_offsets
};

class PushConsumer {
 public:
  explicit PushConsumer(PushConsumerOptions options);
  ~PushConsumer();  // Shutdown()
  PushConsumer(const PushConsumer&) = delete;
  PushConsumer& operator=(const PushConsumer&) = delete;

  // Before or after Start(). "*" or "" = all tags; "A || B" = either tag (case-sensitive);
  // kSql92: a property filter the broker evaluates (it needs enablePropertyFilter).
  absl::Status Subscribe(const std::string& topic, const std::string& expression = "*",
                         ExpressionType type = ExpressionType::kTag);
  void Unsubscribe(const std::string& topic);
  // Exactly one listener, before Start().
  void RegisterListener(ConcurrentListener listener);
  void RegisterOrderlyListener(OrderlyListener listener);

  absl::Status Start();
  // Stops pulling, waits for running listener calls, commits offsets, releases queue locks,
  // unregisters. Idempotent.
  void Shutdown();

  // The queues this consumer currently holds (for tools and tests).
  std::vector<MessageQueue> AssignedQueues() const;
  const std::string& client_id() const;
  // Triggers a rebalance now (normally driven by the broker's notification and a timer).
  void RebalanceNow();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace stele::client
