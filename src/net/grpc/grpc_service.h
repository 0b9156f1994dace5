// MessagingServiceImpl: the handlers of apache.rocketmq.v2.MessagingService on grpc++'s callback
// API (no thread is held while a call waits: a long-polling ReceiveMessage parks a PopService
// callback, a send waits for the store's acknowledgement callback). Internal to src/net/grpc;
// the handlers are spread over grpc_endpoint.cc (route, heartbeat, telemetry), grpc_send.cc
// (send, end transaction), grpc_consume.cc (receive, ack, invisible time, DLQ, assignment),
// grpc_pull.cc (pull) and grpc_offset.cc (update / get / query offset).
//
// Every call must carry the x-mq-client-id metadata (CLIENT_ID_REQUIRED otherwise). Per-client
// state is the Settings the client sent on its Telemetry stream, kept until it terminates or its
// last stream closes.
//
// Consumers (a client whose Settings or Heartbeat name a group) are also registered in the
// broker's ConsumerManager, as remoting consumers are, so admin requests list them; they leave it
// on NotifyClientTermination, when their last Telemetry stream closes, or when they stop
// heartbeating (the broker's client expiry).
//
// Thread safety: handlers run on grpc's threads; the client table is guarded by a mutex.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "apache/rocketmq/v2/service.grpc.pb.h"
#include "net/broker/subscription_filter.h"
#include "net/grpc/grpc_convert.h"
#include "net/grpc/grpc_endpoint.h"

namespace stele::broker {
class BrokerController;
}

namespace stele::rpc {

class TelemetryStream;

class MessagingServiceImpl final : public v2::MessagingService::CallbackService {
 public:
  MessagingServiceImpl(broker::BrokerController& b, const GrpcOptions& options)
      : b_(b), options_(options) {}

  // Our own address as clients should dial it, for routes when the request names none.
  void set_port(int port) { port_ = port; }

  grpc::ServerUnaryReactor* QueryRoute(grpc::CallbackServerContext* ctx,
                                       const v2::QueryRouteRequest* req,
                                       v2::QueryRouteResponse* resp) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* ctx,
                                      const v2::HeartbeatRequest* req,
                                      v2::HeartbeatResponse* resp) override;
  grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand>* Telemetry(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* NotifyClientTermination(
      grpc::CallbackServerContext* ctx, const v2::NotifyClientTerminationRequest* req,
      v2::NotifyClientTerminationResponse* resp) override;

  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx,
                                        const v2::SendMessageRequest* req,
                                        v2::SendMessageResponse* resp) override;
  grpc::ServerUnaryReactor* EndTransaction(grpc::CallbackServerContext* ctx,
                                           const v2::EndTransactionRequest* req,
                                           v2::EndTransactionResponse* resp) override;

  grpc::ServerUnaryReactor* QueryAssignment(grpc::CallbackServerContext* ctx,
                                            const v2::QueryAssignmentRequest* req,
                                            v2::QueryAssignmentResponse* resp) override;
  grpc::ServerWriteReactor<v2::ReceiveMessageResponse>* ReceiveMessage(
      grpc::CallbackServerContext* ctx, const v2::ReceiveMessageRequest* req) override;
  grpc::ServerUnaryReactor* AckMessage(grpc::CallbackServerContext* ctx,
                                       const v2::AckMessageRequest* req,
                                       v2::AckMessageResponse* resp) override;
  grpc::ServerUnaryReactor* ChangeInvisibleDuration(
      grpc::CallbackServerContext* ctx, const v2::ChangeInvisibleDurationRequest* req,
      v2::ChangeInvisibleDurationResponse* resp) override;
  grpc::ServerUnaryReactor* ForwardMessageToDeadLetterQueue(
      grpc::CallbackServerContext* ctx, const v2::ForwardMessageToDeadLetterQueueRequest* req,
      v2::ForwardMessageToDeadLetterQueueResponse* resp) override;

  grpc::ServerWriteReactor<v2::PullMessageResponse>* PullMessage(
      grpc::CallbackServerContext* ctx, const v2::PullMessageRequest* req) override;
  grpc::ServerUnaryReactor* UpdateOffset(grpc::CallbackServerContext* ctx,
                                         const v2::UpdateOffsetRequest* req,
                                         v2::UpdateOffsetResponse* resp) override;
  grpc::ServerUnaryReactor* GetOffset(grpc::CallbackServerContext* ctx,
                                      const v2::GetOffsetRequest* req,
                                      v2::GetOffsetResponse* resp) override;
  grpc::ServerUnaryReactor* QueryOffset(grpc::CallbackServerContext* ctx,
                                        const v2::QueryOffsetRequest* req,
                                        v2::QueryOffsetResponse* resp) override;

