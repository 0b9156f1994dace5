// The metrics of a real broker after a known workload: the Prometheus scrape (counts, sizes,
// lag, DLQ, rpc latency), `promtool check metrics` on it, the HTTP server's answers to garbage,
// and GET_BROKER_RUNTIME_INFO's RocketMQ keys and formats.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/live_broker_test.h"
#include "net/broker/message_writer.h"
#include "net/broker/metrics/exporter.h"
#include "net/broker/state/names.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele::broker {
namespace {

using remoting::RemotingCommand;
using namespace remoting::response;
namespace request = remoting::request;

// One HTTP exchange with 127.0.0.1:port: sends `raw`, returns everything until the server closes.
std::string HttpRaw(uint16_t port, const std::string& raw) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return {};
  }
  size_t sent = 0;
  while (sent < raw.size()) {
    const ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);  // nothing more comes: a server waiting for more sees EOF
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string Body(const std::string& response) {
  const size_t p = response.find("\r\n\r\n");
  return p == std::string::npos ? std::string() : response.substr(p + 4);
}

// The value of the sample `name{...}` whose labels include every `want` pair; nullopt if absent,
// and a test failure if more than one sample matches.
std::optional<double> Sample(const std::string& text, const std::string& name,
                             const std::map<std::string, std::string>& want = {}) {
  std::optional<double> found;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    const std::string n = line.substr(0, std::min(brace, space));
    if (n != name) continue;
    const std::string labels =
        brace == std::string::npos ? "" : line.substr(brace, line.rfind('}') - brace + 1);
    bool ok = true;
    for (const auto& [k, v] : want) {
      if (labels.find(fmt::format("{}=\"{}\"", k, v)) == std::string::npos) ok = false;
    }
    if (!ok) continue;
    EXPECT_FALSE(found.has_value()) << "two samples match " << name << ": " << line;
    found = std::stod(line.substr(space + 1));
  }
  return found;
}

class MetricsTest : public LiveBrokerTest {
 protected:
  void SetUp() override {
    StartBroker([](BrokerConfig& c) { c.broker_name = "broker-m"; });
    if (HasFatalFailure()) return;
    exporter_ = std::make_unique<metrics::Exporter>(*broker_, "127.0.0.1", 0);
    ASSERT_TRUE(exporter_->Start().ok());
  }
  void TearDown() override {
    if (exporter_) exporter_->Stop();
    LiveBrokerTest::TearDown();
  }

  void Send(const std::string& topic, const std::string& body) {
    std::string props;
    AppendProperty(&props, kPropertyUniqKey, fmt::format("{}-{}", topic, sent_++));
    RemotingCommand req = RemotingCommand::Request(request::kSendMessageV2);
    req.Set("a", "MetricsProducer");
    req.Set("b", topic);
    req.Set("c", "TBW102");
    req.Set("d", "1");
    req.Set("e", "0");
    req.Set("f", "0");
    req.Set("g", fmt::format("{}", NowMs()));
    req.Set("h", "0");
    req.Set("i", props);
    req.Set("j", "0");
    req.Set("k", "false");
    req.body = body;
    RemotingCommand resp = Call(std::move(req));
    ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  }

  RemotingCommand Pull(const std::string& group, const std::string& topic, int64_t offset,
                       int max) {
    RemotingCommand req = RemotingCommand::Request(request::kPullMessage);
    req.Set("consumerGroup", group);
    req.Set("topic", topic);
    req.Set("queueId", "0");
    req.Set("queueOffset", fmt::format("{}", offset));
    req.Set("maxMsgNums", fmt::format("{}", max));
    req.Set("sysFlag", "4");  // FLAG_SUBSCRIPTION: the subscription comes with the pull
    req.Set("commitOffset", "-1");
    req.Set("suspendTimeoutMillis", "0");
    req.Set("subscription", "*");
    req.Set("subVersion", "0");
    return Call(std::move(req));
  }

