// The push consumer against an in-process cluster (one name server, two brokers, SYNC_FLUSH):
// real Producer and PushConsumer instances, with the consumer's intervals shortened so that
// rebalancing, offset commits and retries happen within a test's time. Every wait is bounded.
#include "stele/client/push_consumer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/consumer_common.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "push_consumer_fixture.h"

namespace stele::client {
namespace {

// 1) One clustering consumer gets every message exactly as sent, and commits to the end.
TEST_F(PushConsumerTest, ClusteringConsumesEverythingAsSentAndCommits) {
  const std::string topic = "PushAll";
  const std::string group = "CG_PushAll";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 4).ok());
  constexpr int kN = 200;
  std::map<std::string, Message> sent;
  std::map<std::string, SendResult> results;
  for (int i = 0; i < kN; ++i) {
    // Every 25th body is above the producer's 4 KiB compression threshold: the consumer inflates.
    Message m{.topic = topic,
              .body = RandomBody(i % 25 == 0 ? 6000 : 10 + i, static_cast<uint32_t>(i)),
              .tags = fmt::format("Tag{}", i % 3),
              .keys = fmt::format("key-{} group-{}", i, i % 7)};
    m.properties["index"] = std::to_string(i);
    m.properties["color"] = i % 2 == 0 ? "red" : "blue";
    m.flag = i;
    SendResult r = SendOk(m);
    ASSERT_FALSE(r.msg_id.empty());
    sent[r.msg_id] = m;
    results[r.msg_id] = r;
  }
  std::set<MessageQueue> used;
  for (const auto& [id, r] : results) used.insert(r.queue);
  EXPECT_EQ(used.size(), 8u) << "round robin should have used all 8 queues";

  Deliveries got;
  PushConsumer c(Fast(group));
  ASSERT_TRUE(c.Subscribe(topic, "*").ok());
  c.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext& ctx) {
    for (const MessageExt& m : msgs) EXPECT_EQ(m.queue(), ctx.queue);
    got.Add(msgs);
    return ConsumeStatus::kSuccess;
  });
  ASSERT_TRUE(c.Start().ok());
  std::set<std::string> ids;
  for (const auto& [id, m] : sent) ids.insert(id);
  ASSERT_TRUE(got.WaitAll(ids)) << got.Missing(ids).size() << " of " << kN << " not consumed";

  for (const MessageExt& m : got.All()) {
    auto it = sent.find(m.msg_id);
    ASSERT_NE(it, sent.end()) << "unknown message " << m.msg_id;
    const Message& s = it->second;
    const SendResult& r = results[m.msg_id];
    EXPECT_EQ(m.topic, topic);
    EXPECT_EQ(m.body, s.body) << m.msg_id;
    EXPECT_EQ(m.tags, s.tags);
    EXPECT_EQ(m.keys, s.keys);
    EXPECT_EQ(m.flag, s.flag);
    for (const auto& [k, v] : s.properties) {
      const std::string* p = m.Property(k);
      ASSERT_NE(p, nullptr) << k;
      EXPECT_EQ(*p, v) << k;
    }
    EXPECT_EQ(m.queue(), r.queue);
    EXPECT_EQ(m.queue_offset, r.queue_offset);
    EXPECT_EQ(m.offset_msg_id, r.offset_msg_id);
    EXPECT_EQ(m.reconsume_times, 0);
    EXPECT_GT(m.born_timestamp, 0);
    EXPECT_GE(m.store_timestamp, m.born_timestamp);
  }
  // Commits reach the broker while running (periodic persist and pull piggy-backs)...
  EXPECT_TRUE(WaitCommittedToEnd(group, topic, 4));
  c.Shutdown();
  // ...and stay at the end after shutdown.
  for (int i = 0; i < 2; ++i) {
    for (int q = 0; q < 4; ++q) {
      EXPECT_EQ(CommittedOffset(i, group, topic, q), MaxQueueOffset(i, topic, q))
          << cluster_->broker_name(i) << "#" << q;
      EXPECT_GT(MaxQueueOffset(i, topic, q), 0);
    }
  }
  // Nothing was consumed twice: a single consumer with all listeners succeeding.
  for (const auto& [id, n] : got.Counts()) EXPECT_EQ(n, 1) << id;
}

