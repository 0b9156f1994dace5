// The push consumer's fixed limits: flow control by cached message count and by cached bytes, and
// a thread count set by the options, not by the number of queues or messages.
#include <dirent.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "push_consumer_fixture.h"
#include "stele/client/producer.h"
#include "stele/client/push_consumer.h"

namespace stele::client {
namespace {

// Threads of this process (/proc/self/task).
size_t ThreadCount() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
  }
  return n;
}

class PushConsumerLimitsTest : public PushConsumerTest {
 protected:
  // Flow control, observed: `bodies` wait in one queue of broker 0; the consumer's listener
  // blocks on its first message; once pulling must have stopped, broker 0 is stopped and the
  // listener released, so whatever is delivered next can only come from the consumer's cache. It
  // must be between `at_least` (pulling went on up to the threshold) and `at_most` (no further
  // than one pull batch beyond it). Then the broker comes back and the consumer, never restarted,
  // delivers everything.
  void ExpectCacheBounded(const std::string& topic, PushConsumerOptions o,
                          const std::vector<std::string>& bodies, size_t at_least, size_t at_most) {
    ASSERT_TRUE(cluster_->CreateTopic(topic, 1).ok());
    const MessageQueue q{topic, cluster_->broker_name(0), 0};
    std::set<std::string> ids;
    for (const std::string& b : bodies)
      ids.insert(SendOk(Message{.topic = topic, .body = b}, q).msg_id);
    ASSERT_EQ(ids.size(), bodies.size());
    Deliveries got;
    Gate gate;
    o.consume_threads = 1;
    // No periodic rebalance: while broker 0 is down its queue must stay assigned (a rebalance
    // would drop it, and with it the cache this test observes).
    o.rebalance_interval = 60s;
    PushConsumer c(o);
    ASSERT_TRUE(c.Subscribe(topic).ok());
    c.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
      got.Add(msgs);
      gate.Pass();
      return ConsumeStatus::kSuccess;
    });
    ASSERT_TRUE(c.Start().ok());
    ASSERT_TRUE(WaitUntil([&] { return got.Total() >= 1; }));
    // The window: without flow control the consumer would pull the whole backlog (a few pulls
    // from a local broker) well within it. A slower machine only makes the bound easier to meet.
    std::this_thread::sleep_for(1s);
    cluster_->StopBroker(0);
    gate.Open();
    EXPECT_TRUE(WaitUntil([&] { return got.Total() >= at_least; })) << got.Total();
    std::this_thread::sleep_for(300ms);  // (the rest of the cache is delivered within ms)
    EXPECT_LE(got.Total(), at_most);
    ASSERT_TRUE(cluster_->RestartBroker(0).ok());
    EXPECT_TRUE(got.WaitAll(ids)) << got.Missing(ids).size() << " missing";
  }
};

// By count: pull_threshold_for_queue cached messages stop the pulling.
TEST_F(PushConsumerLimitsTest, FlowControlByCountBoundsTheCache) {
  constexpr int kThreshold = 10;
  constexpr int kBatch = 4;
  PushConsumerOptions o = Fast("CG_PushFlow");
  o.pull_threshold_for_queue = kThreshold;
  o.pull_batch_size = kBatch;
  std::vector<std::string> bodies;
  for (int i = 0; i < 200; ++i) bodies.push_back(fmt::format("f-{}", i));
  ExpectCacheBounded("PushFlow", o, bodies, kThreshold + 1, kThreshold + kBatch);
}

// By bytes: pull_threshold_size_for_queue_mib of cached bodies stop the pulling, long before the
// count threshold would.
TEST_F(PushConsumerLimitsTest, FlowControlByBytesBoundsTheCache) {
  constexpr size_t kBody = 60 << 10;  // incompressible; under the test brokers' 64 KiB limit
  constexpr int kBatch = 4;
  PushConsumerOptions o = Fast("CG_PushFlowBytes");
  o.pull_threshold_for_queue = 1000;
  o.pull_threshold_size_for_queue_mib = 1;
  o.pull_batch_size = kBatch;
  std::vector<std::string> bodies;
  for (uint32_t i = 0; i < 80; ++i) bodies.push_back(RandomBody(kBody, i));
  // Pulling stops once more than 1 MiB is cached: after 18 bodies (17 are 1020 KiB), and at most
  // one batch past 17 of them; the backlog is 4.7 MiB.
  constexpr size_t kOverMib = (1u << 20) / kBody + 1;  // 18
  ExpectCacheBounded("PushFlowBytes", o, bodies, kOverMib, kOverMib - 1 + kBatch);
}

// The client's threads: consume_threads listener threads plus a fixed few (io, callbacks,
// scheduler) per producer or consumer, however many queues and messages there are.
TEST_F(PushConsumerLimitsTest, ThreadsAreBoundedByOptionsNotByQueues) {
  const std::string topic = "PushThreads";
  constexpr int kPerBroker = 16;  // 32 queues
  ASSERT_TRUE(cluster_->CreateTopic(topic, kPerBroker).ok());
  const size_t base = ThreadCount();

  // A producer sending asynchronously to every queue.
  ProducerOptions po;
  po.group = "PG_PushThreads";
  po.namesrv_addr = cluster_->namesrv_addr();
  po.callback_threads = 2;
  Producer p(po);
  ASSERT_TRUE(p.Start().ok());
  constexpr int kMsgs = 320;
  std::mutex mu;
  std::set<std::string> ids;
  int done = 0;
  for (int i = 0; i < kMsgs; ++i) {
    p.SendAsync(Message{.topic = topic, .body = fmt::format("t-{}", i)},
                [&](absl::StatusOr<SendResult> r) {
                  std::lock_guard l(mu);
                  ++done;
                  if (r.ok()) ids.insert(r->msg_id);
                });
  }
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard l(mu);
    return done == kMsgs;
  }));
  ASSERT_EQ(ids.size(), static_cast<size_t>(kMsgs));
  // io thread, scheduler, callback threads.
  const size_t producer_threads = ThreadCount() - base;
  EXPECT_LE(producer_threads, static_cast<size_t>(po.callback_threads) + 2);

  PushConsumerOptions o = Fast("CG_PushThreads");
  o.consume_threads = 3;
  Deliveries got;
  size_t peak = 0;
  PushConsumer c(o);
  ASSERT_TRUE(c.Subscribe(topic).ok());
  c.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
    got.Add(msgs);
    return ConsumeStatus::kSuccess;
  });
  ASSERT_TRUE(c.Start().ok());
  // Sampled while all 32 queues are pulled and consumed.
  EXPECT_TRUE(WaitUntil([&] {
    peak = std::max(peak, ThreadCount());
    return got.Distinct() == ids.size();
  }));
  EXPECT_EQ(QueuesOf(c, topic).size(), 2u * kPerBroker);
  // consume threads, io thread, scheduler, two callback threads (the client's default).
  EXPECT_LE(peak - base - producer_threads, static_cast<size_t>(o.consume_threads) + 4)
      << "base " << base << ", producer " << producer_threads << ", peak " << peak;
}

}  // namespace
}  // namespace stele::client
