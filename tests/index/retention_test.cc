// Retention with a fake clock and small segments: what is deleted, when, and what readers see.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>

#include "io/fault_fs.h"
#include "stele/store.h"
#include "testutil.h"

namespace stele {
namespace {

using testing::Body;
using testing::SmallOptions;
using testing::TempDir;

constexpr int64_t kHour = 3600 * 1000;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fault_ = std::make_shared<io::FaultInjectionFS>(NewMemFileSystem(), 3);
    opts_ = SmallOptions(dir_.path() + "/s", fault_, FlushDiskType::kAsyncFlush);
    opts_.file_reserved_time_hours = 1;
    opts_.delete_when = "04";
    opts_.clean_resource_interval_ms = 1000000;  // only explicit passes
    opts_.clock_ms = [this] { return now_.load(); };
    // Messages get real store timestamps; the fake clock starts at the real time, so they are
    // fresh.
    now_ = RealNow();
  }
  // The first local time at hh:00:00 that is not before `at_least_ms`.
  static int64_t At(int hour, int64_t at_least_ms) {
    time_t t = static_cast<time_t>(at_least_ms / 1000);
    struct tm lt;
    localtime_r(&t, &lt);
    lt.tm_hour = hour;
    lt.tm_min = 0;
    lt.tm_sec = 0;
    lt.tm_isdst = -1;
    int64_t ms = static_cast<int64_t>(mktime(&lt)) * 1000;
    while (ms < at_least_ms) {
      ++lt.tm_mday;
      lt.tm_isdst = -1;
      ms = static_cast<int64_t>(mktime(&lt)) * 1000;
    }
    return ms;
  }
  static int64_t RealNow() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::unique_ptr<Store> Open() {
    auto s = Store::Open(opts_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // Fills about `segments` commit-log segments; returns queue offsets appended to "R"/0.
  int64_t Fill(Store* s, int segments) {
    const size_t per = opts_.mapped_file_size_commit_log / 1100 * segments;
    for (size_t i = 0; i < per; ++i) {
      std::string body = Body(1, i, 1000);
      auto r = s->Append(Message{
          .topic = "R", .queue_id = 0, .body = body, .keys = fmt::format("k{}", appended_)});
      EXPECT_TRUE(r.ok()) << r.status();
      ++appended_;
    }
    EXPECT_TRUE(s->WaitForMessages("R", 0, appended_ - 1, std::chrono::seconds(10)));
    EXPECT_TRUE(s->Flush().ok());  // retention never deletes what is not yet durable
    return appended_;
  }

  // Fills five segments, lets retention delete the expired ones at 04:00 and closes the store;
  // `next` gets the queue's next offset.
  void FillExpireAndClose(int64_t* next) {
    auto s = Open();
    ASSERT_NE(s, nullptr);
    Fill(s.get(), 5);
    now_ = At(4, RealNow() + 2 * kHour);
    ASSERT_GT(s->CleanExpiredFiles(false)->segments_deleted, 0);
    *next = s->NextQueueOffset("R", 0);
    ASSERT_TRUE(s->Close().ok());
  }

  TempDir dir_;
  std::shared_ptr<io::FaultInjectionFS> fault_;
  StoreOptions opts_;
  std::atomic<int64_t> now_{0};
  int64_t appended_ = 0;
};

TEST_F(RetentionTest, ExpiredSegmentsGoAtDeleteWhenOnly) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  Fill(s.get(), 5);
  const int64_t min_before = s->MinOffset();
  // Not old (whatever the hour): nothing.
  auto r = s->CleanExpiredFiles(/*manual=*/false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segments_deleted, 0);
  // Old enough, but the wrong hour: still nothing (unless the disk is full).
  now_ = At(10, RealNow() + 2 * kHour);
  EXPECT_EQ(s->CleanExpiredFiles(false)->segments_deleted, 0);
  // At 04:00, two hours later than every message: all but the active segment go.
  now_ = At(4, RealNow() + 2 * kHour);
  r = s->CleanExpiredFiles(false);
  ASSERT_TRUE(r.ok());
  EXPECT_GE(r->segments_deleted, 4);
  EXPECT_EQ(r->why, "deleteWhen");
  EXPECT_GT(s->MinOffset(), min_before);
  EXPECT_GT(r->queue_files_deleted, 0);
  // Readers of the deleted range are told, never crash.
  auto g = s->Get("R", 0, 0);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->status, GetMessageStatus::kOffsetTooSmall);
  EXPECT_EQ(g->next_begin_offset, s->MinQueueOffset("R", 0));
  EXPECT_GT(g->next_begin_offset, 0);
  auto from_min = s->Get("R", 0, g->next_begin_offset);
  ASSERT_EQ(from_min->status, GetMessageStatus::kFound);
  EXPECT_GE(from_min->messages[0].offset, s->MinOffset());
  EXPECT_EQ(s->Read(0).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(s->QueryByKey("R", "k0", 4)->empty());
  EXPECT_EQ(s->QueryByKey("R", fmt::format("k{}", appended_ - 1), 4)->size(), 1u);
}

TEST_F(RetentionTest, ManualAndDiskPressure) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  Fill(s.get(), 4);
  // Messages are fresh: a manual pass deletes nothing (not expired).
  EXPECT_EQ(s->CleanExpiredFiles(true)->segments_deleted, 0);
  // Disk above diskMaxUsedSpaceRatio: expired files go at any hour.
  fault_->SetSpaceUsedRatio(0.80);
  EXPECT_EQ(s->CleanExpiredFiles(false)->segments_deleted, 0);  // still fresh
  // Above diskSpaceCleanForciblyRatio: the oldest go even though fresh, never the active one.
  fault_->SetSpaceUsedRatio(0.87);
  auto r = s->CleanExpiredFiles(false);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->segments_deleted, 0);
  EXPECT_LE(r->segments_deleted, opts_.delete_file_batch_max);
  EXPECT_FALSE(r->disk_full);
  EXPECT_TRUE(s->Append(Message{.topic = "R", .body = "after"}).ok());
  // Above diskSpaceWarningLevelRatio: appends are refused with SERVICE_NOT_AVAILABLE...
  fault_->SetSpaceUsedRatio(0.95);
  r = s->CleanExpiredFiles(false);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->disk_full);
  auto refused = s->Append(Message{.topic = "R", .body = "refused"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(PutStatusOf(refused.status()), PutMessageStatus::kServiceNotAvailable);
  // ...and accepted again once space is back.
  fault_->SetSpaceUsedRatio(0.50);
  EXPECT_FALSE(s->CleanExpiredFiles(false)->disk_full);
  EXPECT_TRUE(s->Append(Message{.topic = "R", .body = "again"}).ok());
}

TEST_F(RetentionTest, ReopenAfterRetentionKeepsQueuesAndOffsets) {
  int64_t next = 0;
  ASSERT_NO_FATAL_FAILURE(FillExpireAndClose(&next));
  auto s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->NextQueueOffset("R", 0), next);
  EXPECT_EQ(s->MaxQueueOffset("R", 0), next);
  const int64_t min = s->MinQueueOffset("R", 0);
  EXPECT_GT(min, 0);
  auto g = s->Get("R", 0, min);
  ASSERT_EQ(g->status, GetMessageStatus::kFound);
  auto r = s->Append(Message{.topic = "R", .body = "x"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->queue_offset, next);
}

TEST_F(RetentionTest, RebuildWithoutCheckpointAfterRetention) {
  int64_t next = 0;
  ASSERT_NO_FATAL_FAILURE(FillExpireAndClose(&next));
  // Lose the checkpoint and the consume queues: everything is rebuilt from the surviving log,
  // queue offsets continuing from the oldest surviving record.
  ASSERT_TRUE(fault_->Delete(opts_.store_path_root_dir + "/checkpoint").ok());
  auto files = fault_->List(opts_.store_path_root_dir + "/consumequeue/R/0");
  ASSERT_TRUE(files.ok());
  for (const std::string& f : *files) {
    ASSERT_TRUE(fault_->Delete(opts_.store_path_root_dir + "/consumequeue/R/0/" + f).ok());
  }
  auto s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->NextQueueOffset("R", 0), next);
  EXPECT_EQ(s->MaxQueueOffset("R", 0), next);
  const int64_t min = s->MinQueueOffset("R", 0);
  EXPECT_GT(min, 0);
  auto g = s->Get("R", 0, min, GetOptions{.max_messages = 1000});
  ASSERT_EQ(g->status, GetMessageStatus::kFound);
  EXPECT_EQ(g->messages.front().msg.queue_offset, min);
  EXPECT_EQ(g->messages.back().msg.queue_offset, next - 1);
}

}  // namespace
}  // namespace stele