// 2) A second consumer takes half the queues (AllocateAveragely) and gives them back when it
// leaves; a producer keeps sending throughout and nothing acknowledged is lost.
TEST_F(PushConsumerTest, RebalanceOnJoinAndLeaveLosesNothing) {
  const std::string topic = "PushRebalance";
  const std::string group = "CG_PushRebalance";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 4).ok());
  const std::vector<MessageQueue> all = AllQueues(topic, 4);

  Deliveries got;
  auto listener = [&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
    got.Add(msgs);
    return ConsumeStatus::kSuccess;
  };
  PushConsumer c1(Fast(group));
  ASSERT_TRUE(c1.Subscribe(topic).ok());
  c1.RegisterListener(listener);
  ASSERT_TRUE(c1.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return QueuesOf(c1, topic) == all; }));

  SteadyProducer steady(*producer_, topic);
  ASSERT_TRUE(WaitUntil([&] { return steady.acked_count() >= 50; }));

  auto c2 = std::make_unique<PushConsumer>(Fast(group));
  ASSERT_TRUE(c2->Subscribe(topic).ok());
  c2->RegisterListener(listener);
  ASSERT_TRUE(c2->Start().ok());
  std::vector<std::string> cids = {c1.client_id(), c2->client_id()};
  std::sort(cids.begin(), cids.end());
  const auto want1 = AllocateAveragely(c1.client_id(), all, cids);
  const auto want2 = AllocateAveragely(c2->client_id(), all, cids);
  ASSERT_EQ(want1.size(), 4u);
  ASSERT_EQ(want2.size(), 4u);
  // Both settle on RocketMQ's split; then no queue is held by both.
  EXPECT_TRUE(WaitUntil([&] {
    return QueuesOf(c1, topic) == want1 && QueuesOf(*c2, topic) == want2;
  })) << "c1 holds "
      << QueuesOf(c1, topic).size() << ", c2 holds " << QueuesOf(*c2, topic).size();
  {
    const auto q1 = QueuesOf(c1, topic);
    const auto q2 = QueuesOf(*c2, topic);
    std::vector<MessageQueue> both;
    std::set_intersection(q1.begin(), q1.end(), q2.begin(), q2.end(), std::back_inserter(both));
    EXPECT_TRUE(both.empty()) << both.size() << " queue(s) held by both";
  }
  // Both consume while both are members.
  const size_t before = steady.acked_count();
  ASSERT_TRUE(WaitUntil([&] { return steady.acked_count() >= before + 50; }));

  c2->Shutdown();
  EXPECT_TRUE(WaitUntil([&] { return QueuesOf(c1, topic) == all; }))
      << "c1 holds " << QueuesOf(c1, topic).size() << " queues after c2 left";
  const size_t after_leave = steady.acked_count();
  ASSERT_TRUE(WaitUntil([&] { return steady.acked_count() >= after_leave + 50; }));
  steady.Stop();

  const std::set<std::string> acked = steady.Acked();
  EXPECT_TRUE(got.WaitAll(acked)) << got.Missing(acked).size() << " of " << acked.size()
                                  << " acknowledged messages never consumed";
  // At least once, and no more than RocketMQ allows: a message is delivered again only when its
  // queue changed owners before the old owner's commit of it reached the broker. c1 kept want1
  // throughout, so those are delivered exactly once; the queues of want2 changed owners twice (to
  // c2 and back), so at most three deliveries each.
  const std::set<MessageQueue> kept(want1.begin(), want1.end());
  std::map<std::string, MessageQueue> where;
  for (const MessageExt& m : got.All()) where[m.msg_id] = {m.topic, m.broker_name, m.queue_id};
  size_t duplicates = 0;
  for (const auto& [id, n] : got.Counts()) {
    const MessageQueue& q = where[id];
    duplicates += static_cast<size_t>(n - 1);
    if (kept.count(q) != 0) {
      EXPECT_EQ(n, 1) << id << " of " << q.broker_name << "#" << q.queue_id
                      << ", a queue that never changed owners";
    } else {
      EXPECT_LE(n, 3) << id << " of " << q.broker_name << "#" << q.queue_id;
    }
  }
  RecordProperty("duplicates", static_cast<int>(duplicates));
}

