// The admin client against an in-process cluster (one name server, two brokers on 127.0.0.1):
// every call once for real, its errors (unknown topic, unreachable address, bad ids), and the
// calls Stele's broker does not serve (consumer connections, consume stats) against a fake broker
// that answers them as a Java broker does.
#include "stele/client/admin.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "client/client_instance.h"
#include "cluster_fixture.h"
#include "common/clock.h"
#include "fmt/format.h"
#include "net/namesrv/register_body.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "stele/client/producer.h"

namespace stele::client {
namespace {

using namespace std::chrono_literals;
using remoting::RemotingCommand;
using stele::testing::WaitUntil;
namespace code = remoting::request;
namespace rc = remoting::response;

constexpr char kCluster[] = "SteleTestCluster";  // ClusterOptions' default

// RocketMQ's response code carried by an error (nullopt: a transport error, or OK).
std::optional<int32_t> CodeOf(const absl::Status& s) { return RocketMqCode(s); }

class AdminTest : public stele::testing::ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (HasFatalFailure()) return;
    admin_ = std::make_unique<AdminClient>(
        AdminOptions{.namesrv_addr = cluster_->namesrv_addr(), .timeout = 5s});
    ASSERT_TRUE(admin_->Start().ok());
  }
  void TearDown() override {
    if (admin_) admin_->Shutdown();
    ClusterTest::TearDown();
  }

  // Sends `n` messages to queue 0 of broker-a; their results.
  std::vector<SendResult> SendTo(const std::string& topic, int n, const std::string& keys = "k") {
    Producer p({.group = "AdminTestProducer", .namesrv_addr = cluster_->namesrv_addr()});
    EXPECT_TRUE(p.Start().ok());
    std::vector<SendResult> out;
    for (int i = 0; i < n; ++i) {
      auto r =
          p.Send({.topic = topic, .body = fmt::format("body-{}", i), .tags = "TagA", .keys = keys},
                 MessageQueue{topic, "broker-a", 0});
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) out.push_back(*r);
    }
    p.Shutdown();
    return out;
  }

  std::unique_ptr<AdminClient> admin_;
};

TEST_F(AdminTest, ClusterInfoListsEveryMaster) {
  auto info = admin_->ClusterInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->clusters.count(kCluster), 1u);
  std::vector<std::string> names = info->clusters.at(kCluster);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"broker-a", "broker-b"}));
  EXPECT_EQ(info->brokers.at("broker-a").addrs.at(0), cluster_->broker_addr(0));
  EXPECT_EQ(info->brokers.at("broker-b").cluster, kCluster);

  auto masters = admin_->ClusterMasters(kCluster);
  ASSERT_TRUE(masters.ok()) << masters.status();
  std::sort(masters->begin(), masters->end());
  std::vector<std::string> want = {cluster_->broker_addr(0), cluster_->broker_addr(1)};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(*masters, want);
  EXPECT_TRUE(absl::IsNotFound(admin_->ClusterMasters("NoSuchCluster").status()));
}

TEST_F(AdminTest, TopicCreateListRouteDelete) {
  auto created = admin_->CreateOrUpdateTopicInCluster(
      kCluster, {.topic = "AdminTopic", .read_queue_nums = 4, .write_queue_nums = 4});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->size(), 2u);
  ASSERT_TRUE(cluster_->WaitForRoute("AdminTopic", 2).ok());

  auto topics = admin_->TopicList();
  ASSERT_TRUE(topics.ok()) << topics.status();
  EXPECT_TRUE(std::is_sorted(topics->begin(), topics->end()));
  EXPECT_NE(std::find(topics->begin(), topics->end(), "AdminTopic"), topics->end());

  auto route = admin_->Route("AdminTopic");
  ASSERT_TRUE(route.ok()) << route.status();
  ASSERT_EQ(route->queues.size(), 2u);
  for (const QueueData& q : route->queues) {
    EXPECT_EQ(q.read_queue_nums, 4);
    EXPECT_EQ(q.write_queue_nums, 4);
    EXPECT_EQ(q.perm, 6);
  }
  EXPECT_EQ(route->MasterAddr("broker-b"), cluster_->broker_addr(1));
  auto json = admin_->RouteJson("AdminTopic");
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_NE(json->find("\"queueDatas\""), std::string::npos);

  // Update on one broker only: its queue counts change, the other's stay.
  ASSERT_TRUE(
      admin_
          ->CreateOrUpdateTopic(
              cluster_->broker_addr(0),
              {.topic = "AdminTopic", .read_queue_nums = 2, .write_queue_nums = 2, .perm = 4})
          .ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto r = admin_->Route("AdminTopic");
    return r.ok() && r->queues.size() == 2 && r->queues[0].read_queue_nums == 2 &&
           r->queues[0].perm == 4;
  }));
  auto t = cluster_->broker(0).topics().Find("AdminTopic");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->write_queue_nums, 2);

  ASSERT_TRUE(admin_->DeleteTopic(kCluster, "AdminTopic").ok());
  EXPECT_EQ(cluster_->broker(0).topics().Find("AdminTopic"), nullptr);
  EXPECT_EQ(cluster_->broker(1).topics().Find("AdminTopic"), nullptr);
  ASSERT_TRUE(cluster_->WaitForRoute("AdminTopic", 0).ok());
  auto gone = admin_->Route("AdminTopic");
  EXPECT_TRUE(absl::IsNotFound(gone.status())) << gone.status();
  EXPECT_EQ(CodeOf(gone.status()), rc::kTopicNotExist);
}