  std::string Scrape() {
    const std::string r = HttpRaw(exporter_->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << r.substr(0, 200);
    EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
    return Body(r);
  }

  std::unique_ptr<metrics::Exporter> exporter_;
  int sent_ = 0;
};

// promtool from PATH (Debian's prometheus package, scripts/deps.sh); the test fails without it.
std::string FindPromtool() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string d; std::getline(dirs, d, ':');) {
    const std::string p = d + "/promtool";
    if (!d.empty() && access(p.c_str(), X_OK) == 0) return p;
  }
  return {};
}

TEST_F(MetricsTest, ScrapeAfterAKnownWorkloadShowsItsCounts) {
  constexpr int kA = 5, kB = 3, kPulled = 3, kCommitted = 2;
  for (int i = 0; i < kA; ++i) Send("TopicA", std::string(100, 'a'));
  for (int i = 0; i < kB; ++i) Send("TopicB", std::string(2000, 'b'));

  RemotingCommand pulled = Pull("GroupM", "TopicA", 0, kPulled);
  ASSERT_EQ(pulled.code, kSuccess) << pulled.remark.value_or("");
  const int64_t pulled_bytes = static_cast<int64_t>(pulled.body.size());
  RemotingCommand commit = RemotingCommand::Request(request::kUpdateConsumerOffset);
  commit.Set("consumerGroup", "GroupM");
  commit.Set("topic", "TopicA");
  commit.Set("queueId", "0");
  commit.Set("commitOffset", fmt::format("{}", kCommitted));
  ASSERT_EQ(Call(std::move(commit)).code, kSuccess);

  // One message of TopicA to GroupM's dead-letter queue.
  auto first = broker_->store().Get("TopicA", 0, 0);
  ASSERT_TRUE(first.ok() && !first->messages.empty());
  RemotingCommand back = RemotingCommand::Request(request::kConsumerSendMsgBack);
  back.Set("offset", fmt::format("{}", first->messages.front().offset));
  back.Set("group", "GroupM");
  back.Set("delayLevel", "-1");
  back.Set("originMsgId", "x");
  back.Set("originTopic", "TopicA");
  back.Set("unitMode", "false");
  back.Set("maxReconsumeTimes", "16");
  ASSERT_EQ(Call(std::move(back)).code, kSuccess);

  const std::string text = Scrape();
  const std::map<std::string, std::string> a = {{"topic", "TopicA"},
                                                {"message_type", "normal"},
                                                {"cluster", "DefaultCluster"},
                                                {"node_id", "broker-m"}};
  const std::map<std::string, std::string> b = {{"topic", "TopicB"}};
  EXPECT_EQ(Sample(text, "rocketmq_messages_in_total", a), kA);
  EXPECT_EQ(Sample(text, "rocketmq_messages_in_total", b), kB);
  EXPECT_EQ(Sample(text, "rocketmq_throughput_in_total", a), kA * 100);
  EXPECT_EQ(Sample(text, "rocketmq_throughput_in_total", b), kB * 2000);
  // The DLQ copy is the broker's own put, not an incoming message.
  EXPECT_EQ(Sample(text, "rocketmq_messages_in_total", {{"topic", "%DLQ%GroupM"}}), std::nullopt);

  EXPECT_EQ(Sample(text, "rocketmq_message_size_count", a), kA);
  EXPECT_EQ(Sample(text, "rocketmq_message_size_sum", b), kB * 2000);
  EXPECT_EQ(Sample(text, "rocketmq_message_size_bucket", {{"topic", "TopicA"}, {"le", "1024"}}),
            kA);
  EXPECT_EQ(Sample(text, "rocketmq_message_size_bucket", {{"topic", "TopicB"}, {"le", "1024"}}), 0);
  EXPECT_EQ(Sample(text, "rocketmq_message_size_bucket", {{"topic", "TopicB"}, {"le", "4096"}}),
            kB);
  EXPECT_EQ(Sample(text, "rocketmq_message_size_bucket", {{"topic", "TopicB"}, {"le", "+Inf"}}),
            kB);

  const std::map<std::string, std::string> g = {{"topic", "TopicA"}, {"consumer_group", "GroupM"}};
  EXPECT_EQ(Sample(text, "rocketmq_messages_out_total", g), kPulled);
  EXPECT_EQ(Sample(text, "rocketmq_throughput_out_total", g), pulled_bytes);
  EXPECT_EQ(Sample(text, "rocketmq_consumer_lag_messages", g), kA - kCommitted);
  EXPECT_EQ(Sample(text, "rocketmq_consumer_inflight_messages", g), kPulled - kCommitted);
  EXPECT_EQ(Sample(text, "rocketmq_consumer_ready_messages", g), kA - kPulled);
  const auto lag_ms = Sample(text, "rocketmq_consumer_lag_latency", g);
  ASSERT_TRUE(lag_ms.has_value());
  EXPECT_GE(*lag_ms, 0);
  EXPECT_LT(*lag_ms, 600000);
  EXPECT_EQ(Sample(text, "rocketmq_send_to_dlq_messages_total",
                   {{"consumer_group", "GroupM"}, {"topic", "TopicA"}}),
            1);

  EXPECT_EQ(Sample(text, "rocketmq_rpc_latency_count",
                   {{"protocol_type", "remoting"},
                    {"request_code", "send_message_v2"},
                    {"response_code", "success"}}),
            kA + kB);
  EXPECT_EQ(Sample(text, "rocketmq_rpc_latency_bucket",
                   {{"request_code", "send_message_v2"}, {"le", "+Inf"}}),
            kA + kB);
  EXPECT_EQ(Sample(text, "rocketmq_rpc_latency_count",
                   {{"request_code", "pull_message"}, {"response_code", "success"}}),
            1);

  EXPECT_EQ(Sample(text, "rocketmq_broker_permission"), 6);
  // The flusher may run between the scrape and this check: bounded, not exact.
  const auto behind = Sample(text, "rocketmq_storage_flush_behind_bytes");
  ASSERT_TRUE(behind.has_value());
  EXPECT_GE(*behind, 0);
  EXPECT_LE(*behind, broker_->store().MaxOffset());
  const auto size = Sample(text, "rocketmq_storage_size");
  ASSERT_TRUE(size.has_value());
  EXPECT_GT(*size, 0);
  const auto rss = Sample(text, "process_resident_memory_bytes");
  ASSERT_TRUE(rss.has_value());
  EXPECT_GT(*rss, 1 << 20);
  const auto fds = Sample(text, "process_open_fds");
  ASSERT_TRUE(fds.has_value());
  EXPECT_GT(*fds, 3);
  EXPECT_TRUE(Sample(text, "stele_store_recovery_duration_seconds").has_value());

  // The format, checked by Prometheus' own linter.
  const std::string promtool = FindPromtool();
  ASSERT_FALSE(promtool.empty())
      << "promtool not found in PATH: install Debian's prometheus package (scripts/deps.sh)";
  const std::string file = dir_.path() + "/scrape.txt";
  std::ofstream(file) << text;
  const std::string cmd = fmt::format("'{}' check metrics < '{}' 2>&1", promtool, file);
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int rc = pclose(p);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << out << "\n---\n" << text;
}

