// RemotingServer and RemotingClient over real loopback TCP: request/response matching, both
// serializations, timeouts, closes, and server -> client calls.
#include <algorithm>
#include <atomic>

#include "transport_fixture.h"

namespace stele::remoting::testing {
namespace {

class TransportRoundTrip : public TransportTest,
                           public ::testing::WithParamInterface<SerializeType> {};

TEST_P(TransportRoundTrip, InvokeSyncEchoes) {
  RemotingCommand req = Req(kEcho, GetParam());
  req.Set("topic", "TopicTest");
  req.body = std::string("b\0dy", 4);
  auto resp = client_.InvokeSync(addr_, req, kWait);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->code, response::kSuccess);
  EXPECT_TRUE(resp->is_response());
  EXPECT_EQ(resp->serialize_type, GetParam()) << "a reply uses its request's serialization";
  EXPECT_EQ(*resp->Field("topic"), "TopicTest");
  EXPECT_EQ(resp->body, req.body);
}

TEST_P(TransportRoundTrip, UnknownCodeIsNotSupported) {
  auto resp = client_.InvokeSync(addr_, Req(4242, GetParam()), kWait);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->code, response::kRequestCodeNotSupported);
  ASSERT_TRUE(resp->remark.has_value());
  EXPECT_NE(resp->remark->find("4242"), std::string::npos);
  EXPECT_EQ(resp->serialize_type, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Both, TransportRoundTrip,
                         ::testing::Values(SerializeType::kJson, SerializeType::kRocketMq),
                         [](const auto& info) {
                           return info.param == SerializeType::kJson ? "Json" : "RocketMq";
                         });

// 64 requests in flight on one connection; the server answers them in reverse order from another
// thread; each caller must get its own answer (matched by opaque).
TEST_F(TransportTest, OutOfOrderRepliesMatchedByOpaque) {
  constexpr int kN = 64;
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<int> order;
    int mismatches = 0;
  };
  auto st = std::make_shared<State>();  // outlives the test body if a wait fails
  for (int i = 0; i < kN; ++i) {
    RemotingCommand req = Req(kGather, i % 2 ? SerializeType::kRocketMq : SerializeType::kJson);
    req.Set("n", kN);
    req.Set("i", i);
    client_.Invoke(addr_, req, kWait, [st, i](absl::StatusOr<RemotingCommand> r) {
      std::lock_guard<std::mutex> l(st->mu);
      if (!r.ok() || r->Field("i") == nullptr || *r->Field("i") != std::to_string(i)) {
        ++st->mismatches;
      }
      st->order.push_back(i);
      st->cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> l(st->mu);
  ASSERT_TRUE(st->cv.wait_for(l, kWait, [&] { return st->order.size() == kN; }));
  EXPECT_EQ(st->mismatches, 0);
  std::vector<int> reversed(kN);
  for (int i = 0; i < kN; ++i) reversed[i] = kN - 1 - i;
  EXPECT_EQ(st->order, reversed);
  std::lock_guard<std::mutex> ll(log_.mu);
  ASSERT_EQ(log_.gather_channels.size(), size_t{kN});
  EXPECT_TRUE(std::all_of(log_.gather_channels.begin(), log_.gather_channels.end(),
                          [&](uint64_t id) { return id == log_.gather_channels[0]; }))
      << "all requests should share one connection";
}

// Many threads calling InvokeSync at once on the shared connection.
TEST_F(TransportTest, ConcurrentCallersOnOneConnection) {
  constexpr int kThreads = 8, kPerThread = 50;
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        RemotingCommand req =
            Req(kEcho, (t + i) % 2 ? SerializeType::kRocketMq : SerializeType::kJson);
        const std::string tag = fmt::format("{}-{}", t, i);
        req.Set("tag", tag);
        auto r = client_.InvokeSync(addr_, req, kWait);
        if (!r.ok() || *r->Field("tag") != tag) bad.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(TransportTest, TimeoutIsDeadlineExceededAndLateReplyIsDropped) {
  auto f = InvokeAsync(Req(kHold), 100ms);
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  auto r = f.get();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  // The late reply finds no pending call; the connection keeps working.
  ASSERT_TRUE(log_.WaitUntil([&] { return log_.held.size() == 1; }));
  log_.held[0](response::kSuccess);
  auto again = client_.InvokeSync(addr_, Req(kEcho), kWait);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->code, response::kSuccess);
}

TEST_F(TransportTest, ServerCloseFailsPendingInvokesAndFiresOnChannelClosed) {
  auto f1 = InvokeAsync(Req(kHold), 60s);
  auto f2 = InvokeAsync(Req(kHold, SerializeType::kRocketMq), 60s);
  ASSERT_TRUE(log_.WaitUntil([&] { return log_.held.size() == 2; }));
  auto ids = client_.InvokeSync(addr_, Req(kEcho), kWait);
  ASSERT_TRUE(ids.ok());
  const uint64_t id = std::stoull(*ids->Field("channel"));
  ChannelPtr ch = server_->FindChannel(id);
  ASSERT_NE(ch, nullptr);
  ch->Close();
  for (auto* f : {&f1, &f2}) {
    ASSERT_EQ(f->wait_for(kWait), std::future_status::ready);
    EXPECT_EQ(f->get().status().code(), absl::StatusCode::kUnavailable);
  }
  ASSERT_TRUE(log_.WaitUntil([&] { return log_.closed.size() == 1; }));
  EXPECT_EQ(log_.closed[0], id);
  EXPECT_EQ(server_->FindChannel(id), nullptr);
  EXPECT_FALSE(ch->is_open());
  log_.held[0](response::kSuccess);  // replying on a closed channel is a no-op
  // The client reconnects on demand.
  auto r = client_.InvokeSync(addr_, Req(kEcho), kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(std::stoull(*r->Field("channel")), id);
}

TEST_F(TransportTest, ServerStopFailsPendingInvokes) {
  auto f = InvokeAsync(Req(kHold), 60s);
  ASSERT_TRUE(log_.WaitUntil([&] { return log_.held.size() == 1; }));
  server_->Stop();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get().status().code(), absl::StatusCode::kUnavailable);
  auto r = client_.InvokeSync(addr_, Req(kEcho), 2s);
  EXPECT_FALSE(r.ok());
}

TEST_F(TransportTest, ClientShutdownClosesServerChannel) {
  ASSERT_TRUE(client_.InvokeSync(addr_, Req(kEcho), kWait).ok());
  client_.Shutdown();
  ASSERT_TRUE(log_.WaitUntil([&] { return log_.closed.size() == 1; }));
  auto r = client_.InvokeSync(addr_, Req(kEcho), kWait);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(TransportTest, OnewayGetsNoReply) {
  RemotingCommand req = Req(kHold);
  req.Set("x", "1");
  client_.InvokeOneway(addr_, req);
  ASSERT_TRUE(log_.WaitUntil([&] { return log_.oneways.size() == 1; }));
  EXPECT_TRUE(log_.oneways[0].is_oneway());
  log_.held[0](response::kSuccess);                       // ignored for a oneway request
  log_.held[0](response::kSuccess);                       // and a second call is ignored anyway
  auto r = client_.InvokeSync(addr_, Req(kEcho), kWait);  // nothing stray arrives first
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, response::kSuccess);
}

TEST_F(TransportTest, ReplyIsSentOnce) {
  auto f = InvokeAsync(Req(kHold), kWait);
  ASSERT_TRUE(log_.WaitUntil([&] { return log_.held.size() == 1; }));
  log_.held[0](response::kSystemBusy, "first");
  log_.held[0](response::kSuccess, "second");
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  auto r = f.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, response::kSystemBusy);
  EXPECT_EQ(r->remark, std::optional<std::string>("first"));
}

// The server calls the client on the client's own connection (e.g. CHECK_TRANSACTION_STATE).
TEST_F(TransportTest, ServerCallsClient) {
  std::atomic<int> served{0};
  client_.Register(kClientCode, [&](const ChannelPtr&, RemotingCommand req, Reply reply) {
    served.fetch_add(1);
    RemotingCommand resp;
    resp.Set("echo", *req.Field("q"));
    resp.body = "from client";
    reply(std::move(resp));
  });
  ASSERT_TRUE(client_.InvokeSync(addr_, Req(kCallMe), kWait).ok());
  ASSERT_TRUE(log_.WaitUntil([&] { return log_.called_me.size() == 1; }));
  ChannelPtr ch = log_.called_me[0];
  for (SerializeType type : {SerializeType::kJson, SerializeType::kRocketMq}) {
    RemotingCommand req = Req(kClientCode, type);
    req.Set("q", "hello");
    auto f = InvokeOn(ch, req, kWait);
    ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r->Field("echo"), "hello");
    EXPECT_EQ(r->body, "from client");
    EXPECT_EQ(r->serialize_type, type);
  }
  EXPECT_EQ(served.load(), 2);
  // A code the client does not serve.
  auto f = InvokeOn(ch, Req(7777), kWait);
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get()->code, response::kRequestCodeNotSupported);
}