TEST_F(AdminTest, UnknownTopicIsNotFoundWithCode17) {
  for (const absl::Status& s :
       {admin_->Route("NoSuchTopic").status(), admin_->RouteJson("NoSuchTopic").status(),
        admin_->QueryMessageByKey("NoSuchTopic", "k").status()}) {
    EXPECT_TRUE(absl::IsNotFound(s)) << s;
    EXPECT_EQ(CodeOf(s), rc::kTopicNotExist) << s;
    EXPECT_NE(s.message().find("NoSuchTopic"), std::string_view::npos) << s;
  }
}

TEST_F(AdminTest, UnreachableAddressIsUnavailable) {
  auto port = stele::testing::PickFreePort();
  ASSERT_TRUE(port.ok());
  const std::string nobody = fmt::format("127.0.0.1:{}", *port);
  absl::Status s = admin_->CreateOrUpdateTopic(nobody, {.topic = "T"});
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_EQ(RocketMqCode(s), std::nullopt);
  EXPECT_TRUE(absl::IsUnavailable(admin_->BrokerRuntimeInfo(nobody).status()));

  AdminClient lost({.namesrv_addr = nobody, .timeout = 2s});
  ASSERT_TRUE(lost.Start().ok());
  auto info = lost.ClusterInfo();
  EXPECT_TRUE(absl::IsUnavailable(info.status())) << info.status();

  EXPECT_TRUE(absl::IsInvalidArgument(admin_->BrokerConfig("no-port").status()));
}

TEST_F(AdminTest, LifecycleErrors) {
  AdminClient idle({.namesrv_addr = cluster_->namesrv_addr()});
  EXPECT_TRUE(absl::IsFailedPrecondition(idle.TopicList().status()));
  ASSERT_TRUE(idle.Start().ok());
  EXPECT_TRUE(idle.TopicList().ok());
  idle.Shutdown();
  EXPECT_TRUE(absl::IsFailedPrecondition(idle.TopicList().status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(idle.Start()));

  AdminClient empty({.namesrv_addr = ""});
  EXPECT_TRUE(absl::IsInvalidArgument(empty.Start()));
}

TEST_F(AdminTest, SubscriptionGroups) {
  const std::string addr = cluster_->broker_addr(1);
  ASSERT_TRUE(admin_
                  ->CreateOrUpdateSubscriptionGroup(addr, {.group_name = "AdminGroup",
                                                           .consume_broadcast_enable = false,
                                                           .retry_max_times = 5,
                                                           .attributes = {{"k", "v"}}})
                  .ok());
  auto g = cluster_->broker(1).groups().Find("AdminGroup");
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->retry_max_times, 5);
  EXPECT_FALSE(g->consume_broadcast_enable);
  EXPECT_EQ(g->attributes.at("k"), "v");
  EXPECT_FALSE(cluster_->broker(0).groups().Find("AdminGroup").has_value());

  ASSERT_TRUE(admin_->DeleteSubscriptionGroup(addr, "AdminGroup").ok());
  EXPECT_FALSE(cluster_->broker(1).groups().Find("AdminGroup").has_value());
  // A bad group name is the broker's error, with its code and remark.
  absl::Status bad = admin_->DeleteSubscriptionGroup(addr, "bad group!");
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(RocketMqCode(bad).has_value()) << bad;
}