// 3) Broadcasting: each consumer of the group gets everything; offsets live in a local file and a
// restarted consumer resumes from it.
TEST_F(PushConsumerTest, BroadcastingDeliversToEveryConsumerAndResumesFromLocalFile) {
  const std::string topic = "PushBroadcast";
  const std::string group = "CG_PushBroadcast";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 4).ok());
  std::set<std::string> first;
  for (int i = 0; i < 40; ++i) {
    first.insert(SendOk(Message{.topic = topic, .body = fmt::format("b-{}", i)}).msg_id);
  }
  stele::testing::TempDir dir1, dir2;
  auto make = [&](const std::string& dir, Deliveries& d) {
    PushConsumerOptions o = Fast(group);
    o.model = MessageModel::kBroadcasting;
    o.offset_store_dir = dir;
    auto c = std::make_unique<PushConsumer>(o);
    EXPECT_TRUE(c->Subscribe(topic).ok());
    c->RegisterListener([&d](const std::vector<MessageExt>& msgs, ConsumeContext&) {
      d.Add(msgs);
      return ConsumeStatus::kSuccess;
    });
    EXPECT_TRUE(c->Start().ok());
    return c;
  };
  Deliveries got1, got2;
  auto c1 = make(dir1.path(), got1);
  auto c2 = make(dir2.path(), got2);
  EXPECT_TRUE(got1.WaitAll(first)) << got1.Missing(first).size() << " missing at c1";
  EXPECT_TRUE(got2.WaitAll(first)) << got2.Missing(first).size() << " missing at c2";
  EXPECT_EQ(c1->AssignedQueues().size(), 8u);  // every queue, no retry topic
  c1->Shutdown();

  // The offset file: every queue at its end.
  const std::string path = dir1.path() + "/" + group + "/offsets.json";
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  ASSERT_TRUE(j.is_object() && j["offsetTable"].is_array()) << ss.str();
  std::map<MessageQueue, int64_t> file;
  for (const auto& e : j["offsetTable"]) {
    file[{e["topic"].get<std::string>(), e["brokerName"].get<std::string>(),
          e["queueId"].get<int32_t>()}] = e["offset"].get<int64_t>();
  }
  for (int i = 0; i < 2; ++i) {
    for (int q = 0; q < 4; ++q) {
      const MessageQueue mq{topic, cluster_->broker_name(i), q};
      EXPECT_EQ(file[mq], MaxQueueOffset(i, topic, q)) << mq.ToString();
    }
  }
  // Broadcasting keeps nothing on the broker.
  EXPECT_FALSE(cluster_->broker(0).offsets().Query(group, topic, 0).has_value());

  // Restarted on the same directory: only what was sent since.
  Deliveries again;
  auto c1b = make(dir1.path(), again);
  std::set<std::string> second;
  for (int i = 0; i < 24; ++i) {
    second.insert(SendOk(Message{.topic = topic, .body = fmt::format("b2-{}", i)}).msg_id);
  }
  EXPECT_TRUE(again.WaitAll(second)) << again.Missing(second).size() << " missing";
  EXPECT_TRUE(got2.WaitAll(second)) << got2.Missing(second).size() << " missing at c2";
  // Each queue got new messages after its old ones, so a re-consumed old one would have arrived
  // before the last new one of its queue.
  for (const MessageExt& m : again.All()) {
    EXPECT_EQ(first.count(m.msg_id), 0u) << "re-consumed " << m.msg_id;
  }
  EXPECT_EQ(again.Total(), second.size());
}

// 4a) "A || B" gets only A and B; the commit still moves past the filtered messages.
TEST_F(PushConsumerTest, TagFilterDeliversOnlyMatchingTags) {
  const std::string topic = "PushTags";
  const std::string group = "CG_PushTags";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 4).ok());
  std::set<std::string> want;
  for (int i = 0; i < 90; ++i) {
    const std::string tag = i % 3 == 0 ? "A" : i % 3 == 1 ? "B" : "C";
    SendResult r = SendOk(Message{.topic = topic, .body = std::to_string(i), .tags = tag});
    if (tag != "C") want.insert(r.msg_id);
  }
  // The last messages of every queue are filtered out.
  for (const MessageQueue& q : AllQueues(topic, 4)) {
    SendOk(Message{.topic = topic, .body = "tail", .tags = "C"}, q);
  }
  Deliveries got;
  PushConsumer c(Fast(group));
  ASSERT_TRUE(c.Subscribe(topic, "A || B").ok());
  c.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
    got.Add(msgs);
    return ConsumeStatus::kSuccess;
  });
  ASSERT_TRUE(c.Start().ok());
  EXPECT_TRUE(got.WaitAll(want)) << got.Missing(want).size() << " missing";
  EXPECT_TRUE(WaitCommittedToEnd(group, topic, 4)) << "the commit stopped before filtered tails";
  c.Shutdown();
  for (const MessageExt& m : got.All()) EXPECT_TRUE(m.tags == "A" || m.tags == "B") << m.tags;
  EXPECT_EQ(got.Distinct(), want.size());
}

