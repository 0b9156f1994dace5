// A broker (no name server, 127.0.0.1, ephemeral ports, temp store) with its gRPC endpoint, and a
// grpc++ client on the generated stubs, for the gRPC endpoint suites.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apache/rocketmq/v2/service.grpc.pb.h"
#include "net/broker/broker_controller.h"
#include "net/grpc/grpc_endpoint.h"
#include "net/remoting/command.h"
#include "net/remoting/transport.h"
#include "testutil.h"

namespace stele::rpc::testing {

namespace v2 = apache::rocketmq::v2;

inline constexpr char kTopic[] = "GrpcTopic";
inline constexpr char kGroup[] = "GrpcGroup";
inline constexpr uint32_t kMaxMessageSize = 64 * 1024;

// Waits for `pred` up to `deadline` (checked every few ms); true if it held.
bool WaitUntil(const std::function<bool()>& pred,
               std::chrono::milliseconds deadline = std::chrono::seconds(20));

class GrpcTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Suites adjust the broker's config here (SetUp calls it before the broker starts). The
  // default enables SQL92 filtering (enablePropertyFilter).
  virtual void Tune(broker::BrokerConfig& c) { c.enable_property_filter = true; }
  // The endpoint's options: RocketMQ's defaults, except a 100 ms polling floor so that tests'
  // short polls end quickly (GrpcPollingTest checks the real floor).
  static GrpcOptions TestOptions() {
    GrpcOptions o;
    o.bind_address = "127.0.0.1";
    o.min_polling_ms = 100;
    return o;
  }

  // A context with the metadata every RocketMQ 5.x client sends (without x-mq-client-id if
  // `client_id` is empty) and a deadline.
  std::unique_ptr<grpc::ClientContext> Ctx(
      const std::string& client_id = "test-client",
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  static v2::Resource Res(const std::string& name);
  // A message of kTopic (or `topic`) with a fresh message id.
  v2::Message Msg(const std::string& body, const std::string& topic = kTopic);

  v2::SendMessageResponse Send(const std::vector<v2::Message>& msgs);
  // ReceiveMessage: every response of the stream, in order.
  std::vector<v2::ReceiveMessageResponse> Receive(int batch, int64_t invisible_ms,
                                                  int64_t polling_ms,
                                                  const std::string& group = kGroup);
  // The messages of a Receive (empty when it ended with MESSAGE_NOT_FOUND).
  static std::vector<v2::Message> Messages(const std::vector<v2::ReceiveMessageResponse>& rs);
  v2::AckMessageResponse Ack(const v2::Message& m, const std::string& group = kGroup);

  // Remoting: PULL_MESSAGE of queue `queue_id` from offset 0 (decoded records), and
  // SEND_MESSAGE_V2 of one message with properties `props`.
  std::vector<MessageView> RemotingPull(int queue_id, std::string* keep);
  // Sum of the max offsets of kTopic's queues (messages dispatched to it).
  int64_t TopicCount();
  remoting::RemotingCommand RemotingSend(const std::string& body, const std::string& props,
                                         int sys_flag = 0);

  stele::testing::TempDir dir_;
  std::unique_ptr<broker::BrokerController> broker_;
  std::unique_ptr<GrpcEndpoint> endpoint_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v2::MessagingService::Stub> stub_;
  remoting::RemotingClient remoting_;
  int next_id_ = 0;
};

}  // namespace stele::rpc::testing
