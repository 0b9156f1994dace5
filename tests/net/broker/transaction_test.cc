// Transactional messages against a running broker (no name server): half messages are invisible
// until END_TRANSACTION commits them, rollbacks never show, unresolved halves are checked back with
// a registered producer (CHECK_TRANSACTION_STATE) and discarded after transactionCheckMax checks,
// and the progress survives a restart.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "engine/record.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/message_writer.h"
#include "net/broker/state/names.h"
#include "net/broker/transaction_service.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele::broker {
namespace {

using remoting::RemotingCommand;
using namespace remoting::response;
namespace request = remoting::request;

constexpr auto kWait = std::chrono::seconds(20);
constexpr std::string_view kTopic = "TxTopic";
constexpr std::string_view kGroup = "TxProducerGroup";

// Waits for `pred` with a bounded deadline (re-evaluated every few ms); true if it held.
bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds deadline = kWait) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The records of a pull or check body.
std::vector<MessageView> Decode(const std::string& body) {
  std::vector<MessageView> out;
  size_t pos = 0;
  while (pos < body.size()) {
    MessageView v;
    std::string why;
    const auto r = engine::DecodeRecord(body.data() + pos, body.size() - pos, true, &v, &why);
    EXPECT_EQ(r, engine::DecodeResult::kOk) << why;
    if (r != engine::DecodeResult::kOk) break;
    out.push_back(v);
    pos += v.total_size;
  }
  return out;
}

struct Sent {
  std::string uniq;
  int64_t queue_offset = -1;       // in the half queue
  int64_t commit_log_offset = -1;  // decoded from the offset msgId, as Java clients do
};

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_.Register(request::kCheckTransactionState,
                     [this](const remoting::ChannelPtr&, RemotingCommand req, remoting::Reply) {
                       {
                         std::lock_guard<std::mutex> l(mu_);
                         checks_.push_back(req);
                       }
                       cv_.notify_all();
                       if (on_check_) on_check_(req);
                     });
  }
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
    c.transaction_check_interval_ms = 50;
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

  RemotingCommand Call(RemotingCommand req) {
    auto resp = client_.InvokeSync(addr_, std::move(req), std::chrono::seconds(10));
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *std::move(resp) : RemotingCommand{};
  }
  RemotingCommand Call(int32_t code, const std::map<std::string, std::string>& fields) {
    RemotingCommand req = RemotingCommand::Request(code);
    for (const auto& [k, v] : fields) req.Set(k, v);
    return Call(std::move(req));
  }

  // Registers this client as a producer of kGroup, so that checks come to it.
  void Heartbeat() {
    RemotingCommand req = RemotingCommand::Request(request::kHeartBeat);
    req.body =
        fmt::format(R"({{"clientID":"127.0.0.1@tx","producerDataSet":[{{"groupName":"{}"}}],)"
                    R"("consumerDataSet":[]}})",
                    kGroup);
    ASSERT_EQ(Call(std::move(req)).code, kSuccess);
  }

  // SEND_MESSAGE_V2 of a transactional message, as a Java producer sends it.
  Sent SendHalf(const std::string& body, const std::string& uniq, int queue_id = 2,
                const std::map<std::string, std::string>& extra = {}) {
    std::string props;
    AppendProperty(&props, kPropTransactionPrepared, "true");
    AppendProperty(&props, kPropProducerGroup, kGroup);
    AppendProperty(&props, kPropertyUniqKey, uniq);
    AppendProperty(&props, kPropertyKeys, "order-" + uniq);
    AppendProperty(&props, kPropertyTags, "TagT");
    AppendProperty(&props, "color", "blue");
    for (const auto& [k, v] : extra) AppendProperty(&props, k, v);
    RemotingCommand req = RemotingCommand::Request(request::kSendMessageV2);
    req.Set("a", kGroup);
    req.Set("b", kTopic);
    req.Set("c", "TBW102");
    req.Set("d", "4");
    req.Set("e", fmt::format("{}", queue_id));
    req.Set("f", fmt::format("{}", sysflag::kTransactionPreparedType));
    req.Set("g", fmt::format("{}", NowMs()));
    req.Set("h", "0");
    req.Set("i", props);
    req.Set("j", "0");
    req.Set("k", "false");
    req.body = body;
    RemotingCommand resp = Call(std::move(req));
    EXPECT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
    Sent s;
    s.uniq = uniq;
    if (const std::string* q = resp.Field("queueOffset")) s.queue_offset = std::stoll(*q);
    if (const std::string* id = resp.Field("msgId"); id != nullptr && id->size() == 32) {
      s.commit_log_offset = static_cast<int64_t>(std::stoull(id->substr(16), nullptr, 16));
    }
    EXPECT_EQ(resp.Field("queueId") ? *resp.Field("queueId") : "", fmt::format("{}", queue_id));
    return s;
  }

  RemotingCommand EndFields(int64_t queue_offset, int64_t commit_log_offset, int32_t type,
                            const std::string& uniq, bool from_check = false,
                            std::string_view group = kGroup) {
    RemotingCommand req = RemotingCommand::Request(request::kEndTransaction);
    req.Set("producerGroup", group);
    req.Set("tranStateTableOffset", queue_offset);
    req.Set("commitLogOffset", commit_log_offset);
    req.Set("commitOrRollback", int64_t{type});
    req.Set("fromTransactionCheck", from_check ? "true" : "false");
    req.Set("msgId", uniq);
    req.Set("transactionId", uniq);
    return req;
  }
  RemotingCommand End(const Sent& s, int32_t type, std::string_view group = kGroup) {
    return Call(EndFields(s.queue_offset, s.commit_log_offset, type, s.uniq, false, group));
  }

  RemotingCommand Pull(std::string_view topic, int queue_id, int64_t offset) {
    return Call(request::kPullMessage,
                {{"consumerGroup", "TxConsumer"},
                 {"topic", std::string(topic)},
                 {"queueId", fmt::format("{}", queue_id)},
                 {"queueOffset", fmt::format("{}", offset)},
                 {"maxMsgNums", "32"},
                 {"sysFlag", "4"},  // the subscription comes with the request
                 {"commitOffset", "0"},
                 {"suspendTimeoutMillis", "0"},
                 {"subscription", "*"},
                 {"subVersion", "0"}});
  }

  std::vector<RemotingCommand> Checks() {
    std::lock_guard<std::mutex> l(mu_);
    return checks_;
  }
  bool WaitForChecks(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, kWait, [&] { return checks_.size() >= n; });
  }

  int64_t HalfEnd() { return broker_->store().MaxQueueOffset(kTransHalfTopic, 0); }
  // Waits until two check passes have begun after now and every half is resolved (or discarded).
  bool Settle() {
    const int64_t p = broker_->transactions().passes();
    return WaitUntil([&] {
      return broker_->transactions().passes() >= p + 2 &&
             broker_->transactions().half_offset() == HalfEnd();
    });
  }

  testing::TempDir dir_;
  std::unique_ptr<BrokerController> broker_;
  std::function<void(BrokerConfig&)> tweak_;
  remoting::RemotingClient client_;
  std::string addr_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RemotingCommand> checks_;
  std::function<void(const RemotingCommand&)> on_check_;
};

