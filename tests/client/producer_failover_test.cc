// The producer when brokers fail: a broker stopped mid-stream and restarted, one that accepts
// connections and never answers, and sends pinned to a queue of a dead broker.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "client/client_instance.h"
#include "fmt/format.h"
#include "net/remoting/codes.h"
#include "producer_test_util.h"

namespace stele::client::producer_test {
namespace {

using namespace std::chrono_literals;

// Broker 0 stops while a thread keeps sending: every send still succeeds, the later ones on
// broker 1. Then it comes back on the same address and the producer (not restarted) reaches it.
TEST_F(ProducerTest, SendsSurviveABrokerStopAndRestart) {
  ProducerOptions o = Opts();
  o.retry_times = 2;
  o.poll_name_server_interval = 200ms;  // learn the restarted broker quickly
  Producer& p = Started(o);

  std::mutex mu;
  std::vector<SendResult> before, after;
  std::vector<absl::Status> failures;
  std::atomic<bool> stopped{false}, quit{false};
  std::atomic<int> after_count{0}, before_count{0};
  std::thread sender([&] {
    for (int i = 0; !quit.load(); ++i) {
      const bool was_stopped = stopped.load();  // read before the send starts
      auto r = p.Send(Message{.topic = kTopic, .body = fmt::format("fo-{}", i)});
      std::lock_guard l(mu);
      if (!r.ok()) {
        failures.push_back(r.status());
      } else if (was_stopped) {
        after.push_back(*r);
        ++after_count;
      } else {
        before.push_back(*r);
        ++before_count;
      }
    }
  });
  ASSERT_TRUE(WaitUntil([&] { return before_count.load() >= 20; }));
  cluster_->StopBroker(0);
  stopped = true;
  ASSERT_TRUE(WaitUntil([&] { return after_count.load() >= 40; }));
  {
    std::lock_guard l(mu);
    EXPECT_TRUE(failures.empty()) << failures.front();
    for (const SendResult& r : after) {
      EXPECT_EQ(r.queue.broker_name, cluster_->broker_name(1)) << r.queue.ToString();
    }
  }

  // Back on the same directory and port.
  absl::Status s = cluster_->RestartBroker(0);
  ASSERT_TRUE(s.ok()) << s;
  // A send pinned to a queue of broker 0 reconnects to it.
  MessageQueue q0{kTopic, cluster_->broker_name(0), 1};
  absl::StatusOr<SendResult> pinned;
  ASSERT_TRUE(WaitUntil([&] {
    pinned = p.Send(Message{.topic = kTopic, .body = "pinned"}, q0);
    return pinned.ok();
  })) << pinned.status();
  EXPECT_EQ(pinned->queue, q0);
  quit = true;
  sender.join();
  {
    std::lock_guard l(mu);
    EXPECT_TRUE(failures.empty()) << failures.front();
  }

  // Nothing acknowledged was lost: broker 0's messages survived its restart.
  std::vector<SendResult> all = before;
  all.insert(all.end(), after.begin(), after.end());
  all.push_back(*pinned);
  auto stored = cluster_->WaitForStored(kTopic, all.size());
  ASSERT_TRUE(stored.ok()) << stored.status();
  // (A send cut off by the stop may have been stored and then retried: look for the exact copy.)
  std::set<std::tuple<std::string, std::string, int32_t, int64_t>> where;
  for (const StoredMessage& m : *stored) {
    where.emplace(*m.Property(prop::kUniqKey), m.broker_name, m.queue_id, m.queue_offset);
  }
  int on_b0_before = 0;
  for (const SendResult& r : all) {
    EXPECT_EQ(where.count({r.msg_id, r.queue.broker_name, r.queue.queue_id, r.queue_offset}), 1u)
        << r.msg_id << " at " << r.queue.ToString() << ":" << r.queue_offset;
    on_b0_before += r.queue.broker_name == cluster_->broker_name(0) ? 1 : 0;
  }
  EXPECT_GE(on_b0_before, 2);  // broker 0 did take messages before it stopped
}

// Without latency fault tolerance a restarted broker gets its share of the rotation back once the
// route refresh sees it again.
TEST_F(ProducerTest, RestartedBrokerRejoinsTheRotation) {
  ProducerOptions o = Opts();
  o.latency_fault_tolerance = false;
  o.poll_name_server_interval = 200ms;
  Producer& p = Started(o);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(p.Send(Message{.topic = kTopic, .body = "a"}).ok());
  cluster_->StopBroker(0);
  for (int i = 0; i < 16; ++i) {
    auto r = p.Send(Message{.topic = kTopic, .body = "b"});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->queue.broker_name, cluster_->broker_name(1));
  }
  ASSERT_TRUE(cluster_->RestartBroker(0).ok());
  absl::StatusOr<SendResult> r;
  ASSERT_TRUE(WaitUntil([&] {
    r = p.Send(Message{.topic = kTopic, .body = "c"});
    return !r.ok() || r->queue.broker_name == cluster_->broker_name(0);
  }));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->queue.broker_name, cluster_->broker_name(0));
}

