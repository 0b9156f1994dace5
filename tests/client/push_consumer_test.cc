// The push consumer against an in-process cluster (one name server, two brokers, SYNC_FLUSH):
// real Producer and PushConsumer instances, with the consumer's intervals shortened so that
// rebalancing, offset commits and retries happen within a test's time. Every wait is bounded.
#include "stele/client/push_consumer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/consumer_common.h"
#include "cluster_fixture.h"
#include "fmt/format.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "nlohmann/json.hpp"
#include "stele/client/producer.h"

namespace stele::client {
namespace {

using namespace std::chrono_literals;
using stele::testing::WaitUntil;
namespace rc = remoting::response;

constexpr auto kConsumeLimit = 40s;  // generous: two shared cores, sanitizers

// Every delivery a listener saw, in arrival order. Thread-safe.
class Deliveries {
 public:
  void Add(const std::vector<MessageExt>& msgs) {
    std::lock_guard l(mu_);
    for (const MessageExt& m : msgs) {
      all_.push_back(m);
      ++count_[m.msg_id];
    }
  }
  size_t Distinct() const {
    std::lock_guard l(mu_);
    return count_.size();
  }
  size_t Total() const {
    std::lock_guard l(mu_);
    return all_.size();
  }
  bool Has(const std::string& id) const {
    std::lock_guard l(mu_);
    return count_.count(id) != 0;
  }
  std::vector<MessageExt> All() const {
    std::lock_guard l(mu_);
    return all_;
  }
  std::map<std::string, int> Counts() const {
    std::lock_guard l(mu_);
    return count_;
  }
  // Until every id in `ids` was delivered at least once.
  bool WaitAll(const std::set<std::string>& ids, std::chrono::milliseconds limit = kConsumeLimit) {
    return WaitUntil(
        [&] {
          std::lock_guard l(mu_);
          return std::all_of(ids.begin(), ids.end(),
                             [&](const std::string& id) { return count_.count(id) != 0; });
        },
        limit);
  }
  std::vector<std::string> Missing(const std::set<std::string>& ids) const {
    std::lock_guard l(mu_);
    std::vector<std::string> out;
    for (const std::string& id : ids) {
      if (count_.count(id) == 0) out.push_back(id);
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<MessageExt> all_;
  std::map<std::string, int> count_;
};

// A gate listeners wait at until the test opens it (bounded, so a failing test cannot hang).
class Gate {
 public:
  void Open() {
    std::lock_guard l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Pass() {
    std::unique_lock l(mu_);
    cv_.wait_for(l, 60s, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Sends to `topic` from its own thread until stopped, remembering what the brokers acknowledged.
// Failed sends (a broker restarting) are counted, not retried: they were never acknowledged.
class SteadyProducer {
 public:
  SteadyProducer(Producer& p, std::string topic) : p_(p), topic_(std::move(topic)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SteadyProducer() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  std::set<std::string> Acked() const {
    std::lock_guard l(mu_);
    return acked_;
  }
  size_t acked_count() const {
    std::lock_guard l(mu_);
    return acked_.size();
  }

 private:
  void Run() {
    for (int i = 0; !stop_.load(); ++i) {
      auto r = p_.Send(Message{.topic = topic_, .body = fmt::format("steady-{}", i)});
      if (r.ok()) {
        std::lock_guard l(mu_);
        acked_.insert(r->msg_id);
      }
      std::this_thread::sleep_for(2ms);
    }
  }
  Producer& p_;
  const std::string topic_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::set<std::string> acked_;
  std::thread thread_;
};

class PushConsumerTest : public stele::testing::ClusterTest {
 protected:
  stele::testing::ClusterOptions Options() const override {
    stele::testing::ClusterOptions o;
    o.brokers = 2;
    // Retries come back after 100 ms instead of RocketMQ's 10 s, 30 s, 1 min...
    o.tweak = [](int, broker::BrokerConfig& c) { c.message_delay_level_ms.assign(18, 100); };
    return o;
  }
  void SetUp() override {
    ClusterTest::SetUp();
    if (HasFatalFailure()) return;
    ProducerOptions po;
    po.group = "PG_PushConsumerTest";
    po.namesrv_addr = cluster_->namesrv_addr();
    po.poll_name_server_interval = 1s;
    producer_ = std::make_unique<Producer>(po);
    ASSERT_TRUE(producer_->Start().ok());
  }
  void TearDown() override {
    producer_.reset();
    query_.Shutdown();
    ClusterTest::TearDown();
  }

  // Short intervals everywhere, so that nothing waits on RocketMQ's 20 s / 30 s defaults.
  PushConsumerOptions Fast(const std::string& group) const {
    PushConsumerOptions o;
    o.group = group;
    o.namesrv_addr = cluster_->namesrv_addr();
    o.consume_from_where = ConsumeFromWhere::kFirstOffset;
    o.suspend_time = 100ms;
    o.long_poll_timeout = 1s;
    o.persist_offset_interval = 200ms;
    o.rebalance_interval = 1s;
    o.lock_interval = 1s;
    o.pull_delay_on_error = 200ms;
    o.poll_name_server_interval = 1s;
    o.heartbeat_interval = 1s;
    return o;
  }

  SendResult SendOk(const Message& m) {
    auto r = producer_->Send(m);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SendResult{};
  }
  SendResult SendOk(const Message& m, const MessageQueue& q) {
    auto r = producer_->Send(m, q);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SendResult{};
  }

  // QUERY_CONSUMER_OFFSET on broker i, as any client asks it; -1 when the broker has none.
  int64_t CommittedOffset(int i, const std::string& group, const std::string& topic, int qid) {
    remoting::RemotingCommand req =
        remoting::RemotingCommand::Request(remoting::request::kQueryConsumerOffset);
    req.Set("consumerGroup", group);
    req.Set("topic", topic);
    req.Set("queueId", int64_t{qid});
    auto resp = query_.InvokeSync(cluster_->broker_addr(i), std::move(req), 5s);
    EXPECT_TRUE(resp.ok()) << resp.status();
    if (!resp.ok() || resp->code != rc::kSuccess) return -1;
    auto off = resp->RequireInt("offset");
    return off.ok() ? *off : -1;
  }
  int64_t MaxQueueOffset(int i, const std::string& topic, int qid) {
    return cluster_->broker(i).store().MaxQueueOffset(topic, qid);
  }
  // Until every queue of `topic` on every broker has `group`'s commit at its max offset.
  bool WaitCommittedToEnd(const std::string& group, const std::string& topic, int queues) {
    return WaitUntil([&] {
      for (int i = 0; i < cluster_->broker_count(); ++i) {
        for (int q = 0; q < queues; ++q) {
          if (CommittedOffset(i, group, topic, q) != MaxQueueOffset(i, topic, q)) return false;
        }
      }
      return true;
    });
  }

  std::vector<MessageQueue> AllQueues(const std::string& topic, int per_broker) const {
    std::vector<MessageQueue> out;
    for (int i = 0; i < cluster_->broker_count(); ++i) {
      for (int q = 0; q < per_broker; ++q) out.push_back({topic, cluster_->broker_name(i), q});
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::vector<MessageQueue> QueuesOf(const PushConsumer& c, const std::string& topic) {
    std::vector<MessageQueue> out;
    for (MessageQueue& q : c.AssignedQueues()) {
      if (q.topic == topic) out.push_back(std::move(q));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::unique_ptr<Producer> producer_;
  remoting::RemotingClient query_;
};

std::string RandomBody(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

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
class PushConsumerRetentionTest : public PushConsumerTest {
 protected:
  stele::testing::ClusterOptions Options() const override {
    stele::testing::ClusterOptions o = PushConsumerTest::Options();
    o.brokers = 1;
    o.tweak = [](int, broker::BrokerConfig& c) {
      c.store.file_reserved_time_hours = 0;  // every full segment is expired at once
    };
    return o;
  }
};

TEST_F(PushConsumerRetentionTest, ConsumeFromWhereAfterRetention) {
  const std::string topic = "PushRetention";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 1).ok());
  const MessageQueue q{topic, cluster_->broker_name(0), 0};
  // ~330 KB into 256 KiB commit-log segments: the first segment fills and can be deleted.
  std::set<std::string> old;
  for (int i = 0; i < 300; ++i) {
    old.insert(SendOk(Message{.topic = topic, .body = std::string(1000, 'a' + i % 26)}, q).msg_id);
  }
  auto cleaned = cluster_->broker(0).store().CleanExpiredFiles(true);
  ASSERT_TRUE(cleaned.ok()) << cleaned.status();
  const int64_t min = cluster_->broker(0).store().MinQueueOffset(topic, 0);
  ASSERT_GT(min, 0) << "retention deleted no consume-queue file (" << cleaned->segments_deleted
                    << " segment(s))";
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

// 6) Flow control: with a blocked listener the consumer caches about pull_threshold_for_queue
// messages, not the whole backlog. Observed by stopping the broker while the listener is blocked:
// what is delivered after unblocking can only come from the cache.
TEST_F(PushConsumerTest, FlowControlBoundsTheCache) {
  const std::string topic = "PushFlow";
  const std::string group = "CG_PushFlow";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 1).ok());
  const MessageQueue q{topic, cluster_->broker_name(0), 0};
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    ids.insert(SendOk(Message{.topic = topic, .body = fmt::format("f-{}", i)}, q).msg_id);
  }
  constexpr int kThreshold = 10;
  constexpr int kBatch = 4;
  Deliveries got;
  Gate gate;
  PushConsumerOptions o = Fast(group);
  o.pull_threshold_for_queue = kThreshold;
  o.pull_batch_size = kBatch;
  o.consume_threads = 1;
  // No periodic rebalance: while broker 0 is down its queue must stay assigned (a rebalance would
  // drop it, and with it the cache this test observes).
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
  // The window: without flow control the consumer would pull all 200 (50 pulls of 4 from a local
  // broker) well within it.
  std::this_thread::sleep_for(1s);
  cluster_->StopBroker(0);
  gate.Open();
  // The cache drains: at least past the threshold (pulling went on up to it)...
  EXPECT_TRUE(WaitUntil([&] { return got.Total() > static_cast<size_t>(kThreshold); }))
      << got.Total();
  std::this_thread::sleep_for(300ms);  // (the rest of the cache is delivered within ms)
  // ...and no further than one pull batch beyond it.
  EXPECT_LE(got.Total(), static_cast<size_t>(kThreshold + kBatch));
  // The broker comes back; the consumer resumes without a restart and gets everything.
  ASSERT_TRUE(cluster_->RestartBroker(0).ok());
  EXPECT_TRUE(got.WaitAll(ids)) << got.Missing(ids).size() << " missing";
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
  // producer's fault-tolerant routing going back to it.
  std::set<std::string> after;
  for (int i = 0; i < 4; ++i) {
    after.insert(
        SendOk(Message{.topic = topic, .body = "after"}, {topic, cluster_->broker_name(0), i})
            .msg_id);
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
