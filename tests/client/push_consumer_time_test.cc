// Time-based features end to end: a consumer group that starts from a timestamp, and a message
// with a delivery time, both through the real Producer and PushConsumer.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "push_consumer_fixture.h"
#include "stele/client/producer.h"
#include "stele/client/push_consumer.h"

namespace stele::client {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// CONSUME_FROM_TIMESTAMP for a new group: it starts at the first message stored at or after the
// timestamp: everything sent after it, nothing before. (On a queue whose first message is still
// in memory the broker answers a new group's offset query with 0, as RocketMQ's does, and the
// timestamp is never consulted; so the queue's oldest messages are expired first.)
TEST_F(PushConsumerRetentionTest, ConsumeFromTimestampStartsAtTheFirstMessageAtOrAfterIt) {
  const std::string topic = "PushFromTimestamp";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 1).ok());
  const MessageQueue q{topic, cluster_->broker_name(0), 0};
  std::set<std::string> before, after;
  FillAndExpire(q, &before);
  if (HasFatalFailure()) return;
  // Every "before" message was stored (same clock) before ts; every later one after it.
  const int64_t ts = NowMs() + 1;
  ASSERT_TRUE(WaitUntil([&] { return NowMs() > ts; }));
  for (int i = 0; i < 20; ++i) {
    after.insert(SendOk(Message{.topic = topic, .body = fmt::format("after-{}", i)}, q).msg_id);
  }
  const std::string group = "CG_FromTimestamp";
  PushConsumerOptions o = Fast(group);
  o.consume_from_where = ConsumeFromWhere::kTimestamp;
  o.consume_timestamp_ms = ts;
  Deliveries got;
  PushConsumer c(o);
  ASSERT_TRUE(c.Subscribe(topic).ok());
  c.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
    got.Add(msgs);
    return ConsumeStatus::kSuccess;
  });
  ASSERT_TRUE(c.Start().ok());
  EXPECT_TRUE(got.WaitAll(after)) << got.Missing(after).size() << " missing";
  // The consumer committed to the queue's end: nothing older is still on its way.
  ASSERT_TRUE(WaitUntil(
      [&] { return CommittedOffset(0, group, topic, 0) == MaxQueueOffset(0, topic, 0); }));
  size_t older = 0;
  for (const std::string& id : before) older += got.Has(id) ? 1 : 0;
  EXPECT_EQ(older, 0u) << "messages stored before the timestamp were delivered";
  EXPECT_EQ(got.Distinct(), after.size());
}

// A delivery time (RocketMQ 5.x timer message): stored now, delivered to the topic's consumers
// no earlier than the broker's timer precision before that time, with the same id and body.
TEST_F(PushConsumerTest, DeliveryTimeHoldsTheMessageBackUntilThen) {
  const std::string topic = "PushDeliverTime";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 2).ok());
  PushConsumerOptions o = Fast("CG_DeliverTime");
  Deliveries got;
  std::mutex mu;
  int64_t received_at = 0;
  PushConsumer c(o);
  ASSERT_TRUE(c.Subscribe(topic).ok());
  c.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
    {
      std::lock_guard l(mu);
      if (received_at == 0) received_at = NowMs();
    }
    got.Add(msgs);
    return ConsumeStatus::kSuccess;
  });
  ASSERT_TRUE(c.Start().ok());
  Message m{.topic = topic, .body = "at-a-time"};
  m.deliver_time_ms = NowMs() + 2000;
  const SendResult r = SendOk(m);
  ASSERT_FALSE(r.msg_id.empty());
  ASSERT_TRUE(got.WaitAll({r.msg_id}));
  std::lock_guard l(mu);
  constexpr int64_t kTimerPrecisionMs = 1000;  // the broker's default timerPrecisionMs
  EXPECT_GE(received_at, m.deliver_time_ms - kTimerPrecisionMs)
      << "delivered " << m.deliver_time_ms - received_at << " ms early";
  const std::vector<MessageExt> all = got.All();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].body, "at-a-time");
  EXPECT_EQ(all[0].topic, topic);
}

}  // namespace
}  // namespace stele::client
