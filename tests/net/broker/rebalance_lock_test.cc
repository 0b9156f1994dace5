// RebalanceLockManager with explicit time (grant, contention, renewal, expiry at exactly the max
// live time, unlock by owner only, groups kept apart, the table bound) and the lock/unlock body
// codec, including hostile bodies.
#include "net/broker/state/rebalance_lock_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include "absl/status/status.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

constexpr int64_t kLive = kDefaultLockMaxLiveTimeMs;
constexpr int64_t kT0 = 1'000'000;

MessageQueue Q(int32_t id, std::string topic = "T") { return {std::move(topic), "broker-a", id}; }
std::vector<MessageQueue> Qs(std::initializer_list<int32_t> ids) {
  std::vector<MessageQueue> out;
  for (int32_t id : ids) out.push_back(Q(id));
  return out;
}

TEST(RebalanceLockManagerTest, FreeQueuesAreGrantedAndHeldOnesRefused) {
  RebalanceLockManager m;
  EXPECT_TRUE(m.IsLockAllExpired("G", kT0));
  EXPECT_EQ(m.TryLockBatch("G", Qs({0, 1}), "c1", kT0), Qs({0, 1}));
  EXPECT_TRUE(m.IsLocked("G", Q(0), "c1", kT0));
  EXPECT_FALSE(m.IsLocked("G", Q(0), "c2", kT0));
  EXPECT_FALSE(m.IsLockAllExpired("G", kT0));
  // c2 gets only the queue nobody holds.
  EXPECT_EQ(m.TryLockBatch("G", Qs({0, 1, 2}), "c2", kT0 + 1), Qs({2}));
  // The holder asking again gets its queues again (a renewal).
  EXPECT_EQ(m.TryLockBatch("G", Qs({1, 0}), "c1", kT0 + 2), Qs({0, 1}));
  EXPECT_EQ(m.size(), 3u);
}

TEST(RebalanceLockManagerTest, ExpiresOnlyAfterTheMaxLiveTimeAndRenewalPostponesIt) {
  RebalanceLockManager m;
  ASSERT_EQ(m.TryLockBatch("G", Qs({0}), "c1", kT0), Qs({0}));
  // Exactly the live time is not yet expired (RocketMQ: now - last > max).
  EXPECT_TRUE(m.TryLockBatch("G", Qs({0}), "c2", kT0 + kLive).empty());
  EXPECT_TRUE(m.IsLocked("G", Q(0), "c1", kT0 + kLive));
  // c1 renews at +30 s; at +61 s (31 s after the renewal) c2 is still refused.
  ASSERT_EQ(m.TryLockBatch("G", Qs({0}), "c1", kT0 + 30000), Qs({0}));
  EXPECT_TRUE(m.TryLockBatch("G", Qs({0}), "c2", kT0 + kLive + 1000).empty());
  // IsLocked does not renew: past the renewed lock's life, it has expired.
  EXPECT_FALSE(m.IsLocked("G", Q(0), "c1", kT0 + 30000 + kLive + 1));
  EXPECT_TRUE(m.IsLockAllExpired("G", kT0 + 30000 + kLive + 1));
  // ...and c2 takes it over; c1 is now refused.
  EXPECT_EQ(m.TryLockBatch("G", Qs({0}), "c2", kT0 + 30000 + kLive + 1), Qs({0}));
  EXPECT_TRUE(m.IsLocked("G", Q(0), "c2", kT0 + 30000 + kLive + 1));
  EXPECT_TRUE(m.TryLockBatch("G", Qs({0}), "c1", kT0 + 30000 + kLive + 2).empty());
  EXPECT_EQ(m.size(), 1u);
}

TEST(RebalanceLockManagerTest, HolderRetakesItsOwnExpiredLock) {
  RebalanceLockManager m;
  ASSERT_EQ(m.TryLockBatch("G", Qs({0}), "c1", kT0), Qs({0}));
  EXPECT_FALSE(m.IsLocked("G", Q(0), "c1", kT0 + 5 * kLive));
  EXPECT_EQ(m.TryLockBatch("G", Qs({0}), "c1", kT0 + 5 * kLive), Qs({0}));
  EXPECT_TRUE(m.IsLocked("G", Q(0), "c1", kT0 + 5 * kLive));
}

