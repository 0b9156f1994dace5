// The name server over real sockets: a NamesrvController on 127.0.0.1 (any free port) driven by
// remoting clients playing brokers and producers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "fmt/format.h"
#include "net/namesrv/namesrv_controller.h"
#include "net/namesrv/register_body.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "testutil.h"

namespace stele::namesrv {
namespace {

using nlohmann::json;
using remoting::RemotingClient;
using remoting::RemotingCommand;
using remoting::SerializeType;
namespace rq = remoting::request;
namespace rs = remoting::response;
using namespace std::chrono_literals;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr auto kTimeout = 5s;

// Waits for a condition another thread (the server's) makes true; fails after `limit`.
bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

RemotingCommand RegisterRequest(const std::string& name, const std::string& addr,
                                const std::vector<std::string>& topics) {
  RegisterBrokerBody body;
  body.topic_config.data_version = DataVersion{.state_version = 0, .timestamp = kT0, .counter = 1};
  for (const std::string& t : topics) {
    TopicConfig c;
    c.topic_name = t;
    c.read_queue_nums = c.write_queue_nums = 4;
    body.topic_config.topics[t] = c;
  }
  RemotingCommand req = RemotingCommand::Request(rq::kRegisterBroker);
  req.Set("brokerName", name);
  req.Set("brokerAddr", addr);
  req.Set("clusterName", "DefaultCluster");
  req.Set("haServerAddr", "127.0.0.1:10912");
  req.Set("brokerId", int64_t{0});
  req.Set("compressed", "false");
  req.body = EncodeRegisterBrokerBody(body, false);
  req.Set("bodyCrc32", int64_t{BodyCrc32(req.body)});
  return req;
}

RemotingCommand RouteRequest(const std::string& topic) {
  RemotingCommand req = RemotingCommand::Request(rq::kGetRouteinfoByTopic);
  req.Set("topic", topic);
  return req;
}

class NamesrvE2ETest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(); }

  void StartServer() {
    NamesrvOptions o;
    o.bind_address = "127.0.0.1";
    o.listen_port = 0;
    o.kv_config_path = dir_.path() + "/namesrv/kvConfig.json";
    o.scan_not_active_broker_interval = 10ms;
    o.clock = [this] { return now_.load(); };
    server_ = std::make_unique<NamesrvController>(std::move(o));
    ASSERT_TRUE(server_->Start().ok());
    addr_ = fmt::format("127.0.0.1:{}", server_->port());
  }

  RemotingCommand Call(RemotingClient& c, RemotingCommand req) {
    auto resp = c.InvokeSync(addr_, std::move(req), kTimeout);
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *std::move(resp) : RemotingCommand{};
  }

  stele::testing::TempDir dir_;
  std::atomic<int64_t> now_{kT0};
  std::unique_ptr<NamesrvController> server_;
  std::string addr_;
  RemotingClient client_{remoting::ClientOptions{.name = "producer"}};
};

TEST_F(NamesrvE2ETest, RegisteredBrokerIsRouted) {
  RemotingClient broker({.name = "broker"});
  RemotingCommand resp =
      Call(broker, RegisterRequest("broker-a", "127.0.0.1:10911", {"TopicTest"}));
  ASSERT_EQ(resp.code, rs::kSuccess) << resp.remark.value_or("");
  EXPECT_EQ(json::parse(resp.body), json::parse(R"({"table":{}})"));

  resp = Call(client_, RouteRequest("TopicTest"));
  ASSERT_EQ(resp.code, rs::kSuccess) << resp.remark.value_or("");
  EXPECT_EQ(resp.serialize_type, SerializeType::kJson);
  // The exact text a JavaScript client parses: standard JSON, "0" quoted, arrays.
  EXPECT_NE(resp.body.find(R"("brokerAddrs":{"0":"127.0.0.1:10911"})"), std::string::npos)
      << resp.body;
  json route = json::parse(resp.body);
  EXPECT_TRUE(route["queueDatas"].is_array());
  EXPECT_TRUE(route["brokerDatas"].is_array());
  EXPECT_EQ(route["queueDatas"][0]["readQueueNums"], 4);

  resp = Call(client_, RouteRequest("NoSuchTopic"));
  EXPECT_EQ(resp.code, rs::kTopicNotExist);
  EXPECT_EQ(resp.remark, "No topic route info in name server for the topic: NoSuchTopic");
}

