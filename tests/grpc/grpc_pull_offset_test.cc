// The offset RPCs (UpdateOffset, GetOffset, QueryOffset with each policy) on the broker's
// consumer-offset table, shared with remoting; and PullMessage with tag and SQL92 filters, long
// polling woken by a send, offsets corrected to the queue's bounds, and bad input.
#include <thread>

#include "common/clock.h"
#include "fmt/format.h"
#include "grpc_test_fixture.h"
#include "net/broker/pull_hold.h"
#include "net/grpc/grpc_convert.h"
#include "net/remoting/codes.h"

namespace stele::rpc::testing {
namespace {

constexpr char kPullTopic[] = "GrpcPullTopic";  // one queue: every send lands in queue 0

class GrpcPullTest : public GrpcTest {
 protected:
  void SetUp() override {
    GrpcTest::SetUp();
    broker::TopicConfig t;
    t.topic_name = kPullTopic;
    t.read_queue_nums = 1;
    t.write_queue_nums = 1;
    ASSERT_TRUE(broker_->topics().CreateOrUpdate(t).ok());
  }

  static v2::MessageQueue Queue(int id, const std::string& topic = kPullTopic) {
    v2::MessageQueue q;
    *q.mutable_topic() = Res(topic);
    q.set_id(id);
    return q;
  }

  // Sends `n` messages to kPullTopic, message i with tag tags[i % size] and property "n" = i.
  void SendTagged(int n, const std::vector<std::string>& tags, int first = 0) {
    for (int i = first; i < first + n; ++i) {
      v2::Message m = Msg(fmt::format("m{}", i), kPullTopic);
      m.mutable_system_properties()->set_tag(tags[static_cast<size_t>(i) % tags.size()]);
      (*m.mutable_user_properties())["n"] = std::to_string(i);
      ASSERT_EQ(Send({m}).status().code(), v2::OK);
    }
    ASSERT_TRUE(
        WaitUntil([&] { return broker_->store().MaxQueueOffset(kPullTopic, 0) >= first + n; }));
  }

  struct PullResult {
    v2::Code code = v2::CODE_UNSPECIFIED;
    std::string message;
    std::vector<v2::Message> msgs;
    int64_t next = -1;
  };
  PullResult Pull(int64_t offset, int batch, v2::FilterType type = v2::TAG,
                  const std::string& expr = "*", int64_t polling_ms = 0,
                  const v2::MessageQueue& q = Queue(0), const std::string& client = "puller") {
    v2::PullMessageRequest req;
    *req.mutable_group() = Res(kGroup);
    *req.mutable_message_queue() = q;
    req.set_offset(offset);
    req.set_batch_size(batch);
    req.mutable_filter_expression()->set_type(type);
    req.mutable_filter_expression()->set_expression(expr);
    SetMillis(req.mutable_long_polling_timeout(), polling_ms);
    auto ctx = Ctx(client, std::chrono::milliseconds(polling_ms + 10000));
    auto reader = stub_->PullMessage(ctx.get(), req);
    PullResult out;
    v2::PullMessageResponse r;
    while (reader->Read(&r)) {
      if (r.has_status()) {
        out.code = r.status().code();
        out.message = r.status().message();
      } else if (r.has_message()) {
        out.msgs.push_back(r.message());
      } else {
        out.next = r.next_offset();
      }
    }
    EXPECT_TRUE(reader->Finish().ok());
    return out;
  }

  static std::vector<std::string> Bodies(const std::vector<v2::Message>& ms) {
    std::vector<std::string> b;
    for (const auto& m : ms) b.push_back(m.body());
    return b;
  }

  v2::Code UpdateOffset(const v2::MessageQueue& q, int64_t offset,
                        const std::string& group = kGroup) {
    v2::UpdateOffsetRequest req;
    *req.mutable_group() = Res(group);
    *req.mutable_message_queue() = q;
    req.set_offset(offset);
    v2::UpdateOffsetResponse resp;
    auto ctx = Ctx();
    EXPECT_TRUE(stub_->UpdateOffset(ctx.get(), req, &resp).ok());
    return resp.status().code();
  }
  v2::GetOffsetResponse GetOffset(const v2::MessageQueue& q, const std::string& group = kGroup) {
    v2::GetOffsetRequest req;
    *req.mutable_group() = Res(group);
    *req.mutable_message_queue() = q;
    v2::GetOffsetResponse resp;
    auto ctx = Ctx();
    EXPECT_TRUE(stub_->GetOffset(ctx.get(), req, &resp).ok());
    return resp;
  }
  v2::QueryOffsetResponse QueryOffset(const v2::MessageQueue& q, v2::QueryOffsetPolicy p,
                                      std::optional<int64_t> ts_ms = std::nullopt) {
    v2::QueryOffsetRequest req;
    *req.mutable_message_queue() = q;
    req.set_query_offset_policy(p);
    if (ts_ms) SetMillis(req.mutable_timestamp(), *ts_ms);
    v2::QueryOffsetResponse resp;
    auto ctx = Ctx();
    EXPECT_TRUE(stub_->QueryOffset(ctx.get(), req, &resp).ok());
    return resp;
  }

