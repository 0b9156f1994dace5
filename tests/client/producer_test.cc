// The producer against an in-process cluster (one name server, two brokers, SYNC_FLUSH): what it
// sends is read back from the brokers' stores. Broker failures: producer_failover_test.cc.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/wire.h"
#include "fmt/format.h"
#include "index/java_hash.h"
#include "net/broker/message_writer.h"
#include "net/broker/state/names.h"
#include "producer_test_util.h"

namespace stele::client::producer_test {
namespace {

using namespace std::chrono_literals;

TEST_F(ProducerTest, SyncSendIsStoredWithEverything) {
  Producer& p = Started();
  Message m{.topic = kTopic, .body = "hello", .tags = "TagA", .keys = "key1 key2"};
  m.properties["color"] = "blue";
  m.flag = 5;
  auto r = p.Send(m);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, SendStatus::kSendOk);
  EXPECT_TRUE(IsMsgId(r->msg_id)) << r->msg_id;
  EXPECT_EQ(r->queue.topic, kTopic);
  const int b = BrokerIndex(r->queue.broker_name);
  ASSERT_GE(b, 0) << r->queue.broker_name;
  EXPECT_GE(r->queue.queue_id, 0);
  EXPECT_LT(r->queue.queue_id, kQueues);

  // The broker's id names the stored record: its store host and commit-log offset.
  const auto host = HostAddress::Parse(cluster_->broker_addr(b));
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(r->offset_msg_id.substr(0, 16), OffsetMsgId(*host, 0).substr(0, 16));
  auto rec = cluster_->broker(b).store().LookupMessageId(r->offset_msg_id);
  ASSERT_TRUE(rec.ok()) << rec.status();
  const MessageView& v = rec->msg;
  EXPECT_EQ(v.topic, kTopic);
  EXPECT_EQ(v.body, "hello");
  EXPECT_EQ(v.queue_id, r->queue.queue_id);
  EXPECT_EQ(v.queue_offset, r->queue_offset);
  EXPECT_EQ(v.flag, 5);
  EXPECT_EQ(v.sys_flag & sysflag::kCompressed, 0);
  EXPECT_EQ(v.Property("TAGS"), "TagA");
  EXPECT_EQ(v.Property("KEYS"), "key1 key2");
  EXPECT_EQ(v.Property("color"), "blue");
  EXPECT_EQ(v.Property("UNIQ_KEY"), r->msg_id);
  EXPECT_NE(v.born_timestamp, 0);

  // The next message to the same queue gets the next queue offset.
  auto r2 = p.Send(Message{.topic = kTopic, .body = "second"}, r->queue);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->queue, r->queue);
  EXPECT_EQ(r2->queue_offset, r->queue_offset + 1);
  EXPECT_NE(r2->msg_id, r->msg_id);

  auto stored = cluster_->WaitForStored(kTopic, 2);
  ASSERT_TRUE(stored.ok()) << stored.status();
  auto by_id = ByUniqKey(*stored);
  ASSERT_EQ(by_id.count(r->msg_id), 1u);
  ASSERT_EQ(by_id.count(r2->msg_id), 1u);
  EXPECT_EQ(by_id[r2->msg_id].body, "second");
  EXPECT_EQ(by_id[r2->msg_id].offset_msg_id, r2->offset_msg_id);

  // A caller-chosen UNIQ_KEY is kept (Java: an id set before send is not replaced).
  Message own{.topic = kTopic, .body = "own id"};
  own.properties["UNIQ_KEY"] = "MY-OWN-ID";
  auto r3 = p.Send(own);
  ASSERT_TRUE(r3.ok()) << r3.status();
  EXPECT_EQ(r3->msg_id, "MY-OWN-ID");
}

