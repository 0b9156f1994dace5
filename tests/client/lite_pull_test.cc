// The lite pull consumer against an in-process cluster (one name server, two brokers): messages
// sent with the Producer come back through Poll(); commits, seeks, pauses and rebalancing are
// observed through what later polls (and later consumers) return.
#include "stele/client/lite_pull_consumer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster_fixture.h"
#include "fmt/format.h"
#include "stele/client/producer.h"

namespace stele::client {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using stele::testing::WaitUntil;

constexpr char kTopic[] = "LitePullTopic";
constexpr int kQueuesPerBroker = 2;
// Generous: a loaded machine may take seconds for a rebalance or a pull round trip.
constexpr auto kLimit = 30s;

class LitePullTest : public stele::testing::ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (HasFatalFailure()) return;
    absl::Status s = cluster_->CreateTopic(kTopic, kQueuesPerBroker);
    ASSERT_TRUE(s.ok()) << s;
    producer_ = std::make_unique<Producer>(
        ProducerOptions{.group = "PG_LitePull", .namesrv_addr = cluster_->namesrv_addr()});
    s = producer_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }
  void TearDown() override {
    consumers_.clear();  // before the brokers go away
    producer_.reset();
    ClusterTest::TearDown();
  }

  LitePullConsumerOptions Opts(const std::string& group) const {
    LitePullConsumerOptions o;
    o.group = group;
    o.namesrv_addr = cluster_->namesrv_addr();
    o.consume_from_where = ConsumeFromWhere::kFirstOffset;
    o.long_poll_timeout = 2s;  // shutdown waits less for held pulls
    o.rebalance_interval = 1s;
    return o;
  }
  LitePullConsumer& Make(LitePullConsumerOptions o) {
    consumers_.push_back(std::make_unique<LitePullConsumer>(std::move(o)));
    return *consumers_.back();
  }
  LitePullConsumer& Subscribed(LitePullConsumerOptions o) {
    LitePullConsumer& c = Make(std::move(o));
    absl::Status s = c.Subscribe(kTopic);
    EXPECT_TRUE(s.ok()) << s;
    s = c.Start();
    EXPECT_TRUE(s.ok()) << s;
    return c;
  }

  // Sends `n` messages "<prefix>-<i>" (to `queue` if given); returns their bodies.
  std::set<std::string> Send(const std::string& prefix, int n,
                             const MessageQueue* queue = nullptr) {
    std::set<std::string> bodies;
    for (int i = 0; i < n; ++i) {
      Message m{.topic = kTopic, .body = fmt::format("{}-{}", prefix, i)};
      auto r = queue != nullptr ? producer_->Send(m, *queue) : producer_->Send(m);
      EXPECT_TRUE(r.ok()) << r.status();
      bodies.insert(m.body);
    }
    return bodies;
  }

  std::vector<MessageQueue> AllQueues(LitePullConsumer& c) {
    auto qs = c.FetchMessageQueues(kTopic);
    EXPECT_TRUE(qs.ok()) << qs.status();
    EXPECT_EQ(qs.ok() ? qs->size() : 0u, size_t{2 * kQueuesPerBroker});
    return qs.ok() ? *qs : std::vector<MessageQueue>{};
  }

  std::unique_ptr<Producer> producer_;
  std::vector<std::unique_ptr<LitePullConsumer>> consumers_;
};

// Polls until `n` messages arrived or `limit` passed.
std::vector<MessageExt> PollN(LitePullConsumer& c, size_t n,
                              std::chrono::milliseconds limit = kLimit) {
  std::vector<MessageExt> out;
  const auto deadline = Clock::now() + limit;
  while (out.size() < n && Clock::now() < deadline) {
    for (MessageExt& m : c.Poll(200ms)) out.push_back(std::move(m));
  }
  return out;
}

std::set<std::string> Bodies(const std::vector<MessageExt>& msgs) {
  std::set<std::string> out;
  for (const MessageExt& m : msgs) out.insert(m.body);
  return out;
}