TEST_F(AdminTest, BrokerRuntimeInfoAndConfig) {
  auto info = admin_->BrokerRuntimeInfo(cluster_->broker_addr(0));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->count("commitLogMaxOffset"));
  EXPECT_NE(info->at("brokerVersionDesc").find("Stele"), std::string::npos);

  auto config = admin_->BrokerConfig(cluster_->broker_addr(1));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->at("brokerName"), "broker-b");
  EXPECT_EQ(config->at("brokerClusterName"), kCluster);
}

TEST_F(AdminTest, QueueAndConsumerOffsets) {
  ASSERT_TRUE(cluster_->CreateTopic("OffsetTopic", 2).ok());
  const int64_t before = NowMs();
  ASSERT_EQ(SendTo("OffsetTopic", 5).size(), 5u);
  const MessageQueue q{"OffsetTopic", "broker-a", 0};

  ASSERT_TRUE(WaitUntil([&] {
    auto m = admin_->MaxOffset(q);
    return m.ok() && *m == 5;
  }));
  auto min = admin_->MinOffset(q);
  ASSERT_TRUE(min.ok()) << min.status();
  EXPECT_EQ(*min, 0);
  auto empty = admin_->MaxOffset({"OffsetTopic", "broker-b", 1});
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, 0);
  auto found = admin_->SearchOffset(q, before - 60'000);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, 0);

  ASSERT_TRUE(admin_->UpdateConsumerOffset("OffsetGroup", q, 3).ok());
  auto committed = admin_->QueryConsumerOffset("OffsetGroup", q);
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(*committed, 3);
  EXPECT_FALSE(admin_->MaxOffset({"OffsetTopic", "broker-z", 0}).ok());
}

TEST_F(AdminTest, ViewMessageByOffsetId) {
  ASSERT_TRUE(cluster_->CreateTopic("ViewTopic", 1).ok());
  const std::vector<SendResult> sent = SendTo("ViewTopic", 2, "view-key");
  ASSERT_EQ(sent.size(), 2u);
  auto m = admin_->ViewMessage(sent[1].offset_msg_id);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->topic, "ViewTopic");
  EXPECT_EQ(m->body, "body-1");
  EXPECT_EQ(m->tags, "TagA");
  EXPECT_EQ(m->keys, "view-key");
  EXPECT_EQ(m->offset_msg_id, sent[1].offset_msg_id);
  EXPECT_EQ(m->msg_id, sent[1].msg_id);  // UNIQ_KEY
  EXPECT_EQ(m->queue_offset, 1);

  EXPECT_TRUE(absl::IsInvalidArgument(admin_->ViewMessage("123").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(admin_->ViewMessage(std::string(32, 'G')).status()));
  // Right host, no record at that offset: the broker's SYSTEM_ERROR and remark.
  std::string missing = sent[1].offset_msg_id;
  missing.replace(16, 16, "00000000FFFFFFFF");
  auto none = admin_->ViewMessage(missing);
  EXPECT_EQ(CodeOf(none.status()), rc::kSystemError) << none.status();
}

TEST_F(AdminTest, QueryMessageByKeyOnEveryMaster) {
  ASSERT_TRUE(cluster_->CreateTopic("KeyTopic", 2).ok());
  Producer p({.group = "AdminTestProducer", .namesrv_addr = cluster_->namesrv_addr()});
  ASSERT_TRUE(p.Start().ok());
  std::vector<SendResult> sent;
  for (const auto& [keys, broker] : std::vector<std::pair<std::string, std::string>>{
           {"k1 shared", "broker-a"}, {"k2 shared", "broker-b"}, {"k3", "broker-b"}}) {
    auto r = p.Send({.topic = "KeyTopic", .body = keys, .keys = keys},
                    MessageQueue{"KeyTopic", broker, 1});
    ASSERT_TRUE(r.ok()) << r.status();
    sent.push_back(*r);
  }
  p.Shutdown();

  std::vector<MessageExt> shared;
  ASSERT_TRUE(WaitUntil([&] {
    auto r = admin_->QueryMessageByKey("KeyTopic", "shared");
    if (r.ok()) shared = *r;
    return r.ok() && r->size() == 2;
  }));
  std::vector<std::string> bodies;
  for (const MessageExt& m : shared) bodies.push_back(m.body);
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(bodies, (std::vector<std::string>{"k1 shared", "k2 shared"}));

  absl::StatusOr<std::vector<MessageExt>> one;
  ASSERT_TRUE(WaitUntil([&] {
    one = admin_->QueryMessageByKey("KeyTopic", "k3");
    return one.ok() && one->size() == 1;
  })) << one.status();
  EXPECT_EQ(one->front().broker_name, "broker-b");
  EXPECT_EQ(one->front().offset_msg_id, sent[2].offset_msg_id);

  auto none = admin_->QueryMessageByKey("KeyTopic", "no-such-key");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  auto by_id = admin_->QueryMessageByKey("KeyTopic", sent[0].msg_id, {.unique_key = true});
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  ASSERT_EQ(by_id->size(), 1u);
  EXPECT_EQ(by_id->front().body, "k1 shared");
}

