// The request handlers without a network: requests in, responses out.
#include "net/namesrv/processor.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "net/namesrv/register_body.h"
#include "net/remoting/codes.h"

namespace stele::namesrv {
namespace {

using nlohmann::json;
using remoting::RemotingCommand;
namespace rq = remoting::request;
namespace rs = remoting::response;

constexpr int64_t kT0 = 1'700'000'000'000;

class ProcessorTest : public ::testing::Test {
 protected:
  ProcessorTest() : kv_(nullptr, "") {
    ctx_.routes = &routes_;
    ctx_.kv = &kv_;
    ctx_.now_ms = [this] { return now_; };
    table_ = BuildHandlerTable(ctx_);
  }

  RemotingCommand Call(const RemotingCommand& req, uint64_t channel = 1) {
    auto it = table_.find(req.code);
    EXPECT_NE(it, table_.end()) << req.code;
    RemotingCommand resp = Dispatch(it->second, req, channel);
    EXPECT_TRUE(resp.is_response());
    EXPECT_EQ(resp.opaque, req.opaque);
    return resp;
  }

  static RemotingCommand Register(const std::string& name, const std::string& addr,
                                  std::vector<std::string> topics, int64_t counter = 1,
                                  int64_t id = 0) {
    RegisterBrokerBody body;
    body.topic_config.data_version =
        DataVersion{.state_version = 0, .timestamp = kT0, .counter = counter};
    for (const std::string& t : topics) {
      TopicConfig c;
      c.topic_name = t;
      c.read_queue_nums = c.write_queue_nums = 4;
      body.topic_config.topics[t] = c;
    }
    RemotingCommand req = RemotingCommand::Request(rq::kRegisterBroker);
    req.opaque = 77;
    req.Set("brokerName", name);
    req.Set("brokerAddr", addr);
    req.Set("clusterName", "DefaultCluster");
    req.Set("haServerAddr", addr + "-ha");
    req.Set("brokerId", id);
    req.Set("compressed", "false");
    req.body = EncodeRegisterBrokerBody(body, false);
    req.Set("bodyCrc32", int64_t{BodyCrc32(req.body)});
    return req;
  }

  static RemotingCommand Route(const std::string& topic) {
    RemotingCommand req = RemotingCommand::Request(rq::kGetRouteinfoByTopic);
    req.opaque = 5;
    req.Set("topic", topic);
    return req;
  }