TEST_F(ProducerTest, AsyncSendCallsBackExactlyOnceAndStoresAll) {
  Producer& p = Started();
  constexpr size_t kN = 200;
  Completions done(kN);
  for (size_t i = 0; i < kN; ++i) {
    p.SendAsync(Message{.topic = kTopic, .body = fmt::format("async-{}", i)}, done.For(i));
  }
  ASSERT_TRUE(done.Wait(30s)) << "not every callback ran";
  const auto results = done.results();
  std::set<std::string> ids;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, SendStatus::kSendOk);
    ids.insert(r->msg_id);
  }
  EXPECT_EQ(ids.size(), kN);
  auto stored = cluster_->WaitForStored(kTopic, kN);
  ASSERT_TRUE(stored.ok()) << stored.status();
  auto by_id = ByUniqKey(*stored);
  for (size_t i = 0; i < kN; ++i) {
    const auto& r = results[i];
    ASSERT_EQ(by_id.count(r->msg_id), 1u) << i;
    EXPECT_EQ(by_id[r->msg_id].body, fmt::format("async-{}", i));
    EXPECT_EQ(by_id[r->msg_id].queue_offset, r->queue_offset);
  }
  p.Shutdown();  // waits for callbacks: none may come twice, now or later
  for (int c : done.calls()) EXPECT_EQ(c, 1);
}

// "done runs exactly once" also for sends still in flight when the producer shuts down.
TEST_F(ProducerTest, ShutdownRunsEveryPendingAsyncCallback) {
  Producer& p = Started();
  ASSERT_TRUE(p.Send(Message{.topic = kTopic, .body = "warm up"}).ok());  // route cached
  constexpr size_t kN = 300;
  Completions done(kN);
  for (size_t i = 0; i < kN; ++i) {
    p.SendAsync(Message{.topic = kTopic, .body = fmt::format("late-{}", i)}, done.For(i));
  }
  p.Shutdown();
  EXPECT_TRUE(done.Wait(10s)) << "callbacks lost by Shutdown";
  size_t ok = 0;
  for (const auto& r : done.results()) ok += r.ok() ? 1 : 0;
  for (int c : done.calls()) EXPECT_EQ(c, 1);
  // Every success reported is stored.
  auto stored = cluster_->WaitForStored(kTopic, ok + 1);
  ASSERT_TRUE(stored.ok()) << stored.status();
  auto by_id = ByUniqKey(*stored);
  for (const auto& r : done.results()) {
    if (r.ok()) {
      EXPECT_EQ(by_id.count(r->msg_id), 1u);
    }
  }
  // After Shutdown, sends fail at once (and async ones still call back).
  EXPECT_TRUE(absl::IsFailedPrecondition(p.Send(Message{.topic = kTopic, .body = "x"}).status()));
  Completions after(1);
  p.SendAsync(Message{.topic = kTopic, .body = "x"}, after.For(0));
  ASSERT_TRUE(after.Wait(5s));
  EXPECT_TRUE(absl::IsFailedPrecondition(after.results()[0].status()));
}

TEST_F(ProducerTest, OnewayIsEventuallyStored) {
  Producer& p = Started();
  constexpr int kN = 30;
  for (int i = 0; i < kN; ++i) {
    absl::Status s = p.SendOneway(Message{.topic = kTopic, .body = fmt::format("oneway-{}", i)});
    ASSERT_TRUE(s.ok()) << s;
  }
  auto stored = cluster_->WaitForStored(kTopic, kN);
  ASSERT_TRUE(stored.ok()) << stored.status();
  std::set<std::string> bodies;
  for (const StoredMessage& m : *stored) {
    bodies.insert(m.body);
    EXPECT_NE(m.Property(prop::kUniqKey), nullptr);
  }
  for (int i = 0; i < kN; ++i) EXPECT_EQ(bodies.count(fmt::format("oneway-{}", i)), 1u) << i;
  EXPECT_EQ(stored->size(), static_cast<size_t>(kN));
}