TEST(RebalanceLockManagerTest, CustomLiveTime) {
  RebalanceLockManager m(/*max_live_ms=*/100);
  ASSERT_EQ(m.TryLockBatch("G", Qs({0}), "c1", kT0), Qs({0}));
  EXPECT_TRUE(m.TryLockBatch("G", Qs({0}), "c2", kT0 + 100).empty());
  EXPECT_EQ(m.TryLockBatch("G", Qs({0}), "c2", kT0 + 101), Qs({0}));
}

TEST(RebalanceLockManagerTest, UnlockReleasesOnlyTheCallersLocks) {
  RebalanceLockManager m;
  ASSERT_EQ(m.TryLockBatch("G", Qs({0, 1}), "c1", kT0), Qs({0, 1}));
  ASSERT_EQ(m.TryLockBatch("G", Qs({2}), "c2", kT0), Qs({2}));
  // c2 cannot release c1's queue 0; queue 7 was never locked; group X does not exist.
  m.UnlockBatch("G", Qs({0, 2, 7}), "c2");
  m.UnlockBatch("X", Qs({0}), "c1");
  EXPECT_TRUE(m.IsLocked("G", Q(0), "c1", kT0));
  EXPECT_FALSE(m.IsLocked("G", Q(2), "c2", kT0));
  EXPECT_EQ(m.size(), 2u);
  // Once released, another client gets it at once, long before expiry.
  m.UnlockBatch("G", Qs({0}), "c1");
  EXPECT_EQ(m.TryLockBatch("G", Qs({0, 1}), "c2", kT0 + 1), Qs({0}));
  // The owner may release even an expired lock.
  m.UnlockBatch("G", Qs({1}), "c1");
  m.UnlockBatch("G", Qs({0}), "c2");
  EXPECT_EQ(m.size(), 0u);
  EXPECT_TRUE(m.IsLockAllExpired("G", kT0));
}

TEST(RebalanceLockManagerTest, GroupsTopicsAndBrokerNamesAreSeparateLocks) {
  RebalanceLockManager m;
  ASSERT_EQ(m.TryLockBatch("G1", Qs({0}), "c1", kT0), Qs({0}));
  EXPECT_EQ(m.TryLockBatch("G2", Qs({0}), "c2", kT0), Qs({0}));
  const std::vector<MessageQueue> others = {Q(0, "%RETRY%G1"), {"T", "broker-b", 0}};
  std::vector<MessageQueue> want = others;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(m.TryLockBatch("G1", others, "c2", kT0), want);
  EXPECT_EQ(m.size(), 4u);
}

TEST(RebalanceLockManagerTest, TableBoundRefusesNewLocksButKeepsRenewalsAndReusesExpired) {
  RebalanceLockManager m(kLive, /*max_entries=*/3);
  ASSERT_EQ(m.TryLockBatch("G", Qs({0, 1}), "c1", kT0), Qs({0, 1}));
  // Room for one more: queue 2 gets it, 3 and 4 do not.
  EXPECT_EQ(m.TryLockBatch("H", Qs({2, 3, 4}), "c2", kT0 + 10), Qs({2}));
  EXPECT_EQ(m.size(), 3u);
  // Held locks still renew when the table is full.
  EXPECT_EQ(m.TryLockBatch("G", Qs({0, 1, 9}), "c1", kT0 + 20), Qs({0, 1}));
  // Once H's lock expires, the sweep frees its slot for a new one.
  EXPECT_EQ(m.TryLockBatch("G", Qs({9}), "c1", kT0 + 10 + kLive + 1), Qs({9}));
  EXPECT_EQ(m.size(), 3u);
  EXPECT_TRUE(m.IsLockAllExpired("H", kT0 + 10 + kLive + 1));
}

TEST(RebalanceLockManagerTest, ConcurrentClientsNeverShareAQueue) {
  RebalanceLockManager m;
  const std::string kClients[] = {"c0", "c1", "c2", "c3"};
  std::vector<std::vector<MessageQueue>> got(4);
  std::vector<std::thread> threads;
  std::vector<MessageQueue> all;
  for (int32_t i = 0; i < 64; ++i) all.push_back(Q(i));
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        got[t] = m.TryLockBatch("G", all, kClients[t], kT0 + round);
      }
    });
  }
  for (auto& th : threads) th.join();
  size_t total = 0;
  for (const auto& g : got) total += g.size();
  EXPECT_EQ(total, all.size());  // every queue held by exactly one client
  EXPECT_EQ(m.size(), all.size());
}