TEST_F(TransactionTest, ConfigKeys) {
  auto c = BrokerConfigFromText(
      "transactionTimeOut=3000\ntransactionCheckMax=5\ntransactionCheckInterval=20\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->transaction_timeout_ms, 3000);
  EXPECT_EQ(c->transaction_check_max, 5);
  EXPECT_EQ(c->transaction_check_interval_ms, 20);
  EXPECT_EQ(BrokerConfig().transaction_timeout_ms, 6000);
  EXPECT_EQ(BrokerConfig().transaction_check_max, 15);
  EXPECT_EQ(BrokerConfig().transaction_check_interval_ms, 60000);
  EXPECT_FALSE(BrokerConfigFromText("transactionCheckInterval=0\n").ok());
}

TEST_F(TransactionTest, HalfIsInvisibleUntilCommitted) {
  StartBroker();
  const Sent s = SendHalf("pay 10", "UNIQ-A");
  EXPECT_EQ(s.queue_offset, 0);

  // Stored as RocketMQ's parseHalfMessageInner does.
  ASSERT_TRUE(broker_->store().WaitForMessages(kTransHalfTopic, 0, 0, kWait));
  auto half = broker_->store().Get(kTransHalfTopic, 0, 0);
  ASSERT_TRUE(half.ok() && half->status == GetMessageStatus::kFound);
  const MessageView& h = half->messages.front().msg;
  EXPECT_EQ(h.physical_offset, s.commit_log_offset);
  EXPECT_EQ(h.queue_id, 0);
  EXPECT_EQ(h.sys_flag & sysflag::kTransactionMask, sysflag::kTransactionNotType);
  EXPECT_EQ(h.Property(kPropRealTopic), kTopic);
  EXPECT_EQ(h.Property(kPropRealQueueId), "2");
  EXPECT_EQ(h.Property(kPropTransactionId), "UNIQ-A");
  EXPECT_EQ(h.Property(kPropProducerGroup), kGroup);

  RemotingCommand pull = Pull(kTopic, 2, 0);
  EXPECT_EQ(pull.code, kPullNotFound);
  EXPECT_TRUE(pull.body.empty());
  EXPECT_EQ(broker_->store().NextQueueOffset(kTopic, 2), 0);

  RemotingCommand resp = End(s, sysflag::kTransactionCommitType);
  ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  ASSERT_TRUE(broker_->store().WaitForMessages(kTopic, 2, 0, kWait));
  pull = Pull(kTopic, 2, 0);
  ASSERT_EQ(pull.code, kSuccess) << pull.remark.value_or("");
  const std::vector<MessageView> got = Decode(pull.body);
  ASSERT_EQ(got.size(), 1u);
  const MessageView& m = got[0];
  EXPECT_EQ(m.topic, kTopic);
  EXPECT_EQ(m.queue_id, 2);
  EXPECT_EQ(m.body, "pay 10");
  EXPECT_EQ(m.born_timestamp, h.born_timestamp);
  EXPECT_EQ(m.sys_flag & sysflag::kTransactionMask, sysflag::kTransactionCommitType);
  EXPECT_EQ(m.prepared_transaction_offset, s.commit_log_offset);
  EXPECT_EQ(m.Property(kPropertyUniqKey), "UNIQ-A");
  EXPECT_EQ(m.Property(kPropertyKeys), "order-UNIQ-A");
  EXPECT_EQ(m.Property(kPropertyTags), "TagT");
  EXPECT_EQ(m.Property("color"), "blue");
  EXPECT_EQ(m.Property(kPropProducerGroup), kGroup);
  EXPECT_FALSE(m.Property(kPropRealTopic).has_value());
  EXPECT_FALSE(m.Property(kPropRealQueueId).has_value());
  EXPECT_FALSE(m.Property(kPropTransactionPrepared).has_value());

  // The op record RocketMQ writes, and the service's progress past the half.
  ASSERT_TRUE(broker_->store().WaitForMessages(kTransOpHalfTopic, 0, 0, kWait));
  auto op = broker_->store().Get(kTransOpHalfTopic, 0, 0);
  ASSERT_TRUE(op.ok() && op->status == GetMessageStatus::kFound);
  EXPECT_EQ(op->messages.front().msg.body, "0");
  EXPECT_EQ(op->messages.front().msg.Property(kPropertyTags), kOpRemoveTag);
  EXPECT_TRUE(WaitUntil([&] { return broker_->transactions().half_offset() == 1; }));
  EXPECT_TRUE(WaitUntil([&] { return broker_->transactions().op_offset() == 1; }));
  EXPECT_EQ(broker_->offsets().Query(kTransactionGroup, kTransHalfTopic, 0), 1);
}

TEST_F(TransactionTest, RollbackIsNeverVisibleNorChecked) {
  StartBroker([](BrokerConfig& c) { c.transaction_timeout_ms = 300; });
  Heartbeat();
  const int64_t born = NowMs();
  const Sent s = SendHalf("cancelled", "UNIQ-R");
  RemotingCommand resp = End(s, sysflag::kTransactionRollbackType);
  ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  // Past the timeout, and passes later: a half without its op record would have been checked.
  ASSERT_TRUE(WaitUntil([&] { return NowMs() > born + 300; }));
  ASSERT_TRUE(Settle());
  EXPECT_EQ(broker_->transactions().half_offset(), 1);
  EXPECT_TRUE(Checks().empty());
  EXPECT_EQ(broker_->store().NextQueueOffset(kTopic, 2), 0);
  EXPECT_EQ(Pull(kTopic, 2, 0).code, kPullNotFound);
}

TEST_F(TransactionTest, CheckBackThenCommitDelivers) {
  StartBroker([](BrokerConfig& c) {
    c.transaction_timeout_ms = 100;
    c.transaction_check_interval_ms = 300;
  });
  // Answer every check with a commit, oneway, as the Java client does.
  on_check_ = [this](const RemotingCommand& req) {
    RemotingCommand end = EndFields(
        std::stoll(*req.Field("tranStateTableOffset")), std::stoll(*req.Field("commitLogOffset")),
        sysflag::kTransactionCommitType, *req.Field("msgId"), /*from_check=*/true);
    client_.InvokeOneway(addr_, std::move(end));
  };
  Heartbeat();
  const Sent s = SendHalf("checked", "UNIQ-C", 1);
  ASSERT_TRUE(WaitForChecks(1));
  const RemotingCommand check = Checks().front();
  EXPECT_EQ(check.code, request::kCheckTransactionState);
  EXPECT_TRUE(check.is_oneway());
  EXPECT_EQ(*check.Field("topic"), kTopic);
  EXPECT_EQ(*check.Field("msgId"), "UNIQ-C");
  EXPECT_EQ(*check.Field("transactionId"), "UNIQ-C");
  // It names the copy put back at the end of the half queue.
  EXPECT_EQ(*check.Field("tranStateTableOffset"), "1");
  const std::vector<MessageView> body = Decode(check.body);
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0].topic, kTopic);
  EXPECT_EQ(body[0].queue_id, 1);
  EXPECT_EQ(body[0].body, "checked");
  EXPECT_EQ(body[0].queue_offset, 1);
  EXPECT_EQ(fmt::format("{}", body[0].physical_offset), *check.Field("commitLogOffset"));
  EXPECT_EQ(body[0].OffsetMsgId(), *check.Field("offsetMsgId"));
  EXPECT_EQ(body[0].Property(kPropCheckTimes), "1");
  EXPECT_EQ(body[0].Property(kPropertyUniqKey), "UNIQ-C");
  EXPECT_GT(s.commit_log_offset, -1);

  ASSERT_TRUE(broker_->store().WaitForMessages(kTopic, 1, 0, kWait));
  ASSERT_TRUE(Settle());
  // One delivery per check answered (a second check only if the first answer came late).
  const size_t checks = Checks().size();
  EXPECT_EQ(broker_->store().MaxQueueOffset(kTopic, 1), static_cast<int64_t>(checks));
  auto got = broker_->store().Get(kTopic, 1, 0);
  ASSERT_TRUE(got.ok() && got->status == GetMessageStatus::kFound);
  EXPECT_EQ(got->messages.front().msg.body, "checked");
  EXPECT_FALSE(got->messages.front().msg.Property(kPropRealTopic).has_value());
}

