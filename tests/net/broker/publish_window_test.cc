// PublishWindow (idempotent publish) with an injected clock: duplicates within the window, expiry,
// the entry cap, in-flight waiters, failures, and the start-up refill's first-wins rule.
#include "net/broker/publish_window.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace stele::broker {
namespace {

PublishRecord Rec(int64_t queue_offset, int32_t queue_id = 1) {
  PublishRecord r;
  r.result.queue_offset = queue_offset;
  r.result.msg_id = "ID" + std::to_string(queue_offset);
  r.queue_id = queue_id;
  return r;
}

class PublishWindowTest : public ::testing::Test {
 protected:
  int64_t now_ = 1000000;
  PublishWindow::Claim Begin(PublishWindow& w, const std::string& key, PublishRecord* out,
                             std::optional<absl::StatusOr<PublishRecord>>* waited = nullptr) {
    return w.Begin(
        key,
        [waited](absl::StatusOr<PublishRecord> r) {
          ASSERT_NE(waited, nullptr);
          *waited = std::move(r);
        },
        out);
  }
};

TEST_F(PublishWindowTest, KeyNeedsUniqKeyAndSeparatesTopics) {
  EXPECT_EQ(PublishWindow::Key("T", ""), "");
  EXPECT_NE(PublishWindow::Key("T1", "U"), PublishWindow::Key("T", "1U"));
}

TEST_F(PublishWindowTest, DuplicateWithinWindowThenExpires) {
  PublishWindow w(60000, 100, [this] { return now_; });
  const std::string k = PublishWindow::Key("T", "U1");
  PublishRecord out;
  ASSERT_EQ(Begin(w, k, &out), PublishWindow::Claim::kFirst);
  w.Complete(k, Rec(7, 3));
  now_ += 59999;
  ASSERT_EQ(Begin(w, k, &out), PublishWindow::Claim::kDuplicate);
  EXPECT_EQ(out.result.queue_offset, 7);
  EXPECT_EQ(out.result.msg_id, "ID7");
  EXPECT_EQ(out.queue_id, 3);
  now_ += 1;  // exactly window_ms after it was stored: gone
  EXPECT_EQ(Begin(w, k, &out), PublishWindow::Claim::kFirst);
  w.Complete(k, Rec(8));
  EXPECT_EQ(w.size(), 1u);
}

TEST_F(PublishWindowTest, ExpiredEntriesAreTrimmed) {
  PublishWindow w(1000, 100, [this] { return now_; });
  PublishRecord out;
  for (int i = 0; i < 10; ++i) {
    const std::string k = PublishWindow::Key("T", std::to_string(i));
    ASSERT_EQ(Begin(w, k, &out), PublishWindow::Claim::kFirst);
    w.Complete(k, Rec(i));
  }
  EXPECT_EQ(w.size(), 10u);
  now_ += 1000;
  ASSERT_EQ(Begin(w, "other", &out), PublishWindow::Claim::kFirst);
  EXPECT_EQ(w.size(), 1u);  // only the pending claim is left
}

TEST_F(PublishWindowTest, CapEvictsOldestFirst) {
  PublishWindow w(60000, 3, [this] { return now_; });
  PublishRecord out;
  for (int i = 0; i < 5; ++i) {
    const std::string k = PublishWindow::Key("T", std::to_string(i));
    ASSERT_EQ(Begin(w, k, &out), PublishWindow::Claim::kFirst);
    w.Complete(k, Rec(i));
    ++now_;
  }
  EXPECT_EQ(w.size(), 3u);
  for (int i = 2; i < 5; ++i) {
    EXPECT_EQ(Begin(w, PublishWindow::Key("T", std::to_string(i)), &out),
              PublishWindow::Claim::kDuplicate)
        << i;
  }
  // The two oldest were evicted: a retry of them is stored again.
  EXPECT_EQ(Begin(w, PublishWindow::Key("T", "0"), &out), PublishWindow::Claim::kFirst);
}

TEST_F(PublishWindowTest, InFlightDuplicateWaitsForTheFirst) {
  PublishWindow w(60000, 100, [this] { return now_; });
  const std::string k = PublishWindow::Key("T", "U");
  PublishRecord out;
  std::optional<absl::StatusOr<PublishRecord>> a, b;
  ASSERT_EQ(Begin(w, k, &out), PublishWindow::Claim::kFirst);
  ASSERT_EQ(Begin(w, k, &out, &a), PublishWindow::Claim::kWaiting);
  ASSERT_EQ(Begin(w, k, &out, &b), PublishWindow::Claim::kWaiting);
  EXPECT_FALSE(a.has_value());
  w.Complete(k, Rec(42));
  ASSERT_TRUE(a.has_value() && a->ok());
  ASSERT_TRUE(b.has_value() && b->ok());
  EXPECT_EQ((*a)->result.queue_offset, 42);
  EXPECT_EQ((*b)->result.msg_id, "ID42");
}

TEST_F(PublishWindowTest, FailedStoreIsForgottenAndWaitersFail) {
  PublishWindow w(60000, 100, [this] { return now_; });
  const std::string k = PublishWindow::Key("T", "U");
  PublishRecord out;
  std::optional<absl::StatusOr<PublishRecord>> a;
  ASSERT_EQ(Begin(w, k, &out), PublishWindow::Claim::kFirst);
  ASSERT_EQ(Begin(w, k, &out, &a), PublishWindow::Claim::kWaiting);
  w.Complete(k, absl::UnavailableError("disk"));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(Begin(w, k, &out), PublishWindow::Claim::kFirst);  // the retry stores it
}

TEST_F(PublishWindowTest, RestoreKeepsTheFirstRecordAndItsStoreTime) {
  PublishWindow w(60000, 100, [this] { return now_; });
  const std::string k = PublishWindow::Key("T", "U");
  w.Restore(k, Rec(1), now_ - 59000);  // the producer's (parked) record
  w.Restore(k, Rec(2), now_ - 1000);   // its later delivery: ignored
  PublishRecord out;
  ASSERT_EQ(Begin(w, k, &out), PublishWindow::Claim::kDuplicate);
  EXPECT_EQ(out.result.queue_offset, 1);
  now_ += 1000;  // the window counts from the first record's store time
  EXPECT_EQ(Begin(w, k, &out), PublishWindow::Claim::kFirst);
}

}  // namespace
}  // namespace stele::broker
