#include "cluster_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include "common/status.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace stele::testing {

namespace {

using namespace std::chrono_literals;

// How long a broker gets to show up in the name server after Start().
constexpr auto kRegisterLimit = 20s;
// Bind races with other processes picking ephemeral ports: retry a few times.
constexpr int kPortAttempts = 5;

// "k\x01v\x02k\x01v\x02" (the engine's serialized properties) as a map.
std::map<std::string, std::string> SplitProperties(std::string_view s) {
  std::map<std::string, std::string> out;
  while (!s.empty()) {
    const size_t end = s.find(kPropertySeparator);
    const std::string_view item = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view{} : s.substr(end + 1);
    if (item.empty()) continue;
    const size_t eq = item.find(kNameValueSeparator);
    if (eq == std::string_view::npos) {
      out[std::string(item)] = "";
    } else {
      out[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
    }
  }
  return out;
}

}  // namespace

bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

absl::StatusOr<uint16_t> PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = 0;
  socklen_t len = sizeof sa;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd);
    return absl::InternalError("bind/getsockname on 127.0.0.1:0 failed");
  }
  ::close(fd);
  return ntohs(sa.sin_port);
}

const std::string* StoredMessage::Property(std::string_view name) const {
  auto it = properties.find(std::string(name));
  return it == properties.end() ? nullptr : &it->second;
}

absl::StatusOr<std::unique_ptr<TestCluster>> TestCluster::Start(ClusterOptions options) {
  std::unique_ptr<TestCluster> c(new TestCluster(std::move(options)));
  namesrv::NamesrvOptions no;
  no.bind_address = "127.0.0.1";
  no.listen_port = 0;
  no.io_threads = 2;
  no.kv_config_path = c->root_.path() + "/namesrv/kvConfig.json";
  c->namesrv_ = std::make_unique<namesrv::NamesrvController>(std::move(no));
  STELE_RETURN_IF_ERROR(c->namesrv_->Start());

  c->brokers_.resize(static_cast<size_t>(c->options_.brokers));
  for (int i = 0; i < c->options_.brokers; ++i) {
    Node& n = c->brokers_[static_cast<size_t>(i)];
    n.name = fmt::format("broker-{}", static_cast<char>('a' + i));
    n.dir = fmt::format("{}/{}", c->root_.path(), n.name);
    std::filesystem::create_directories(n.dir);
    absl::Status s;
    for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
      STELE_ASSIGN_OR_RETURN(n.port, PickFreePort());
      s = c->StartNode(i);
      if (s.ok() || !absl::IsUnavailable(s)) break;  // Unavailable: the port was taken meanwhile
    }
    STELE_RETURN_IF_ERROR(s);
  }
  for (int i = 0; i < c->options_.brokers; ++i) {
    STELE_RETURN_IF_ERROR(c->WaitForRegistration(i, kRegisterLimit));
  }
  return c;
}

TestCluster::~TestCluster() {
  for (Node& n : brokers_) {
    if (n.controller) n.controller->Shutdown();
    n.controller.reset();
  }
  if (namesrv_) namesrv_->Stop();
}

absl::Status TestCluster::StartNode(int i) {
  Node& n = brokers_[static_cast<size_t>(i)];
  broker::BrokerConfig c;
  c.broker_cluster_name = options_.cluster_name;
  c.broker_name = n.name;
  c.broker_id = 0;
  c.broker_ip1 = "127.0.0.1";
  c.bind_address = "127.0.0.1";
  c.listen_port = n.port;
  c.grpc_server_port = 0;
  c.namesrv_addr = namesrv_addr();
  c.store_path_root_dir = n.dir;
  c.auto_create_topic_enable = true;
  c.store = SmallOptions(n.dir, NewPosixFileSystem(), options_.flush);
  if (options_.tweak) options_.tweak(i, c);
  STELE_RETURN_IF_ERROR(c.Finalize());
  STELE_ASSIGN_OR_RETURN(auto b, broker::BrokerController::Create(std::move(c)));
  if (absl::Status s = b->Start(); !s.ok()) {
    b->Shutdown();
    return s;
  }
  n.controller = std::move(b);
  return absl::OkStatus();
}

absl::Status TestCluster::WaitForRegistration(int i, std::chrono::milliseconds limit) {
  // Every broker serves its own name as a topic (TopicValidator's system topics), so the name
  // server routes that topic to it once the registration went through.
  return WaitForRoute(broker_name(i), 1, limit);
}

std::string TestCluster::namesrv_addr() const {
  return fmt::format("127.0.0.1:{}", namesrv_->port());
}

broker::BrokerController& TestCluster::broker(int i) {
  assert(running(i));
  if (!running(i)) {
    ADD_FAILURE() << "broker " << i << " is not running";
    std::abort();
  }
  return *brokers_[static_cast<size_t>(i)].controller;
}

bool TestCluster::running(int i) const {
  return i >= 0 && i < broker_count() && brokers_[static_cast<size_t>(i)].controller != nullptr;
}

