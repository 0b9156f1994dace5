// MessagingServiceImpl: the handlers of apache.rocketmq.v2.MessagingService on grpc++'s callback
// API (no thread is held while a call waits: a long-polling ReceiveMessage parks a PopService
// callback, a send waits for the store's acknowledgement callback). Internal to src/net/grpc;
// the handlers are spread over grpc_endpoint.cc (route, heartbeat, telemetry), grpc_send.cc
// (send, end transaction) and grpc_consume.cc (receive, ack, invisible time, DLQ, assignment).
//
// Every call must carry the x-mq-client-id metadata (CLIENT_ID_REQUIRED otherwise). Per-client
// state is the Settings the client sent on its Telemetry stream, kept until it terminates or its
// last stream closes.
//
// Thread safety: handlers run on grpc's threads; the client table is guarded by a mutex.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "apache/rocketmq/v2/service.grpc.pb.h"
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

  // The client id of a call (x-mq-client-id), or CLIENT_ID_REQUIRED.
  static absl::StatusOr<std::string> ClientId(const grpc::CallbackServerContext& ctx);
  // The peer's "host:port" (grpc's "ipv4:" / "ipv6:" prefix removed).
  static std::string PeerAddress(const grpc::CallbackServerContext& ctx);
  // Remembers / looks up / forgets a client's Settings. Remember fails with TOO_MANY_REQUESTS
  // past options.max_clients.
  absl::Status RememberSettings(const std::string& client_id, const v2::Settings& s);
  std::optional<v2::Settings> FindSettings(const std::string& client_id) const;
  void ForgetClient(const std::string& client_id);
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
};

}  // namespace stele::rpc