TEST_F(AdminTest, PullBrowsesAQueue) {
  ASSERT_TRUE(cluster_->CreateTopic("PullTopic", 1).ok());
  ASSERT_EQ(SendTo("PullTopic", 3).size(), 3u);
  const MessageQueue q{"PullTopic", "broker-a", 0};
  // Stored is not yet dispatched to the consume queue: wait until the queue holds all three.
  ASSERT_TRUE(WaitUntil([&] {
    auto m = admin_->MaxOffset(q);
    return m.ok() && *m == 3;
  }));
  auto r = admin_->Pull(q, 1, 32);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, PulledMessages::Status::kFound);
  ASSERT_EQ(r->messages.size(), 2u);
  EXPECT_EQ(r->messages[0].body, "body-1");
  EXPECT_EQ(r->messages[1].queue_offset, 2);
  EXPECT_EQ(r->next_begin_offset, 3);
  EXPECT_EQ(r->max_offset, 3);

  auto end = admin_->Pull(q, 3, 32);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->status, PulledMessages::Status::kNoNewMsg);
  EXPECT_TRUE(end->messages.empty());
}

TEST_F(AdminTest, ConsumerIdsAndUnservedConsumerCalls) {
  ASSERT_TRUE(cluster_->CreateTopic("ConsumerTopic", 1).ok());
  // A consumer as the brokers see one: a heartbeat on a connection that stays open.
  remoting::RemotingClient consumer;
  broker::HeartbeatData hb;
  hb.client_id = "10.1.2.3@admin-test";
  broker::ConsumerData cd;
  cd.group_name = "AdminCG";
  cd.subscriptions.push_back({.topic = "ConsumerTopic"});
  hb.consumers.push_back(cd);
  for (int i = 0; i < 2; ++i) {
    RemotingCommand req = RemotingCommand::Request(code::kHeartBeat);
    req.body = EncodeHeartbeat(hb);
    auto resp = consumer.InvokeSync(cluster_->broker_addr(i), std::move(req), 5s);
    ASSERT_TRUE(resp.ok() && resp->code == rc::kSuccess) << resp.status();
  }
  auto ids = admin_->ConsumerIdList("AdminCG", "ConsumerTopic");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, std::vector<std::string>{"10.1.2.3@admin-test"});
  // Through the group's retry topic, once the brokers registered it.
  ASSERT_TRUE(cluster_->WaitForRoute("%RETRY%AdminCG", 2).ok());
  ids = admin_->ConsumerIdList("AdminCG");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->size(), 1u);
  EXPECT_EQ(CodeOf(admin_->ConsumerIdList("NoSuchGroup", "ConsumerTopic").status()),
            rc::kSystemError);

  // Stele's broker serves these too (stats_processor.cc): the heartbeat's client and
  // subscription; no offsets committed yet, so no queue to report.
  auto conn = admin_->ConsumerConnectionList("AdminCG");
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->connections.size(), 1u);
  EXPECT_EQ(conn->connections[0].client_id, "10.1.2.3@admin-test");
  EXPECT_EQ(conn->subscriptions.count("ConsumerTopic"), 1u);
  auto stats = admin_->GetConsumeStats("AdminCG");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_TRUE(stats->offsets.empty());
  // No retry topic: the route lookup fails before any broker is asked.
  EXPECT_TRUE(absl::IsNotFound(admin_->ConsumerConnectionList("NoSuchGroup").status()));
  consumer.Shutdown();
}

