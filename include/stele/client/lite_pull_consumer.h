// LitePullConsumer: RocketMQ's DefaultLitePullConsumer. The application asks for messages with
// Poll(); the client pulls in the background and buffers what it pulled.
//
//   stele::client::LitePullConsumer c({.group = "CG", .namesrv_addr = "127.0.0.1:9876"});
//   c.Subscribe("T", "TagA || TagB");       // or, after Start(): c.Assign(queues)
//   c.Start();
//   for (;;) {
//     for (const MessageExt& m : c.Poll()) ...;  // auto_commit: committed at the next Poll
//   }
//
// Queues: Subscribe() lets the group divide the topic's queues among its live consumers
// (clustering: RocketMQ's average allocation, recomputed when a consumer joins or leaves and every
// rebalance_interval; broadcasting: every queue). Assign() names the queues instead, with no
// rebalancing. A consumer uses one way or the other: mixing them is FailedPrecondition. The retry
// topic %RETRY%<group> is not subscribed (as in RocketMQ's lite pull consumer): a message Poll
// returned is never redelivered unless the application seeks back or a commit was lost.
//
// Position and commit: each queue has a position, the offset after the last message Poll returned
// from it (or what Seek set). A commit stores the positions as the group's consume offsets
// (clustering: on the broker; broadcasting: offset_store_dir/<group>/offsets.json). CommitSync()
// commits every position now. With auto_commit, each Poll first marks what the previous Poll
// returned as consumed (the caller asked for more, so it is done with them) and a timer commits
// every auto_commit_interval and at Shutdown(). Either way delivery is at least once: after a
// crash, or when a queue moves to another consumer, messages since the last commit come again.
// A consumer that starts on a queue the group has no offset for starts at consume_from_where.
//
// Flow control: at most pull_threshold_for_queue messages (and pull_threshold_size_for_queue_mib
// MiB) are buffered per queue; a full queue is not pulled until Poll drains it.
//
// Thread safety: Poll() from one thread at a time. Every other method may be called from any
// thread, also while Poll() blocks.
//
// Threads: none of its own. Pulls are asynchronous (long polls by default) on the client's io
// thread, callback executor and scheduler, however many queues there are; Poll() runs on the
// caller's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stele/client/message.h"
#include "stele/client/push_consumer.h"  // MessageModel, ConsumeFromWhere, ExpressionType

namespace stele::client {

struct LitePullConsumerOptions {
  std::string group;
  std::string namesrv_addr;   // "host:port;host:port"
  std::string instance_name;  // "" = unique in this process
  MessageModel model = MessageModel::kClustering;
  ConsumeFromWhere consume_from_where = ConsumeFromWhere::kLastOffset;
  int64_t consume_timestamp_ms = 0;  // kTimestamp; 0 = half an hour ago (as RocketMQ)
  int pull_batch_size = 10;          // per pull request, and the most one Poll() returns
  std::chrono::milliseconds poll_timeout{5000};  // Poll() without an argument
  bool auto_commit = true;
  std::chrono::milliseconds auto_commit_interval{5000};
  int pull_threshold_for_queue = 1000;
  int pull_threshold_size_for_queue_mib = 100;
  // How long the broker holds a pull that finds nothing (long polling); 0 = answer at once and
  // pull an idle queue again after pull_interval_when_idle.
  std::chrono::milliseconds long_poll_timeout{15000};
  std::chrono::milliseconds pull_interval_when_idle{200};
  std::chrono::milliseconds pull_delay_on_error{3000};
  std::chrono::milliseconds rebalance_interval{20000};
  std::chrono::milliseconds poll_name_server_interval{30000};
  std::chrono::milliseconds heartbeat_interval{30000};
  std::chrono::milliseconds timeout{3000};  // each request (a long poll: plus its hold time)
  std::string offset_store_dir;             // broadcasting; "" = $HOME/.rocketmq_offsets
};

class LitePullConsumer {
 public:
  explicit LitePullConsumer(LitePullConsumerOptions options);
  ~LitePullConsumer();  // Shutdown()
  LitePullConsumer(const LitePullConsumer&) = delete;
  LitePullConsumer& operator=(const LitePullConsumer&) = delete;

  // Before or after Start(). Expressions as PushConsumer::Subscribe. FailedPrecondition after
  // Assign().
  absl::Status Subscribe(const std::string& topic, const std::string& expression = "*",
                         ExpressionType type = ExpressionType::kTag);
  void Unsubscribe(const std::string& topic);
  // Replaces the assigned queues (non-empty; every message of them, no filter). Before or after
  // Start(). FailedPrecondition after Subscribe().
  absl::Status Assign(const std::vector<MessageQueue>& queues);

  // Connects, heartbeats, and starts pulling. A consumer cannot be restarted.
  absl::Status Start();
  // Stops pulling, wakes a blocked Poll(), commits (auto_commit: every position; otherwise what
  // CommitSync() committed is already stored), unregisters. Idempotent.
  void Shutdown();

  // Up to pull_batch_size buffered messages (from one or more queues, each queue's in offset
  // order), waiting up to `timeout` for the first. Empty on timeout, and at once when the consumer
  // is not running. Messages of paused queues are held back.
  std::vector<MessageExt> Poll(std::chrono::milliseconds timeout);
  std::vector<MessageExt> Poll();  // options.poll_timeout

  // Moves an assigned queue's position: buffered messages are dropped and the next Poll()
  // returns messages from `offset` on. InvalidArgument outside [min offset, max offset];
  // FailedPrecondition if the queue is not assigned now or the consumer is not running.
  absl::Status Seek(const MessageQueue& queue, int64_t offset);
  absl::Status SeekToBegin(const MessageQueue& queue);  // the queue's min offset
  absl::Status SeekToEnd(const MessageQueue& queue);    // its max offset: only new messages

  // Commits every assigned queue's position now (see the header comment), synchronously.
  absl::Status CommitSync();
  // The group's stored offset of `queue` (-1 if it has none).
  absl::StatusOr<int64_t> Committed(const MessageQueue& queue);

  // Paused queues are not pulled and Poll() holds back what they buffered, until Resume(). A
  // pause also holds for a queue assigned later (after a rebalance).
  void Pause(const std::vector<MessageQueue>& queues);
  void Resume(const std::vector<MessageQueue>& queues);

  // The topic's readable queues, from the name server. The consumer must be running.
  absl::StatusOr<std::vector<MessageQueue>> FetchMessageQueues(const std::string& topic);
  // The queues this consumer holds now (subscribe mode: its share after the last rebalance).
  std::vector<MessageQueue> Assignment() const;
  const std::string& client_id() const;
  // Triggers a rebalance now (normally driven by the broker's notification and a timer).
  void RebalanceNow();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace stele::client