  int64_t now_ = kT0;
  RouteInfoManager routes_;
  KvConfigManager kv_;
  NamesrvContext ctx_;
  HandlerTable table_;
};

TEST_F(ProcessorTest, RegisterThenRoute) {
  RemotingCommand resp = Call(Register("broker-a", "127.0.0.1:10911", {"TopicTest"}));
  EXPECT_EQ(resp.code, rs::kSuccess) << resp.remark.value_or("");
  EXPECT_EQ(json::parse(resp.body), json::parse(R"({"table":{}})"));
  EXPECT_EQ(resp.Field("masterAddr"), nullptr);  // a master gets none, as from Java

  resp = Call(Route("TopicTest"));
  ASSERT_EQ(resp.code, rs::kSuccess);
  json route = json::parse(resp.body);
  EXPECT_EQ(route["brokerDatas"][0]["brokerAddrs"]["0"], "127.0.0.1:10911");
  EXPECT_EQ(route["queueDatas"][0]["perm"], 6);

  resp = Call(Route("Unknown"));
  EXPECT_EQ(resp.code, rs::kTopicNotExist);
  EXPECT_EQ(resp.remark, "No topic route info in name server for the topic: Unknown");
  EXPECT_TRUE(resp.body.empty());
}

TEST_F(ProcessorTest, SlaveRegistrationReturnsMaster) {
  Call(Register("broker-a", "10.0.0.1:10911", {"T"}));
  RemotingCommand resp = Call(Register("broker-a", "10.0.0.2:10911", {"T"}, 1, 1), 2);
  ASSERT_EQ(resp.code, rs::kSuccess);
  ASSERT_NE(resp.Field("masterAddr"), nullptr);
  EXPECT_EQ(*resp.Field("masterAddr"), "10.0.0.1:10911");
  EXPECT_EQ(*resp.Field("haServerAddr"), "10.0.0.1:10911-ha");
}

TEST_F(ProcessorTest, RegisterChecksCrcAndBody) {
  RemotingCommand req = Register("broker-a", "a:1", {"T"});
  req.Set("bodyCrc32", int64_t{12345});
  RemotingCommand resp = Call(req);
  EXPECT_EQ(resp.code, rs::kSystemError);
  EXPECT_EQ(resp.remark, "crc32 not match");

  req = Register("broker-a", "a:1", {"T"});
  req.body = "{not json";
  req.Set("bodyCrc32", int64_t{0});  // not checked
  resp = Call(req);
  EXPECT_EQ(resp.code, rs::kSystemError);
  EXPECT_NE(resp.remark.value_or("").find("not valid JSON"), std::string::npos) << *resp.remark;
  EXPECT_EQ(routes_.live_broker_count(), 0u);

  // The compressed form is accepted too.
  RegisterBrokerBody body;
  TopicConfig t;
  t.topic_name = "Zipped";
  body.topic_config.topics["Zipped"] = t;
  req = Register("broker-a", "a:1", {});
  req.body = EncodeRegisterBrokerBody(body, true);
  req.Set("compressed", "true");
  req.Set("bodyCrc32", int64_t{BodyCrc32(req.body)});
  EXPECT_EQ(Call(req).code, rs::kSuccess);
  EXPECT_EQ(Call(Route("Zipped")).code, rs::kSuccess);
}

TEST_F(ProcessorTest, MalformedHeadersGetClearErrors) {
  struct Case {
    const char* field;
    const char* value;  // nullptr = remove
    const char* remark_has;
  };
  for (const Case& c :
       {Case{"brokerName", nullptr, "brokerName"}, Case{"brokerId", "abc", "brokerId"},
        Case{"brokerId", "-1", "brokerId"}, Case{"brokerAddr", "", "brokerAddr"},
        Case{"clusterName", "a\nb", "clusterName"}, Case{"compressed", "maybe", "compressed"},
        Case{"heartbeatTimeoutMillis", "soon", "heartbeatTimeoutMillis"}}) {
    RemotingCommand req = Register("broker-a", "a:1", {"T"});
    if (c.value == nullptr) {
      req.ext_fields.erase(c.field);
    } else {
      req.Set(c.field, c.value);
    }
    RemotingCommand resp = Call(req);
    EXPECT_EQ(resp.code, rs::kSystemError) << c.field;
    EXPECT_NE(resp.remark.value_or("").find(c.remark_has), std::string::npos)
        << c.field << ": " << resp.remark.value_or("");
  }
  EXPECT_EQ(routes_.live_broker_count(), 0u);

  for (const char* topic : {"", "a/b", "../x", "has space", "x\xff"}) {
    RemotingCommand resp = Call(Route(topic));
    EXPECT_EQ(resp.code, rs::kSystemError) << topic;
    EXPECT_NE(resp.remark.value_or("").find("topic"), std::string::npos);
  }
  RemotingCommand no_topic = RemotingCommand::Request(rq::kGetRouteinfoByTopic);
  EXPECT_EQ(Call(no_topic).code, rs::kSystemError);
  EXPECT_EQ(Call(Route(std::string(256, 'x'))).code, rs::kSystemError);
  // Retry topics may be longer than a user topic (up to 255).
  EXPECT_EQ(Call(Route("%RETRY%" + std::string(200, 'g'))).code, rs::kTopicNotExist);
}

TEST_F(ProcessorTest, InvalidTopicsInARegistrationAreDropped) {
  ASSERT_EQ(Call(Register("broker-a", "a:1", {"Good", "host.example.com"})).code, rs::kSuccess);
  EXPECT_EQ(Call(Route("Good")).code, rs::kSuccess);
  EXPECT_EQ(json::parse(Call(RemotingCommand::Request(rq::kGetAllTopicListFromNameserver)).body),
            json::parse(R"({"topicList":["Good"]})"));
}

TEST_F(ProcessorTest, UnregisterHeartbeatAndDataVersion) {
  Call(Register("broker-a", "a:1", {"T"}, /*counter=*/3));
  RemotingCommand q = RemotingCommand::Request(rq::kQueryDataVersion);
  q.Set("brokerName", "broker-a");
  q.Set("brokerAddr", "a:1");
  q.Set("clusterName", "DefaultCluster");
  q.Set("brokerId", int64_t{0});
  q.body = DataVersion{.state_version = 0, .timestamp = kT0, .counter = 3}.ToJson().dump();
  RemotingCommand resp = Call(q);
  ASSERT_EQ(resp.code, rs::kSuccess);
  EXPECT_EQ(*resp.Field("changed"), "false");
  EXPECT_EQ(json::parse(resp.body)["counter"], 3);
  q.body = DataVersion{.state_version = 0, .timestamp = kT0, .counter = 4}.ToJson().dump();
  EXPECT_EQ(*Call(q).Field("changed"), "true");
  q.body = "garbage";
  EXPECT_EQ(Call(q).code, rs::kSystemError);

  // Heartbeats keep the broker alive past the default expiry.
  RemotingCommand hb = RemotingCommand::Request(rq::kBrokerHeartbeat);
  hb.Set("clusterName", "DefaultCluster");
  hb.Set("brokerAddr", "a:1");
  hb.Set("brokerName", "broker-a");
  now_ = kT0 + 100000;
  EXPECT_EQ(Call(hb).code, rs::kSuccess);
  EXPECT_TRUE(routes_.ScanNotActiveBroker(kT0 + 150000).empty());

  RemotingCommand un = RemotingCommand::Request(rq::kUnregisterBroker);
  un.Set("brokerName", "broker-a");
  un.Set("brokerAddr", "a:1");
  un.Set("clusterName", "DefaultCluster");
  un.Set("brokerId", int64_t{0});
  EXPECT_EQ(Call(un).code, rs::kSuccess);
  EXPECT_EQ(Call(Route("T")).code, rs::kTopicNotExist);
}

TEST_F(ProcessorTest, AdminRouteRequests) {
  Call(Register("broker-a", "a:1", {"T", "A"}));
  RemotingCommand info = Call(RemotingCommand::Request(rq::kGetBrokerClusterInfo));
  EXPECT_EQ(json::parse(info.body)["clusterAddrTable"],
            json::parse(R"({"DefaultCluster":["broker-a"]})"));

  RemotingCommand by_cluster = RemotingCommand::Request(rq::kGetTopicsByCluster);
  by_cluster.Set("cluster", "DefaultCluster");
  EXPECT_EQ(json::parse(Call(by_cluster).body), json::parse(R"({"topicList":["A","T"]})"));

  RemotingCommand wipe = RemotingCommand::Request(rq::kWipeWritePermOfBroker);
  wipe.Set("brokerName", "broker-a");
  EXPECT_EQ(*Call(wipe).Field("wipeTopicCount"), "2");
  EXPECT_EQ(json::parse(Call(Route("T")).body)["queueDatas"][0]["perm"], 4);

  RemotingCommand del = RemotingCommand::Request(rq::kDeleteTopicInNamesrv);
  del.Set("topic", "A");
  EXPECT_EQ(Call(del).code, rs::kSuccess);
  EXPECT_EQ(Call(Route("A")).code, rs::kTopicNotExist);
  del.Set("topic", "T");
  del.Set("clusterName", "OtherCluster");
  EXPECT_EQ(Call(del).code, rs::kSuccess);
  EXPECT_EQ(Call(Route("T")).code, rs::kSuccess);  // not served by that cluster
  del.Set("clusterName", "DefaultCluster");
  EXPECT_EQ(Call(del).code, rs::kSuccess);
  EXPECT_EQ(Call(Route("T")).code, rs::kTopicNotExist);
}

TEST_F(ProcessorTest, WipeAndAddWritePermSurviveReregistration) {
  Call(Register("broker-a", "a:1", {"T", "A"}));
  Call(Register("broker-b", "b:1", {"T"}), 2);
  auto perm_of = [&](const std::string& topic, const std::string& broker) -> int {
    const json route = json::parse(Call(Route(topic)).body);
    for (const json& q : route["queueDatas"]) {
      if (q["brokerName"] == broker) return q["perm"].get<int>();
    }
    return -1;
  };
  RemotingCommand wipe = RemotingCommand::Request(rq::kWipeWritePermOfBroker);
  wipe.Set("brokerName", "broker-a");
  RemotingCommand resp = Call(wipe);
  ASSERT_EQ(resp.code, rs::kSuccess);
  EXPECT_EQ(*resp.Field("wipeTopicCount"), "2");
  EXPECT_EQ(perm_of("T", "broker-a"), 4);
  EXPECT_EQ(perm_of("T", "broker-b"), 6);  // other groups keep theirs

  // The broker's periodic registration, same DataVersion and then a new one (a topic was
  // created): the wipe holds, including for the new topic.
  Call(Register("broker-a", "a:1", {"T", "A"}));
  EXPECT_EQ(perm_of("T", "broker-a"), 4);
  Call(Register("broker-a", "a:1", {"T", "A", "N"}, 2));
  EXPECT_EQ(perm_of("T", "broker-a"), 4);
  EXPECT_EQ(perm_of("N", "broker-a"), 4);
  EXPECT_TRUE(routes_.IsWriteWiped("broker-a"));

  RemotingCommand add = RemotingCommand::Request(rq::kAddWritePermOfBroker);
  add.Set("brokerName", "broker-a");
  resp = Call(add);
  ASSERT_EQ(resp.code, rs::kSuccess);
  EXPECT_EQ(*resp.Field("addTopicCount"), "3");
  EXPECT_EQ(perm_of("N", "broker-a"), 6);
  Call(Register("broker-a", "a:1", {"T", "A", "N"}, 3));
  EXPECT_EQ(perm_of("T", "broker-a"), 6);
  EXPECT_FALSE(routes_.IsWriteWiped("broker-a"));

  // Unknown broker: nothing touched, nothing remembered for a later registration.
  wipe.Set("brokerName", "broker-z");
  EXPECT_EQ(*Call(wipe).Field("wipeTopicCount"), "0");
  Call(Register("broker-z", "z:1", {"T"}), 3);
  EXPECT_EQ(perm_of("T", "broker-z"), 6);

  // A wiped group that leaves the name server comes back writable (a restarted broker).
  wipe.Set("brokerName", "broker-b");
  Call(wipe);
  RemotingCommand un = RemotingCommand::Request(rq::kUnregisterBroker);
  un.Set("brokerName", "broker-b");
  un.Set("brokerAddr", "b:1");
  un.Set("clusterName", "DefaultCluster");
  un.Set("brokerId", int64_t{0});
  EXPECT_EQ(Call(un).code, rs::kSuccess);
  Call(Register("broker-b", "b:1", {"T"}), 2);
  EXPECT_EQ(perm_of("T", "broker-b"), 6);

  add.Set("brokerName", "");
  EXPECT_EQ(Call(add).code, rs::kSystemError);  // a name is required
}

TEST_F(ProcessorTest, NamesrvConfigIsReadOnly) {
  ctx_.config = {{"listenPort", "9876"}, {"kvConfigPath", "/tmp/kv.json"}};
  table_ = BuildHandlerTable(ctx_);
  RemotingCommand resp = Call(RemotingCommand::Request(rq::kGetNamesrvConfig));
  ASSERT_EQ(resp.code, rs::kSuccess);
  EXPECT_EQ(resp.body, "listenPort=9876\nkvConfigPath=/tmp/kv.json\n");

  RemotingCommand update = RemotingCommand::Request(rq::kUpdateNamesrvConfig);
  update.body = "kvConfigPath=/etc/cron.d/x\n";
  resp = Call(update);
  EXPECT_EQ(resp.code, rs::kNoPermission);
  EXPECT_NE(resp.remark.value_or("").find("not supported"), std::string::npos);
  EXPECT_EQ(Call(RemotingCommand::Request(rq::kGetNamesrvConfig)).body,
            "listenPort=9876\nkvConfigPath=/tmp/kv.json\n");
}

TEST_F(ProcessorTest, OptionalRegistrationFields) {
  RemotingCommand req = Register("broker-a", "a:1", {"T"});
  req.Set("zoneName", "zone-1");
  req.Set("heartbeatTimeoutMillis", int64_t{5000});
  ASSERT_EQ(Call(req).code, rs::kSuccess);
  EXPECT_EQ(json::parse(Call(Route("T")).body)["brokerDatas"][0]["zoneName"], "zone-1");
  EXPECT_EQ(routes_.ScanNotActiveBroker(kT0 + 5001).size(), 1u);

  req.Set("haServerAddr",
          "bad\x01"
          "addr");
  EXPECT_EQ(Call(req).code, rs::kSystemError);
  req.Set("haServerAddr", "null");  // what a JSON client sends for "none"
  EXPECT_EQ(Call(req).code, rs::kSuccess);
}

TEST_F(ProcessorTest, KvRequests) {
  RemotingCommand put = RemotingCommand::Request(rq::kPutKvConfig);
  put.Set("namespace", "ORDER_TOPIC_CONFIG");
  put.Set("key", "T");
  put.Set("value", "broker-a:4");
  EXPECT_EQ(Call(put).code, rs::kSuccess);

  RemotingCommand get = RemotingCommand::Request(rq::kGetKvConfig);
  get.Set("namespace", "ORDER_TOPIC_CONFIG");
  get.Set("key", "T");
  RemotingCommand resp = Call(get);
  ASSERT_EQ(resp.code, rs::kSuccess);
  EXPECT_EQ(*resp.Field("value"), "broker-a:4");

  // Registering brokers get the ORDER_TOPIC_CONFIG namespace back.
  resp = Call(Register("broker-a", "a:1", {"T"}));
  EXPECT_EQ(json::parse(resp.body), json::parse(R"({"table":{"T":"broker-a:4"}})"));

  RemotingCommand list = RemotingCommand::Request(rq::kGetKvlistByNamespace);
  list.Set("namespace", "ORDER_TOPIC_CONFIG");
  EXPECT_EQ(json::parse(Call(list).body), json::parse(R"({"table":{"T":"broker-a:4"}})"));

  RemotingCommand del = RemotingCommand::Request(rq::kDeleteKvConfig);
  del.Set("namespace", "ORDER_TOPIC_CONFIG");
  del.Set("key", "T");
  EXPECT_EQ(Call(del).code, rs::kSuccess);
  resp = Call(get);
  EXPECT_EQ(resp.code, rs::kQueryNotFound);
  EXPECT_EQ(resp.remark, "No config item, Namespace: ORDER_TOPIC_CONFIG Key: T");
  EXPECT_EQ(Call(list).code, rs::kQueryNotFound);

  put.ext_fields.erase("value");
  EXPECT_EQ(Call(put).code, rs::kSystemError);
}

TEST_F(ProcessorTest, OrderTopicConfInRoutesWhenEnabled) {
  ctx_.order_message_enable = true;
  table_ = BuildHandlerTable(ctx_);
  ASSERT_TRUE(kv_.Put(kNamespaceOrderTopicConfig, "T", "broker-a:4").ok());
  Call(Register("broker-a", "a:1", {"T", "U"}));
  EXPECT_EQ(json::parse(Call(Route("T")).body)["orderTopicConf"], "broker-a:4");
  EXPECT_TRUE(json::parse(Call(Route("U")).body)["orderTopicConf"].is_null());
}

TEST_F(ProcessorTest, DispatchTurnsExceptionsIntoErrors) {
  SyncHandler throws = [](const RemotingCommand&, uint64_t) -> absl::StatusOr<RemotingCommand> {
    throw std::runtime_error("boom");
  };
  RemotingCommand req = RemotingCommand::Request(999);
  req.opaque = 3;
  req.serialize_type = remoting::SerializeType::kRocketMq;
  RemotingCommand resp = Dispatch(throws, req, 1);
  EXPECT_EQ(resp.code, rs::kSystemError);
  EXPECT_EQ(resp.opaque, 3);
  EXPECT_EQ(resp.serialize_type, remoting::SerializeType::kRocketMq);
  EXPECT_NE(resp.remark.value_or("").find("boom"), std::string::npos);
}

}  // namespace
}  // namespace stele::namesrv
