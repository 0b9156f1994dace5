// PopService: RocketMQ 5.x "pop" consumption, the model behind the gRPC SimpleConsumer and
// PushConsumer. A popped message becomes invisible to the group for the requested duration and
// reappears (its delivery attempt incremented) unless it is acked first; a receipt handle names
// one delivery of one message. Past the group's max delivery attempts a message that keeps coming
// back goes to %DLQ%<group> instead.
//
// Durability: every pop, ack and invisible-duration change is recorded in the store (a system
// topic) before it is answered, and replayed at start, so a broker restart or kill -9 neither
// loses an un-acked message (it reappears when its invisible time ends) nor hands out again a
// message that was acked (at-least-once, as RocketMQ).
//
// FIFO: with PopRequest::fifo, a queue is not popped past a message of it that is still in
// flight (so a message group, which producers keep in one queue, is consumed in order).
//
// Thread safety: every method may be called from any thread. Callbacks run on the service's own
// thread, a store thread or the caller's; they must not block. Ack, ChangeInvisibleDuration and
// ForwardToDeadLetter wait until their record is stored (under SYNC_FLUSH: flushed), so they must
// not be called from a PopCallback.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "stele/store.h"

namespace stele::broker {

class BrokerController;

struct PopRequest {
  std::string group;
  std::string topic;
  int32_t queue_id = -1;  // -1: any queue of the topic
  int max_messages = 32;
  std::chrono::milliseconds invisible{30000};
  // Subscription filter: "TAG" (RocketMQ's tag expression, "*" for all) or "SQL92" (needs the
  // broker's enablePropertyFilter).
  std::string filter_type = "TAG";
  std::string filter_expression = "*";
  bool fifo = false;
  int max_delivery_attempts = 16;  // then the message goes to %DLQ%<group>
};

struct PoppedMessage {
  RecordRef record;            // the stored message (pinned)
  std::string receipt_handle;  // opaque to clients; pass back to Ack / ChangeInvisible
  int32_t delivery_attempt = 1;
  int64_t invisible_until_ms = 0;  // wall clock (ms since the epoch)
};

class PopService {
 public:
  static absl::StatusOr<std::unique_ptr<PopService>> Create(BrokerController& broker);
  virtual ~PopService() = default;

  virtual absl::Status Start() = 0;
  // Answers every waiting PopAsync (with what it has, possibly nothing) and stops.
  virtual void Stop() = 0;

  using PopCallback = std::function<void(absl::StatusOr<std::vector<PoppedMessage>>)>;
  // Pops up to max_messages visible messages. If there are none, waits (long polling) until some
  // become visible (a new message, or an in-flight one whose invisible time ended) or `deadline`
  // passes, then calls `done` once. Errors: NotFound (topic), InvalidArgument (bad request, or a
  // filter refused as PULL_MESSAGE refuses it: malformed, or SQL92 while enablePropertyFilter is
  // false), ResourceExhausted (too many waiters).
  virtual void PopAsync(PopRequest req, std::chrono::steady_clock::time_point deadline,
                        PopCallback done) = 0;

  // Acks one delivery. InvalidArgument: the handle is malformed or names another group/topic;
  // NotFound / FailedPrecondition: the delivery is no longer in flight (already acked, or its
  // invisible time ended and it was delivered again, which issued a new handle).
  virtual absl::Status Ack(const std::string& group, const std::string& topic,
                           const std::string& receipt_handle) = 0;
  // Makes an in-flight delivery invisible for `invisible` from now (0: visible at once); returns
  // its new receipt handle (the old one is no longer valid). Same errors as Ack.
  virtual absl::StatusOr<std::string> ChangeInvisibleDuration(
      const std::string& group, const std::string& topic, const std::string& receipt_handle,
      std::chrono::milliseconds invisible) = 0;
  // Sends an in-flight delivery to %DLQ%<group> at once and acks it.
  virtual absl::Status ForwardToDeadLetter(const std::string& group, const std::string& topic,
                                           const std::string& receipt_handle) = 0;

  // A message arrived in (topic, queue_id): wakes the long polls waiting on the topic. Called by
  // the broker's store arrival listener (the dispatcher thread); never blocks on I/O.
  virtual void NotifyArrival(std::string_view topic, int32_t queue_id) = 0;

  // Messages of (group, topic) currently in flight (popped, not acked).
  virtual int64_t InFlight(const std::string& group, const std::string& topic) const = 0;
};

}  // namespace stele::broker