// 4b) A new group: FIRST reads the backlog. LAST in clustering mode also starts at 0 here: as
// RocketMQ's broker does, Stele answers 0 for a group without a commit while the queue's first
// message is in memory. Broadcasting has no broker-side offsets, so LAST means the queue's end.
TEST_F(PushConsumerTest, ConsumeFromWhereForNewGroup) {
  const std::string topic = "PushFromWhere";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 2).ok());
  std::set<std::string> backlog;
  for (int i = 0; i < 20; ++i) {
    backlog.insert(SendOk(Message{.topic = topic, .body = fmt::format("old-{}", i)}).msg_id);
  }
  auto start = [&](PushConsumerOptions o, Deliveries& d) {
    auto c = std::make_unique<PushConsumer>(o);
    EXPECT_TRUE(c->Subscribe(topic).ok());
    c->RegisterListener([&d](const std::vector<MessageExt>& msgs, ConsumeContext&) {
      d.Add(msgs);
      return ConsumeStatus::kSuccess;
    });
    EXPECT_TRUE(c->Start().ok());
    return c;
  };
  Deliveries first, last, bcast_last;
  PushConsumerOptions of = Fast("CG_FromFirst");
  of.consume_from_where = ConsumeFromWhere::kFirstOffset;
  PushConsumerOptions ol = Fast("CG_FromLast");
  ol.consume_from_where = ConsumeFromWhere::kLastOffset;
  PushConsumerOptions ob = Fast("CG_FromLastBroadcast");
  ob.consume_from_where = ConsumeFromWhere::kLastOffset;
  ob.model = MessageModel::kBroadcasting;
  stele::testing::TempDir dir;
  ob.offset_store_dir = dir.path();
  auto cf = start(of, first);
  auto cl = start(ol, last);
  auto cb = start(ob, bcast_last);
  // The broadcasting consumer has picked its start offsets once it holds the queues.
  ASSERT_TRUE(WaitUntil([&] { return QueuesOf(*cb, topic).size() == 4; }));
  std::set<std::string> fresh;
  for (int i = 0; i < 8; ++i) {
    fresh.insert(SendOk(Message{.topic = topic, .body = fmt::format("new-{}", i)}).msg_id);
  }
  EXPECT_TRUE(first.WaitAll(backlog));
  EXPECT_TRUE(first.WaitAll(fresh));
  EXPECT_TRUE(last.WaitAll(backlog)) << "clustering LAST: the broker's in-memory rule";
  EXPECT_TRUE(last.WaitAll(fresh));
  EXPECT_TRUE(bcast_last.WaitAll(fresh));
  for (const MessageExt& m : bcast_last.All()) {
    EXPECT_EQ(backlog.count(m.msg_id), 0u) << "broadcast LAST consumed the backlog: " << m.body;
  }
}

// 4c) The same groups on a queue whose start was deleted by retention (min offset > 0): there the
// broker has no answer for a new group, and the client's consume_from_where decides. LAST starts
// at the queue's end; FIRST asks for 0, is told the offset moved, and reads what is left.

TEST_F(PushConsumerRetentionTest, ConsumeFromWhereAfterRetention) {
  const std::string topic = "PushRetention";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 1).ok());
  const MessageQueue q{topic, cluster_->broker_name(0), 0};
  std::set<std::string> old;
  const int64_t min = FillAndExpire(q, &old);
  if (HasFatalFailure()) return;
  std::set<std::string> left;
  for (const auto& m : cluster_->ReadTopic(topic)) left.insert(*m.Property(prop::kUniqKey));
  ASSERT_LT(left.size(), old.size());

  auto start = [&](ConsumeFromWhere where, const std::string& group, Deliveries& d) {
    PushConsumerOptions o = Fast(group);
    o.consume_from_where = where;
    auto c = std::make_unique<PushConsumer>(o);
    EXPECT_TRUE(c->Subscribe(topic).ok());
    c->RegisterListener([&d](const std::vector<MessageExt>& msgs, ConsumeContext&) {
      d.Add(msgs);
      return ConsumeStatus::kSuccess;
    });
    EXPECT_TRUE(c->Start().ok());
    return c;
  };
  Deliveries first, last;
  auto cf = start(ConsumeFromWhere::kFirstOffset, "CG_RetFirst", first);
  auto cl = start(ConsumeFromWhere::kLastOffset, "CG_RetLast", last);
  // Both hold the queue, so their start offsets are chosen, before anything new is sent.
  ASSERT_TRUE(WaitUntil(
      [&] { return QueuesOf(*cf, topic).size() == 1 && QueuesOf(*cl, topic).size() == 1; }));
  std::set<std::string> fresh;
  for (int i = 0; i < 5; ++i) {
    fresh.insert(SendOk(Message{.topic = topic, .body = fmt::format("new-{}", i)}, q).msg_id);
  }
  EXPECT_TRUE(last.WaitAll(fresh)) << last.Missing(fresh).size() << " missing";
  EXPECT_TRUE(first.WaitAll(fresh)) << first.Missing(fresh).size() << " missing";
  EXPECT_TRUE(first.WaitAll(left)) << first.Missing(left).size() << " retained messages missing";
  EXPECT_EQ(last.Total(), fresh.size()) << "LAST consumed retained messages";
  for (const MessageExt& m : first.All()) {
    EXPECT_GE(m.queue_offset, min);
  }
}