TEST_F(TransactionTest, DiscardedAfterCheckMax) {
  StartBroker([](BrokerConfig& c) {
    c.transaction_timeout_ms = 100;
    c.transaction_check_max = 2;
  });
  Heartbeat();
  SendHalf("unanswered", "UNIQ-D");
  ASSERT_TRUE(broker_->store().WaitForMessages(kTransCheckMaxTimeTopic, 0, 0, kWait));
  ASSERT_TRUE(Settle());
  const std::vector<RemotingCommand> checks = Checks();
  ASSERT_EQ(checks.size(), 2u);
  for (size_t i = 0; i < checks.size(); ++i) {
    const std::vector<MessageView> body = Decode(checks[i].body);
    ASSERT_EQ(body.size(), 1u);
    EXPECT_EQ(body[0].Property(kPropCheckTimes), fmt::format("{}", i + 1));
  }
  auto discarded = broker_->store().Get(kTransCheckMaxTimeTopic, 0, 0);
  ASSERT_TRUE(discarded.ok() && discarded->status == GetMessageStatus::kFound);
  ASSERT_EQ(discarded->messages.size(), 1u);
  const MessageView& d = discarded->messages.front().msg;
  EXPECT_EQ(d.body, "unanswered");
  EXPECT_EQ(d.Property(kPropRealTopic), kTopic);
  EXPECT_EQ(d.Property(kPropCheckTimes), "2");
  EXPECT_TRUE(broker_->topics().Find(kTransCheckMaxTimeTopic) != nullptr);
  EXPECT_EQ(broker_->store().NextQueueOffset(kTopic, 2), 0);
  // Three halves (the original and two copies), all passed; no further check.
  EXPECT_EQ(HalfEnd(), 3);
  EXPECT_EQ(broker_->transactions().half_offset(), 3);
  EXPECT_EQ(Checks().size(), 2u);
}

