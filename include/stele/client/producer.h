// Producer: sends messages to a RocketMQ cluster (Stele's or Apache's) over the remoting
// protocol, as RocketMQ's DefaultMQProducer / TransactionMQProducer do.
//
//   stele::client::Producer p({.group = "PG", .namesrv_addr = "127.0.0.1:9876"});
//   if (auto s = p.Start(); !s.ok()) ...
//   auto r = p.Send({.topic = "T", .body = "hello", .tags = "A"});
//
// Routing: topic routes come from the name servers (refreshed every 30 s and after a failure).
// Queues are chosen round robin; with latency_fault_tolerance a broker that failed or answered
// slowly is skipped for a while (as RocketMQ's MQFaultStrategy). A topic the name server does not
// know is sent through the create_topic_key route (TBW102), so brokers with autoCreateTopicEnable
// create it.
//
// Retries: a sync or async send that fails on the transport or with a retryable code
// (SYSTEM_BUSY, SYSTEM_ERROR, TOPIC_NOT_EXIST, SERVICE_NOT_AVAILABLE, NO_PERMISSION) is retried up
// to retry_times more times, each on another broker when there is one. Sends to a chosen queue
// (selector, explicit queue) are not moved to another queue.
//
// Durability: a SendResult means the broker stored the message under its flush policy (SEND_OK
// under SYNC_FLUSH means fdatasync'ed). FLUSH_DISK_TIMEOUT etc. come back as a result status, not
// an error.
//
// Thread safety: every method may be called from any thread once Start() succeeded. Async
// callbacks and transaction listeners run on the producer's callback threads; they may block only
// briefly (they delay other callbacks).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "stele/client/message.h"

namespace stele::client {

struct ProducerOptions {
  std::string group = "DEFAULT_PRODUCER";
  std::string namesrv_addr;   // "host:port;host:port"
  std::string instance_name;  // "" = unique in this process
  std::chrono::milliseconds send_timeout{3000};
  int retry_times = 2;  // Java retryTimesWhenSendFailed (and ...AsyncFailed)
  // Also retry (on another broker) when the broker stored the message but reports a flush or
  // slave timeout (Java retryAnotherBrokerWhenNotStoreOK).
  bool retry_another_broker_when_not_store_ok = false;
  size_t compress_threshold = 4096;  // bodies above this are zlib-compressed (not in batches)
  int compress_level = 5;
  size_t max_message_size = 4u << 20;
  bool latency_fault_tolerance = true;
  int default_topic_queue_nums = 4;
  std::string create_topic_key = "TBW102";
  int callback_threads = 2;
  std::chrono::milliseconds poll_name_server_interval{30000};
  std::chrono::milliseconds heartbeat_interval{30000};
};

using SendCallback = std::function<void(absl::StatusOr<SendResult>)>;
// Picks one of `queues` (non-empty) for `msg`; returns its index (taken modulo the size).
using QueueSelector =
    std::function<size_t(const std::vector<MessageQueue>& queues, const Message& msg)>;

enum class LocalTransactionState { kCommit, kRollback, kUnknown };

// Transactional sends: the message is stored as a half message, invisible to consumers, until
// Execute's answer (or a later Check's) commits or rolls it back.
class TransactionListener {
 public:
  virtual ~TransactionListener() = default;
  // Runs the local transaction right after the half message was stored.
  virtual LocalTransactionState Execute(const Message& msg, const SendResult& half) = 0;
  // The broker asks about a half message still unresolved after its check interval.
  virtual LocalTransactionState Check(const MessageExt& msg) = 0;
};

struct TransactionSendResult : SendResult {
  LocalTransactionState local_state = LocalTransactionState::kUnknown;
};

class Producer {
 public:
  explicit Producer(ProducerOptions options);
  ~Producer();  // Shutdown()
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Validates the options and connects to nothing yet (connections are made on first use). Once
  // only: a shut-down producer cannot be started again (FailedPrecondition).
  absl::Status Start();
  // Unregisters from the brokers and waits for pending async callbacks. Idempotent.
  void Shutdown();

  absl::StatusOr<SendResult> Send(const Message& msg);
  absl::StatusOr<SendResult> Send(const Message& msg, const MessageQueue& queue);
  absl::StatusOr<SendResult> Send(const Message& msg, const QueueSelector& selector);
  // Ordered send: messages with the same sharding key go to the same queue (hash % queue count).
  absl::StatusOr<SendResult> SendOrderly(const Message& msg, std::string_view sharding_key);
  // `done` runs exactly once, on a callback thread.
  void SendAsync(Message msg, SendCallback done);
  // To a chosen queue: one attempt, never moved to another queue.
  void SendAsync(Message msg, const MessageQueue& queue, SendCallback done);
  // Fire and forget: OK means handed to the connection, not stored.
  absl::Status SendOneway(const Message& msg);
  // One request, one queue, stored together. Same topic, no delay, no transaction.
  absl::StatusOr<SendResult> SendBatch(const std::vector<Message>& msgs);

  // Before Start(), for SendInTransaction and check-backs.
  void SetTransactionListener(std::shared_ptr<TransactionListener> listener);
  absl::StatusOr<TransactionSendResult> SendInTransaction(const Message& msg);

  // The topic's writable queues (fetching the route if needed).
  absl::StatusOr<std::vector<MessageQueue>> FetchPublishQueues(const std::string& topic);
  const std::string& client_id() const;

  struct Impl;

 private:
  void SendAsyncTo(Message msg, std::optional<MessageQueue> queue, SendCallback done);
  std::shared_ptr<Impl> impl_;
};

}  // namespace stele::client