TEST_F(ProducerTest, BatchIsStoredContiguouslyInOneQueue) {
  Producer& p = Started();
  std::vector<Message> batch;
  for (int i = 0; i < 10; ++i) {
    Message m{.topic = kTopic,
              .body = fmt::format("batch-{}", i),
              .tags = "B",
              .keys = fmt::format("bk{}", i)};
    m.properties["index"] = std::to_string(i);
    m.flag = i;
    batch.push_back(std::move(m));
  }
  auto r = p.SendBatch(batch);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::vector<std::string> ids = absl::StrSplit(r->msg_id, ',');
  ASSERT_EQ(ids.size(), 10u) << r->msg_id;
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 10u);
  for (const std::string& id : ids) EXPECT_TRUE(IsMsgId(id)) << id;

  auto stored = cluster_->WaitForStored(kTopic, 10);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->size(), 10u);
  auto by_id = ByUniqKey(*stored);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(by_id.count(ids[i]), 1u) << ids[i];
    const StoredMessage& m = by_id[ids[i]];
    EXPECT_EQ(m.broker_name, r->queue.broker_name);
    EXPECT_EQ(m.queue_id, r->queue.queue_id);
    EXPECT_EQ(m.queue_offset, r->queue_offset + i);
    EXPECT_EQ(m.body, fmt::format("batch-{}", i));
    EXPECT_EQ(m.flag, i);
    ASSERT_NE(m.Property("index"), nullptr);
    EXPECT_EQ(*m.Property("index"), std::to_string(i));
    EXPECT_EQ(*m.Property(prop::kKeys), fmt::format("bk{}", i));
    EXPECT_EQ(*m.Property(prop::kTags), "B");
  }
  // The offset ids name each stored record.
  const std::vector<std::string> offset_ids = absl::StrSplit(r->offset_msg_id, ',');
  ASSERT_EQ(offset_ids.size(), 10u);
  EXPECT_EQ(offset_ids[3], by_id[ids[3]].offset_msg_id);

  // What a batch may not hold.
  EXPECT_TRUE(absl::IsInvalidArgument(p.SendBatch({}).status()));
  std::vector<Message> mixed = {batch[0], Message{.topic = "OtherTopic", .body = "x"}};
  EXPECT_TRUE(absl::IsInvalidArgument(p.SendBatch(mixed).status()));
  std::vector<Message> delayed = {batch[0]};
  delayed[0].delay_level = 2;
  EXPECT_TRUE(absl::IsInvalidArgument(p.SendBatch(delayed).status()));
  std::vector<Message> empty_body = {batch[0], Message{.topic = kTopic}};
  EXPECT_TRUE(absl::IsInvalidArgument(p.SendBatch(empty_body).status()));
}

TEST_F(ProducerTest, SameShardingKeyAlwaysSameQueue) {
  Producer& p = Started();
  auto queues = p.FetchPublishQueues(kTopic);
  ASSERT_TRUE(queues.ok()) << queues.status();
  ASSERT_EQ(queues->size(), static_cast<size_t>(2 * kQueues));
  const std::vector<std::string> keys = {"order-1", "order-2", "user-42", "x", "\xe6\x97\xa5"};
  std::map<std::string, std::vector<SendResult>> sent;
  for (int round = 0; round < 8; ++round) {
    for (const std::string& k : keys) {
      auto r = p.SendOrderly(Message{.topic = kTopic, .body = fmt::format("{}:{}", k, round)}, k);
      ASSERT_TRUE(r.ok()) << r.status();
      sent[k].push_back(*r);
    }
  }
  std::set<MessageQueue> used;
  for (const std::string& k : keys) {
    // Java's SelectMessageQueueByHash: |hashCode % size|.
    int64_t idx = index::JavaStringHash(k) % static_cast<int64_t>(queues->size());
    if (idx < 0) idx = -idx;
    const MessageQueue want = (*queues)[static_cast<size_t>(idx)];
    for (size_t i = 0; i < sent[k].size(); ++i) {
      EXPECT_EQ(sent[k][i].queue, want) << k;
      if (i > 0) {
        EXPECT_GT(sent[k][i].queue_offset, sent[k][i - 1].queue_offset) << k;
      }
    }
    used.insert(want);
  }
  EXPECT_GT(used.size(), 1u);  // the keys do spread

  // A selector picks by index (modulo the queue count).
  auto r =
      p.Send(Message{.topic = kTopic, .body = "selected"},
             [](const std::vector<MessageQueue>& qs, const Message&) { return qs.size() + 5; });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->queue, (*queues)[5]);
  // An explicit queue of another topic is refused.
  EXPECT_TRUE(absl::IsInvalidArgument(
      p.Send(Message{.topic = kTopic, .body = "x"}, MessageQueue{"Other", "broker-a", 0})
          .status()));
}