TEST_F(TransactionTest, RestartKeepsUnresolvedCheckableAndCommittedDone) {
  StartBroker([](BrokerConfig& c) { c.transaction_timeout_ms = 200; });
  // C is rolled back at once. B waits 2 s for its first check, holding the half offset at 1 while
  // A is committed behind it: after the restart only A's op record tells that A is resolved.
  const Sent c = SendHalf("rolled back", "UNIQ-C2");
  ASSERT_EQ(End(c, sysflag::kTransactionRollbackType).code, kSuccess);
  const Sent b = SendHalf("pending", "UNIQ-B", 2, {{std::string(kPropCheckImmunitySeconds), "2"}});
  const Sent a = SendHalf("committed", "UNIQ-A2");
  ASSERT_EQ(End(a, sysflag::kTransactionCommitType).code, kSuccess);
  ASSERT_TRUE(broker_->store().WaitForMessages(kTopic, 2, 0, kWait));
  ASSERT_TRUE(broker_->store().WaitForMessages(kTransOpHalfTopic, 0, 1, kWait));
  const int64_t p = broker_->transactions().passes();
  ASSERT_TRUE(WaitUntil([&] { return broker_->transactions().passes() >= p + 2; }));
  EXPECT_EQ(b.queue_offset, 1);
  EXPECT_EQ(broker_->transactions().half_offset(), b.queue_offset);
  // C's op record (op offset 0) is no longer needed; A's (1) is.
  EXPECT_EQ(broker_->transactions().op_offset(), 1);

  RestartBroker();
  EXPECT_EQ(broker_->offsets().Query(kTransactionGroup, kTransHalfTopic, 0), 1);
  EXPECT_EQ(broker_->offsets().Query(kTransactionGroup, kTransOpHalfTopic, 0), 1);
  on_check_ = [this](const RemotingCommand& req) {
    client_.InvokeOneway(addr_,
                         EndFields(std::stoll(*req.Field("tranStateTableOffset")),
                                   std::stoll(*req.Field("commitLogOffset")),
                                   sysflag::kTransactionRollbackType, *req.Field("msgId"), true));
  };
  Heartbeat();
  ASSERT_TRUE(WaitForChecks(1));
  ASSERT_TRUE(Settle());
  for (const RemotingCommand& c : Checks()) EXPECT_EQ(*c.Field("msgId"), "UNIQ-B");
  EXPECT_EQ(broker_->store().MaxQueueOffset(kTopic, 2), 1);  // A, delivered once
  EXPECT_EQ(broker_->transactions().half_offset(), HalfEnd());

  // And the resolved state survives a second restart: nothing is checked again.
  const size_t checks = Checks().size();
  RestartBroker();
  ASSERT_TRUE(Settle());
  EXPECT_EQ(Checks().size(), checks);
  EXPECT_EQ(broker_->store().MaxQueueOffset(kTopic, 2), 1);
}

