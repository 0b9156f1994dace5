// broker.conf / namesrv.conf loading: RocketMQ keys and defaults, errors that name the key, unknown
// keys as warnings, derived values.
#include "net/broker/state/broker_config.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "net/broker/state/names.h"
#include "net/broker/state/namesrv_config.h"
#include "testutil.h"

namespace stele::broker {
namespace {

std::string Msg(const absl::Status& s) { return std::string(StatusMessage(s)); }

bool Contains(const std::vector<std::string>& v, std::string_view needle) {
  for (const auto& s : v) {
    if (s.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(BrokerConfigTest, Defaults) {
  BrokerConfig c;
  EXPECT_EQ(c.broker_cluster_name, "DefaultCluster");
  EXPECT_EQ(c.broker_name, "broker-a");
  EXPECT_EQ(c.broker_id, 0);
  EXPECT_EQ(c.listen_port, 10911);
  EXPECT_EQ(c.bind_address, "0.0.0.0");
  EXPECT_TRUE(c.auto_create_topic_enable);
  EXPECT_EQ(c.default_topic_queue_nums, 8);
  EXPECT_EQ(c.broker_permission, 6);
  EXPECT_EQ(c.register_name_server_period_ms, 30000);
  EXPECT_EQ(c.flush_consumer_offset_interval_ms, 5000);
  EXPECT_EQ(c.grpc_server_port, 8081);
  EXPECT_FALSE(c.update_config_allowed);
  EXPECT_EQ(c.max_inflight_sends, 10000);
  EXPECT_TRUE(c.store_path_root_dir.ends_with("/store"));
  ASSERT_EQ(c.message_delay_level_ms.size(), 18u);
  EXPECT_EQ(c.message_delay_level_ms.front(), 1000);
  EXPECT_EQ(c.message_delay_level_ms[4], 60000);
  EXPECT_EQ(c.message_delay_level_ms.back(), 2 * 3600 * 1000);
}

TEST(BrokerConfigTest, RocketMqSampleParses) {
  auto c = BrokerConfigFromText(
      "brokerClusterName = DefaultCluster\n"
      "brokerName = broker-b\n"
      "brokerId = 0\n"
      "brokerIP1 = 10.1.2.3\n"
      "listenPort = 10921\n"
      "namesrvAddr = 127.0.0.1:9876;127.0.0.2:9876\n"
      "storePathRootDir = /data/rocketmq/store\n"
      "storePathCommitLog = /data/rocketmq/store/commitlog\n"
      "flushDiskType = SYNC_FLUSH\n"
      "autoCreateTopicEnable = false\n"
      "defaultTopicQueueNums = 4\n"
      "deleteWhen = 04\n"
      "fileReservedTime = 48\n"
      "maxMessageSize = 65536\n"
      "brokerRole = ASYNC_MASTER\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->broker_name, "broker-b");
  EXPECT_EQ(c->listen_port, 10921);
  EXPECT_FALSE(c->auto_create_topic_enable);
  EXPECT_EQ(c->default_topic_queue_nums, 4);
  EXPECT_EQ(c->NamesrvAddrList(), (std::vector<std::string>{"127.0.0.1:9876", "127.0.0.2:9876"}));
  EXPECT_EQ(c->store.store_path_root_dir, "/data/rocketmq/store");
  EXPECT_EQ(c->store.store_path_commit_log, "/data/rocketmq/store/commitlog");
  EXPECT_EQ(c->store.flush_disk_type, FlushDiskType::kSyncFlush);
  EXPECT_EQ(c->store.file_reserved_time_hours, 48);
  EXPECT_EQ(c->store.delete_when, "04");
  EXPECT_EQ(c->store.max_message_size, 65536u);
  EXPECT_EQ(c->store.store_host, "10.1.2.3:10921");
  // brokerRole is a RocketMQ key Stele does not use: a warning naming it and its line.
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_NE(c->warnings[0].find("broker.conf:15"), std::string::npos) << c->warnings[0];
  EXPECT_NE(c->warnings[0].find("brokerRole"), std::string::npos);
  EXPECT_TRUE(c->explicitly_set.contains("flushDiskType"));
}

TEST(BrokerConfigTest, BadValuesNameKeyValueAndLine) {
  struct Case {
    std::string text, want_key, want_value;
  };
  for (const Case& tc : std::vector<Case>{
           {"listenPort=abc", "listenPort", "abc"},
           {"listenPort=70000", "listenPort", "70000"},
           {"brokerId=-1", "brokerId", "-1"},
           {"autoCreateTopicEnable=yes", "autoCreateTopicEnable", "yes"},
           {"defaultTopicQueueNums=0", "defaultTopicQueueNums", "0"},
           {"brokerPermission=16", "brokerPermission", "16"},
           {"flushDiskType=FAST", "flushDiskType", "FAST"},
           {"fileReservedTime=x", "fileReservedTime", "x"},
           {"messageDelayLevel=1s 5x", "messageDelayLevel", "5x"},
           {"namesrvAddr=127.0.0.1", "namesrvAddr", "127.0.0.1"},
           {"namesrvAddr=a:1;b:0", "namesrvAddr", "b:0"},
           {"brokerName=../b", "brokerName", "../b"},
           {"brokerClusterName=", "brokerClusterName", ""},
       }) {
    auto c = BrokerConfigFromText("# header\n" + tc.text + "\n");
    ASSERT_TRUE(absl::IsInvalidArgument(c.status())) << tc.text << ": " << c.status();
    std::string m = Msg(c.status());
    EXPECT_NE(m.find("broker.conf:2"), std::string::npos) << m;
    EXPECT_NE(m.find(tc.want_key), std::string::npos) << m;
    EXPECT_NE(m.find(tc.want_value), std::string::npos) << m;
  }
}

TEST(BrokerConfigTest, UnknownKeysWarnAndDoNotFail) {
  BrokerConfig c;
  EXPECT_TRUE(c.Set("serverWorkerThreads", "8").ok());
  EXPECT_TRUE(c.Set("noSuchKey", "x", "f:3").ok());
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_NE(c.warnings[1].find("f:3: unknown key 'noSuchKey'"), std::string::npos);
  EXPECT_FALSE(c.explicitly_set.contains("noSuchKey"));
}

TEST(BrokerConfigTest, FinalizeDerivesClampsAndValidates) {
  BrokerConfig c;
  ASSERT_TRUE(c.Set("storePathRootDir", "/tmp/x").ok());
  ASSERT_TRUE(c.Set("registerNameServerPeriod", "5000").ok());
  ASSERT_TRUE(c.Finalize().ok());
  EXPECT_EQ(c.register_name_server_period_ms, 10000);
  EXPECT_TRUE(Contains(c.warnings, "registerNameServerPeriod"));
  EXPECT_FALSE(c.broker_ip1.empty());
  EXPECT_EQ(c.store.store_path_root_dir, "/tmp/x");
  EXPECT_EQ(c.store.store_host, c.broker_ip1 + ":10911");

  BrokerConfig explicit_host;
  ASSERT_TRUE(explicit_host.Set("storeHost", "1.2.3.4:5").ok());
  ASSERT_TRUE(explicit_host.Set("brokerIP1", "::1").ok());
  ASSERT_TRUE(explicit_host.Finalize().ok());
  EXPECT_EQ(explicit_host.store.store_host, "1.2.3.4:5");

  BrokerConfig v6;
  ASSERT_TRUE(v6.Set("brokerIP1", "fe80::1").ok());
  ASSERT_TRUE(v6.Finalize().ok());
  EXPECT_EQ(v6.store.store_host, "[fe80::1]:10911");

  BrokerConfig clash;
  ASSERT_TRUE(clash.Set("grpcServerPort", "10911").ok());
  EXPECT_FALSE(clash.Finalize().ok());

  BrokerConfig store_bad;  // the store's own relation checks run too
  ASSERT_TRUE(store_bad.Set("writeBufferSize", "1024").ok());
  EXPECT_FALSE(store_bad.Finalize().ok());
}

TEST(BrokerConfigTest, ListedValuesParseBack) {
  auto orig = BrokerConfigFromText(
      "brokerName=b1\nflushDiskType=SYNC_FLUSH\nsegmentPreallocate=zero\n"
      "commitLogWriteMode=mmap\nmessageIndexEnable=false\nnamesrvAddr=h:1;h:2\n");
  ASSERT_TRUE(orig.ok()) << orig.status();
  auto listed = orig->List();
  EXPECT_GT(listed.size(), 40u);
  BrokerConfig copy;
  for (const auto& [k, v] : listed) ASSERT_TRUE(copy.Set(k, v).ok()) << k << "=" << v;
  EXPECT_TRUE(copy.warnings.empty()) << copy.warnings[0];
  ASSERT_TRUE(copy.Finalize().ok());
  EXPECT_EQ(copy.List(), listed);
  bool found = false;
  for (const auto& [k, v] : listed) found |= (k == "listenPort" && v == "10911");
  EXPECT_TRUE(found);
}

TEST(BrokerConfigTest, LoadFromFile) {
  testing::TempDir tmp;
  std::string path = tmp.path() + "/broker.conf";
  std::ofstream(path) << "brokerName=from-file\nstorePathRootDir=" << tmp.path() << "/store\n";
  auto c = LoadBrokerConfig(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->broker_name, "from-file");
  EXPECT_TRUE(absl::IsNotFound(LoadBrokerConfig(tmp.path() + "/missing.conf").status()));
}

TEST(BrokerConfigTest, MessageDelayLevels) {
  auto l = ParseMessageDelayLevel(" 1s  5s 2m\t1h 1d ");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*l, (std::vector<int64_t>{1000, 5000, 120000, 3600000, 86400000}));
  for (const char* bad : {"", "5", "5x", "0s", "-1s", "s", "1.5s", "999999d"}) {
    EXPECT_FALSE(ParseMessageDelayLevel(bad).ok()) << bad;
  }
}

TEST(BrokerConfigTest, NamesrvAddrs) {
  EXPECT_EQ(*ParseNamesrvAddr(" a:1 ; b:2;"), (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(*ParseNamesrvAddr("[::1]:9876"), (std::vector<std::string>{"[::1]:9876"}));
  EXPECT_TRUE(ParseNamesrvAddr("")->empty());
  for (const char* bad : {"::1:9876", "a:0", "a:65536", "a", ":1", "a:x", "a b:1"}) {
    EXPECT_FALSE(ParseNamesrvAddr(bad).ok()) << bad;
  }
}

TEST(BrokerConfigTest, ResolvesAnIpv4Address) {
  std::string ip = ResolveLocalIpv4();
  in_addr a{};
  EXPECT_EQ(inet_pton(AF_INET, ip.c_str(), &a), 1) << ip;
}

TEST(NamesrvConfigTest, DefaultsKeysAndErrors) {
  NamesrvConfig d;
  EXPECT_EQ(d.listen_port, 9876);
  EXPECT_EQ(d.broker_channel_expired_time_ms, 120000);
  EXPECT_EQ(d.scan_not_active_broker_interval_ms, 5000);
  EXPECT_TRUE(d.kv_config_path.ends_with("/namesrv/kvConfig.json"));

  auto c = NamesrvConfigFromText(
      "listenPort=9877\nkvConfigPath=/x/kv.json\nbrokerChannelExpiredTime=30000\n"
      "rocketmqHome=/opt\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen_port, 9877);
  EXPECT_EQ(c->kv_config_path, "/x/kv.json");
  EXPECT_TRUE(Contains(c->warnings, "rocketmqHome"));
  EXPECT_TRUE(Contains(c->warnings, "brokerChannelExpiredTime"));

  auto bad = NamesrvConfigFromText("listenPort=nope\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(Msg(bad.status()).find("namesrv.conf:1: listenPort: 'nope'"), std::string::npos)
      << bad.status();
}

}  // namespace
}  // namespace stele::broker

namespace stele::broker {
namespace {

TEST(BrokerConfigTest, TimerKeys) {
  BrokerConfig d;
  EXPECT_TRUE(d.timer_wheel_enable);
  EXPECT_EQ(d.timer_precision_ms, 1000);
  EXPECT_EQ(d.timer_max_delay_sec, 259200);
  auto c = BrokerConfigFromText(
      "timerWheelEnable=false\ntimerPrecisionMs=500\ntimerMaxDelaySec=3600\nbrokerIP1=1.2.3.4\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->timer_wheel_enable);
  EXPECT_EQ(c->timer_precision_ms, 500);
  EXPECT_EQ(c->timer_max_delay_sec, 3600);
  EXPECT_FALSE(BrokerConfigFromText("timerPrecisionMs=0\n").ok());
  EXPECT_FALSE(BrokerConfigFromText("timerMaxDelaySec=0\n").ok());
  // 2 x 1 year / 10 ms slots: too large a wheel, refused by Finalize with the reason.
  auto big = BrokerConfigFromText("timerPrecisionMs=10\ntimerMaxDelaySec=31536000\n");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("timer wheel slots"), std::string::npos);
}

}  // namespace
}  // namespace stele::broker