std::vector<int64_t> Offsets(const std::vector<MessageExt>& msgs) {
  std::vector<int64_t> out;
  for (const MessageExt& m : msgs) out.push_back(m.queue_offset);
  return out;
}

TEST_F(LitePullTest, SubscribeDeliversEveryMessageOnce) {
  LitePullConsumer& c = Subscribed(Opts("CG_LiteAll"));
  const std::set<std::string> sent = Send("all", 40);
  std::vector<MessageExt> got = PollN(c, sent.size());
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_EQ(Bodies(got), sent);
  // Each queue's messages come in offset order.
  std::map<MessageQueue, int64_t> last;
  for (const MessageExt& m : got) {
    EXPECT_EQ(m.topic, kTopic);
    auto [it, fresh] = last.try_emplace(m.queue(), m.queue_offset);
    if (!fresh) {
      EXPECT_GT(m.queue_offset, it->second) << m.queue().ToString();
      it->second = m.queue_offset;
    }
  }
  EXPECT_EQ(c.Assignment().size(), size_t{2 * kQueuesPerBroker});
}

TEST_F(LitePullTest, CommitSyncMovesTheGroupsStartingPoint) {
  LitePullConsumerOptions o = Opts("CG_LiteCommit");
  o.auto_commit = false;
  const std::set<std::string> first = Send("first", 20);
  {
    LitePullConsumer& c = Subscribed(o);
    std::vector<MessageExt> got = PollN(c, first.size());
    ASSERT_EQ(Bodies(got), first);
    std::map<MessageQueue, int64_t> next;
    for (const MessageExt& m : got) next[m.queue()] = std::max(next[m.queue()], m.queue_offset + 1);
    absl::Status s = c.CommitSync();
    ASSERT_TRUE(s.ok()) << s;
    for (const auto& [q, off] : next) {
      auto committed = c.Committed(q);
      ASSERT_TRUE(committed.ok()) << committed.status();
      EXPECT_EQ(*committed, off) << q.ToString();
    }
    c.Shutdown();
  }
  // A new consumer of the group starts after what was committed, although it would start from
  // the first offset of a queue the group has no offset for.
  const std::set<std::string> second = Send("second", 10);
  LitePullConsumer& c2 = Subscribed(o);
  std::vector<MessageExt> got = PollN(c2, second.size());
  EXPECT_EQ(Bodies(got), second);
}

TEST_F(LitePullTest, AutoCommitCommitsWhatWasPolledAtTheNextPoll) {
  LitePullConsumerOptions o = Opts("CG_LiteAuto");
  o.auto_commit_interval = 100ms;
  const std::set<std::string> sent = Send("auto", 12);
  LitePullConsumer& c = Subscribed(o);
  std::vector<MessageExt> got = PollN(c, sent.size());
  ASSERT_EQ(Bodies(got), sent);
  std::map<MessageQueue, int64_t> next;
  for (const MessageExt& m : got) next[m.queue()] = std::max(next[m.queue()], m.queue_offset + 1);
  (void)c.Poll(0ms);  // the caller is done with the last batch
  EXPECT_TRUE(WaitUntil(
      [&] {
        for (const auto& [q, off] : next) {
          auto committed = c.Committed(q);
          if (!committed.ok() || *committed != off) return false;
        }
        return true;
      },
      kLimit));
}

