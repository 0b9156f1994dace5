// DelayService on a real store: parked messages reach their real topic and queue once due (not
// before), offsets survive a restart without double or lost deliveries, bad records are skipped
// and busy puts retried.
#include "net/broker/delay_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "net/broker/message_writer.h"
#include "net/broker/state/json_file.h"
#include "net/broker/state/names.h"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele::broker {
namespace {

using std::chrono::seconds;

constexpr auto kWait = seconds(20);  // generous: sanitizer builds on shared cores

class DelayServiceTest : public ::testing::Test {
 protected:
  // Level 3 never comes due within a test.
  const std::vector<int64_t> delays_ = {50, 100, 600000};

  void SetUp() override { Open(); }
  void TearDown() override {
    if (store_ != nullptr) Close();
  }

  void Open() {
    auto s = Store::Open(testing::SmallOptions(dir_.path(), NewPosixFileSystem()));
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    writer_ = std::make_unique<MessageWriter>(*store_, 1000, delays_);
    config_.store_path_root_dir = dir_.path();
    config_.store.store_path_root_dir = dir_.path();
    config_.message_delay_level_ms = delays_;
    service_ = std::make_unique<DelayService>(*store_, *writer_, config_);
    ASSERT_TRUE(service_->Load().ok());
  }

  void Close() {
    service_->Stop();
    service_.reset();
    writer_.reset();
    ASSERT_TRUE(store_->Close().ok());
    store_.reset();
  }

  static OutgoingMessage Msg(const std::string& topic, int32_t qid, const std::string& body,
                             int level) {
    OutgoingMessage m;
    m.topic = topic;
    m.queue_id = qid;
    m.body = body;
    m.properties.Set(kPropertyTags, "tagA");
    m.properties.Set(kPropertyKeys, fmt::format("key-{}", body));
    if (level > 0) m.properties.Set(kPropDelayLevel, fmt::format("{}", level));
    return m;
  }

