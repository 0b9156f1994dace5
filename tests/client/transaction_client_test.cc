// Transactional sends through the C++ producer against an in-process cluster: the local
// transaction's answer decides visibility, and an unknown answer is settled by the broker's
// check-back calling the listener's Check.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "cluster_fixture.h"
#include "fmt/format.h"
#include "stele/client/producer.h"

namespace stele::client {
namespace {

using namespace std::chrono_literals;
using stele::testing::StoredMessage;
using stele::testing::WaitUntil;

constexpr char kTopic[] = "TxTopic";

// Decides by the message's "decision" property; counts the calls.
class Listener : public TransactionListener {
 public:
  LocalTransactionState Execute(const Message& m, const SendResult& half) override {
    std::lock_guard l(mu_);
    executed_[half.msg_id] = m.body;
    return Parse(m.Property("decision"));
  }
  LocalTransactionState Check(const MessageExt& m) override {
    std::lock_guard l(mu_);
    checked_.insert(m.msg_id);
    const std::string* d = m.Property("onCheck");
    return Parse(d);
  }
  size_t checks() {
    std::lock_guard l(mu_);
    return checked_.size();
  }
  bool was_checked(const std::string& id) {
    std::lock_guard l(mu_);
    return checked_.count(id) != 0;
  }

 private:
  static LocalTransactionState Parse(const std::string* d) {
    if (d == nullptr) return LocalTransactionState::kUnknown;
    if (*d == "commit") return LocalTransactionState::kCommit;
    if (*d == "rollback") return LocalTransactionState::kRollback;
    return LocalTransactionState::kUnknown;
  }
  std::mutex mu_;
  std::map<std::string, std::string> executed_;
  std::set<std::string> checked_;
};

class TransactionClientTest : public stele::testing::ClusterTest {
 protected:
  stele::testing::ClusterOptions Options() const override {
    stele::testing::ClusterOptions o;
    o.brokers = 1;
    o.tweak = [](int, broker::BrokerConfig& c) {
      c.transaction_timeout_ms = 300;
      c.transaction_check_interval_ms = 200;
    };
    return o;
  }
  void SetUp() override {
    ClusterTest::SetUp();
    ASSERT_TRUE(cluster_->CreateTopic(kTopic, 2).ok());
    listener_ = std::make_shared<Listener>();
    producer_ = std::make_unique<Producer>(ProducerOptions{
        .group = "PG_TX", .namesrv_addr = cluster_->namesrv_addr(), .heartbeat_interval = 500ms});
    producer_->SetTransactionListener(listener_);
    ASSERT_TRUE(producer_->Start().ok());
  }
  void TearDown() override {
    producer_.reset();
    ClusterTest::TearDown();
  }

  TransactionSendResult SendTx(const std::string& body, const std::string& decision,
                               const std::string& on_check = "") {
    Message m{.topic = kTopic, .body = body, .tags = "TX", .keys = "k-" + body};
    m.properties["decision"] = decision;
    if (!on_check.empty()) m.properties["onCheck"] = on_check;
    auto r = producer_->SendInTransaction(m);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : TransactionSendResult{};
  }

  // The real topic's records by UNIQ_KEY.
  std::map<std::string, StoredMessage> Visible() {
    std::map<std::string, StoredMessage> out;
    for (const StoredMessage& m : cluster_->ReadTopic(kTopic)) {
      if (const std::string* u = m.Property("UNIQ_KEY")) out[*u] = m;
    }
    return out;
  }

  std::shared_ptr<Listener> listener_;
  std::unique_ptr<Producer> producer_;
};

TEST_F(TransactionClientTest, CommitIsVisibleRollbackNever) {
  const TransactionSendResult c = SendTx("committed", "commit");
  EXPECT_EQ(c.local_state, LocalTransactionState::kCommit);
  const TransactionSendResult r = SendTx("rolled-back", "rollback");
  EXPECT_EQ(r.local_state, LocalTransactionState::kRollback);
  // A plain message after both: once it is visible, the END_TRANSACTIONs (oneway, sent before
  // it on the same connection) have been handled.
  auto plain = producer_->Send(Message{.topic = kTopic, .body = "plain"});
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE(WaitUntil([&] {
    auto v = Visible();
    return v.count(c.msg_id) != 0 && v.count(plain->msg_id) != 0;
  }));
  auto v = Visible();
  const StoredMessage& m = v.at(c.msg_id);
  EXPECT_EQ(m.body, "committed");
  ASSERT_NE(m.Property("KEYS"), nullptr);
  EXPECT_EQ(*m.Property("KEYS"), "k-committed");
  EXPECT_EQ(*m.Property("TAGS"), "TX");
  EXPECT_EQ(v.count(r.msg_id), 0u) << "a rolled-back message became visible";
  // The broker never had to ask about either.
  EXPECT_FALSE(listener_->was_checked(c.msg_id));
  EXPECT_FALSE(listener_->was_checked(r.msg_id));
}

TEST_F(TransactionClientTest, UnknownIsSettledByCheckBack) {
  const TransactionSendResult u = SendTx("checked-commit", "unknown", "commit");
  EXPECT_EQ(u.local_state, LocalTransactionState::kUnknown);
  const TransactionSendResult ur = SendTx("checked-rollback", "unknown", "rollback");
  ASSERT_TRUE(WaitUntil([&] { return Visible().count(u.msg_id) != 0; }, 30s))
      << "the check-back never committed the message; checks seen: " << listener_->checks();
  EXPECT_TRUE(listener_->was_checked(u.msg_id));
  EXPECT_EQ(Visible().at(u.msg_id).body, "checked-commit");
  ASSERT_TRUE(WaitUntil([&] { return listener_->was_checked(ur.msg_id); }, 30s));
  // After its rollback answer has been handled (a later commit through the same path is
  // visible), the rolled-back one is still absent.
  const TransactionSendResult later = SendTx("later", "unknown", "commit");
  ASSERT_TRUE(WaitUntil([&] { return Visible().count(later.msg_id) != 0; }, 30s));
  EXPECT_EQ(Visible().count(ur.msg_id), 0u);
}

TEST_F(TransactionClientTest, NeedsAListenerAndRejectsDelay) {
  Producer p({.group = "PG_TX2", .namesrv_addr = cluster_->namesrv_addr()});
  ASSERT_TRUE(p.Start().ok());
  auto r = p.SendInTransaction(Message{.topic = kTopic, .body = "x"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  auto d = producer_->SendInTransaction(Message{.topic = kTopic, .body = "x", .delay_level = 2});
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace stele::client