TEST_F(LitePullTest, AssignSeekRereadsAndSeekToEndSkips) {
  LitePullConsumer& c = Make(Opts("CG_LiteAssign"));
  ASSERT_TRUE(c.Start().ok());
  std::vector<MessageQueue> all = AllQueues(c);
  ASSERT_FALSE(all.empty());
  const MessageQueue q = all[1];
  Send("seek", 5, &q);
  ASSERT_TRUE(c.Assign({q}).ok());
  EXPECT_EQ(c.Assignment(), std::vector<MessageQueue>{q});

  std::vector<MessageExt> got = PollN(c, 5);
  EXPECT_EQ(Offsets(got), (std::vector<int64_t>{0, 1, 2, 3, 4}));

  absl::Status s = c.Seek(q, 2);
  ASSERT_TRUE(s.ok()) << s;
  got = PollN(c, 3);
  EXPECT_EQ(Offsets(got), (std::vector<int64_t>{2, 3, 4}));

  s = c.SeekToBegin(q);
  ASSERT_TRUE(s.ok()) << s;
  got = PollN(c, 5);
  EXPECT_EQ(Offsets(got), (std::vector<int64_t>{0, 1, 2, 3, 4}));

  s = c.Seek(q, 2);
  ASSERT_TRUE(s.ok()) << s;
  s = c.SeekToEnd(q);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(c.Poll(300ms).empty());  // offsets 2..4 are skipped
  Send("after-end", 2, &q);
  got = PollN(c, 2);
  EXPECT_EQ(Offsets(got), (std::vector<int64_t>{5, 6}));

  EXPECT_TRUE(absl::IsInvalidArgument(c.Seek(q, 100)));
  EXPECT_TRUE(absl::IsInvalidArgument(c.Seek(q, -1)));
  EXPECT_TRUE(absl::IsFailedPrecondition(c.Seek(all[0], 0)));  // not assigned
}

TEST_F(LitePullTest, PauseHoldsBackAQueueAndResumeRestartsIt) {
  LitePullConsumer& c = Make(Opts("CG_LitePause"));
  ASSERT_TRUE(c.Start().ok());
  std::vector<MessageQueue> all = AllQueues(c);
  ASSERT_GE(all.size(), 2u);
  const MessageQueue paused = all[0];
  const MessageQueue other = all.back();  // on the other broker
  ASSERT_TRUE(c.Assign({paused, other}).ok());
  Send("warm-p", 1, &paused);
  Send("warm-o", 1, &other);
  ASSERT_EQ(PollN(c, 2).size(), 2u);

  c.Pause({paused});
  const std::set<std::string> to_paused = Send("p", 5, &paused);
  const std::set<std::string> to_other = Send("o", 5, &other);
  std::vector<MessageExt> got = PollN(c, 5);
  EXPECT_EQ(Bodies(got), to_other);
  // Long enough for the paused queue's messages to be pulled if the pause did not hold.
  for (const MessageExt& m : PollN(c, 1, 1500ms)) {
    ADD_FAILURE() << "unexpected: " << m.body << " from " << m.queue().ToString();
  }

  c.Resume({paused});
  got = PollN(c, 5);
  EXPECT_EQ(Bodies(got), to_paused);
  EXPECT_EQ(Offsets(got), (std::vector<int64_t>{1, 2, 3, 4, 5}));
}

TEST_F(LitePullTest, TwoConsumersOfAGroupSplitTheQueues) {
  LitePullConsumer& a = Subscribed(Opts("CG_LiteSplit"));
  LitePullConsumer& b = Subscribed(Opts("CG_LiteSplit"));
  const size_t total = 2 * kQueuesPerBroker;
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::vector<MessageQueue> qa = a.Assignment(), qb = b.Assignment();
        std::set<MessageQueue> both(qa.begin(), qa.end());
        both.insert(qb.begin(), qb.end());
        return qa.size() == total / 2 && qb.size() == total / 2 && both.size() == total;
      },
      kLimit))
      << a.Assignment().size() << " + " << b.Assignment().size();
  const std::vector<MessageQueue> qa = a.Assignment(), qb = b.Assignment();

  const std::set<std::string> sent = Send("split", 40);
  std::vector<MessageExt> got_a, got_b;
  const auto deadline = Clock::now() + kLimit;
  while (got_a.size() + got_b.size() < sent.size() && Clock::now() < deadline) {
    for (MessageExt& m : a.Poll(100ms)) got_a.push_back(std::move(m));
    for (MessageExt& m : b.Poll(100ms)) got_b.push_back(std::move(m));
  }
  EXPECT_FALSE(got_a.empty());
  EXPECT_FALSE(got_b.empty());
  for (const MessageExt& m : got_a) {
    EXPECT_NE(std::find(qa.begin(), qa.end(), m.queue()), qa.end()) << m.queue().ToString();
  }
  for (const MessageExt& m : got_b) {
    EXPECT_NE(std::find(qb.begin(), qb.end(), m.queue()), qb.end()) << m.queue().ToString();
  }
  std::set<std::string> union_bodies = Bodies(got_a);
  for (const std::string& s : Bodies(got_b)) union_bodies.insert(s);
  EXPECT_EQ(union_bodies, sent);
  EXPECT_EQ(got_a.size() + got_b.size(), sent.size());
}

