// SQL92 filters on ReceiveMessage (the exact matching set; malformed expressions and a broker
// without enablePropertyFilter refused), gRPC consumers in the broker's consumer table (listed by
// GET_CONSUMER_LIST_BY_GROUP, gone on termination, stream close or heartbeat expiry), and the
// proxy's long-polling bounds.
#include <set>

#include "common/clock.h"
#include "fmt/format.h"
#include "grpc_test_fixture.h"
#include "net/grpc/grpc_convert.h"
#include "net/remoting/codes.h"
#include "nlohmann/json.hpp"

namespace stele::rpc::testing {
namespace {

// One ReceiveMessage's status and messages.
struct ReceiveResult {
  v2::Code code = v2::CODE_UNSPECIFIED;
  std::string message;
  std::vector<v2::Message> msgs;
};

class GrpcSessionTest : public GrpcTest {
 protected:
  // One ReceiveMessage with any filter and polling time.
  static ReceiveResult ReceiveWith(v2::MessagingService::Stub& stub,
                                   std::unique_ptr<grpc::ClientContext> ctx, v2::FilterType type,
                                   const std::string& expr, int64_t polling_ms) {
    v2::ReceiveMessageRequest req;
    *req.mutable_group() = Res(kGroup);
    *req.mutable_message_queue()->mutable_topic() = Res(kTopic);
    req.mutable_filter_expression()->set_type(type);
    req.mutable_filter_expression()->set_expression(expr);
    req.set_batch_size(32);
    SetMillis(req.mutable_invisible_duration(), 30000);
    SetMillis(req.mutable_long_polling_timeout(), polling_ms);
    auto reader = stub.ReceiveMessage(ctx.get(), req);
    ReceiveResult out;
    v2::ReceiveMessageResponse r;
    while (reader->Read(&r)) {
      if (r.has_status()) {
        out.code = r.status().code();
        out.message = r.status().message();
      } else if (r.has_message()) {
        out.msgs.push_back(r.message());
      }
    }
    EXPECT_TRUE(reader->Finish().ok());
    return out;
  }

  ReceiveResult Recv(v2::FilterType type, const std::string& expr, int64_t polling_ms = 200) {
    return ReceiveWith(*stub_, Ctx("receiver", std::chrono::milliseconds(polling_ms + 10000)), type,
                       expr, polling_ms);
  }

  // GET_CONSUMER_LIST_BY_GROUP over remoting: the group's client ids (empty when it has none).
  std::vector<std::string> ConsumerList(const std::string& group = kGroup) {
    auto req = remoting::RemotingCommand::Request(remoting::request::kGetConsumerListByGroup);
    req.Set("consumerGroup", group);
    auto resp = remoting_.InvokeSync(fmt::format("127.0.0.1:{}", broker_->port()), std::move(req),
                                     std::chrono::seconds(10));
    EXPECT_TRUE(resp.ok()) << resp.status();
    if (!resp.ok() || resp->code != remoting::response::kSuccess) return {};
    return nlohmann::json::parse(resp->body).at("consumerIdList").get<std::vector<std::string>>();
  }

