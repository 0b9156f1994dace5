// Shared by the push consumer tests: an in-process cluster (one name server, two brokers,
// SYNC_FLUSH) with a producer, consumer options with short intervals, and helpers that record
// deliveries, hold listeners, and send steadily. Every wait is bounded.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster_fixture.h"
#include "fmt/format.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "stele/client/producer.h"
#include "stele/client/push_consumer.h"

namespace stele::client {

using namespace std::chrono_literals;
using stele::testing::WaitUntil;
namespace rc = remoting::response;

inline constexpr auto kConsumeLimit = 40s;  // generous: two shared cores, sanitizers

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

// One broker whose full commit-log segments expire at once, to test queues whose first messages
// are gone.
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
  // Sends ~330 KB to `q` (of broker 0) into 256 KiB commit-log segments, so that the first segment
  // fills, and deletes it: the queue's min offset (returned) is then above 0. The sent ids go to
  // `sent`.
  int64_t FillAndExpire(const MessageQueue& q, std::set<std::string>* sent) {
    for (int i = 0; i < 300; ++i) {
      sent->insert(
          SendOk(Message{.topic = q.topic, .body = std::string(1000, 'a' + i % 26)}, q).msg_id);
    }
    auto cleaned = cluster_->broker(0).store().CleanExpiredFiles(true);
    EXPECT_TRUE(cleaned.ok()) << cleaned.status();
    const int64_t min = cluster_->broker(0).store().MinQueueOffset(q.topic, q.queue_id);
    [&] {
      ASSERT_TRUE(cleaned.ok());
      ASSERT_GT(min, 0) << "retention deleted no consume-queue file (" << cleaned->segments_deleted
                        << " segment(s))";
    }();
    return min;
  }
};

inline std::string RandomBody(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

}  // namespace stele::client