// 5) RECONSUME_LATER: the message comes back through %RETRY%<group> with its topic restored and
// its reconsume count raised; past max_reconsume_times it lands in %DLQ%<group>.
TEST_F(PushConsumerTest, ReconsumeLaterRetriesThenDeadLetters) {
  const std::string topic = "PushRetry";
  const std::string group = "CG_PushRetry";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 2).ok());
  Deliveries got;
  std::mutex mu;
  std::map<std::string, int> attempts;
  PushConsumer c(Fast(group));
  ASSERT_TRUE(c.Subscribe(topic).ok());
  c.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
    got.Add(msgs);
    std::lock_guard l(mu);
    for (const MessageExt& m : msgs) {
      if (m.keys == "flaky" && ++attempts[m.msg_id] <= 2) return ConsumeStatus::kReconsumeLater;
    }
    return ConsumeStatus::kSuccess;
  });
  ASSERT_TRUE(c.Start().ok());
  SendResult ok = SendOk(Message{.topic = topic, .body = "fine", .keys = "fine"});
  Message flaky_msg{.topic = topic, .body = "flaky body", .tags = "T", .keys = "flaky"};
  flaky_msg.properties["p"] = "v";
  SendResult flaky = SendOk(flaky_msg);
  ASSERT_TRUE(WaitUntil([&] { return got.Counts()[flaky.msg_id] >= 3; }, kConsumeLimit))
      << "flaky delivered " << got.Counts()[flaky.msg_id] << " time(s)";
  std::vector<MessageExt> tries;
  for (const MessageExt& m : got.All()) {
    if (m.msg_id == flaky.msg_id) tries.push_back(m);
  }
  ASSERT_GE(tries.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(tries[i].topic, topic) << i;
    EXPECT_EQ(tries[i].body, "flaky body") << i;
    EXPECT_EQ(tries[i].tags, "T") << i;
    EXPECT_EQ(tries[i].keys, "flaky") << i;
    ASSERT_NE(tries[i].Property("p"), nullptr);
    EXPECT_EQ(*tries[i].Property("p"), "v");
    EXPECT_EQ(tries[i].reconsume_times, static_cast<int>(i)) << i;
  }
  // The retries were pulled from the retry topic (the broker records where it came from).
  ASSERT_NE(tries[1].Property(prop::kRetryTopic), nullptr);
  EXPECT_EQ(*tries[1].Property(prop::kRetryTopic), topic);
  EXPECT_TRUE(got.Has(ok.msg_id));
  EXPECT_TRUE(cluster_->ReadTopic("%DLQ%" + group).empty());
  // Consumed after two retries: the retry queue's commit moves past it.
  c.Shutdown();
  EXPECT_EQ(got.Counts()[flaky.msg_id], 3);

  // A message that always fails, with one retry allowed: two deliveries, then the DLQ.
  const std::string dlq_group = "CG_PushDlq";
  Deliveries dgot;
  PushConsumerOptions o = Fast(dlq_group);
  o.max_reconsume_times = 1;
  PushConsumer d(o);
  ASSERT_TRUE(d.Subscribe(topic).ok());
  d.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
    dgot.Add(msgs);
    for (const MessageExt& m : msgs) {
      if (m.keys == "poison") return ConsumeStatus::kReconsumeLater;
    }
    return ConsumeStatus::kSuccess;
  });
  ASSERT_TRUE(d.Start().ok());
  SendResult poison = SendOk(Message{.topic = topic, .body = "poison body", .keys = "poison"});
  auto dead = cluster_->WaitForStored("%DLQ%" + dlq_group, 1, kConsumeLimit);
  ASSERT_TRUE(dead.ok()) << dead.status();
  ASSERT_EQ(dead->size(), 1u);
  const std::string* uniq = (*dead)[0].Property(prop::kUniqKey);
  ASSERT_NE(uniq, nullptr);
  EXPECT_EQ(*uniq, poison.msg_id);
  EXPECT_EQ((*dead)[0].body, "poison body");
  const std::string* origin = (*dead)[0].Property(prop::kRetryTopic);
  ASSERT_NE(origin, nullptr);
  EXPECT_EQ(*origin, topic);
  EXPECT_EQ(dgot.Counts()[poison.msg_id], 2);
  d.Shutdown();
  EXPECT_EQ(dgot.Counts()[poison.msg_id], 2) << "consumed again after it went to the DLQ";
}