  v2::Code Heartbeat(const std::string& client, v2::ClientType type) {
    v2::HeartbeatRequest hb;
    hb.set_client_type(type);
    *hb.mutable_group() = Res(kGroup);
    v2::HeartbeatResponse hr;
    auto ctx = Ctx(client);
    EXPECT_TRUE(stub_->Heartbeat(ctx.get(), hb, &hr).ok());
    return hr.status().code();
  }
};

TEST_F(GrpcSessionTest, Sql92ReceiveDeliversExactlyTheMatchingSet) {
  for (int i = 0; i < 12; ++i) {
    v2::Message m = Msg(fmt::format("m{}", i));
    m.mutable_system_properties()->set_tag(i % 2 == 0 ? "even" : "odd");
    (*m.mutable_user_properties())["n"] = std::to_string(i);
    ASSERT_EQ(Send({m}).status().code(), v2::OK);
  }
  ASSERT_TRUE(WaitUntil([&] { return TopicCount() >= 12; }));
  std::multiset<std::string> got;
  ASSERT_TRUE(WaitUntil([&] {
    auto r = Recv(v2::SQL, "n BETWEEN 3 AND 8 AND TAGS = 'odd'");
    EXPECT_TRUE(r.code == v2::OK || r.code == v2::MESSAGE_NOT_FOUND) << r.message;
    for (const auto& m : r.msgs) {
      got.insert(m.body());
      EXPECT_EQ(Ack(m).status().code(), v2::OK);
    }
    return got.size() >= 3;
  }));
  EXPECT_EQ(got, (std::multiset<std::string>{"m3", "m5", "m7"}));
  // Nothing else matches (the rest was filtered out, not left in flight).
  auto r = Recv(v2::SQL, "n BETWEEN 3 AND 8 AND TAGS = 'odd'");
  EXPECT_EQ(r.code, v2::MESSAGE_NOT_FOUND);
  EXPECT_TRUE(r.msgs.empty());
}

TEST_F(GrpcSessionTest, Sql92ReceiveRefusesMalformedExpressions) {
  for (const char* bad : {"n >>> 1", "(a = 1", "a IN ()"}) {
    auto r = Recv(v2::SQL, bad);
    EXPECT_EQ(r.code, v2::ILLEGAL_FILTER_EXPRESSION) << bad;
    EXPECT_FALSE(r.message.empty()) << bad;  // the parser's reason
    EXPECT_TRUE(r.msgs.empty());
  }
  EXPECT_EQ(Recv(static_cast<v2::FilterType>(9), "x").code, v2::ILLEGAL_FILTER_EXPRESSION);
}

class GrpcNoSqlTest : public GrpcSessionTest {
 protected:
  void Tune(broker::BrokerConfig& c) override { c.enable_property_filter = false; }
};

TEST_F(GrpcNoSqlTest, Sql92ReceiveNeedsEnablePropertyFilter) {
  ASSERT_EQ(Send({Msg("x")}).status().code(), v2::OK);
  auto r = Recv(v2::SQL, "a > 1");
  EXPECT_EQ(r.code, v2::UNSUPPORTED);
  EXPECT_NE(r.message.find("enablePropertyFilter"), std::string::npos) << r.message;
  // A malformed expression is still reported as such (checked first, as remoting does).
  EXPECT_EQ(Recv(v2::SQL, "a >>> 1").code, v2::ILLEGAL_FILTER_EXPRESSION);
  // Tags still work.
  auto t = Recv(v2::TAG, "*", 2000);
  EXPECT_EQ(t.code, v2::OK);
}

TEST_F(GrpcSessionTest, TelemetryConsumerIsListedThenRemovedOnTermination) {
  EXPECT_TRUE(ConsumerList().empty());
  auto tctx = Ctx("sub-client", std::chrono::seconds(60));
  auto stream = stub_->Telemetry(tctx.get());
  v2::TelemetryCommand cmd;
  v2::Settings* s = cmd.mutable_settings();
  s->set_client_type(v2::SIMPLE_CONSUMER);
  *s->mutable_subscription()->mutable_group() = Res(kGroup);
  v2::SubscriptionEntry* e = s->mutable_subscription()->add_subscriptions();
  *e->mutable_topic() = Res(kTopic);
  e->mutable_expression()->set_type(v2::TAG);
  e->mutable_expression()->set_expression("A || B");
  ASSERT_TRUE(stream->Write(cmd));
  v2::TelemetryCommand reply;
  ASSERT_TRUE(stream->Read(&reply));
  ASSERT_EQ(reply.status().code(), v2::OK);
  EXPECT_EQ(ConsumerList(), (std::vector<std::string>{"sub-client"}));
  auto sub = broker_->consumers().FindSubscription(kGroup, kTopic);
  ASSERT_TRUE(sub.has_value());
  EXPECT_EQ(sub->sub_string, "A || B");
  EXPECT_EQ(sub->tags_set, (std::vector<std::string>{"A", "B"}));
  // A heartbeat keeps it (and its subscription).
  EXPECT_EQ(Heartbeat("sub-client", v2::SIMPLE_CONSUMER), v2::OK);
  EXPECT_EQ(ConsumerList(), (std::vector<std::string>{"sub-client"}));
  EXPECT_TRUE(broker_->consumers().FindSubscription(kGroup, kTopic).has_value());

  v2::NotifyClientTerminationRequest term;
  *term.mutable_group() = Res(kGroup);
  v2::NotifyClientTerminationResponse tr;
  auto ctx = Ctx("sub-client");
  ASSERT_TRUE(stub_->NotifyClientTermination(ctx.get(), term, &tr).ok());
  EXPECT_EQ(tr.status().code(), v2::OK);
  EXPECT_TRUE(ConsumerList().empty());
  EXPECT_TRUE(broker_->consumers().ConsumerIds(kGroup).empty());
  stream->WritesDone();
  while (stream->Read(&reply)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(GrpcSessionTest, HeartbeatConsumerLeavesWhenItsStreamClosesOrItExpires) {
  // Heartbeats alone register a consumer (a push consumer and a producer: only the former).
  EXPECT_EQ(Heartbeat("hb-consumer", v2::PUSH_CONSUMER), v2::OK);
  EXPECT_EQ(Heartbeat("hb-producer", v2::PRODUCER), v2::OK);
  EXPECT_EQ(ConsumerList(), (std::vector<std::string>{"hb-consumer"}));
  // Silent past the broker's client expiry: gone.
  broker_->consumers().ScanExpired(NowMs() + broker::kDefaultClientExpiryMs + 1000);
  EXPECT_TRUE(ConsumerList().empty());

  // A client with a Telemetry stream leaves when the stream closes.
  auto tctx = Ctx("stream-consumer", std::chrono::seconds(60));
  auto stream = stub_->Telemetry(tctx.get());
  v2::TelemetryCommand cmd;
  cmd.mutable_settings()->set_client_type(v2::PUSH_CONSUMER);
  *cmd.mutable_settings()->mutable_subscription()->mutable_group() = Res(kGroup);
  ASSERT_TRUE(stream->Write(cmd));
  v2::TelemetryCommand reply;
  ASSERT_TRUE(stream->Read(&reply));
  EXPECT_EQ(Heartbeat("stream-consumer", v2::PUSH_CONSUMER), v2::OK);
  EXPECT_EQ(ConsumerList(), (std::vector<std::string>{"stream-consumer"}));
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_FALSE(stream->Read(&reply));
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_TRUE(WaitUntil([&] { return ConsumerList().empty(); }));
}

// RocketMQ's proxy bounds (5 s .. 20 s) on an endpoint with the real defaults.
TEST_F(GrpcSessionTest, LongPollingBounds) {
  GrpcEndpoint real(*broker_, GrpcOptions{.bind_address = "127.0.0.1"});
  ASSERT_TRUE(real.Start(0).ok());
  auto channel = grpc::CreateChannel(fmt::format("127.0.0.1:{}", real.port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = v2::MessagingService::NewStub(channel);
  // A deadline that leaves less than the 5 s floor: ILLEGAL_POLLING_TIME, at once.
  auto t0 = std::chrono::steady_clock::now();
  auto r = ReceiveWith(*stub, Ctx("receiver", std::chrono::seconds(3)), v2::TAG, "*", 1000);
  EXPECT_EQ(r.code, v2::ILLEGAL_POLLING_TIME) << r.message;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  // Negative: ILLEGAL_POLLING_TIME.
  r = ReceiveWith(*stub, Ctx("receiver", std::chrono::seconds(30)), v2::TAG, "*", -1000);
  EXPECT_EQ(r.code, v2::ILLEGAL_POLLING_TIME);
  // Shorter than the floor (with a deadline that allows it): raised to 5 s, as the proxy does.
  t0 = std::chrono::steady_clock::now();
  r = ReceiveWith(*stub, Ctx("receiver", std::chrono::seconds(30)), v2::TAG, "*", 100);
  EXPECT_EQ(r.code, v2::MESSAGE_NOT_FOUND);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(4900));
  real.Stop();
}

}  // namespace
}  // namespace stele::rpc::testing