TEST_F(ProducerTest, RoundRobinSpreadsOverBothBrokers) {
  ProducerOptions o = Opts();
  o.latency_fault_tolerance = false;  // a slow fdatasync must not reorder the rotation
  Producer& p = Started(o);
  constexpr int kRounds = 3;
  std::map<MessageQueue, int> per_queue;
  for (int i = 0; i < kRounds * 2 * kQueues; ++i) {
    auto r = p.Send(Message{.topic = kTopic, .body = fmt::format("rr-{}", i)});
    ASSERT_TRUE(r.ok()) << r.status();
    ++per_queue[r->queue];
  }
  ASSERT_EQ(per_queue.size(), static_cast<size_t>(2 * kQueues));
  for (const auto& [q, n] : per_queue) EXPECT_EQ(n, kRounds) << q.ToString();
  auto stored = cluster_->WaitForStored(kTopic, kRounds * 2 * kQueues);
  ASSERT_TRUE(stored.ok()) << stored.status();
  int on_b0 = 0;
  for (const StoredMessage& m : *stored) on_b0 += m.broker == 0 ? 1 : 0;
  EXPECT_EQ(on_b0, kRounds * kQueues);
}

TEST_F(ProducerTest, LargeBodiesAreCompressed) {
  Producer& p = Started();
  std::string big;
  for (int i = 0; big.size() < 20000; ++i)
    big += fmt::format("line {} of a compressible body\n", i);
  auto r = p.Send(Message{.topic = kTopic, .body = big});
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string at_threshold(4096, 'a');  // not above compress_threshold: sent as is
  auto r2 = p.Send(Message{.topic = kTopic, .body = at_threshold});
  ASSERT_TRUE(r2.ok()) << r2.status();

  auto stored = cluster_->WaitForStored(kTopic, 2);
  ASSERT_TRUE(stored.ok()) << stored.status();
  auto by_id = ByUniqKey(*stored);
  const StoredMessage& m = by_id[r->msg_id];
  EXPECT_NE(m.sys_flag & sysflag::kCompressed, 0);
  EXPECT_LT(m.body.size(), big.size() / 4);
  auto inflated = Inflate(m.body, 1 << 20);
  ASSERT_TRUE(inflated.ok()) << inflated.status();
  EXPECT_EQ(*inflated, big);
  // What a consumer decodes from the pulled record: the original body.
  auto decoded = DecodeMessages(m.record, m.broker_name);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ((*decoded)[0].body, big);
  EXPECT_EQ((*decoded)[0].msg_id, r->msg_id);

  const StoredMessage& plain = by_id[r2->msg_id];
  EXPECT_EQ(plain.sys_flag & sysflag::kCompressed, 0);
  EXPECT_EQ(plain.body, at_threshold);
}