// 7a) Orderly: per sharding key, in send order; SUSPEND retries the same message first.
TEST_F(PushConsumerTest, OrderlyKeepsSendOrderAndSuspendRetriesSameMessage) {
  const std::string topic = "PushOrderly";
  const std::string group = "CG_PushOrderly";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 4).ok());
  constexpr int kKeys = 5;
  constexpr int kPerKey = 40;
  std::mutex mu;
  std::map<std::string, std::vector<std::pair<int, int>>> seen;  // key -> (seq, reconsume)
  int suspends = 0;
  PushConsumerOptions o = Fast(group);
  o.consume_threads = 3;
  PushConsumer c(o);
  ASSERT_TRUE(c.Subscribe(topic).ok());
  c.RegisterOrderlyListener([&](const std::vector<MessageExt>& msgs, ConsumeContext& ctx) {
    std::lock_guard l(mu);
    for (const MessageExt& m : msgs) {
      seen[m.keys].push_back({std::stoi(m.body), m.reconsume_times});
      if (m.keys == "key-2" && m.body == "7" && suspends < 2) {
        ++suspends;
        ctx.suspend_time = 50ms;
        return OrderlyStatus::kSuspendCurrentQueueAMoment;
      }
    }
    return OrderlyStatus::kSuccess;
  });
  ASSERT_TRUE(c.Start().ok());
  for (int i = 0; i < kPerKey; ++i) {
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = fmt::format("key-{}", k);
      auto r = producer_->SendOrderly(
          Message{.topic = topic, .body = std::to_string(i), .keys = key}, key);
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard l(mu);
        size_t n = 0;
        for (const auto& [k, v] : seen) n += v.size();
        return n >= kKeys * kPerKey + 2;
      },
      kConsumeLimit));
  c.Shutdown();
  std::lock_guard l(mu);
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = fmt::format("key-{}", k);
    std::vector<int> seqs;
    for (const auto& [s, r] : seen[key]) seqs.push_back(s);
    std::vector<int> want;
    for (int i = 0; i < kPerKey; ++i) {
      want.push_back(i);
      if (k == 2 && i == 7) want.insert(want.end(), {7, 7});  // two suspends: the same again
    }
    EXPECT_EQ(seqs, want) << key;
  }
  // The retried message carries its local reconsume count.
  std::vector<int> recons;
  for (const auto& [s, r] : seen["key-2"]) {
    if (s == 7) recons.push_back(r);
  }
  EXPECT_EQ(recons, (std::vector<int>{0, 1, 2}));
}

// 7b) Orderly across a consumer restart: the next consumer of the group resumes each queue where
// the first committed, in order, nothing lost and (after a clean shutdown) nothing repeated.
TEST_F(PushConsumerTest, OrderlyAcrossConsumerRestartKeepsOrder) {
  const std::string topic = "PushOrderlyRestart";
  const std::string group = "CG_PushOrderlyRestart";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 4).ok());
  constexpr int kKeys = 6;
  constexpr int kPerKey = 60;
  std::mutex mu;
  std::map<std::string, std::vector<int>> seen_a, seen_b;
  std::atomic<int> total_a{0};
  auto make = [&](std::map<std::string, std::vector<int>>& seen, std::atomic<int>* total) {
    PushConsumerOptions o = Fast(group);
    o.consume_threads = 3;
    auto c = std::make_unique<PushConsumer>(o);
    EXPECT_TRUE(c->Subscribe(topic).ok());
    c->RegisterOrderlyListener([&, total](const std::vector<MessageExt>& msgs, ConsumeContext&) {
      {
        std::lock_guard l(mu);
        for (const MessageExt& m : msgs) seen[m.keys].push_back(std::stoi(m.body));
      }
      if (total != nullptr) {
        total->fetch_add(static_cast<int>(msgs.size()));
        std::this_thread::sleep_for(2ms);  // slow enough to be stopped half way
      }
      return OrderlyStatus::kSuccess;
    });
    EXPECT_TRUE(c->Start().ok());
    return c;
  };
  for (int i = 0; i < kPerKey; ++i) {
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = fmt::format("key-{}", k);
      auto r = producer_->SendOrderly(
          Message{.topic = topic, .body = std::to_string(i), .keys = key}, key);
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }
  auto a = make(seen_a, &total_a);
  ASSERT_TRUE(WaitUntil([&] { return total_a.load() >= kKeys * kPerKey / 3; }, kConsumeLimit));
  a->Shutdown();
  auto b = make(seen_b, nullptr);
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard l(mu);
        for (int k = 0; k < kKeys; ++k) {
          const std::string key = fmt::format("key-{}", k);
          const auto& va = seen_a[key];
          const auto& vb = seen_b[key];
          const int last = !vb.empty() ? vb.back() : !va.empty() ? va.back() : -1;
          if (last != kPerKey - 1) return false;
        }
        return true;
      },
      kConsumeLimit));
  b->Shutdown();
  std::lock_guard l(mu);
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = fmt::format("key-{}", k);
    std::vector<int> joined = seen_a[key];
    joined.insert(joined.end(), seen_b[key].begin(), seen_b[key].end());
    std::vector<int> want(kPerKey);
    for (int i = 0; i < kPerKey; ++i) want[static_cast<size_t>(i)] = i;
    EXPECT_EQ(joined, want) << key << ": a consumed " << seen_a[key].size() << ", b "
                            << seen_b[key].size();
  }
}