  AppendResult Put(MessageWriter& w, OutgoingMessage m) {
    std::promise<absl::StatusOr<AppendResult>> p;
    w.Put(std::move(m), [&p](absl::StatusOr<AppendResult> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : AppendResult{};
  }
  AppendResult Park(const std::string& topic, int32_t qid, const std::string& body, int level) {
    return Put(*writer_, Msg(topic, qid, body, level));
  }

  std::vector<RecordRef> ReadAll(std::string_view topic, int32_t qid) {
    GetOptions o;
    o.max_messages = 1000;
    auto got = store_->Get(topic, qid, 0, o);
    EXPECT_TRUE(got.ok());
    return got.ok() ? got->messages : std::vector<RecordRef>{};
  }

  testing::TempDir dir_;
  BrokerConfig config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<MessageWriter> writer_;
  std::unique_ptr<DelayService> service_;
};

size_t Count(std::string_view s, std::string_view what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string_view::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST_F(DelayServiceTest, DeliversToRealTopicAndQueueWithoutDelay) {
  OutgoingMessage m = Msg("TopicA", 2, "hello", 1);
  m.flag = 7;
  m.born_timestamp = 12345;
  m.born_host = *HostAddress::Parse("10.0.0.1:555");
  m.reconsume_times = 2;
  const AppendResult parked = Put(*writer_, std::move(m));
  ASSERT_TRUE(store_->WaitForMessages(kScheduleTopic, 0, 0, kWait));
  auto sched = ReadAll(kScheduleTopic, 0);
  ASSERT_EQ(sched.size(), 1u);
  EXPECT_EQ(sched[0].msg.Property(kPropRealTopic), "TopicA");
  EXPECT_EQ(store_->MaxQueueOffset("TopicA", 2), 0);

  service_->Start();
  ASSERT_TRUE(store_->WaitForMessages("TopicA", 2, 0, kWait));
  service_->Stop();
  EXPECT_EQ(service_->Offset(1), 1);

  auto got = ReadAll("TopicA", 2);
  ASSERT_EQ(got.size(), 1u);
  const MessageView& v = got[0].msg;
  EXPECT_EQ(v.topic, "TopicA");
  EXPECT_EQ(v.queue_id, 2);
  EXPECT_EQ(v.body, "hello");
  EXPECT_EQ(v.flag, 7);
  EXPECT_EQ(v.born_timestamp, 12345);
  EXPECT_EQ(v.born_host.ToString(), "10.0.0.1:555");
  EXPECT_EQ(v.reconsume_times, 2);
  EXPECT_FALSE(v.Property(kPropDelayLevel).has_value());
  EXPECT_EQ(v.Property(kPropRealTopic), "TopicA");  // kept, as RocketMQ does
  EXPECT_EQ(v.Property(kPropRealQueueId), "2");
  EXPECT_EQ(v.Property(kPropertyTags), "tagA");
  EXPECT_EQ(Count(v.properties, kPropertyCrc32), 1u);  // the old record's CRC is not carried over
  EXPECT_GE(v.store_timestamp, parked.store_timestamp + delays_[0]);
  // Its consume-queue entry carries the tag, and the index its key.
  GetOptions tagged;
  tagged.tags = {"tagA"};
  auto by_tag = store_->Get("TopicA", 2, 0, tagged);
  ASSERT_TRUE(by_tag.ok());
  EXPECT_EQ(by_tag->messages.size(), 1u);
  auto by_key = store_->QueryByKey("TopicA", "key-hello", 10);
  ASSERT_TRUE(by_key.ok());
  EXPECT_EQ(by_key->size(), 1u);
}

TEST_F(DelayServiceTest, NothingIsDeliveredBeforeItIsDue) {
  const AppendResult late = Park("TopicLate", 0, "late", 3);  // due in 10 minutes
  const AppendResult mid = Park("TopicMid", 1, "mid", 2);
  service_->Start();
  ASSERT_TRUE(store_->WaitForMessages("TopicMid", 1, 0, kWait));
  service_->Stop();
  auto got = ReadAll("TopicMid", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_GE(got[0].msg.store_timestamp, mid.store_timestamp + delays_[1]);
  EXPECT_EQ(service_->Offset(2), 1);
  EXPECT_EQ(service_->Offset(3), 0);
  EXPECT_EQ(store_->MaxQueueOffset("TopicLate", 0), 0);
  EXPECT_GT(late.store_timestamp, 0);
}

TEST_F(DelayServiceTest, RestartNeitherRedeliversNorLoses) {
  Park("TopicR", 0, "A", 1);
  service_->Start();
  ASSERT_TRUE(store_->WaitForMessages("TopicR", 0, 0, kWait));
  service_->Stop();
  ASSERT_EQ(service_->Offset(1), 1);
  // Persisted in RocketMQ's layout.
  JsonFile file(nullptr, dir_.path() + "/config/delayOffset.json");
  int64_t persisted = -1;
  ASSERT_TRUE(file.Load([&](const nlohmann::json& j) {
                    persisted = j.at("offsetTable").at("1").get<int64_t>();
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(persisted, 1);

  Park("TopicR", 0, "B", 1);  // parked while the service is down
  Close();
  Open();
  EXPECT_EQ(service_->Offset(1), 1);
  service_->Start();
  ASSERT_TRUE(store_->WaitForMessages("TopicR", 0, 1, kWait));
  service_->Stop();
  EXPECT_EQ(service_->Offset(1), 2);
  auto got = ReadAll("TopicR", 0);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].msg.body, "A");
  EXPECT_EQ(got[1].msg.body, "B");
}

TEST_F(DelayServiceTest, LoadsJavaFileKeepsUnknownLevelsAndPullsBackOffsetsPastTheEnd) {
  Close();
  {
    auto fs = NewPosixFileSystem();
    ASSERT_TRUE(fs->CreateDirs(dir_.path() + "/config").ok());
    auto f = fs->Open(dir_.path() + "/config/delayOffset.json",
                      OpenOptions{.create = true, .truncate = true});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->WriteAt(0, "{\"offsetTable\":{1:3,2:0,18:7}}", SyncMode::kData).ok());
  }
  Open();
  EXPECT_EQ(service_->Offset(1), 3);
  EXPECT_EQ(service_->Offset(18), 7);
  // The schedule queue of level 1 is empty, so offset 3 is past its end (parked messages lost in
  // a crash): Start pulls it back, and the next message parked (queue offset 0) is delivered.
  service_->Start();
  EXPECT_EQ(service_->Offset(1), 0);
  Park("TopicJ", 0, "j", 1);
  ASSERT_TRUE(store_->WaitForMessages("TopicJ", 0, 0, kWait));
  service_->Stop();
  EXPECT_EQ(service_->Offset(1), 1);
  Close();
  Open();
  EXPECT_EQ(service_->Offset(1), 1);
  EXPECT_EQ(service_->Offset(18), 7);
}

TEST_F(DelayServiceTest, UndeliverableRecordsAreSkipped) {
  std::string no_real;
  AppendProperty(&no_real, kPropDelayLevel, "1");
  std::string bad_topic = no_real;
  AppendProperty(&bad_topic, kPropRealTopic, "../etc");
  AppendProperty(&bad_topic, kPropRealQueueId, "0");
  std::string bad_qid = no_real;
  AppendProperty(&bad_qid, kPropRealTopic, "TopicS");
  AppendProperty(&bad_qid, kPropRealQueueId, "-1");
  for (const std::string& props : {no_real, bad_topic, bad_qid}) {
    const Message m{.topic = kScheduleTopic, .queue_id = 0, .body = "bad", .properties = props};
    ASSERT_TRUE(store_->Append(m).ok());
  }
  Park("TopicS", 0, "good", 1);
  service_->Start();
  ASSERT_TRUE(store_->WaitForMessages("TopicS", 0, 0, kWait));
  service_->Stop();
  EXPECT_EQ(service_->Offset(1), 4);
  auto got = ReadAll("TopicS", 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].msg.body, "good");
}

TEST_F(DelayServiceTest, BusyPutsAreRetriedNeverSkipped) {
  Park("TopicB", 0, "b", 1);
  MessageWriter busy(*store_, /*max_inflight=*/0, delays_);  // refuses every put
  {
    DelayService refused(*store_, busy, config_);
    ASSERT_TRUE(refused.Load().ok());
    refused.Start();
    EXPECT_FALSE(store_->WaitForMessages("TopicB", 0, 0, std::chrono::milliseconds(400)));
    refused.Stop();
    EXPECT_EQ(refused.Offset(1), 0);
  }
  service_->Start();
  ASSERT_TRUE(store_->WaitForMessages("TopicB", 0, 0, kWait));
  service_->Stop();
  EXPECT_EQ(service_->Offset(1), 1);
}

TEST_F(DelayServiceTest, ManyMessagesAreDeliveredInOrder) {
  constexpr int kN = 3 * DelayService::kBatch + 5;
  std::vector<std::future<absl::StatusOr<AppendResult>>> parked;
  for (int i = 0; i < kN; ++i) {
    auto p = std::make_shared<std::promise<absl::StatusOr<AppendResult>>>();
    parked.push_back(p->get_future());
    writer_->Put(Msg("TopicM", 1, fmt::format("m{}", i), 1),
                 [p](absl::StatusOr<AppendResult> r) { p->set_value(std::move(r)); });
  }
  for (auto& f : parked) ASSERT_TRUE(f.get().ok());
  service_->Notify(1);
  service_->Start();
  ASSERT_TRUE(store_->WaitForMessages("TopicM", 1, kN - 1, kWait));
  service_->Stop();
  EXPECT_EQ(service_->Offset(1), kN);
  auto got = ReadAll("TopicM", 1);
  ASSERT_EQ(got.size(), static_cast<size_t>(kN));
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].msg.body, fmt::format("m{}", i));
}

}  // namespace
}  // namespace stele::broker