TEST_F(ProducerTest, DelayedMessageWaitsInTheScheduleTopic) {
  Producer& p = Started();
  // Level 3 is 10 s with the default messageDelayLevel: still parked when we look.
  Message parked{.topic = kTopic, .body = "later", .tags = "D"};
  parked.delay_level = 3;
  auto r = p.Send(parked);
  ASSERT_TRUE(r.ok()) << r.status();
  auto sched = cluster_->WaitForStored(std::string(broker::kScheduleTopic), 1);
  ASSERT_TRUE(sched.ok()) << sched.status();
  auto by_id = ByUniqKey(*sched);
  ASSERT_EQ(by_id.count(r->msg_id), 1u);
  const StoredMessage& s = by_id[r->msg_id];
  EXPECT_EQ(s.queue_id, 2);  // level - 1
  EXPECT_EQ(*s.Property(broker::kPropRealTopic), kTopic);
  EXPECT_EQ(*s.Property(broker::kPropDelayLevel), "3");
  EXPECT_EQ(*s.Property(prop::kTags), "D");
  EXPECT_EQ(ByUniqKey(cluster_->ReadTopic(kTopic)).count(r->msg_id), 0u);

  // Level 1 (1 s) is delivered to the real topic, same id and body.
  Message soon{.topic = kTopic, .body = "soon"};
  soon.delay_level = 1;
  auto r1 = p.Send(soon);
  ASSERT_TRUE(r1.ok()) << r1.status();
  auto delivered = cluster_->WaitForStored(kTopic, 1, 30s);
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  auto got = ByUniqKey(*delivered);
  ASSERT_EQ(got.count(r1->msg_id), 1u);
  EXPECT_EQ(got[r1->msg_id].body, "soon");
  EXPECT_EQ(got.count(r->msg_id), 0u);  // the 10 s one is still waiting
}

TEST_F(ProducerTest, UnknownTopicIsCreatedThroughTheDefaultTopic) {
  const std::string topic = "AutoCreatedTopic";
  ASSERT_TRUE(cluster_->WaitForRoute(topic, 0).ok());  // the name server does not know it
  Producer& p = Started();
  auto r = p.Send(Message{.topic = topic, .body = "first"});
  ASSERT_TRUE(r.ok()) << r.status();
  const int b = BrokerIndex(r->queue.broker_name);
  ASSERT_GE(b, 0);
  auto created = cluster_->broker(b).topics().Get(topic);
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->write_queue_nums, 4);  // default_topic_queue_nums
  EXPECT_FALSE(cluster_->broker(1 - b).topics().Get(topic).has_value());
  // The broker registers it; the name server then routes the topic to that broker.
  absl::Status s = cluster_->WaitForRoute(topic, 1);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(cluster_->RoutedBrokers(topic), std::vector<std::string>{r->queue.broker_name});
  auto stored = cluster_->WaitForStored(topic, 1);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ((*stored)[0].body, "first");
}

