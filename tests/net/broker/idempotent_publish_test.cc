// Idempotent publish on a running broker (SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE as a Java
// producer sends them): a retry with the same UNIQ_KEY is answered with the original msgId, queue
// and offset and stored once, also after a clean restart and for delay-level (parked) messages;
// concurrent duplicates store one record; idempotentPublishEnable=false stores every send. Also
// the producer's DELAY level validation table (MESSAGE_ILLEGAL for a level that does not exist).
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/clock.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/message_writer.h"
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

constexpr std::string_view kTopic = "IdemTopic";

std::string Props(std::string_view uniq, std::string_view delay = {}) {
  std::string p;
  AppendProperty(&p, kPropertyUniqKey, uniq);
  AppendProperty(&p, kPropertyTags, "TagI");
  if (!delay.empty()) AppendProperty(&p, kPropDelayLevel, delay);
  return p;
}

RemotingCommand SendRequest(const std::string& body, const std::string& props, int queue_id) {
  RemotingCommand req = RemotingCommand::Request(request::kSendMessageV2);
  req.Set("a", "IdemProducer");
  req.Set("b", kTopic);
  req.Set("c", "TBW102");
  req.Set("d", "4");
  req.Set("e", fmt::format("{}", queue_id));
  req.Set("f", "0");
  req.Set("g", fmt::format("{}", NowMs()));
  req.Set("h", "0");
  req.Set("i", props);
  req.Set("j", "0");
  req.Set("k", "false");
  req.body = body;
  return req;
}

// SEND_BATCH_MESSAGE body as MessageBatch.encode writes it.
std::string BatchBody(const std::vector<std::string>& uniq_keys) {
  std::string out;
  for (const std::string& u : uniq_keys) {
    const std::string body = "batch-" + u;
    const std::string props = Props(u);
    const uint32_t total = static_cast<uint32_t>(22 + body.size() + props.size());
    char b4[4];
    auto put32 = [&](uint32_t v) {
      StoreBe32(b4, v);
      out.append(b4, 4);
    };
    put32(total);
    put32(0);  // magic
    put32(0);  // body crc
    put32(0);  // flag
    put32(static_cast<uint32_t>(body.size()));
    out += body;
    char b2[2];
    StoreBe16(b2, static_cast<uint16_t>(props.size()));
    out.append(b2, 2);
    out += props;
  }
  return out;
}

class IdempotentPublishTest : public ::testing::Test {
 protected:
  void TearDown() override {
    client_.Shutdown();
    if (broker_) broker_->Shutdown();
  }

  void StartBroker(const std::function<void(BrokerConfig&)>& tweak = {}) {
    BrokerConfig c;
    c.store_path_root_dir = dir_.path();
    c.broker_ip1 = "127.0.0.1";
    c.bind_address = "127.0.0.1";
    c.listen_port = 0;
    c.store = testing::SmallOptions(dir_.path(), NewPosixFileSystem());
    if (tweak) tweak(c);
    tweak_ = tweak;
    ASSERT_TRUE(c.Finalize().ok());
    auto b = BrokerController::Create(std::move(c));
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(*b);
    ASSERT_TRUE(broker_->Start().ok());
    addr_ = fmt::format("127.0.0.1:{}", broker_->port());
  }
  void RestartBroker() {
    broker_->Shutdown();
    broker_.reset();
    StartBroker(tweak_);
  }

  RemotingCommand Invoke(RemotingCommand req) {
    auto resp = client_.InvokeSync(addr_, std::move(req), std::chrono::seconds(10));
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *std::move(resp) : RemotingCommand{};
  }
  RemotingCommand Send(const std::string& body, const std::string& props, int queue_id = 0) {
    return Invoke(SendRequest(body, props, queue_id));
  }
  RemotingCommand SendBatch(const std::vector<std::string>& uniq_keys, int queue_id) {
    RemotingCommand req = SendRequest("", "", queue_id);
    req.code = request::kSendBatchMessage;
    req.body = BatchBody(uniq_keys);
    return Invoke(std::move(req));
  }
  static std::string F(const RemotingCommand& r, std::string_view k) {
    const std::string* v = r.Field(k);
    return v ? *v : std::string();
  }
  // Records stored in kTopic over all four queues.
  int64_t Stored() {
    int64_t n = 0;
    for (int q = 0; q < 4; ++q) n += broker_->store().NextQueueOffset(kTopic, q);
    return n;
  }

  testing::TempDir dir_;
  std::function<void(BrokerConfig&)> tweak_;
  std::unique_ptr<BrokerController> broker_;
  remoting::RemotingClient client_{remoting::ClientOptions{.io_threads = 1, .name = "test"}};
  std::string addr_;
};

