// SQL92 subscriptions through the C++ client on an in-process cluster (two brokers): lite pull
// and push consumers with "a > 5 AND region = 'eu'" receive exactly the matching messages; push
// and lite pull consumers get a clear error from Start()/Subscribe() when the brokers have
// enablePropertyFilter off; a malformed expression is refused by Subscribe() with the reason.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cluster_fixture.h"
#include "fmt/format.h"
#include "stele/client/lite_pull_consumer.h"
#include "stele/client/producer.h"
#include "stele/client/push_consumer.h"

namespace stele::client {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr char kTopic[] = "SqlTopic";
constexpr char kExpr[] = "a > 5 AND region = 'eu'";

class Sql92ClientTest : public stele::testing::ClusterTest {
 protected:
  virtual bool PropertyFilter() const { return true; }
  stele::testing::ClusterOptions Options() const override {
    const bool on = PropertyFilter();
    return {.brokers = 2,
            .tweak = [on](int, broker::BrokerConfig& c) { c.enable_property_filter = on; }};
  }
  void SetUp() override {
    ClusterTest::SetUp();
    if (HasFatalFailure()) return;
    absl::Status s = cluster_->CreateTopic(kTopic, 2);
    ASSERT_TRUE(s.ok()) << s;
    producer_ = std::make_unique<Producer>(
        ProducerOptions{.group = "PG_Sql", .namesrv_addr = cluster_->namesrv_addr()});
    s = producer_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }
  void TearDown() override {
    producer_.reset();
    ClusterTest::TearDown();
  }

  LitePullConsumerOptions LiteOpts(const std::string& group) const {
    LitePullConsumerOptions o;
    o.group = group;
    o.namesrv_addr = cluster_->namesrv_addr();
    o.consume_from_where = ConsumeFromWhere::kFirstOffset;
    o.long_poll_timeout = 1s;
    return o;
  }

  // Sends a = 1..10 with region eu, then a = 1..10 with region us (6..10 eu match kExpr), then
  // a matching sentinel last in every queue: once a consumer has all of these, every queue has
  // been filtered up to its end, so nothing else can still arrive. Returns the matching bodies.
  std::multiset<std::string> SendAll() {
    std::multiset<std::string> want;
    for (int round = 0; round < 2; ++round) {
      const std::string region = round == 0 ? "eu" : "us";
      for (int a = 1; a <= 10; ++a) {
        Message m{.topic = kTopic, .body = fmt::format("{}-{}", region, a), .tags = "T"};
        m.properties["a"] = std::to_string(a);
        m.properties["region"] = region;
        auto r = producer_->Send(m);
        EXPECT_TRUE(r.ok()) << r.status();
        if (a > 5 && region == "eu") want.insert(m.body);
      }
    }
    for (int b = 0; b < cluster_->broker_count(); ++b) {
      for (int q = 0; q < 2; ++q) {
        const MessageQueue mq{kTopic, cluster_->broker_name(b), q};
        Message m{.topic = kTopic, .body = fmt::format("sentinel-{}", mq.ToString())};
        m.properties = {{"a", "100"}, {"region", "eu"}};
        auto r = producer_->Send(m, mq);
        EXPECT_TRUE(r.ok()) << r.status();
        want.insert(m.body);
      }
    }
    return want;
  }

  std::unique_ptr<Producer> producer_;
};

class Sql92ClientDisabledTest : public Sql92ClientTest {
 protected:
  bool PropertyFilter() const override { return false; }
};

TEST_F(Sql92ClientTest, LitePullReceivesExactlyTheMatchingMessages) {
  LitePullConsumer c(LiteOpts("CG_Sql"));
  ASSERT_TRUE(c.Subscribe(kTopic, kExpr, ExpressionType::kSql92).ok());
  ASSERT_TRUE(c.Start().ok());
  const std::multiset<std::string> want = SendAll();
  std::multiset<std::string> got;
  const auto deadline = Clock::now() + 30s;
  while (got.size() < want.size() && Clock::now() < deadline) {
    for (const MessageExt& m : c.Poll(500ms)) got.insert(m.body);
  }
  EXPECT_EQ(got, want);
  c.Shutdown();
}

TEST_F(Sql92ClientTest, PushConsumerReceivesExactlyTheMatchingMessages) {
  PushConsumer c({.group = "CG_SqlPush",
                  .namesrv_addr = cluster_->namesrv_addr(),
                  .consume_from_where = ConsumeFromWhere::kFirstOffset,
                  .long_poll_timeout = 1s});
  ASSERT_TRUE(c.Subscribe(kTopic, kExpr, ExpressionType::kSql92).ok());
  std::mutex mu;
  std::multiset<std::string> got;
  c.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
    std::lock_guard l(mu);
    for (const MessageExt& m : msgs) got.insert(m.body);
    return ConsumeStatus::kSuccess;
  });
  ASSERT_TRUE(c.Start().ok());
  const std::multiset<std::string> want = SendAll();
  EXPECT_TRUE(stele::testing::WaitUntil(
      [&] {
        std::lock_guard l(mu);
        return got.size() >= want.size();
      },
      30s));
  c.Shutdown();
  std::lock_guard l(mu);
  EXPECT_EQ(got, want);
}

TEST_F(Sql92ClientTest, MalformedExpressionIsRefusedBySubscribe) {
  PushConsumer c({.group = "CG_SqlBad", .namesrv_addr = cluster_->namesrv_addr()});
  absl::Status s = c.Subscribe(kTopic, "a > 5 AND", ExpressionType::kSql92);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("offset 9"), std::string_view::npos) << s;
  s = c.Subscribe(kTopic, "", ExpressionType::kSql92);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  LitePullConsumer l(LiteOpts("CG_SqlBad2"));
  s = l.Subscribe(kTopic, "region = 'eu", ExpressionType::kSql92);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("unterminated string"), std::string_view::npos) << s;
}

TEST_F(Sql92ClientDisabledTest, StartFailsWithAClearError) {
  PushConsumer c({.group = "CG_SqlOff", .namesrv_addr = cluster_->namesrv_addr()});
  ASSERT_TRUE(c.Subscribe(kTopic, kExpr, ExpressionType::kSql92).ok());
  c.RegisterListener(
      [](const std::vector<MessageExt>&, ConsumeContext&) { return ConsumeStatus::kSuccess; });
  absl::Status s = c.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not support consumer to filter message by SQL92"),
            std::string_view::npos)
      << s;
  // A tag subscription is unaffected.
  LitePullConsumer l(LiteOpts("CG_SqlOff2"));
  ASSERT_TRUE(l.Subscribe(kTopic, "*").ok());
  ASSERT_TRUE(l.Start().ok());
  // Subscribing to SQL92 on a running consumer is checked too, and not added.
  s = l.Subscribe(kTopic, kExpr, ExpressionType::kSql92);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("SQL92"), std::string_view::npos) << s;
  l.Shutdown();
}

}  // namespace
}  // namespace stele::client