TEST_F(MetricsTest, HttpServerAnswersGarbageAndKeepsServing) {
  const uint16_t port = exporter_->port();
  EXPECT_TRUE(HttpRaw(port, "POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
  EXPECT_TRUE(HttpRaw(port, "GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
  EXPECT_TRUE(HttpRaw(port, "GET /metricsx HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 404 "));
  EXPECT_TRUE(HttpRaw(port, "\x01\x02\xff garbage\r\n\r\n").starts_with("HTTP/1.1 400 "));
  EXPECT_TRUE(HttpRaw(port, "GET\r\n\r\n").starts_with("HTTP/1.1 400 "));
  // A head that never ends, past the limit.
  EXPECT_TRUE(HttpRaw(port, "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'x'))
                  .starts_with("HTTP/1.1 431 "));
  // Binary noise with no blank line: answered 431 once past the limit, never a crash.
  std::string noise;
  for (int i = 0; i < 10000; ++i) noise.push_back(static_cast<char>((i * 7919) & 0xff));
  (void)HttpRaw(port, noise);
  // A peer that connects, says nothing and hangs up.
  EXPECT_EQ(HttpRaw(port, ""), "");
  const std::string head = HttpRaw(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK")) << head;
  EXPECT_EQ(Body(head), "");
  // Query strings are ignored, as scrapers may add them.
  EXPECT_NE(Body(HttpRaw(port, "GET /metrics?x=1 HTTP/1.1\r\n\r\n")).find("# TYPE"),
            std::string::npos);
}

TEST_F(MetricsTest, RuntimeInfoHasRocketMqKeysAndFormats) {
  for (int i = 0; i < 4; ++i) Send("TopicR", std::string(10 * (i + 1), 'r'));  // 100 bytes
  ASSERT_EQ(Pull("GroupR", "TopicR", 0, 3).code, kSuccess);
  RemotingCommand resp = Call(RemotingCommand::Request(request::kGetBrokerRuntimeInfo));
  ASSERT_EQ(resp.code, kSuccess);
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j["table"].is_object()) << resp.body;
  std::map<std::string, std::string> t;
  for (const auto& [k, v] : j["table"].items()) t[k] = v.get<std::string>();

  EXPECT_EQ(t["msgPutTotalTodayNow"], "4");
  EXPECT_EQ(t["msgGetTotalTodayNow"], "3");
  EXPECT_EQ(t["putMessageTimesTotal"], "4");
  EXPECT_EQ(t["putMessageSizeTotal"], "100");
  EXPECT_EQ(t["putMessageAverageSize"], "25.0");
  for (const char* k :
       {"msgPutTotalYesterdayMorning", "msgPutTotalTodayMorning", "msgGetTotalYesterdayMorning",
        "msgGetTotalTodayMorning", "bootTimestamp", "commitLogMinOffset", "commitLogMaxOffset",
        "dispatchBehindBytes", "earliestMessageTimeStamp", "putMessageEntireTimeMax",
        "flushTimesTotal", "flushMicrosTotal", "flushMaxMicros", "sendThreadPoolQueueCapacity"}) {
    EXPECT_TRUE(std::regex_match(t[k], std::regex("-?[0-9]+"))) << k << "=" << t[k];
  }
  const std::regex tps("[0-9.E-]+ [0-9.E-]+ [0-9.E-]+");
  for (const char* k : {"putTps", "getFoundTps", "getMissTps", "getTotalTps", "getTransferedTps"}) {
    EXPECT_TRUE(std::regex_match(t[k], tps)) << k << "=" << t[k];
  }
  EXPECT_TRUE(std::regex_match(
      t["runtime"], std::regex(R"(\[ \d+ days, \d+ hours, \d+ minutes, \d+ seconds \])")))
      << t["runtime"];
  // 13 buckets, summing to the 4 sends.
  std::smatch m;
  int64_t sum = 0, buckets = 0;
  std::string rest = t["putMessageDistributeTime"];
  const std::regex bucket(R"(\[[^\]]+\]:(\d+) )");
  while (std::regex_search(rest, m, bucket)) {
    sum += std::stoll(m[1]);
    ++buckets;
    rest = m.suffix();
  }
  EXPECT_EQ(buckets, 13) << t["putMessageDistributeTime"];
  EXPECT_EQ(sum, 4);
  const double ratio = std::stod(t["commitLogDiskRatio"]);
  EXPECT_GE(ratio, 0);
  EXPECT_LE(ratio, 1);
  EXPECT_EQ(t["brokerVersionDesc"], "Stele 0.1.0");
  EXPECT_EQ(t["commitLogMaxOffset"], fmt::format("{}", broker_->store().MaxOffset()));
  EXPECT_GT(std::stoll(t["earliestMessageTimeStamp"]), 0);
}

}  // namespace
}  // namespace stele::broker