TEST_F(NamesrvE2ETest, AnswersInTheRequestsSerializeType) {
  RemotingClient broker({.name = "broker"});
  ASSERT_EQ(Call(broker, RegisterRequest("broker-a", "127.0.0.1:10911", {"T"})).code, rs::kSuccess);
  for (SerializeType type : {SerializeType::kJson, SerializeType::kRocketMq}) {
    RemotingCommand req = RouteRequest("T");
    req.serialize_type = type;
    RemotingCommand resp = Call(client_, req);
    EXPECT_EQ(resp.code, rs::kSuccess);
    EXPECT_EQ(resp.serialize_type, type);
    req = RouteRequest("Missing");
    req.serialize_type = type;
    resp = Call(client_, req);
    EXPECT_EQ(resp.code, rs::kTopicNotExist);
    EXPECT_EQ(resp.serialize_type, type);
  }
  // A binary-header registration works too.
  RemotingCommand reg = RegisterRequest("broker-b", "127.0.0.1:10921", {"T"});
  reg.serialize_type = SerializeType::kRocketMq;
  RemotingCommand resp = Call(broker, reg);
  EXPECT_EQ(resp.code, rs::kSuccess);
  EXPECT_EQ(resp.serialize_type, SerializeType::kRocketMq);
  EXPECT_EQ(json::parse(Call(client_, RouteRequest("T")).body)["brokerDatas"].size(), 2u);
}

TEST_F(NamesrvE2ETest, MalformedRequestsGetErrorsAndTheServerKeepsAnswering) {
  RemotingCommand bad_body = RegisterRequest("broker-a", "127.0.0.1:10911", {"T"});
  bad_body.body = "{\"topicConfigSerializeWrapper\":";
  bad_body.Set("bodyCrc32", int64_t{0});
  RemotingCommand resp = Call(client_, bad_body);
  EXPECT_EQ(resp.code, rs::kSystemError);
  EXPECT_FALSE(resp.remark.value_or("").empty());

  RemotingCommand no_id = RegisterRequest("broker-a", "127.0.0.1:10911", {"T"});
  no_id.ext_fields.erase("brokerId");
  resp = Call(client_, no_id);
  EXPECT_EQ(resp.code, rs::kSystemError);
  EXPECT_NE(resp.remark.value_or("").find("brokerId"), std::string::npos);

  RemotingCommand bad_zip = RegisterRequest("broker-a", "127.0.0.1:10911", {"T"});
  bad_zip.Set("compressed", "true");
  EXPECT_EQ(Call(client_, bad_zip).code, rs::kSystemError);

  RemotingCommand bad_dv = RemotingCommand::Request(rq::kQueryDataVersion);
  bad_dv.Set("brokerAddr", "x:1");
  bad_dv.Set("clusterName", "c");
  bad_dv.body = std::string(1000, '[');
  EXPECT_EQ(Call(client_, bad_dv).code, rs::kSystemError);

  EXPECT_EQ(Call(client_, RemotingCommand::Request(12345)).code, rs::kRequestCodeNotSupported);
  EXPECT_EQ(Call(client_, RouteRequest("bad/topic")).code, rs::kSystemError);

  // Same connection, still served.
  EXPECT_EQ(Call(client_, RouteRequest("T")).code, rs::kTopicNotExist);
  EXPECT_EQ(Call(client_, RegisterRequest("broker-a", "127.0.0.1:10911", {"T"})).code,
            rs::kSuccess);
  EXPECT_EQ(Call(client_, RouteRequest("T")).code, rs::kSuccess);
}