// 7c) Orderly queues handed over on a join: the leaving owner commits its last listener call
// before it unlocks, so the new owner continues each queue exactly where it stopped.
TEST_F(PushConsumerTest, OrderlyHandOverOnJoinRepeatsNothing) {
  const std::string topic = "PushOrderlyJoin";
  const std::string group = "CG_PushOrderlyJoin";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 4).ok());
  constexpr int kKeys = 8;
  constexpr int kPerKey = 50;
  std::mutex mu;
  std::map<std::string, std::vector<int>> seen_a, seen_b;
  std::atomic<int> total{0};
  auto make = [&](std::map<std::string, std::vector<int>>& seen) {
    PushConsumerOptions o = Fast(group);
    o.consume_threads = 4;
    auto c = std::make_unique<PushConsumer>(o);
    EXPECT_TRUE(c->Subscribe(topic).ok());
    c->RegisterOrderlyListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
      {
        std::lock_guard l(mu);
        for (const MessageExt& m : msgs) seen[m.keys].push_back(std::stoi(m.body));
      }
      total.fetch_add(static_cast<int>(msgs.size()));
      std::this_thread::sleep_for(3ms);  // still busy when the second consumer joins
      return OrderlyStatus::kSuccess;
    });
    EXPECT_TRUE(c->Start().ok());
    return c;
  };
  for (int i = 0; i < kPerKey; ++i) {
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = fmt::format("key-{}", k);
      auto r = producer_->SendOrderly(
          Message{.topic = topic, .body = std::to_string(i), .keys = key}, key);
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }
  auto a = make(seen_a);
  ASSERT_TRUE(WaitUntil([&] { return total.load() >= kKeys * kPerKey / 5; }, kConsumeLimit));
  auto b = make(seen_b);
  ASSERT_TRUE(WaitUntil([&] { return !QueuesOf(*b, topic).empty(); }, kConsumeLimit));
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard l(mu);
        for (int k = 0; k < kKeys; ++k) {
          const std::string key = fmt::format("key-{}", k);
          const auto& vb = seen_b[key];
          const auto& va = seen_a[key];
          if ((vb.empty() ? va.empty() ? -1 : va.back() : vb.back()) != kPerKey - 1) return false;
        }
        return true;
      },
      kConsumeLimit));
  b->Shutdown();
  a->Shutdown();
  std::lock_guard l(mu);
  int moved = 0;
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = fmt::format("key-{}", k);
    std::vector<int> joined = seen_a[key];
    joined.insert(joined.end(), seen_b[key].begin(), seen_b[key].end());
    std::vector<int> want(kPerKey);
    for (int i = 0; i < kPerKey; ++i) want[static_cast<size_t>(i)] = i;
    EXPECT_EQ(joined, want) << key << ": a consumed " << seen_a[key].size() << ", b "
                            << seen_b[key].size();
    if (!seen_a[key].empty() && !seen_b[key].empty()) ++moved;
  }
  EXPECT_GT(moved, 0) << "no queue changed hands mid-stream; the test proved nothing";
}