const std::string& TestCluster::broker_name(int i) const {
  return brokers_.at(static_cast<size_t>(i)).name;
}

std::string TestCluster::broker_addr(int i) const {
  return fmt::format("127.0.0.1:{}", brokers_.at(static_cast<size_t>(i)).port);
}

int TestCluster::running_broker_count() const {
  int n = 0;
  for (int i = 0; i < broker_count(); ++i) n += running(i) ? 1 : 0;
  return n;
}

void TestCluster::StopBroker(int i) {
  Node& n = brokers_.at(static_cast<size_t>(i));
  if (n.controller == nullptr) return;
  n.controller->Shutdown();
  n.controller.reset();
}

absl::Status TestCluster::RestartBroker(int i) {
  StopBroker(i);
  // The same port: reuse_address lets the new listener bind while old connections linger.
  STELE_RETURN_IF_ERROR(StartNode(i));
  return WaitForRegistration(i, kRegisterLimit);
}

absl::Status TestCluster::CreateTopic(const std::string& topic, int queues, int perm) {
  int n = 0;
  for (int i = 0; i < broker_count(); ++i) {
    if (!running(i)) continue;
    broker::TopicConfig t;
    t.topic_name = topic;
    t.read_queue_nums = t.write_queue_nums = queues;
    t.perm = perm;
    STELE_RETURN_IF_ERROR(broker(i).topics().CreateOrUpdate(t));
    broker(i).RegisterSoon();
    ++n;
  }
  return WaitForRoute(topic, n);
}

std::vector<std::string> TestCluster::RoutedBrokers(const std::string& topic) const {
  std::vector<std::string> out;
  auto route = namesrv_->routes().PickupTopicRouteData(topic);
  if (!route.ok()) return out;
  const nlohmann::json& qd = (*route)["queueDatas"];
  if (!qd.is_array()) return out;
  for (const nlohmann::json& q : qd) {
    if (q.contains("brokerName") && q["brokerName"].is_string()) {
      out.push_back(q["brokerName"].get<std::string>());
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::Status TestCluster::WaitForRoute(const std::string& topic, int n_brokers,
                                       std::chrono::milliseconds limit) {
  std::vector<std::string> last;
  const bool ok = WaitUntil(
      [&] {
        last = RoutedBrokers(topic);
        return static_cast<int>(last.size()) == n_brokers;
      },
      limit);
  if (ok) return absl::OkStatus();
  return absl::DeadlineExceededError(
      fmt::format("after {} ms the name server routes topic {} to {} broker(s) [{}], not {}",
                  limit.count(), topic, last.size(), fmt::join(last, ","), n_brokers));
}

std::vector<StoredMessage> TestCluster::ReadTopic(const std::string& topic) const {
  std::vector<StoredMessage> out;
  for (int i = 0; i < broker_count(); ++i) {
    if (!running(i)) continue;
    Store& store = brokers_[static_cast<size_t>(i)].controller->store();
    std::vector<QueueInfo> queues = store.ListQueues();
    std::sort(queues.begin(), queues.end(),
              [](const QueueInfo& a, const QueueInfo& b) { return a.queue_id < b.queue_id; });
    for (const QueueInfo& q : queues) {
      if (q.topic != topic) continue;
      int64_t offset = q.min_offset;
      while (offset < store.MaxQueueOffset(topic, q.queue_id)) {
        auto got = store.Get(topic, q.queue_id, offset);
        if (!got.ok() || got->messages.empty() || got->next_begin_offset <= offset) break;
        for (const RecordRef& r : got->messages) {
          const MessageView& v = r.msg;
          StoredMessage m;
          m.broker = i;
          m.broker_name = brokers_[static_cast<size_t>(i)].name;
          m.topic = std::string(v.topic);
          m.queue_id = v.queue_id;
          m.queue_offset = v.queue_offset;
          m.commit_log_offset = v.physical_offset;
          m.sys_flag = v.sys_flag;
          m.flag = v.flag;
          m.reconsume_times = v.reconsume_times;
          m.body = std::string(v.body);
          m.properties = SplitProperties(v.properties);
          m.offset_msg_id = v.OffsetMsgId();
          m.record = std::string(r.bytes);
          out.push_back(std::move(m));
        }
        offset = got->next_begin_offset;
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<StoredMessage>> TestCluster::WaitForStored(
    const std::string& topic, size_t n, std::chrono::milliseconds limit) const {
  std::vector<StoredMessage> got;
  if (WaitUntil(
          [&] {
            got = ReadTopic(topic);
            return got.size() >= n;
          },
          limit)) {
    return got;
  }
  return absl::DeadlineExceededError(
      fmt::format("after {} ms the brokers hold {} message(s) of topic {}, expected {}",
                  limit.count(), got.size(), topic, n));
}

void ClusterTest::SetUp() {
  auto c = TestCluster::Start(Options());
  ASSERT_TRUE(c.ok()) << c.status();
  cluster_ = *std::move(c);
}

}  // namespace stele::testing