TEST_F(LitePullTest, BroadcastingDeliversEverythingToEveryConsumer) {
  stele::testing::TempDir dir;
  LitePullConsumerOptions o = Opts("CG_LiteBroadcast");
  o.model = MessageModel::kBroadcasting;
  o.offset_store_dir = dir.path();
  o.instance_name = "one";
  LitePullConsumer& a = Subscribed(o);
  o.instance_name = "two";
  LitePullConsumer& b = Subscribed(o);
  const std::set<std::string> sent = Send("bc", 12);
  EXPECT_EQ(Bodies(PollN(a, sent.size())), sent);
  EXPECT_EQ(Bodies(PollN(b, sent.size())), sent);
  EXPECT_TRUE(a.CommitSync().ok());
}

TEST_F(LitePullTest, PollTimesOutWithoutBlockingLonger) {
  LitePullConsumer& c = Subscribed(Opts("CG_LiteTimeout"));
  for (auto timeout : {0ms, 300ms, 1000ms}) {
    const auto start = Clock::now();
    std::vector<MessageExt> got = c.Poll(timeout);
    const auto took = Clock::now() - start;
    EXPECT_TRUE(got.empty());
    EXPECT_GE(took, timeout);
    EXPECT_LE(took, timeout + 2s) << "Poll(" << timeout.count() << "ms) blocked too long";
  }
}

TEST_F(LitePullTest, Errors) {
  LitePullConsumer& c = Make(Opts("CG_LiteErrors"));
  // Not started.
  const auto start = Clock::now();
  EXPECT_TRUE(c.Poll(5s).empty());
  EXPECT_LT(Clock::now() - start, 2s);
  MessageQueue q{kTopic, cluster_->broker_name(0), 0};
  EXPECT_TRUE(absl::IsFailedPrecondition(c.Seek(q, 0)));
  EXPECT_TRUE(absl::IsFailedPrecondition(c.CommitSync()));
  EXPECT_TRUE(absl::IsFailedPrecondition(c.Committed(q).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(c.FetchMessageQueues(kTopic).status()));

  // Bad names and arguments.
  EXPECT_TRUE(absl::IsInvalidArgument(c.Subscribe("bad topic!")));
  EXPECT_TRUE(absl::IsInvalidArgument(c.Subscribe("")));
  EXPECT_TRUE(absl::IsInvalidArgument(c.Assign({})));
  EXPECT_TRUE(absl::IsInvalidArgument(c.Assign({MessageQueue{"bad topic!", "b", 0}})));

  // Subscribe and Assign do not mix.
  ASSERT_TRUE(c.Subscribe(kTopic).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(c.Assign({q})));
  LitePullConsumer& d = Make(Opts("CG_LiteErrors2"));
  ASSERT_TRUE(d.Assign({q}).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(d.Subscribe(kTopic)));

  // Options.
  LitePullConsumerOptions bad = Opts("");
  EXPECT_FALSE(Make(bad).Start().ok());
  bad = Opts("CG_LiteErrors3");
  bad.pull_batch_size = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(Make(bad).Start()));

  // No restart.
  ASSERT_TRUE(c.Start().ok());
  c.Shutdown();
  c.Shutdown();  // idempotent
  EXPECT_TRUE(c.Poll(1s).empty());
  EXPECT_TRUE(absl::IsFailedPrecondition(c.Start()));
}

}  // namespace
}  // namespace stele::client