TEST_F(IdempotentPublishTest, RetryReturnsTheOriginalAndStoresOnce) {
  StartBroker();
  const RemotingCommand first = Send("m1", Props("UNIQ-1"), 1);
  ASSERT_EQ(first.code, kSuccess) << first.remark.value_or("");
  // The Java producer retries on another queue: the answer names the original's.
  const RemotingCommand retry = Send("m1", Props("UNIQ-1"), 3);
  ASSERT_EQ(retry.code, kSuccess) << retry.remark.value_or("");
  EXPECT_EQ(F(retry, "msgId"), F(first, "msgId"));
  EXPECT_EQ(F(retry, "queueId"), "1");
  EXPECT_EQ(F(retry, "queueOffset"), F(first, "queueOffset"));
  EXPECT_EQ(Stored(), 1);
  // Another UNIQ_KEY, or the same UNIQ_KEY on another topic, is a new message.
  ASSERT_EQ(Send("m2", Props("UNIQ-2"), 1).code, kSuccess);
  EXPECT_EQ(Stored(), 2);
  // No UNIQ_KEY: nothing to recognise a retry by, stored each time.
  std::string no_key;
  AppendProperty(&no_key, kPropertyTags, "TagI");
  ASSERT_EQ(Send("m3", no_key, 1).code, kSuccess);
  ASSERT_EQ(Send("m3", no_key, 1).code, kSuccess);
  EXPECT_EQ(Stored(), 4);
}

TEST_F(IdempotentPublishTest, WindowSurvivesACleanRestart) {
  StartBroker();
  const RemotingCommand first = Send("m1", Props("UNIQ-R"), 2);
  ASSERT_EQ(first.code, kSuccess);
  // A delay-level message is parked in SCHEDULE_TOPIC_XXXX: it is found under its real topic.
  const RemotingCommand delayed = Send("d1", Props("UNIQ-D", "18"), 0);
  ASSERT_EQ(delayed.code, kSuccess) << delayed.remark.value_or("");
  RestartBroker();
  ASSERT_NE(broker_->writer().publish_window(), nullptr);
  EXPECT_EQ(broker_->writer().publish_window()->size(), 2u);
  const RemotingCommand retry = Send("m1", Props("UNIQ-R"), 0);
  ASSERT_EQ(retry.code, kSuccess);
  EXPECT_EQ(F(retry, "msgId"), F(first, "msgId"));
  EXPECT_EQ(F(retry, "queueId"), "2");
  EXPECT_EQ(F(retry, "queueOffset"), F(first, "queueOffset"));
  const RemotingCommand dretry = Send("d1", Props("UNIQ-D", "18"), 1);
  ASSERT_EQ(dretry.code, kSuccess);
  EXPECT_EQ(F(dretry, "msgId"), F(delayed, "msgId"));
  EXPECT_EQ(F(dretry, "queueId"), "0");
  EXPECT_EQ(Stored(), 1);
  EXPECT_EQ(broker_->store().NextQueueOffset(kScheduleTopic, 17), 1);
}

TEST_F(IdempotentPublishTest, RestartReadsAtMostTheConfiguredTail) {
  // 100 records of ~1.2 KiB; a restart may read only the last 16 KiB of the log to refill the
  // window: the newest keys are still recognised, the oldest are forgotten (stored again).
  StartBroker([](BrokerConfig& c) {
    ASSERT_TRUE(c.Set("idempotentPublishRestoreMaxBytes", "16384").ok());
  });
  const std::string body(1024, 'b');
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const RemotingCommand r = Send(body, Props(fmt::format("UNIQ-T{}", i)), i % 4);
    ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
    ids.push_back(F(r, "msgId"));
  }
  EXPECT_EQ(broker_->writer().publish_window()->size(), 100u);
  RestartBroker();
  const size_t kept = broker_->writer().publish_window()->size();
  EXPECT_GT(kept, 5u);
  EXPECT_LT(kept, 16u) << "the refill read more than the configured tail";
  const RemotingCommand newest = Send(body, Props("UNIQ-T99"), 0);
  ASSERT_EQ(newest.code, kSuccess);
  EXPECT_EQ(F(newest, "msgId"), ids[99]);
  EXPECT_EQ(Stored(), 100);
  const RemotingCommand oldest = Send(body, Props("UNIQ-T0"), 0);
  ASSERT_EQ(oldest.code, kSuccess);
  EXPECT_NE(F(oldest, "msgId"), ids[0]);
  EXPECT_EQ(Stored(), 101);
}

TEST_F(IdempotentPublishTest, ConfigRefusesATinyRestoreBound) {
  BrokerConfig c;
  EXPECT_FALSE(c.Set("idempotentPublishRestoreMaxBytes", "100").ok());
  EXPECT_TRUE(c.Set("idempotentPublishRestoreMaxBytes", "1048576").ok());
  EXPECT_EQ(c.idempotent_publish_restore_max_bytes, 1048576);
}

TEST_F(IdempotentPublishTest, OffSwitchStoresEverySend) {
  StartBroker([](BrokerConfig& c) { ASSERT_TRUE(c.Set("idempotentPublishEnable", "false").ok()); });
  EXPECT_EQ(broker_->writer().publish_window(), nullptr);
  const RemotingCommand a = Send("m1", Props("UNIQ-OFF"), 0);
  const RemotingCommand b = Send("m1", Props("UNIQ-OFF"), 0);
  ASSERT_EQ(a.code, kSuccess);
  ASSERT_EQ(b.code, kSuccess);
  EXPECT_NE(F(a, "msgId"), F(b, "msgId"));
  EXPECT_EQ(Stored(), 2);
}