TEST_F(NamesrvE2ETest, GarbageFrameClosesOnlyThatConnection) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(server_->port());
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  const char garbage[] = "\x00\x00\x00\x08\x00\x00\x00\x7fGET / HTTP/1.1\r\n";
  ASSERT_GT(::send(fd, garbage, sizeof(garbage) - 1, MSG_NOSIGNAL), 0);
  char buf[64];
  timeval tv{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  EXPECT_EQ(::recv(fd, buf, sizeof(buf), 0), 0);  // closed by the server, nothing sent
  ::close(fd);
  EXPECT_EQ(Call(client_, RouteRequest("T")).code, rs::kTopicNotExist);
}

TEST_F(NamesrvE2ETest, ClosedBrokerConnectionDropsItsRoutes) {
  {
    RemotingClient broker({.name = "broker"});
    ASSERT_EQ(Call(broker, RegisterRequest("broker-a", "127.0.0.1:10911", {"T"})).code,
              rs::kSuccess);
    ASSERT_EQ(Call(client_, RouteRequest("T")).code, rs::kSuccess);
    // A producer's connection closing is no broker's business.
    RemotingClient other({.name = "other"});
    ASSERT_EQ(Call(other, RouteRequest("T")).code, rs::kSuccess);
  }
  EXPECT_TRUE(WaitUntil([&] { return server_->routes().live_broker_count() == 0; }));
  EXPECT_EQ(Call(client_, RouteRequest("T")).code, rs::kTopicNotExist);
}

TEST_F(NamesrvE2ETest, SilentBrokerExpiresAndItsConnectionIsClosed) {
  RemotingClient broker({.name = "broker"});
  ASSERT_EQ(Call(broker, RegisterRequest("broker-a", "127.0.0.1:10911", {"T"})).code, rs::kSuccess);
  auto ch = broker.GetChannel(addr_);
  ASSERT_TRUE(ch.ok());
  // A heartbeat at +100 s keeps it past the default 120 s.
  now_ = kT0 + 100000;
  RemotingCommand hb = RemotingCommand::Request(rq::kBrokerHeartbeat);
  hb.Set("clusterName", "DefaultCluster");
  hb.Set("brokerAddr", "127.0.0.1:10911");
  hb.Set("brokerName", "broker-a");
  ASSERT_EQ(Call(broker, hb).code, rs::kSuccess);
  now_ = kT0 + 150000;  // 50 s after the heartbeat: not expired, whenever the scan runs
  EXPECT_EQ(Call(client_, RouteRequest("T")).code, rs::kSuccess);
  EXPECT_EQ(server_->routes().live_broker_count(), 1u);

  now_ = kT0 + 100000 + kDefaultBrokerExpiryMs + 1;
  EXPECT_TRUE(WaitUntil([&] { return server_->routes().live_broker_count() == 0; }));
  EXPECT_TRUE(WaitUntil([&] { return !(*ch)->is_open(); }));
  EXPECT_EQ(Call(client_, RouteRequest("T")).code, rs::kTopicNotExist);
}

TEST_F(NamesrvE2ETest, KvConfigSurvivesARestart) {
  RemotingCommand put = RemotingCommand::Request(rq::kPutKvConfig);
  put.Set("namespace", "ORDER_TOPIC_CONFIG");
  put.Set("key", "T");
  put.Set("value", "broker-a:4");
  ASSERT_EQ(Call(client_, put).code, rs::kSuccess);
  server_->Stop();
  server_.reset();
  StartServer();

  RemotingClient fresh({.name = "fresh"});
  RemotingCommand get = RemotingCommand::Request(rq::kGetKvConfig);
  get.Set("namespace", "ORDER_TOPIC_CONFIG");
  get.Set("key", "T");
  RemotingCommand resp = Call(fresh, get);
  ASSERT_EQ(resp.code, rs::kSuccess);
  EXPECT_EQ(*resp.Field("value"), "broker-a:4");
}

TEST(NamesrvControllerTest, PortInUseIsAClearError) {
  NamesrvOptions a{.bind_address = "127.0.0.1", .listen_port = 0};
  NamesrvController first(a);
  ASSERT_TRUE(first.Start().ok());
  NamesrvOptions b{.bind_address = "127.0.0.1", .listen_port = first.port()};
  NamesrvController second(b);
  absl::Status s = second.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(fmt::format("{}", first.port())), std::string::npos) << s;
}

}  // namespace
}  // namespace stele::namesrv
