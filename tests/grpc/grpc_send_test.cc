// Routes, sessions and sends over gRPC: QueryRoute, Heartbeat, Telemetry settings, SendMessage
// (normal, batch, FIFO, delay, transaction), the mapping to remoting both ways, and bad input.
#include <grpcpp/generic/generic_stub.h>
#include <algorithm>

#include <condition_variable>
#include <mutex>
#include <set>

#include "fmt/format.h"
#include "grpc_test_fixture.h"
#include "net/grpc/grpc_convert.h"
#include "net/remoting/codes.h"

namespace stele::rpc::testing {
namespace {

TEST_F(GrpcTest, QueryRouteListsQueuesWithOurEndpoint) {
  v2::QueryRouteRequest req;
  *req.mutable_topic() = Res(kTopic);
  auto* a = req.mutable_endpoints()->add_addresses();
  a->set_host("127.0.0.1");
  a->set_port(endpoint_->port());
  v2::QueryRouteResponse resp;
  auto ctx = Ctx();
  ASSERT_TRUE(stub_->QueryRoute(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.status().code(), v2::OK) << resp.status().message();
  ASSERT_EQ(resp.message_queues_size(), 4);
  std::set<int> ids;
  for (const auto& q : resp.message_queues()) {
    ids.insert(q.id());
    EXPECT_EQ(q.permission(), v2::READ_WRITE);
    EXPECT_EQ(q.topic().name(), kTopic);
    EXPECT_EQ(q.broker().id(), 0);
    ASSERT_EQ(q.broker().endpoints().addresses_size(), 1);
    EXPECT_EQ(q.broker().endpoints().addresses(0).port(), endpoint_->port());
    bool normal = false;
    for (int t : q.accept_message_types()) normal |= t == v2::NORMAL;
    EXPECT_TRUE(normal);
  }
  EXPECT_EQ(ids, (std::set<int>{0, 1, 2, 3}));
}

TEST_F(GrpcTest, QueryRouteErrors) {
  v2::QueryRouteRequest req;
  *req.mutable_topic() = Res("NoSuchTopic");
  v2::QueryRouteResponse resp;
  auto ctx = Ctx();
  ASSERT_TRUE(stub_->QueryRoute(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.status().code(), v2::TOPIC_NOT_FOUND);
  EXPECT_EQ(resp.message_queues_size(), 0);

  *req.mutable_topic() = Res("../etc/passwd");
  ctx = Ctx();
  ASSERT_TRUE(stub_->QueryRoute(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.status().code(), v2::ILLEGAL_TOPIC);

  *req.mutable_topic() = Res(kTopic);
  ctx = Ctx("");  // no x-mq-client-id
  ASSERT_TRUE(stub_->QueryRoute(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.status().code(), v2::CLIENT_ID_REQUIRED);
}

TEST_F(GrpcTest, TelemetryAnswersSettingsAndHeartbeatKnowsTheClient) {
  v2::HeartbeatRequest hb;
  v2::HeartbeatResponse hr;
  auto ctx = Ctx("telemetry-client");
  ASSERT_TRUE(stub_->Heartbeat(ctx.get(), hb, &hr).ok());
  EXPECT_EQ(hr.status().code(), v2::UNRECOGNIZED_CLIENT_TYPE);

  auto tctx = Ctx("telemetry-client", std::chrono::seconds(30));
  auto stream = stub_->Telemetry(tctx.get());
  v2::TelemetryCommand cmd;
  cmd.mutable_settings()->set_client_type(v2::PRODUCER);
  *cmd.mutable_settings()->mutable_publishing()->add_topics() = Res(kTopic);
  ASSERT_TRUE(stream->Write(cmd));
  v2::TelemetryCommand reply;
  ASSERT_TRUE(stream->Read(&reply));
  EXPECT_EQ(reply.status().code(), v2::OK);
  ASSERT_TRUE(reply.has_settings());
  EXPECT_TRUE(reply.settings().backoff_policy().has_exponential_backoff());
  EXPECT_EQ(reply.settings().backoff_policy().max_attempts(), 3);
  EXPECT_EQ(reply.settings().publishing().max_body_size(), static_cast<int>(kMaxMessageSize));
  EXPECT_TRUE(reply.settings().publishing().validate_message_type());

  ctx = Ctx("telemetry-client");
  ASSERT_TRUE(stub_->Heartbeat(ctx.get(), hb, &hr).ok());
  EXPECT_EQ(hr.status().code(), v2::OK) << hr.status().message();
  hb.set_client_type(v2::SIMPLE_CONSUMER);
  *hb.mutable_group() = Res(kGroup);
  ctx = Ctx("other-client");
  ASSERT_TRUE(stub_->Heartbeat(ctx.get(), hb, &hr).ok());
  EXPECT_EQ(hr.status().code(), v2::OK);

  ASSERT_TRUE(stream->WritesDone());
  EXPECT_FALSE(stream->Read(&reply));
  EXPECT_TRUE(stream->Finish().ok());
  // Its last stream closed: the settings are forgotten.
  hb.clear_client_type();
  hb.clear_group();
  EXPECT_TRUE(WaitUntil([&] {
    auto c = Ctx("telemetry-client");
    return stub_->Heartbeat(c.get(), hb, &hr).ok() &&
           hr.status().code() == v2::UNRECOGNIZED_CLIENT_TYPE;
  }));
}

TEST_F(GrpcTest, SendNormalIsPullableOverRemotingWithTagKeysAndId) {
  v2::Message m = Msg("hello over grpc");
  m.mutable_system_properties()->set_tag("TagA");
  m.mutable_system_properties()->add_keys("k1");
  m.mutable_system_properties()->add_keys("k2");
  (*m.mutable_user_properties())["color"] = "blue";
  auto resp = Send({m});
  ASSERT_EQ(resp.status().code(), v2::OK) << resp.status().message();
  ASSERT_EQ(resp.entries_size(), 1);
  EXPECT_EQ(resp.entries(0).status().code(), v2::OK);
  EXPECT_EQ(resp.entries(0).message_id(), m.system_properties().message_id());

  ASSERT_TRUE(WaitUntil([&] { return TopicCount() == 1; }));
  std::vector<MessageView> found;
  std::vector<std::string> keep(4);
  for (int q = 0; q < 4; ++q) {
    for (const auto& v : RemotingPull(q, &keep[q])) found.push_back(v);
  }
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].body, "hello over grpc");
  EXPECT_EQ(found[0].Property(kPropertyTags).value_or(""), "TagA");
  EXPECT_EQ(found[0].Property(kPropertyKeys).value_or(""), "k1 k2");
  EXPECT_EQ(found[0].Property(kPropertyUniqKey).value_or(""), m.system_properties().message_id());
  EXPECT_EQ(found[0].Property("color").value_or(""), "blue");
}

TEST_F(GrpcTest, RetriedSendWithTheSameMessageIdIsStoredOnce) {
  // A client retrying after a lost response resends the same message_id (the UNIQ_KEY): the
  // broker's idempotent-publish window answers with the first result instead of storing again.
  v2::Message m = Msg("sent twice");
  auto first = Send({m});
  ASSERT_EQ(first.status().code(), v2::OK) << first.status().message();
  auto second = Send({m});  // round robin would put a new message on another queue
  ASSERT_EQ(second.status().code(), v2::OK) << second.status().message();
  ASSERT_EQ(second.entries_size(), 1);
  EXPECT_EQ(second.entries(0).message_id(), first.entries(0).message_id());
  EXPECT_EQ(second.entries(0).offset(), first.entries(0).offset());
  ASSERT_EQ(Send({Msg("a different message")}).status().code(), v2::OK);

  ASSERT_TRUE(WaitUntil([&] { return TopicCount() == 2; }));
  std::vector<std::string> bodies;
  std::vector<std::string> keep(4);
  for (int q = 0; q < 4; ++q) {
    for (const auto& v : RemotingPull(q, &keep[q])) bodies.emplace_back(v.body);
  }
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(bodies, (std::vector<std::string>{"a different message", "sent twice"}));
}

TEST_F(GrpcTest, SendBatchAndFifoGroupKeepsOneQueue) {
  std::vector<v2::Message> batch;
  for (int i = 0; i < 3; ++i) batch.push_back(Msg(fmt::format("batch-{}", i)));
  auto resp = Send(batch);
  ASSERT_EQ(resp.status().code(), v2::OK) << resp.status().message();
  ASSERT_EQ(resp.entries_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(resp.entries(i).status().code(), v2::OK);
    EXPECT_EQ(resp.entries(i).message_id(), batch[i].system_properties().message_id());
  }

  // Eight FIFO messages of one group: all in one queue, in order.
  for (int i = 0; i < 8; ++i) {
    v2::Message m = Msg(fmt::format("fifo-{}", i));
    m.mutable_system_properties()->set_message_type(v2::FIFO);
    m.mutable_system_properties()->set_message_group("order-42");
    ASSERT_EQ(Send({m}).status().code(), v2::OK);
  }
  ASSERT_TRUE(WaitUntil([&] { return TopicCount() == 11; }));
  int queues_with_fifo = 0;
  for (int q = 0; q < 4; ++q) {
    std::string keep;
    std::vector<std::string> bodies;
    for (const auto& v : RemotingPull(q, &keep)) {
      if (v.Property("__SHARDINGKEY").value_or("") == "order-42") bodies.emplace_back(v.body);
    }
    if (bodies.empty()) continue;
    ++queues_with_fifo;
    ASSERT_EQ(bodies.size(), 8u);
    for (int i = 0; i < 8; ++i) EXPECT_EQ(bodies[i], fmt::format("fifo-{}", i));
  }
  EXPECT_EQ(queues_with_fifo, 1);
}

TEST_F(GrpcTest, SendBadInput) {
  // Unknown topic (auto-create is off).
  auto resp = Send({Msg("x", "NoSuchTopic")});
  EXPECT_EQ(resp.status().code(), v2::TOPIC_NOT_FOUND);
  ASSERT_EQ(resp.entries_size(), 1);
  EXPECT_EQ(resp.entries(0).status().code(), v2::TOPIC_NOT_FOUND);
  // Over maxMessageSize.
  EXPECT_EQ(Send({Msg(std::string(kMaxMessageSize + 1, 'x'))}).status().code(),
            v2::MESSAGE_BODY_TOO_LARGE);
  EXPECT_EQ(Send({Msg("")}).status().code(), v2::MESSAGE_BODY_EMPTY);
  // Illegal topic name, tag, property key, FIFO without group, no message id.
  EXPECT_EQ(Send({Msg("x", "bad/topic")}).status().code(), v2::ILLEGAL_TOPIC);
  v2::Message m = Msg("x");
  m.mutable_system_properties()->set_tag("a||b");
  EXPECT_EQ(Send({m}).status().code(), v2::ILLEGAL_MESSAGE_TAG);
  m = Msg("x");
  (*m.mutable_user_properties())["k\x01"] = "v";
  EXPECT_EQ(Send({m}).status().code(), v2::ILLEGAL_MESSAGE_PROPERTY_KEY);
  m = Msg("x");
  m.mutable_system_properties()->set_message_type(v2::FIFO);
  EXPECT_EQ(Send({m}).status().code(), v2::ILLEGAL_MESSAGE_GROUP);
  m = Msg("x");
  m.mutable_system_properties()->clear_message_id();
  EXPECT_EQ(Send({m}).status().code(), v2::ILLEGAL_MESSAGE_ID);
  // A delivery time more than a day ahead is refused (the 5.x proxy's maxDelayTimeMills).
  m = Msg("x");
  m.mutable_system_properties()->set_message_type(v2::DELAY);
  m.mutable_system_properties()->mutable_delivery_timestamp()->set_seconds(NowMillis() / 1000 +
                                                                           4 * 86400);
  EXPECT_EQ(Send({m}).status().code(), v2::ILLEGAL_DELIVERY_TIME);
  // No messages; no client id.
  EXPECT_EQ(Send({}).status().code(), v2::BAD_REQUEST);
  v2::SendMessageRequest req;
  *req.add_messages() = Msg("x");
  v2::SendMessageResponse r;
  auto ctx = Ctx("");
  ASSERT_TRUE(stub_->SendMessage(ctx.get(), req, &r).ok());
  EXPECT_EQ(r.status().code(), v2::CLIENT_ID_REQUIRED);
  // Nothing of the above was stored (a normal send after them is the first message).
  ASSERT_EQ(Send({Msg("marker")}).status().code(), v2::OK);
  ASSERT_TRUE(WaitUntil([&] { return TopicCount() >= 1; }));
  EXPECT_EQ(TopicCount(), 1);
}

// Bytes that are not a valid SendMessageRequest (a length-delimited field running past the end,
// then a wrong wire type) are refused by the protobuf layer; the endpoint keeps serving.
TEST_F(GrpcTest, MalformedProtobufIsRefusedAndTheEndpointKeepsServing) {
  grpc::GenericStub generic(channel_);
  for (const std::string& junk : {std::string("\x0a\xff\xff\xff\x0f", 5),
                                  std::string("\x0f\x01\x02"), std::string(64, '\xff')}) {
    grpc::Slice slice(junk);
    grpc::ByteBuffer req(&slice, 1), resp;
    auto ctx = Ctx();
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    generic.UnaryCall(ctx.get(), "/apache.rocketmq.v2.MessagingService/SendMessage",
                      grpc::StubOptions(), &req, &resp, [&](grpc::Status s) {
                        std::lock_guard<std::mutex> l(mu);
                        status = s;
                        done = true;
                        cv.notify_all();
                      });
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return done; }));
    EXPECT_FALSE(status.ok());
  }
  EXPECT_EQ(Send({Msg("still serving")}).status().code(), v2::OK);
}

TEST_F(GrpcTest, DelayedMessageWaitsInTheTimerWheelThenArrives) {
  v2::Message m = Msg("later");
  m.mutable_system_properties()->set_message_type(v2::DELAY);
  const int64_t due = NowMillis() + 2000;
  SetMillis(m.mutable_system_properties()->mutable_delivery_timestamp(), due);
  auto resp = Send({m});
  ASSERT_EQ(resp.status().code(), v2::OK) << resp.status().message();
  EXPECT_TRUE(
      WaitUntil([&] { return broker_->store().MaxQueueOffset("rmq_sys_wheel_timer", 0) == 1; }));
  EXPECT_EQ(TopicCount(), 0);
  // Delivered at the first timer tick (timerPrecisionMs, 1 s) at or after its time.
  EXPECT_TRUE(WaitUntil([&] { return TopicCount() == 1; }));
  EXPECT_GE(NowMillis(), due);
}

TEST_F(GrpcTest, TransactionCommitThroughEndTransaction) {
  v2::Message m = Msg("tx body");
  m.mutable_system_properties()->set_message_type(v2::TRANSACTION);
  auto resp = Send({m});
  ASSERT_EQ(resp.status().code(), v2::OK) << resp.status().message();
  const std::string tx = resp.entries(0).transaction_id();
  ASSERT_FALSE(tx.empty());
  EXPECT_EQ(TopicCount(), 0);

  v2::EndTransactionRequest req;
  *req.mutable_topic() = Res(kTopic);
  req.set_message_id(m.system_properties().message_id());
  req.set_transaction_id("garbage");
  req.set_resolution(v2::COMMIT);
  req.set_source(v2::SOURCE_CLIENT);
  v2::EndTransactionResponse er;
  auto ctx = Ctx();
  ASSERT_TRUE(stub_->EndTransaction(ctx.get(), req, &er).ok());
  EXPECT_EQ(er.status().code(), v2::INVALID_TRANSACTION_ID);

  req.set_transaction_id(tx);
  ctx = Ctx();
  ASSERT_TRUE(stub_->EndTransaction(ctx.get(), req, &er).ok());
  EXPECT_EQ(er.status().code(), v2::OK) << er.status().message();
  EXPECT_TRUE(WaitUntil([&] { return TopicCount() == 1; }));
}

TEST_F(GrpcTest, OrphanedTransactionIsRecoveredThroughTelemetry) {
  // A producer with a Telemetry stream publishing kTopic.
  auto tctx = Ctx("tx-producer", std::chrono::seconds(60));
  auto stream = stub_->Telemetry(tctx.get());
  v2::TelemetryCommand cmd;
  cmd.mutable_settings()->set_client_type(v2::PRODUCER);
  *cmd.mutable_settings()->mutable_publishing()->add_topics() = Res(kTopic);
  ASSERT_TRUE(stream->Write(cmd));
  v2::TelemetryCommand in;
  ASSERT_TRUE(stream->Read(&in));
  ASSERT_TRUE(in.has_settings());

  // A half message nobody ends: the broker asks the producer on its stream.
  v2::Message m = Msg("orphan");
  m.mutable_system_properties()->set_message_type(v2::TRANSACTION);
  ASSERT_EQ(Send({m}).status().code(), v2::OK);
  ASSERT_TRUE(stream->Read(&in));
  ASSERT_TRUE(in.has_recover_orphaned_transaction_command());
  const auto& rc = in.recover_orphaned_transaction_command();
  EXPECT_EQ(rc.message().topic().name(), kTopic);
  EXPECT_EQ(rc.message().system_properties().message_id(), m.system_properties().message_id());
  EXPECT_EQ(rc.message().body(), "orphan");
  EXPECT_EQ(TopicCount(), 0);

  // The producer's answer commits it.
  v2::EndTransactionRequest req;
  *req.mutable_topic() = Res(kTopic);
  req.set_message_id(m.system_properties().message_id());
  req.set_transaction_id(rc.transaction_id());
  req.set_resolution(v2::COMMIT);
  req.set_source(v2::SOURCE_SERVER_CHECK);
  v2::EndTransactionResponse er;
  auto ctx = Ctx("tx-producer");
  ASSERT_TRUE(stub_->EndTransaction(ctx.get(), req, &er).ok());
  EXPECT_EQ(er.status().code(), v2::OK) << er.status().message();
  EXPECT_TRUE(WaitUntil([&] { return TopicCount() == 1; }));
  stream->WritesDone();
  tctx->TryCancel();
  stream->Finish();
}

}  // namespace
}  // namespace stele::rpc::testing