TEST_F(TransactionTest, EndTransactionErrors) {
  StartBroker();
  const Sent s = SendHalf("x", "UNIQ-E");
  RemotingCommand resp = End(s, sysflag::kTransactionCommitType, "OtherGroup");
  EXPECT_EQ(resp.code, kSystemError);
  EXPECT_EQ(resp.remark, "The producer group wrong");

  resp = Call(
      EndFields(s.queue_offset + 7, s.commit_log_offset, sysflag::kTransactionCommitType, s.uniq));
  EXPECT_EQ(resp.code, kSystemError);
  EXPECT_EQ(resp.remark, "The transaction state table offset wrong");

  resp = Call(
      EndFields(s.queue_offset, s.commit_log_offset + 1, sysflag::kTransactionCommitType, s.uniq));
  EXPECT_EQ(resp.code, kSystemError);
  EXPECT_EQ(resp.remark, "Find prepared transaction message failed");

  // A normal message cannot be "committed" again.
  auto normal = broker_->store().Append(Message{.topic = "Plain", .queue_id = 0, .body = "p"});
  ASSERT_TRUE(normal.ok());
  resp = Call(EndFields(0, normal->wrote_offset, sysflag::kTransactionCommitType, s.uniq));
  EXPECT_EQ(resp.remark, "Find prepared transaction message failed");

  resp = Call(EndFields(s.queue_offset, s.commit_log_offset, 5, s.uniq));
  EXPECT_EQ(resp.code, kSystemError);
  EXPECT_EQ(Call(request::kEndTransaction, {{"producerGroup", std::string(kGroup)}}).code,
            kSystemError);
  // Unknown (NOT_TYPE): nothing happens; the half waits for its check.
  EXPECT_EQ(End(s, sysflag::kTransactionNotType).code, kSuccess);
  EXPECT_EQ(broker_->store().NextQueueOffset(kTransOpHalfTopic, 0), 0);
  EXPECT_EQ(broker_->store().NextQueueOffset(kTopic, 2), 0);
}

}  // namespace
}  // namespace stele::broker