// 7d) Orderly with batches: a message past its retry budget goes to the DLQ while the rest of
// its batch (messages that arrived during the suspension) is retried and consumed in order.
TEST_F(PushConsumerTest, OrderlyBatchSendsOnlyTheSpentMessageToDlq) {
  const std::string topic = "PushOrderlyDlq";
  const std::string group = "CG_PushOrderlyDlq";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 1).ok());
  const MessageQueue q{topic, cluster_->broker_name(0), 0};
  std::mutex mu;
  std::vector<std::vector<std::string>> calls;  // bodies per listener call
  PushConsumerOptions o = Fast(group);
  o.consume_batch_size = 4;
  o.max_reconsume_times = 1;
  PushConsumer c(o);
  ASSERT_TRUE(c.Subscribe(topic).ok());
  c.RegisterOrderlyListener([&](const std::vector<MessageExt>& msgs, ConsumeContext& ctx) {
    std::lock_guard l(mu);
    calls.emplace_back();
    bool poison = false;
    for (const MessageExt& m : msgs) {
      calls.back().push_back(m.body);
      poison = poison || m.body == "poison";
    }
    ctx.suspend_time = 500ms;
    return poison ? OrderlyStatus::kSuspendCurrentQueueAMoment : OrderlyStatus::kSuccess;
  });
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return QueuesOf(c, topic).size() == 2; }));
  SendResult poison = SendOk(Message{.topic = topic, .body = "poison"}, q);
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard l(mu);
    return !calls.empty();
  }));
  // Sent while the poison message is suspended: the retry takes them in the same batch.
  SendOk(Message{.topic = topic, .body = "ok-1"}, q);
  SendOk(Message{.topic = topic, .body = "ok-2"}, q);
  auto dead = cluster_->WaitForStored("%DLQ%" + group, 1, kConsumeLimit);
  ASSERT_TRUE(dead.ok()) << dead.status();
  EXPECT_EQ(*(*dead)[0].Property(prop::kUniqKey), poison.msg_id);
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard l(mu);
        return !calls.empty() && calls.back() == std::vector<std::string>{"ok-1", "ok-2"};
      },
      kConsumeLimit));
  c.Shutdown();
  std::lock_guard l(mu);
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls.front(), std::vector<std::string>{"poison"});
  // Every call before the last held the poison message, first; it was never consumed after it
  // went to the DLQ.
  for (size_t i = 0; i + 1 < calls.size(); ++i) EXPECT_EQ(calls[i].front(), "poison") << i;
  EXPECT_EQ(cluster_->broker(0).offsets().Query(group, topic, 0), std::optional<int64_t>(3));
}

// 8) A broker restarts under a running consumer: it keeps consuming without being restarted and
// every acknowledged message is consumed.
TEST_F(PushConsumerTest, BrokerRestartUnderRunningConsumer) {
  const std::string topic = "PushBrokerRestart";
  const std::string group = "CG_PushBrokerRestart";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 4).ok());
  Deliveries got;
  PushConsumer c(Fast(group));
  ASSERT_TRUE(c.Subscribe(topic).ok());
  c.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
    got.Add(msgs);
    return ConsumeStatus::kSuccess;
  });
  ASSERT_TRUE(c.Start().ok());
  SteadyProducer steady(*producer_, topic);
  ASSERT_TRUE(WaitUntil([&] { return steady.acked_count() >= 100; }));
  ASSERT_TRUE(cluster_->RestartBroker(0).ok());
  // Sent to the restarted broker's queues explicitly, so the test does not depend on the
  // producer's fault-tolerant routing going back to it. The producer is not restarted: it
  // reconnects by itself, at the latest when its reconnect back-off (capped at 2 s) ends, so a
  // send right after the restart may still fail fast, and is repeated until then.
  std::set<std::string> after;
  for (int i = 0; i < 4; ++i) {
    const MessageQueue q{topic, cluster_->broker_name(0), i};
    std::string id;
    EXPECT_TRUE(WaitUntil(
        [&] {
          auto r = producer_->Send(Message{.topic = topic, .body = "after"}, q);
          if (r.ok()) id = r->msg_id;
          return r.ok();
        },
        10s))
        << "no send to " << q.ToString() << " succeeded after the restart";
    if (!id.empty()) after.insert(id);
  }
  const size_t n = steady.acked_count();
  ASSERT_TRUE(WaitUntil([&] { return steady.acked_count() >= n + 100; }));
  steady.Stop();
  std::set<std::string> acked = steady.Acked();
  acked.insert(after.begin(), after.end());
  EXPECT_TRUE(got.WaitAll(acked)) << got.Missing(acked).size() << " of " << acked.size()
                                  << " acknowledged messages never consumed";
  EXPECT_EQ(QueuesOf(c, topic), AllQueues(topic, 4));
}

}  // namespace
}  // namespace stele::client
