// GrpcEndpoint: RocketMQ 5.x's gRPC protocol (apache.rocketmq.v2.MessagingService) served by the
// broker itself, so the official 5.x clients connect to the broker with no proxy in between.
// Sends go through the broker's MessageWriter, receives through its PopService, transactions
// through its END_TRANSACTION path: the store and the topics are the ones remoting clients see.
//
// Lifecycle: construct after the broker is created; Start() after the broker started; Stop()
// before the broker shuts down (it cancels streams still open after a short grace period, and
// waits for every call to finish). The broker must outlive the endpoint.
//
// Thread safety: Start and Stop from one thread; port() from any.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace grpc {
class Server;
}

namespace stele::broker {
class BrokerController;
}

namespace stele::rpc {

class MessagingServiceImpl;

struct GrpcOptions {
  std::string bind_address = "0.0.0.0";
  // ReceiveMessage: the shortest invisible duration accepted (RocketMQ's proxy: 10 s).
  int64_t min_invisible_ms = 10000;
  int64_t max_invisible_ms = 12LL * 3600 * 1000;
  // Long polling (RocketMQ's proxy: grpcClientConsumerMin/MaxLongPollingTimeoutMillis, 5 s and
  // 20 s). A receive waits at least the min and at most the max, never past the client's deadline;
  // a client whose deadline leaves less than the min gets ILLEGAL_POLLING_TIME. A pull waits what
  // it asks for, up to the max.
  int64_t min_polling_ms = 5000;
  int64_t max_polling_ms = 20000;
  // Most clients (by x-mq-client-id) whose Settings are remembered at once.
  size_t max_clients = 65536;
};

class GrpcEndpoint {
 public:
  explicit GrpcEndpoint(broker::BrokerController& broker, GrpcOptions options = {});
  ~GrpcEndpoint();  // Stop()

  // Listens on bind_address:port (0 = pick a free port). FailedPrecondition if started already;
  // Unavailable if the port cannot be bound.
  absl::Status Start(int port);
  // Stops accepting calls, cancels open streams after at most `grace_ms`, waits for every call to
  // end. Idempotent.
  void Stop(int grace_ms = 1000);
  // The bound port (0 before Start).
  int port() const { return port_; }

 private:
  broker::BrokerController& broker_;
  GrpcOptions options_;
  std::unique_ptr<MessagingServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace stele::rpc