// A broker that accepts connections but never answers: one send times out on it, after which
// latency fault tolerance keeps the producer away from it (no further send waits for it).
TEST_F(ProducerTest, UnresponsiveBrokerIsSkippedAfterOneTimeout) {
  ProducerOptions o = Opts();
  o.send_timeout = 1500ms;
  Producer& p = Started(o);
  ASSERT_TRUE(p.FetchPublishQueues(kTopic).ok());  // route cached with both brokers
  cluster_->StopBroker(0);
  // A listener on broker 0's port that completes handshakes and then says nothing.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(
      std::stoi(cluster_->broker_addr(0).substr(cluster_->broker_addr(0).rfind(':') + 1))));
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(fd, 64), 0);

  int failed = 0;
  for (int i = 0; i < 32; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = p.Send(Message{.topic = kTopic, .body = fmt::format("lft-{}", i)});
    const auto took = std::chrono::steady_clock::now() - t0;
    if (!r.ok()) {
      ++failed;
      EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
      continue;
    }
    EXPECT_EQ(r->queue.broker_name, cluster_->broker_name(1));
    if (failed > 0) {
      EXPECT_LT(took, 1000ms) << "send " << i << " waited for the dead broker";
    }
  }
  EXPECT_LE(failed, 1);
  ::close(fd);
}

// Sends pinned to a queue (selector, explicit queue) are not moved elsewhere when its broker is
// down: ordering would break.
TEST_F(ProducerTest, PinnedSendsAreNotMovedToAnotherBroker) {
  Producer& p = Started();
  auto queues = p.FetchPublishQueues(kTopic);
  ASSERT_TRUE(queues.ok());
  cluster_->StopBroker(0);
  auto r = p.Send(Message{.topic = kTopic, .body = "pinned"},
                  [](const std::vector<MessageQueue>&, const Message&) { return size_t{0}; });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status()) || absl::IsDeadlineExceeded(r.status()))
      << r.status();
  EXPECT_TRUE(cluster_->ReadTopic(kTopic).empty());  // broker 1 did not get it either
}

// Reconnect with back-off: while a broker is down, calls to it fail at once (Unavailable,
// "back-off") instead of each trying to connect; once it is back the same client reaches it again
// within the back-off cap, and the back-off is forgotten.
TEST_F(ProducerTest, ReconnectBacksOffWhileABrokerIsDownAndRecoversAfterRestart) {
  auto created = ClientInstance::Create({.namesrv_addr = cluster_->namesrv_addr(),
                                         .timeout = 1s,
                                         .reconnect_backoff_initial = 500ms,
                                         .reconnect_backoff_max = 1s});
  ASSERT_TRUE(created.ok()) << created.status();
  ClientInstance& c = **created;
  const std::string addr = cluster_->broker_addr(0);
  auto runtime_info = [&] {
    return c.Call(addr,
                  remoting::RemotingCommand::Request(remoting::request::kGetBrokerRuntimeInfo));
  };
  ASSERT_TRUE(runtime_info().ok());
  cluster_->StopBroker(0);
  // The connection closes with the broker; the next connect is refused and starts the back-off.
  ASSERT_TRUE(stele::testing::WaitUntil(
      [&] { return !c.Connect(addr).ok() && c.backoff().Delay(addr) > 0ms; }));
  auto r = runtime_info();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("back-off"), std::string_view::npos) << r.status();
  EXPECT_LE(c.backoff().Delay(addr), 1s);

  ASSERT_TRUE(cluster_->RestartBroker(0).ok());
  EXPECT_TRUE(stele::testing::WaitUntil([&] { return runtime_info().ok(); }, 10s));
  EXPECT_EQ(c.backoff().Delay(addr), 0ms);
  c.Shutdown();
}

}  // namespace
}  // namespace stele::client::producer_test