  remoting::RemotingCommand Remoting(remoting::RemotingCommand req) {
    auto resp = remoting_.InvokeSync(fmt::format("127.0.0.1:{}", broker_->port()), std::move(req),
                                     std::chrono::seconds(10));
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *std::move(resp) : remoting::RemotingCommand{};
  }
};

TEST_F(GrpcPullTest, OffsetsRoundTripAndPersist) {
  SendTagged(5, {"A"});
  // Nothing committed yet.
  EXPECT_EQ(GetOffset(Queue(0)).status().code(), v2::OFFSET_NOT_FOUND);
  EXPECT_EQ(UpdateOffset(Queue(0), 3), v2::OK);
  auto got = GetOffset(Queue(0));
  EXPECT_EQ(got.status().code(), v2::OK);
  EXPECT_EQ(got.offset(), 3);
  EXPECT_EQ(UpdateOffset(Queue(0), 5), v2::OK);  // the end is a valid offset
  EXPECT_EQ(GetOffset(Queue(0)).offset(), 5);
  // The same table the broker persists (consumerOffset.json).
  ASSERT_TRUE(broker_->offsets().Persist().ok());
  broker::ConsumerOffsetManager reloaded(broker_->config());
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.Query(kGroup, kPullTopic, 0), std::optional<int64_t>(5));
}

TEST_F(GrpcPullTest, QueryOffsetPolicies) {
  // An empty queue: every policy answers 0.
  EXPECT_EQ(QueryOffset(Queue(0), v2::BEGINNING).offset(), 0);
  EXPECT_EQ(QueryOffset(Queue(0), v2::END).offset(), 0);
  EXPECT_EQ(QueryOffset(Queue(0), v2::TIMESTAMP, NowMs()).offset(), 0);
  SendTagged(3, {"A"});
  const int64_t between = NowMs() + 1;
  // Store timestamps have millisecond resolution: make the next batch strictly later.
  ASSERT_TRUE(WaitUntil([&] { return NowMs() > between + 2; }));
  SendTagged(2, {"A"}, 3);
  auto b = QueryOffset(Queue(0), v2::BEGINNING);
  EXPECT_EQ(b.status().code(), v2::OK);
  EXPECT_EQ(b.offset(), 0);
  auto e = QueryOffset(Queue(0), v2::END);
  EXPECT_EQ(e.status().code(), v2::OK);
  EXPECT_EQ(e.offset(), 5);
  auto t = QueryOffset(Queue(0), v2::TIMESTAMP, between);
  EXPECT_EQ(t.status().code(), v2::OK) << t.status().message();
  EXPECT_EQ(t.offset(), 3);
  EXPECT_EQ(QueryOffset(Queue(0), v2::TIMESTAMP, 0).offset(), 0);
  EXPECT_EQ(QueryOffset(Queue(0), v2::TIMESTAMP, NowMs() + 60000).offset(), 5);
}

TEST_F(GrpcPullTest, OffsetsAreSharedWithRemoting) {
  SendTagged(4, {"A"});
  // Set over gRPC, read by remoting's QUERY_CONSUMER_OFFSET.
  ASSERT_EQ(UpdateOffset(Queue(0), 2), v2::OK);
  auto q = remoting::RemotingCommand::Request(remoting::request::kQueryConsumerOffset);
  q.Set("consumerGroup", kGroup);
  q.Set("topic", kPullTopic);
  q.Set("queueId", "0");
  auto r = Remoting(q);
  ASSERT_EQ(r.code, remoting::response::kSuccess) << r.remark.value_or("");
  ASSERT_NE(r.Field("offset"), nullptr);
  EXPECT_EQ(*r.Field("offset"), "2");
  // Set by remoting's UPDATE_CONSUMER_OFFSET, read over gRPC.
  auto u = remoting::RemotingCommand::Request(remoting::request::kUpdateConsumerOffset);
  u.Set("consumerGroup", kGroup);
  u.Set("topic", kPullTopic);
  u.Set("queueId", "0");
  u.Set("commitOffset", "4");
  ASSERT_EQ(Remoting(u).code, remoting::response::kSuccess);
  auto g = GetOffset(Queue(0));
  EXPECT_EQ(g.status().code(), v2::OK);
  EXPECT_EQ(g.offset(), 4);
}

TEST_F(GrpcPullTest, OffsetBadInput) {
  SendTagged(2, {"A"});
  EXPECT_EQ(UpdateOffset(Queue(0), -1), v2::ILLEGAL_OFFSET);
  EXPECT_EQ(UpdateOffset(Queue(0), 3), v2::ILLEGAL_OFFSET);  // past the end (2)
  EXPECT_EQ(UpdateOffset(Queue(1), 0), v2::BAD_REQUEST);     // the topic has one queue
  EXPECT_EQ(UpdateOffset(Queue(-1), 0), v2::BAD_REQUEST);
  EXPECT_EQ(UpdateOffset(Queue(0, "NoSuchTopic"), 0), v2::TOPIC_NOT_FOUND);
  EXPECT_EQ(UpdateOffset(Queue(0, "bad/topic"), 0), v2::ILLEGAL_TOPIC);
  EXPECT_EQ(UpdateOffset(Queue(0), 0, "bad group"), v2::ILLEGAL_CONSUMER_GROUP);
  EXPECT_EQ(GetOffset(Queue(0), "").status().code(), v2::ILLEGAL_CONSUMER_GROUP);
  EXPECT_EQ(GetOffset(Queue(0, "NoSuchTopic")).status().code(), v2::TOPIC_NOT_FOUND);
  EXPECT_EQ(GetOffset(Queue(7)).status().code(), v2::BAD_REQUEST);
  EXPECT_EQ(QueryOffset(Queue(0), v2::TIMESTAMP).status().code(), v2::BAD_REQUEST);
  EXPECT_EQ(QueryOffset(Queue(0), static_cast<v2::QueryOffsetPolicy>(9)).status().code(),
            v2::BAD_REQUEST);
  EXPECT_EQ(QueryOffset(Queue(0, "NoSuchTopic"), v2::END).status().code(), v2::TOPIC_NOT_FOUND);
  // No client id.
  v2::GetOffsetRequest req;
  *req.mutable_group() = Res(kGroup);
  *req.mutable_message_queue() = Queue(0);
  v2::GetOffsetResponse resp;
  auto ctx = Ctx("");
  ASSERT_TRUE(stub_->GetOffset(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.status().code(), v2::CLIENT_ID_REQUIRED);
  // Nothing was committed by the refused calls.
  EXPECT_FALSE(broker_->offsets().Query(kGroup, kPullTopic, 0).has_value());
}

TEST_F(GrpcPullTest, PullBatchesAndNextOffset) {
  SendTagged(5, {"A"});
  auto r = Pull(0, 2);
  EXPECT_EQ(r.code, v2::OK) << r.message;
  EXPECT_EQ(Bodies(r.msgs), (std::vector<std::string>{"m0", "m1"}));
  EXPECT_EQ(r.next, 2);
  EXPECT_EQ(r.msgs[0].system_properties().queue_offset(), 0);
  EXPECT_EQ(r.msgs[0].topic().name(), kPullTopic);
  EXPECT_TRUE(r.msgs[0].system_properties().receipt_handle().empty());
  r = Pull(r.next, 32);
  EXPECT_EQ(Bodies(r.msgs), (std::vector<std::string>{"m2", "m3", "m4"}));
  EXPECT_EQ(r.next, 5);
  // At the end, no polling: MESSAGE_NOT_FOUND at once, next offset unchanged.
  r = Pull(5, 32);
  EXPECT_EQ(r.code, v2::MESSAGE_NOT_FOUND);
  EXPECT_TRUE(r.msgs.empty());
  EXPECT_EQ(r.next, 5);
  // Past the end: corrected to the end.
  r = Pull(1000, 32);
  EXPECT_EQ(r.code, v2::MESSAGE_NOT_FOUND);
  EXPECT_EQ(r.next, 5);
  // Pulling does not commit: the group has no offset.
  EXPECT_FALSE(broker_->offsets().Query(kGroup, kPullTopic, 0).has_value());
}

TEST_F(GrpcPullTest, PullWithTagAndSqlFilters) {
  SendTagged(9, {"A", "B", "C"});  // m0:A m1:B m2:C m3:A ...
  auto r = Pull(0, 32, v2::TAG, "A || C");
  EXPECT_EQ(r.code, v2::OK);
  EXPECT_EQ(Bodies(r.msgs), (std::vector<std::string>{"m0", "m2", "m3", "m5", "m6", "m8"}));
  EXPECT_EQ(r.next, 9);
  r = Pull(0, 32, v2::SQL, "n >= 4 AND n < 8 AND TAGS <> 'B'");
  EXPECT_EQ(r.code, v2::OK) << r.message;
  EXPECT_EQ(Bodies(r.msgs), (std::vector<std::string>{"m5", "m6"}));
  EXPECT_EQ(r.next, 9);
  // Nothing matches: MESSAGE_NOT_FOUND, and the next offset skips what was filtered out.
  r = Pull(0, 32, v2::SQL, "n > 100");
  EXPECT_EQ(r.code, v2::MESSAGE_NOT_FOUND);
  EXPECT_EQ(r.next, 9);
}

TEST_F(GrpcPullTest, PullLongPollingIsWokenByASend) {
  SendTagged(1, {"A"});
  std::thread sender([&] {
    // Once the pull is held (so the send is what wakes it).
    ASSERT_TRUE(WaitUntil([&] { return broker_->pull_hold().held() > 0; }));
    v2::Message m = Msg("late", kPullTopic);
    m.mutable_system_properties()->set_tag("B");
    EXPECT_EQ(Send({m}).status().code(), v2::OK);
  });
  const auto start = std::chrono::steady_clock::now();
  auto r = Pull(1, 32, v2::TAG, "B", 15000);
  const auto took = std::chrono::steady_clock::now() - start;
  sender.join();
  EXPECT_EQ(r.code, v2::OK) << r.message;
  EXPECT_EQ(Bodies(r.msgs), (std::vector<std::string>{"late"}));
  EXPECT_EQ(r.next, 2);
  EXPECT_LT(took, std::chrono::seconds(12));  // woken, not timed out
  // With nothing arriving, the poll ends after its timeout with MESSAGE_NOT_FOUND.
  const auto t0 = std::chrono::steady_clock::now();
  r = Pull(2, 32, v2::TAG, "*", 300);
  EXPECT_EQ(r.code, v2::MESSAGE_NOT_FOUND);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(250));
}

TEST_F(GrpcPullTest, PullBadInput) {
  EXPECT_EQ(Pull(0, 32, v2::TAG, "*", 0, Queue(0, "NoSuchTopic")).code, v2::TOPIC_NOT_FOUND);
  EXPECT_EQ(Pull(0, 32, v2::TAG, "*", 0, Queue(0, "bad/topic")).code, v2::ILLEGAL_TOPIC);
  EXPECT_EQ(Pull(0, 32, v2::TAG, "*", 0, Queue(3)).code, v2::BAD_REQUEST);
  EXPECT_EQ(Pull(-1, 32).code, v2::ILLEGAL_OFFSET);
  EXPECT_EQ(Pull(0, 33).code, v2::BAD_REQUEST);
  EXPECT_EQ(Pull(0, -1).code, v2::BAD_REQUEST);
  auto r = Pull(0, 32, v2::SQL, "n >>> 1");
  EXPECT_EQ(r.code, v2::ILLEGAL_FILTER_EXPRESSION);
  EXPECT_FALSE(r.message.empty());
  EXPECT_EQ(r.next, -1);  // an error carries no next offset
  EXPECT_EQ(Pull(0, 32, static_cast<v2::FilterType>(7), "x").code, v2::ILLEGAL_FILTER_EXPRESSION);
  EXPECT_EQ(Pull(0, 32, v2::TAG, "*", 0, Queue(0), "").code, v2::CLIENT_ID_REQUIRED);
  v2::PullMessageRequest req;
  *req.mutable_group() = Res(kGroup);
  *req.mutable_message_queue() = Queue(0);
  SetMillis(req.mutable_long_polling_timeout(), -5);
  auto ctx = Ctx();
  auto reader = stub_->PullMessage(ctx.get(), req);
  v2::PullMessageResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status().code(), v2::ILLEGAL_POLLING_TIME);
  EXPECT_FALSE(reader->Read(&resp));
  EXPECT_TRUE(reader->Finish().ok());
}

// A pull still held when its client gives up is cancelled; the endpoint keeps serving.
TEST_F(GrpcPullTest, CancelledHeldPullIsHarmless) {
  {
    v2::PullMessageRequest req;
    *req.mutable_group() = Res(kGroup);
    *req.mutable_message_queue() = Queue(0);
    SetMillis(req.mutable_long_polling_timeout(), 15000);
    auto ctx = Ctx("puller", std::chrono::milliseconds(20000));
    auto reader = stub_->PullMessage(ctx.get(), req);
    ASSERT_TRUE(WaitUntil([&] { return broker_->pull_hold().held() > 0; }));
    ctx->TryCancel();
    v2::PullMessageResponse r;
    while (reader->Read(&r)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  SendTagged(1, {"A"});  // runs the held retry of the cancelled call
  auto r = Pull(0, 32);
  EXPECT_EQ(Bodies(r.msgs), (std::vector<std::string>{"m0"}));
}

}  // namespace
}  // namespace stele::rpc::testing
