// `mqadmin watch --count 2` (the real binary) against an in-process name server and broker while a
// producer keeps sending: both frames name the topic, the second shows a positive in rate, and
// the group's consumed total and out rate are exact (its committed offsets do not move).
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster_fixture.h"
#include "fmt/format.h"
#include "stele/client/admin.h"
#include "stele/client/producer.h"

namespace stele::testing {
namespace {

// Runs a command, returns its stdout and exit code.
std::pair<std::string, int> RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {"", -1};
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int rc = pclose(p);
  return {out, WIFEXITED(rc) ? WEXITSTATUS(rc) : -1};
}

std::vector<std::vector<std::string>> LinesStartingWith(const std::string& text,
                                                        const std::string& first) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::vector<std::string> fields;
    for (std::string w; f >> w;) fields.push_back(w);
    if (!fields.empty() && fields[0] == first) rows.push_back(fields);
  }
  return rows;
}

class MqadminWatchTest : public ClusterTest {
 protected:
  ClusterOptions Options() const override { return {.brokers = 1}; }
};

TEST_F(MqadminWatchTest, TwoFramesShowTheTopicItsRateAndTheGroup) {
  ASSERT_TRUE(cluster_->CreateTopic("WatchTopic", 2).ok());
  client::Producer producer({.group = "WatchProducer", .namesrv_addr = cluster_->namesrv_addr()});
  ASSERT_TRUE(producer.Start().ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(producer.Send({.topic = "WatchTopic", .body = fmt::format("m{}", i)}).ok());
  }
  client::AdminClient admin({.namesrv_addr = cluster_->namesrv_addr()});
  ASSERT_TRUE(admin.Start().ok());
  const std::string broker = cluster_->broker_name(0);
  const client::MessageQueue q0{"WatchTopic", broker, 0}, q1{"WatchTopic", broker, 1};
  const int64_t m0 = *admin.MaxOffset(q0);
  ASSERT_TRUE(admin.UpdateConsumerOffset("WatchGroup", q0, m0).ok());
  ASSERT_TRUE(admin.UpdateConsumerOffset("WatchGroup", q1, 0).ok());

  // Keep sending while watch runs (bounded), so that its second frame has a rate to show.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::thread sender([&] {
    for (int i = 0; i < 20000 && !stop.load(); ++i) {
      if (producer.Send({.topic = "WatchTopic", .body = "x"}).ok()) sent.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  const auto [out, rc] =
      RunCommand(fmt::format("'{}' watch -n {} -t WatchTopic -g WatchGroup -i 1 "
                             "--count 2 2>&1",
                             STELE_MQADMIN, cluster_->namesrv_addr()));
  stop = true;
  sender.join();
  ASSERT_EQ(rc, 0) << out;
  ASSERT_GT(sent.load(), 0);

  EXPECT_EQ(LinesStartingWith(out, "mqadmin").size(), 2u) << out;
  // The broker line names the broker and its address.
  const auto brokers = LinesStartingWith(out, broker);
  ASSERT_EQ(brokers.size(), 2u) << out;
  EXPECT_EQ(brokers[0][1], cluster_->broker_addr(0));

  const auto topics = LinesStartingWith(out, "WatchTopic");
  ASSERT_EQ(topics.size(), 2u) << out;
  EXPECT_GE(std::stoll(topics[0][1]), 10);
  EXPECT_EQ(topics[0][2], "-");  // no rate before a second sample
  const double rate = std::stod(topics[1][2]);
  EXPECT_GT(rate, 0) << out;
  EXPECT_LT(rate, 5000) << out;  // at most one send per 2 ms
  EXPECT_GE(std::stoll(topics[1][1]), std::stoll(topics[0][1]) + 1) << out;

  const auto groups = LinesStartingWith(out, "WatchGroup");
  ASSERT_EQ(groups.size(), 2u) << out;
  EXPECT_EQ(groups[0][1], fmt::format("{}", m0));
  EXPECT_EQ(groups[1][1], fmt::format("{}", m0));
  EXPECT_EQ(groups[1][2], "0.0");
  EXPECT_GE(std::stoll(groups[1][3]), 10 - m0);
  producer.Shutdown();
  admin.Shutdown();
}

TEST(MqadminWatchUsageTest, BadArgumentsAreUsageErrors) {
  EXPECT_EQ(RunCommand(fmt::format("'{}' watch -n 127.0.0.1:1 -i 0 2>&1", STELE_MQADMIN)).second,
            2);
  EXPECT_EQ(
      RunCommand(fmt::format("'{}' watch -n 127.0.0.1:1 --count x 2>&1", STELE_MQADMIN)).second, 2);
}

}  // namespace
}  // namespace stele::testing