  // The client id of a call (x-mq-client-id), or CLIENT_ID_REQUIRED.
  static absl::StatusOr<std::string> ClientId(const grpc::CallbackServerContext& ctx);
  // The peer's "host:port" (grpc's "ipv4:" / "ipv6:" prefix removed).
  static std::string PeerAddress(const grpc::CallbackServerContext& ctx);
  // Remembers / looks up / forgets a client's Settings. Remember fails with TOO_MANY_REQUESTS
  // past options.max_clients.
  absl::Status RememberSettings(const std::string& client_id, const v2::Settings& s);
  std::optional<v2::Settings> FindSettings(const std::string& client_id) const;
  // Also unregisters the client from every consumer group it joined.
  void ForgetClient(const std::string& client_id);
  // Registers (or refreshes) a consumer client in the broker's ConsumerManager under `group`,
  // with the subscriptions of its Settings (the group's current ones if it sent none).
  void RegisterConsumer(const std::string& client_id, const std::string& group);
  // The Settings the server answers a client's Settings with.
  v2::Settings ServerSettings(const v2::Settings& client) const;

  // Telemetry streams by client id (the newest per client), to send server commands on.
  void AddStream(const std::string& client_id, TelemetryStream* s);
  void RemoveStream(const std::string& client_id, TelemetryStream* s);
  // Asks a producer on a Telemetry stream (one publishing the half's real topic if any) to resolve
  // the transaction of a half message's check copy (RecoverOrphanedTransactionCommand). False if
  // no producer stream is open. TransactionService's check hook.
  bool RecoverOrphan(const MessageView& copy);

  // Fills a route/assignment queue's broker with our endpoints (echoing `dialled` if it names
  // any: the client compares endpoints by the address it dialled).
  void FillBroker(const v2::Endpoints* dialled, v2::Broker* out) const;

  broker::BrokerController& broker() { return b_; }
  const GrpcOptions& options() const { return options_; }

 private:
  broker::BrokerController& b_;
  const GrpcOptions options_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::map<std::string, v2::Settings> clients_;      // guarded by mu_
  std::map<std::string, TelemetryStream*> streams_;  // guarded by mu_
  // Consumer groups each client joined in the ConsumerManager, and the channel id it is known by
  // there (high bit set: never a remoting connection's id).
  struct Member {
    uint64_t channel_id = 0;
    std::set<std::string> groups;
  };
  std::map<std::string, Member> members_;  // guarded by mu_
  uint64_t next_channel_ = 0;              // guarded by mu_
};

// Shared validation of consumer calls. The topic and group of a call (ILLEGAL_TOPIC,
// ILLEGAL_CONSUMER_GROUP; TOPIC_NOT_FOUND for an unknown topic).
absl::Status TopicAndGroup(broker::BrokerController& b, const v2::Resource& topic,
                           const v2::Resource& group, std::string* t, std::string* g);
// The queue a call names: its topic exists and the id is one of its read queues (BAD_REQUEST).
absl::Status ReadQueue(broker::BrokerController& b, const v2::MessageQueue& q, std::string* topic,
                       int32_t* queue_id);
// A subscription filter of a call: ILLEGAL_FILTER_EXPRESSION for an unknown type or an expression
// that does not parse (with the parser's reason), UNSUPPORTED for SQL92 while the broker's
// enablePropertyFilter is false.
absl::StatusOr<broker::SubscriptionFilter> ResolveFilter(broker::BrokerController& b,
                                                         const v2::FilterExpression& f,
                                                         std::string* type);
// When a long-polling call must answer. ReceiveMessage (`at_least_min`), as RocketMQ's proxy
// decides it: the requested time (else `fallback_ms`) within [min_polling_ms, max_polling_ms],
// shortened to what the client's deadline leaves (less a margin to answer in); ILLEGAL_POLLING_TIME
// when the deadline leaves less than min_polling_ms. PullMessage: the requested time (0: answer at
// once) up to max_polling_ms and the deadline. A negative time is ILLEGAL_POLLING_TIME.
absl::StatusOr<std::chrono::steady_clock::time_point> PollingDeadline(
    const GrpcOptions& o, const grpc::CallbackServerContext& ctx,
    const google::protobuf::Duration* requested, int64_t fallback_ms, bool at_least_min);

}  // namespace stele::rpc