// A broker that serves GET_CONSUMER_CONNECTION_LIST and GET_CONSUME_STATS with Java's bodies
// (fastjson: the offset table is keyed by MessageQueue objects), registered with the name server
// for the group's retry topic.
TEST_F(AdminTest, ConsumerConnectionsAndConsumeStatsFromAJavaStyleBroker) {
  remoting::RemotingServer fake({.bind_address = "127.0.0.1", .port = 0, .name = "fake"});
  fake.Register(code::kGetConsumerConnectionList, [](const remoting::ChannelPtr&, RemotingCommand,
                                                     remoting::Reply reply) {
    RemotingCommand resp;
    resp.body = R"({"connectionSet":[{"clientAddr":"10.0.0.9:5000","clientId":"10.0.0.9@1",)"
                R"("language":"JAVA","version":413}],"consumeFromWhere":)"
                R"("CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY",)"
                R"("messageModel":"CLUSTERING","subscriptionTable":{"T":{"subString":)"
                R"("a || b","tagsSet":["a","b"],"topic":"T"}}})";
    reply(std::move(resp));
  });
  fake.Register(code::kGetConsumeStats, [](const remoting::ChannelPtr&, RemotingCommand req,
                                           remoting::Reply reply) {
    RemotingCommand resp;
    resp.body = R"({"consumeTps":1.5,"offsetTable":{{"brokerName":"fake-broker","queueId":0,)"
                R"("topic":"T"}:{"brokerOffset":10,"consumerOffset":7,"lastTimestamp":99},)"
                R"({"brokerName":"fake-broker","queueId":1,"topic":"T"}:{"brokerOffset":4,)"
                R"("consumerOffset":4,"lastTimestamp":0}}})";
    if (req.Field("consumerGroup") == nullptr) resp.code = rc::kSystemError;
    reply(std::move(resp));
  });
  ASSERT_TRUE(fake.Start().ok());
  const std::string fake_addr = fmt::format("127.0.0.1:{}", fake.port());

  namesrv::RegisterBrokerBody body;
  body.topic_config.data_version = {.state_version = 0, .timestamp = NowMs(), .counter = 1};
  broker::TopicConfig retry;
  retry.topic_name = "%RETRY%JavaGroup";
  retry.read_queue_nums = retry.write_queue_nums = 1;
  body.topic_config.topics[retry.topic_name] = retry;
  RemotingCommand reg = RemotingCommand::Request(code::kRegisterBroker);
  reg.Set("brokerName", "fake-broker");
  reg.Set("brokerAddr", fake_addr);
  reg.Set("clusterName", "FakeCluster");
  reg.Set("haServerAddr", fake_addr);
  reg.Set("brokerId", int64_t{0});
  reg.Set("compressed", "false");
  reg.body = namesrv::EncodeRegisterBrokerBody(body, false);
  reg.Set("bodyCrc32", int64_t{namesrv::BodyCrc32(reg.body)});
  remoting::RemotingClient registrar;
  auto registered = registrar.InvokeSync(cluster_->namesrv_addr(), std::move(reg), 5s);
  ASSERT_TRUE(registered.ok() && registered->code == rc::kSuccess) << registered.status();

  auto conn = admin_->ConsumerConnectionList("JavaGroup");
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->connections.size(), 1u);
  EXPECT_EQ(conn->connections[0].client_id, "10.0.0.9@1");
  EXPECT_EQ(conn->connections[0].client_addr, "10.0.0.9:5000");
  EXPECT_EQ(conn->connections[0].version, 413);
  EXPECT_EQ(conn->subscriptions.at("T"), "a || b");
  EXPECT_EQ(conn->message_model, "CLUSTERING");

  auto stats = admin_->GetConsumeStats("JavaGroup");
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->offsets.size(), 2u);
  const auto& q0 = stats->offsets.at(MessageQueue{"T", "fake-broker", 0});
  EXPECT_EQ(q0.broker_offset, 10);
  EXPECT_EQ(q0.consumer_offset, 7);
  EXPECT_EQ(q0.last_timestamp, 99);
  EXPECT_EQ(stats->TotalDiff(), 3);
  EXPECT_DOUBLE_EQ(stats->consume_tps, 1.5);

  registrar.Shutdown();
  fake.Stop();
}

}  // namespace
}  // namespace stele::client