TEST_F(ProducerTest, ErrorsAreClearStatuses) {
  ProducerOptions o = Opts();
  o.max_message_size = 1024;
  Producer idle(o);
  // Not started.
  EXPECT_TRUE(
      absl::IsFailedPrecondition(idle.Send(Message{.topic = kTopic, .body = "x"}).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(idle.SendOneway(Message{.topic = kTopic, .body = "x"})));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(idle.SendBatch({Message{.topic = kTopic, .body = "x"}}).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(idle.FetchPublishQueues(kTopic).status()));
  Completions c(1);
  idle.SendAsync(Message{.topic = kTopic, .body = "x"}, c.For(0));
  ASSERT_TRUE(c.Wait(5s));
  EXPECT_TRUE(absl::IsFailedPrecondition(c.results()[0].status()));

  // Bad options.
  ProducerOptions bad_group = Opts();
  bad_group.group = "bad group!";
  EXPECT_TRUE(absl::IsInvalidArgument(Producer(bad_group).Start()));
  ProducerOptions no_ns = Opts();
  no_ns.namesrv_addr = "";
  EXPECT_TRUE(absl::IsInvalidArgument(Producer(no_ns).Start()));
  ProducerOptions bad_ns = Opts();
  bad_ns.namesrv_addr = "localhost";
  EXPECT_TRUE(absl::IsInvalidArgument(Producer(bad_ns).Start()));

  Producer& p = Started(o);
  struct Case {
    Message m;
    std::string_view needle;
  };
  const std::vector<Case> cases = {
      {Message{.topic = kTopic, .body = ""}, "empty"},
      {Message{.topic = kTopic, .body = std::string(1025, 'x')}, "max_message_size"},
      {Message{.topic = "bad/topic", .body = "x"}, "bad/topic"},
      {Message{.topic = "", .body = "x"}, ""},
      {Message{.topic = std::string(128, 't'), .body = "x"}, ""},
  };
  for (const Case& k : cases) {
    absl::Status s = p.Send(k.m).status();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << k.m.topic << ": " << s;
    EXPECT_NE(std::string(s.message()).find(k.needle), std::string::npos) << s;
    EXPECT_TRUE(absl::IsInvalidArgument(p.SendOneway(k.m))) << k.m.topic;
    Completions ac(1);
    p.SendAsync(k.m, ac.For(0));
    ASSERT_TRUE(ac.Wait(5s));
    EXPECT_TRUE(absl::IsInvalidArgument(ac.results()[0].status())) << ac.results()[0].status();
  }
  Message negative{.topic = kTopic, .body = "x"};
  negative.delay_level = -1;
  EXPECT_TRUE(absl::IsInvalidArgument(p.Send(negative).status()));
  EXPECT_TRUE(cluster_->ReadTopic(kTopic).empty());  // none of these reached a broker
}

TEST_F(ProducerTest, BrokerRefusalsCarryTheirCode) {
  Producer& p = Started();
  // Within the client's 4 MB limit, past the brokers' 64 KB (tests' small store options);
  // random bytes do not compress below it.
  auto r = p.Send(Message{.topic = kTopic, .body = RandomBody(100000, 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_EQ(RocketMqCode(r.status()), rc::kMessageIllegal) << r.status();

  // Message limits the broker enforces (RocketMQ's): '|' in a tag, a property value over 16 KiB,
  // more than 128 user properties, a batch over the body limit in total.
  auto pipe = p.Send(Message{.topic = kTopic, .body = "x", .tags = "A|B"});
  EXPECT_EQ(RocketMqCode(pipe.status()), rc::kMessageIllegal) << pipe.status();
  Message big_prop{.topic = kTopic, .body = "x"};
  big_prop.properties["color"] = std::string(16 * 1024 + 1, 'c');
  auto bp = p.Send(big_prop);
  EXPECT_EQ(RocketMqCode(bp.status()), rc::kMessageIllegal) << bp.status();
  Message many{.topic = kTopic, .body = "x"};
  for (int i = 0; i < 129; ++i) many.properties[fmt::format("p{}", i)].assign(1, 'v');
  auto mp = p.Send(many);
  EXPECT_EQ(RocketMqCode(mp.status()), rc::kMessageIllegal) << mp.status();
  many.properties.erase("p0");
  EXPECT_TRUE(p.Send(many).ok());  // 128 is allowed
  std::vector<Message> batch;
  for (int i = 0; i < 3; ++i)
    batch.push_back(Message{.topic = kTopic, .body = RandomBody(30000, i)});
  auto bb = p.SendBatch(batch);
  EXPECT_EQ(RocketMqCode(bb.status()), rc::kMessageIllegal) << bb.status();

  // A read-only topic has no queue to send to.
  ASSERT_TRUE(cluster_->CreateTopic("ReadOnlyTopic", 2, broker::kPermRead).ok());
  auto ro = p.Send(Message{.topic = "ReadOnlyTopic", .body = "x"});
  EXPECT_TRUE(absl::IsNotFound(ro.status())) << ro.status();
  // A topic clients may not send to.
  auto sys = p.Send(Message{.topic = std::string(broker::kScheduleTopic), .body = "x"});
  EXPECT_FALSE(sys.ok());
  auto stored = cluster_->WaitForStored(kTopic, 1);  // only the message with 128 properties
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->size(), 1u);
}

}  // namespace
}  // namespace stele::client::producer_test