// ---- bodies ----

TEST(LockBatchBodyTest, ParsesJavaBodyAndSortsAndDeduplicates) {
  auto r = ParseLockBatchRequest(
      R"({"clientId":"10.0.0.5@4242","consumerGroup":"GID_order","onlyThisBroker":true,
          "mqSet":[{"brokerName":"broker-a","queueId":1,"topic":"T"},
                   {"brokerName":"broker-a","queueId":0,"topic":"T"},
                   {"brokerName":"broker-a","queueId":"1","topic":"T"},
                   {"brokerName":"broker-a","queueId":0,"topic":"%RETRY%GID_order"}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->consumer_group, "GID_order");
  EXPECT_EQ(r->client_id, "10.0.0.5@4242");
  EXPECT_TRUE(r->only_this_broker);
  const std::vector<MessageQueue> want = {Q(0, "%RETRY%GID_order"), Q(0), Q(1)};
  EXPECT_EQ(r->mqs, want);

  auto minimal = ParseLockBatchRequest(R"({"consumerGroup":"G","clientId":"c"})");
  ASSERT_TRUE(minimal.ok()) << minimal.status();
  EXPECT_FALSE(minimal->only_this_broker);
  EXPECT_TRUE(minimal->mqs.empty());
}

TEST(LockBatchBodyTest, RejectsMalformedBodies) {
  auto WithMq = [](std::string mq) {
    return R"({"consumerGroup":"G","clientId":"c","mqSet":[)" + mq + "]}";
  };
  std::string too_many = R"({"consumerGroup":"G","clientId":"c","mqSet":[)";
  for (size_t i = 0; i <= kMaxLockBatchQueues; ++i) {
    too_many += R"({"topic":"T","brokerName":"b","queueId":0},)";
  }
  too_many.back() = ']';
  too_many += "}";
  const std::string bad[] = {
      "",
      "{",
      "[]",
      "null",
      std::string(20000, '['),
      R"({"clientId":"c"})",                        // no group
      R"({"consumerGroup":"","clientId":"c"})",     // empty group
      R"({"consumerGroup":"a/b","clientId":"c"})",  // invalid group characters
      R"({"consumerGroup":[],"clientId":"c"})",     // wrong type
      std::string(R"({"consumerGroup":")") + std::string(300, 'g') + R"(","clientId":"c"})",
      R"({"consumerGroup":"G"})",  // no clientId
      R"({"consumerGroup":"G","clientId":""})",
      R"({"consumerGroup":"G","clientId":"c","onlyThisBroker":"maybe"})",
      R"({"consumerGroup":"G","clientId":"c","mqSet":{}})",
      R"({"consumerGroup":"G","clientId":"c","mqSet":[5]})",
      WithMq(R"({"brokerName":"b","queueId":0})"),  // no topic
      WithMq(R"({"topic":"../x","brokerName":"b","queueId":0})"),
      WithMq(R"({"topic":"T","queueId":0})"),       // no brokerName
      WithMq(R"({"topic":"T","brokerName":"b"})"),  // no queueId
      WithMq(R"({"topic":"T","brokerName":"b","queueId":-1})"),
      WithMq(R"({"topic":"T","brokerName":"b","queueId":4294967296})"),
      WithMq(R"({"topic":"T","brokerName":"b","queueId":1.5})"),
      too_many,
  };
  for (const std::string& body : bad) {
    auto r = ParseLockBatchRequest(body);
    EXPECT_FALSE(r.ok()) << body.substr(0, 200);
    if (!r.ok()) {
      EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
      EXPECT_TRUE(StatusMessage(r.status()).starts_with("lock batch body")) << r.status();
    }
  }
}

TEST(LockBatchBodyTest, ResponseIsLockBatchResponseBody) {
  const std::string body = EncodeLockBatchResponse({Q(0), {"T", "broker-b", 3}});
  auto j = nlohmann::json::parse(body);
  ASSERT_TRUE(j["lockOKMQSet"].is_array());
  ASSERT_EQ(j["lockOKMQSet"].size(), 2u);
  EXPECT_EQ(j["lockOKMQSet"][1],
            (nlohmann::json{{"topic", "T"}, {"brokerName", "broker-b"}, {"queueId", 3}}));
  EXPECT_EQ(EncodeLockBatchResponse({}), R"({"lockOKMQSet":[]})");
}

}  // namespace
}  // namespace stele::broker