// A server -> client call pending when the client goes away fails with Unavailable.
TEST_F(TransportTest, ServerInvokeFailsWhenClientLeaves) {
  std::promise<void> got;
  client_.Register(kClientCode,
                   [&](const ChannelPtr&, RemotingCommand, Reply) { got.set_value(); });
  ASSERT_TRUE(client_.InvokeSync(addr_, Req(kCallMe), kWait).ok());
  ASSERT_TRUE(log_.WaitUntil([&] { return log_.called_me.size() == 1; }));
  auto f = InvokeOn(log_.called_me[0], Req(kClientCode), 60s);
  ASSERT_EQ(got.get_future().wait_for(kWait), std::future_status::ready);
  client_.Shutdown();
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(log_.called_me[0]->is_open());
}

// Other modules keep ChannelPtrs (a client registry that calls producers back); one that is still
// held when the server is destroyed must stay safe to use and to release.
TEST_F(TransportTest, ChannelOutlivesServer) {
  ASSERT_TRUE(client_.InvokeSync(addr_, Req(kCallMe), kWait).ok());
  ASSERT_TRUE(log_.WaitUntil([&] { return log_.called_me.size() == 1; }));
  ChannelPtr ch = log_.called_me[0];
  log_.called_me.clear();
  server_.reset();
  EXPECT_FALSE(ch->is_open());
  ch->Send(Req(kClientCode));
  auto f = InvokeOn(ch, Req(kClientCode), kWait);
  ASSERT_EQ(f.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(f.get().status().code(), absl::StatusCode::kUnavailable);
  ch->Close();
  ch.reset();
}

TEST_F(TransportTest, ConnectFailures) {
  RemotingClient c(ClientOptions{.connect_timeout = 2000ms});
  EXPECT_EQ(c.InvokeSync("not-an-address", Req(kEcho), kWait).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A port nobody listens on (the server's, after it stopped).
  server_->Stop();
  auto r = c.InvokeSync(addr_, Req(kEcho), kWait);
  EXPECT_FALSE(r.ok());
}

TEST_F(TransportTest, LargeFramesBothWays) {
  RemotingCommand req = Req(kEcho);
  req.body.assign(8u << 20, 'z');
  req.body[12345] = '\0';
  auto r = client_.InvokeSync(addr_, req, kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, req.body);
}

}  // namespace
}  // namespace stele::remoting::testing
