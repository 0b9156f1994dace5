// Consumption over gRPC on the broker's PopService: receive + ack, long polling ending with
// MESSAGE_NOT_FOUND, redelivery after the invisible time, ChangeInvisibleDuration, a message sent
// over remoting received over gRPC, and bad receipt handles.
#include <zlib.h>

#include <set>

#include "common/clock.h"
#include "fmt/format.h"
#include "grpc_test_fixture.h"
#include "net/grpc/grpc_convert.h"
#include "net/remoting/codes.h"

namespace stele::rpc::testing {
namespace {

std::string Crc(const std::string& body) {
  return std::to_string(static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

TEST_F(GrpcTest, ReceiveAckThenNothingLeft) {
  std::set<std::string> sent;
  for (int i = 0; i < 3; ++i) {
    v2::Message m = Msg(fmt::format("body-{}", i));
    m.mutable_system_properties()->set_tag("T");
    ASSERT_EQ(Send({m}).status().code(), v2::OK);
    sent.insert(m.system_properties().message_id());
  }
  std::vector<v2::Message> got;
  ASSERT_TRUE(WaitUntil([&] {
    auto rs = Receive(32, 30000, 2000);
    EXPECT_FALSE(rs.empty());
    if (!rs.empty() && rs[0].status().code() == v2::OK) {
      for (const auto& m : Messages(rs)) got.push_back(m);
    }
    return got.size() >= 3;
  }));
  ASSERT_EQ(got.size(), 3u);
  for (const auto& m : got) {
    const auto& sp = m.system_properties();
    EXPECT_EQ(sent.count(sp.message_id()), 1u) << sp.message_id();
    EXPECT_EQ(sp.tag(), "T");
    EXPECT_EQ(sp.body_digest().type(), v2::CRC32);
    EXPECT_EQ(sp.body_digest().checksum(), Crc(m.body()));
    EXPECT_FALSE(sp.receipt_handle().empty());
    EXPECT_EQ(sp.delivery_attempt(), 1);
    EXPECT_EQ(m.topic().name(), kTopic);
    auto ack = Ack(m);
    EXPECT_EQ(ack.status().code(), v2::OK) << ack.status().message();
  }
  // Acked: a short poll ends with MESSAGE_NOT_FOUND (a single status).
  auto rs = Receive(32, 30000, 500);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status().code(), v2::MESSAGE_NOT_FOUND);
  // Acking again: the delivery is gone.
  EXPECT_EQ(Ack(got[0]).status().code(), v2::INVALID_RECEIPT_HANDLE);
}

TEST_F(GrpcTest, LongPollingWakesOnANewMessage) {
  std::thread sender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(Send({Msg("wake up")}).status().code(), v2::OK);
  });
  const auto start = std::chrono::steady_clock::now();
  auto rs = Receive(1, 30000, 15000);
  const auto took = std::chrono::steady_clock::now() - start;
  sender.join();
  ASSERT_FALSE(rs.empty());
  EXPECT_EQ(rs[0].status().code(), v2::OK);
  auto ms = Messages(rs);
  ASSERT_EQ(ms.size(), 1u);
  EXPECT_EQ(ms[0].body(), "wake up");
  EXPECT_LT(took, std::chrono::seconds(12));  // woken, not timed out
}

TEST_F(GrpcTest, ChangeInvisibleDurationRedeliversSooner) {
  v2::Message m = Msg("come back");
  ASSERT_EQ(Send({m}).status().code(), v2::OK);
  std::vector<v2::Message> first;
  ASSERT_TRUE(WaitUntil([&] {
    first = Messages(Receive(1, 30000, 1000));
    return !first.empty();
  }));
  // Invisible for 30 s; shorten to 200 ms.
  v2::ChangeInvisibleDurationRequest req;
  *req.mutable_group() = Res(kGroup);
  *req.mutable_topic() = Res(kTopic);
  req.set_receipt_handle(first[0].system_properties().receipt_handle());
  req.set_message_id(first[0].system_properties().message_id());
  SetMillis(req.mutable_invisible_duration(), 200);
  v2::ChangeInvisibleDurationResponse resp;
  auto ctx = Ctx();
  ASSERT_TRUE(stub_->ChangeInvisibleDuration(ctx.get(), req, &resp).ok());
  ASSERT_EQ(resp.status().code(), v2::OK) << resp.status().message();
  ASSERT_FALSE(resp.receipt_handle().empty());

  // It comes back as attempt 2, well before the original 30 s.
  std::vector<v2::Message> again;
  ASSERT_TRUE(WaitUntil([&] {
    again = Messages(Receive(1, 30000, 1000));
    return !again.empty();
  }));
  EXPECT_EQ(again[0].system_properties().message_id(), m.system_properties().message_id());
  EXPECT_EQ(again[0].system_properties().delivery_attempt(), 2);
  // The handles of earlier deliveries are no longer valid; the new one is.
  EXPECT_EQ(Ack(first[0]).status().code(), v2::INVALID_RECEIPT_HANDLE);
  EXPECT_EQ(Ack(again[0]).status().code(), v2::OK);
}

TEST_F(GrpcTest, ForwardToDeadLetterQueue) {
  v2::Message m = Msg("poison");
  ASSERT_EQ(Send({m}).status().code(), v2::OK);
  std::vector<v2::Message> got;
  ASSERT_TRUE(WaitUntil([&] {
    got = Messages(Receive(1, 30000, 1000));
    return !got.empty();
  }));
  v2::ForwardMessageToDeadLetterQueueRequest req;
  *req.mutable_group() = Res(kGroup);
  *req.mutable_topic() = Res(kTopic);
  req.set_receipt_handle(got[0].system_properties().receipt_handle());
  req.set_message_id(got[0].system_properties().message_id());
  req.set_delivery_attempt(1);
  req.set_max_delivery_attempts(1);
  v2::ForwardMessageToDeadLetterQueueResponse resp;
  auto ctx = Ctx();
  ASSERT_TRUE(stub_->ForwardMessageToDeadLetterQueue(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.status().code(), v2::OK) << resp.status().message();
  const std::string dlq = fmt::format("%DLQ%{}", kGroup);
  EXPECT_TRUE(WaitUntil([&] { return broker_->store().MaxQueueOffset(dlq, 0) == 1; }));
  // Forwarded means acked: the handle is spent and nothing comes back.
  EXPECT_EQ(Ack(got[0]).status().code(), v2::INVALID_RECEIPT_HANDLE);
  ctx = Ctx();
  ASSERT_TRUE(stub_->ForwardMessageToDeadLetterQueue(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.status().code(), v2::INVALID_RECEIPT_HANDLE);
}

TEST_F(GrpcTest, RemotingSentMessageIsReceivedOverGrpc) {
  std::string props;
  AppendProperty(&props, kPropertyTags, "RTag");
  AppendProperty(&props, kPropertyKeys, "a b");
  AppendProperty(&props, kPropertyUniqKey, "REMOTING-UNIQ-1");
  AppendProperty(&props, "color", "red");
  ASSERT_EQ(RemotingSend("from remoting", props).code, remoting::response::kSuccess);
  std::vector<v2::Message> got;
  ASSERT_TRUE(WaitUntil([&] {
    got = Messages(Receive(1, 30000, 1000));
    return !got.empty();
  }));
  const auto& sp = got[0].system_properties();
  EXPECT_EQ(got[0].body(), "from remoting");
  EXPECT_EQ(sp.message_id(), "REMOTING-UNIQ-1");
  EXPECT_EQ(sp.tag(), "RTag");
  ASSERT_EQ(sp.keys_size(), 2);
  EXPECT_EQ(sp.keys(0), "a");
  EXPECT_EQ(sp.keys(1), "b");
  EXPECT_EQ(got[0].user_properties().at("color"), "red");
  EXPECT_EQ(got[0].user_properties().count("UNIQ_KEY"), 0u);
  EXPECT_EQ(sp.queue_id(), 1);
  EXPECT_EQ(Ack(got[0]).status().code(), v2::OK);
}

// zlib (remoting's compressed flag) or gzip (gRPC's GZIP encoding) of `s`.
std::string Deflate(const std::string& s, bool gzip) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, gzip ? 31 : 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, s.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  z.avail_in = static_cast<uInt>(s.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST_F(GrpcTest, CompressedBodiesCrossBothWaysInflated) {
  const std::string text(5000, 'z');
  // A remoting producer's zlib body (sysFlag COMPRESSED) reaches gRPC inflated.
  ASSERT_EQ(RemotingSend(Deflate(text, false), "", sysflag::kCompressed).code,
            remoting::response::kSuccess);
  std::vector<v2::Message> got;
  ASSERT_TRUE(WaitUntil([&] {
    got = Messages(Receive(1, 30000, 1000));
    return !got.empty();
  }));
  EXPECT_EQ(got[0].body(), text);
  EXPECT_EQ(got[0].system_properties().body_encoding(), v2::IDENTITY);
  EXPECT_EQ(got[0].system_properties().body_digest().checksum(), Crc(text));
  EXPECT_EQ(Ack(got[0]).status().code(), v2::OK);

  // A gRPC client's gzip body is stored inflated, so remoting consumers read it plainly.
  v2::Message m = Msg(Deflate("gzip me", true));
  m.mutable_system_properties()->set_body_encoding(v2::GZIP);
  ASSERT_EQ(Send({m}).status().code(), v2::OK);
  ASSERT_TRUE(WaitUntil([&] { return TopicCount() == 2; }));
  bool seen = false;
  for (int q = 0; q < 4; ++q) {
    std::string keep;
    for (const auto& v : RemotingPull(q, &keep)) {
      if (v.Property(kPropertyUniqKey) == m.system_properties().message_id()) {
        seen = true;
        EXPECT_EQ(v.body, "gzip me");
        EXPECT_EQ(v.sys_flag & sysflag::kCompressed, 0);
      }
    }
  }
  EXPECT_TRUE(seen);
  // Corrupt gzip is refused.
  m = Msg("not gzip at all");
  m.mutable_system_properties()->set_body_encoding(v2::GZIP);
  EXPECT_EQ(Send({m}).status().code(), v2::MESSAGE_CORRUPTED);
}

TEST_F(GrpcTest, ConsumerBadInput) {
  v2::Message fake = Msg("x");
  fake.mutable_system_properties()->set_receipt_handle("not a receipt handle");
  EXPECT_EQ(Ack(fake).status().code(), v2::INVALID_RECEIPT_HANDLE);
  fake.mutable_system_properties()->set_receipt_handle("");
  EXPECT_EQ(Ack(fake).status().code(), v2::INVALID_RECEIPT_HANDLE);
  // Too short an invisible time; unknown topic; missing client id.
  auto rs = Receive(1, 1000, 100);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].status().code(), v2::ILLEGAL_INVISIBLE_TIME);

  v2::ReceiveMessageRequest req;
  *req.mutable_group() = Res(kGroup);
  *req.mutable_message_queue()->mutable_topic() = Res("NoSuchTopic");
  SetMillis(req.mutable_invisible_duration(), 30000);
  SetMillis(req.mutable_long_polling_timeout(), 100);
  for (const std::string& id : {std::string("c"), std::string()}) {
    auto ctx = Ctx(id);
    auto reader = stub_->ReceiveMessage(ctx.get(), req);
    v2::ReceiveMessageResponse r;
    ASSERT_TRUE(reader->Read(&r));
    EXPECT_EQ(r.status().code(), id.empty() ? v2::CLIENT_ID_REQUIRED : v2::TOPIC_NOT_FOUND);
    EXPECT_FALSE(reader->Read(&r));
    EXPECT_TRUE(reader->Finish().ok());
  }

  v2::ChangeInvisibleDurationRequest cr;
  *cr.mutable_group() = Res(kGroup);
  *cr.mutable_topic() = Res(kTopic);
  cr.set_receipt_handle("bogus");
  SetMillis(cr.mutable_invisible_duration(), 1000);
  v2::ChangeInvisibleDurationResponse cresp;
  auto ctx = Ctx();
  ASSERT_TRUE(stub_->ChangeInvisibleDuration(ctx.get(), cr, &cresp).ok());
  EXPECT_EQ(cresp.status().code(), v2::INVALID_RECEIPT_HANDLE);

  v2::QueryAssignmentRequest qa;
  *qa.mutable_topic() = Res(kTopic);
  *qa.mutable_group() = Res(kGroup);
  v2::QueryAssignmentResponse qr;
  ctx = Ctx();
  ASSERT_TRUE(stub_->QueryAssignment(ctx.get(), qa, &qr).ok());
  EXPECT_EQ(qr.status().code(), v2::OK);
  ASSERT_EQ(qr.assignments_size(), 1);
  EXPECT_EQ(qr.assignments(0).message_queue().id(), -1);
  EXPECT_EQ(qr.assignments(0).message_queue().broker().endpoints().addresses(0).port(),
            endpoint_->port());
}

TEST_F(GrpcTest, StopEndsAParkedReceive) {
  v2::ReceiveMessageRequest req;
  *req.mutable_group() = Res(kGroup);
  *req.mutable_message_queue()->mutable_topic() = Res(kTopic);
  SetMillis(req.mutable_invisible_duration(), 30000);
  SetMillis(req.mutable_long_polling_timeout(), 20000);
  auto ctx = Ctx("c", std::chrono::seconds(60));
  auto reader = stub_->ReceiveMessage(ctx.get(), req);
  // Whether or not the receive has parked yet, stopping must end the call, not hang on it.
  const auto start = std::chrono::steady_clock::now();
  endpoint_->Stop(200);
  v2::ReceiveMessageResponse r;
  while (reader->Read(&r)) {
  }
  reader->Finish();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace stele::rpc::testing
