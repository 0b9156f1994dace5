// Shared by the producer test files: a ProducerTest fixture (two-broker cluster with one topic,
// producers owned by the test) and helpers to check what was stored.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "cluster_fixture.h"
#include "net/remoting/codes.h"
#include "stele/client/producer.h"

namespace stele::client::producer_test {

using stele::testing::StoredMessage;
using stele::testing::WaitUntil;
namespace rc = remoting::response;

inline constexpr char kTopic[] = "ProducerTopic";
inline constexpr int kQueues = 4;  // per broker

inline bool IsMsgId(const std::string& s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'A' && c <= 'F');
         });
}

// The stored messages by UNIQ_KEY (every message this client sends carries one).
inline std::map<std::string, StoredMessage> ByUniqKey(const std::vector<StoredMessage>& all) {
  std::map<std::string, StoredMessage> out;
  for (const StoredMessage& m : all) {
    if (const std::string* u = m.Property(prop::kUniqKey)) out[*u] = m;
  }
  return out;
}

inline std::string RandomBody(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Counts async completions; Wait blocks (bounded) until `n` arrived.
class Completions {
 public:
  explicit Completions(size_t n) : calls_(n), results_(n) {}
  SendCallback For(size_t i) {
    return [this, i](absl::StatusOr<SendResult> r) {
      std::lock_guard l(mu_);
      if (calls_[i]++ == 0) {
        results_[i] = std::move(r);
        ++distinct_;
      }
      cv_.notify_all();
    };
  }
  bool Wait(std::chrono::milliseconds limit) {
    std::unique_lock l(mu_);
    return cv_.wait_for(l, limit, [&] { return distinct_ == calls_.size(); });
  }
  std::vector<int> calls() const {
    std::lock_guard l(mu_);
    return calls_;
  }
  std::vector<absl::StatusOr<SendResult>> results() const {
    std::lock_guard l(mu_);
    return results_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> calls_;
  std::vector<absl::StatusOr<SendResult>> results_;
  size_t distinct_ = 0;
};

class ProducerTest : public stele::testing::ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (HasFatalFailure()) return;
    absl::Status s = cluster_->CreateTopic(kTopic, kQueues);
    ASSERT_TRUE(s.ok()) << s;
  }
  void TearDown() override {
    producers_.clear();  // before the brokers go away
    ClusterTest::TearDown();
  }

  ProducerOptions Opts() const {
    ProducerOptions o;
    o.group = "PG_ProducerTest";
    o.namesrv_addr = cluster_->namesrv_addr();
    return o;
  }
  // A started producer owned by the test.
  Producer& Started(ProducerOptions o) {
    producers_.push_back(std::make_unique<Producer>(std::move(o)));
    absl::Status s = producers_.back()->Start();
    EXPECT_TRUE(s.ok()) << s;
    return *producers_.back();
  }
  Producer& Started() { return Started(Opts()); }

  int BrokerIndex(const std::string& name) const {
    for (int i = 0; i < cluster_->broker_count(); ++i) {
      if (cluster_->broker_name(i) == name) return i;
    }
    return -1;
  }

  std::vector<std::unique_ptr<Producer>> producers_;
};

}  // namespace stele::client::producer_test