TEST_F(IdempotentPublishTest, ConfigKeysParse) {
  BrokerConfig c;
  ASSERT_TRUE(c.Set("idempotentPublishWindowSec", "30").ok());
  ASSERT_TRUE(c.Set("idempotentPublishMaxEntries", "1000").ok());
  EXPECT_EQ(c.idempotent_publish_window_sec, 30);
  EXPECT_EQ(c.idempotent_publish_max_entries, 1000);
  EXPECT_FALSE(c.Set("idempotentPublishWindowSec", "0").ok());
  EXPECT_FALSE(c.Set("idempotentPublishEnable", "maybe").ok());
}

TEST_F(IdempotentPublishTest, BatchRetryStoresOnlyWhatIsMissing) {
  StartBroker();
  const RemotingCommand first = SendBatch({"B1", "B2", "B3"}, 1);
  ASSERT_EQ(first.code, kSuccess) << first.remark.value_or("");
  EXPECT_EQ(Stored(), 3);
  const RemotingCommand retry = SendBatch({"B1", "B2", "B3"}, 2);
  ASSERT_EQ(retry.code, kSuccess) << retry.remark.value_or("");
  EXPECT_EQ(F(retry, "msgId"), F(first, "msgId"));
  EXPECT_EQ(F(retry, "queueId"), "1");
  EXPECT_EQ(F(retry, "queueOffset"), F(first, "queueOffset"));
  EXPECT_EQ(Stored(), 3);
  // A batch with one old and one new message stores the new one only.
  const RemotingCommand mixed = SendBatch({"B2", "B4"}, 1);
  ASSERT_EQ(mixed.code, kSuccess) << mixed.remark.value_or("");
  EXPECT_EQ(Stored(), 4);
  const std::string ids = F(mixed, "msgId");
  EXPECT_EQ(ids.substr(0, ids.find(',')), F(first, "msgId").substr(33, 32));
}

TEST_F(IdempotentPublishTest, ConcurrentDuplicatesStoreOneRecord) {
  StartBroker();
  constexpr int kCopies = 16;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> ids;
  for (int i = 0; i < kCopies; ++i) {
    client_.Invoke(addr_, SendRequest("same", Props("UNIQ-C"), i % 4), std::chrono::seconds(10),
                   [&](absl::StatusOr<RemotingCommand> r) {
                     std::lock_guard<std::mutex> l(mu);
                     ids.push_back(r.ok() && r->code == kSuccess ? F(*r, "msgId") : "error");
                     cv.notify_all();
                   });
  }
  std::unique_lock<std::mutex> l(mu);
  ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(20), [&] { return ids.size() == kCopies; }));
  for (const std::string& id : ids) EXPECT_EQ(id, ids.front());
  EXPECT_NE(ids.front(), "error");
  EXPECT_EQ(Stored(), 1);
}

// The producer's DELAY level: a whole number in [0, levels]; anything else is refused with
// MESSAGE_ILLEGAL and a remark naming the range, and nothing is stored.
TEST_F(IdempotentPublishTest, DelayLevelTable) {
  StartBroker();
  struct Case {
    std::string level;
    int code;
    int64_t schedule_queue;  // -1: stored in kTopic at once
  };
  const std::vector<Case> cases = {
      {"0", kSuccess, -1},           {"1", kSuccess, 0},
      {"18", kSuccess, 17},          {"19", kMessageIllegal, -2},
      {"1000", kMessageIllegal, -2}, {"-1", kMessageIllegal, -2},
      {"abc", kMessageIllegal, -2},  {"3x", kMessageIllegal, -2},
      {"", kMessageIllegal, -2},
  };
  int n = 0;
  for (const Case& c : cases) {
    std::string props = Props(fmt::format("LVL-{}", n++));
    AppendProperty(&props, kPropDelayLevel, c.level);
    const int64_t before_topic = Stored();
    const int64_t before_sched =
        c.schedule_queue >= 0 ? broker_->store().NextQueueOffset(kScheduleTopic, c.schedule_queue)
                              : 0;
    const RemotingCommand r = Send("lvl", props, 0);
    ASSERT_EQ(r.code, c.code) << "DELAY=" << c.level << ": " << r.remark.value_or("");
    if (c.code == kMessageIllegal) {
      EXPECT_NE(r.remark.value_or("").find("delay level illegal"), std::string::npos)
          << r.remark.value_or("");
      EXPECT_NE(r.remark.value_or("").find("[0, 18]"), std::string::npos);
      EXPECT_EQ(Stored(), before_topic);
    } else if (c.schedule_queue >= 0) {
      EXPECT_EQ(broker_->store().NextQueueOffset(kScheduleTopic, c.schedule_queue),
                before_sched + 1);
    } else {
      EXPECT_EQ(Stored(), before_topic + 1);
    }
  }
}

}  // namespace
}  // namespace stele::broker
