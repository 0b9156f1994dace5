// I/O errors while appending: EIO and ENOSPC on write or fdatasync fence the log (never retried,
// never reported as success), a failed segment creation is refused and recoverable, slow syncs
// report FLUSH_DISK_TIMEOUT, and a reopen recovers every acknowledged record.
#include <gtest/gtest.h>

#include <cerrno>
#include <optional>
#include <thread>

#include "io/fault_fs.h"
#include "stele/store.h"
#include "testutil.h"

namespace stele {
namespace {

using io::FaultInjectionFS;
using io::FaultOp;
using testing::Backend;
using testing::Body;

// Faults aimed at the log itself, not at the checkpoint writer or the segment allocator.
constexpr char kFirstSegment[] = "commitlog/00000000000000000000";

class FaultTest : public ::testing::TestWithParam<Backend> {
 protected:
  testing::TempDir dir_;
  std::shared_ptr<FaultInjectionFS> fault_ =
      std::make_shared<FaultInjectionFS>(testing::MakeBackend(GetParam()), 42);
  StoreOptions opts_ = testing::SmallOptions(dir_.path() + "/s", fault_);

  std::vector<AppendResult> AppendN(Store* s, int n, int tag) {
    std::vector<AppendResult> out;
    for (int i = 0; i < n; ++i) {
      std::string body = Body(tag, i, 700);
      auto r = s->Append(Message{.topic = "F", .queue_id = 0, .body = body});
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) out.push_back(*r);
    }
    return out;
  }

  void ExpectAllPresent(Store* s, const std::vector<AppendResult>& acks, int tag) {
    for (size_t i = 0; i < acks.size(); ++i) {
      auto rec = s->Read(acks[i].wrote_offset);
      ASSERT_TRUE(rec.ok()) << rec.status();
      EXPECT_EQ(rec->msg.body, Body(tag, static_cast<int>(i), 700));
    }
  }

  // Crash the process and lose power, then reopen with no faults.
  std::unique_ptr<Store> PowerCycle(std::unique_ptr<Store> s) {
    fault_->Deactivate();
    s.reset();
    EXPECT_TRUE(fault_->PowerLoss(io::LossPolicy::kDropAll).ok());
    fault_->ClearFaults();
    fault_->Activate();
    auto again = Store::Open(opts_);
    EXPECT_TRUE(again.ok()) << again.status();
    return again.ok() ? std::move(*again) : nullptr;
  }
};

TEST_P(FaultTest, FailedSyncFencesTheLog) {
  auto s = Store::Open(opts_);
  ASSERT_TRUE(s.ok());
  auto acks = AppendN(s->get(), 50, 1);
  fault_->FailNth(FaultOp::kSync, 1, EIO, std::nullopt, kFirstSegment);
  std::string body = Body(9, 9, 700);
  auto r = (*s)->Append(Message{.topic = "F", .body = body});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(PutStatusOf(r.status()), PutMessageStatus::kServiceNotAvailable) << r.status();
  // The next fdatasync would succeed, but the log must not retry and claim success.
  for (int i = 0; i < 5; ++i) {
    auto again = (*s)->Append(Message{.topic = "F", .body = body});
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.status().message().find("refuses appends"), std::string_view::npos);
  }
  EXPECT_FALSE((*s)->Flush().ok());
  ExpectAllPresent(s->get(), acks, 1);  // reads keep working
  auto reopened = PowerCycle(std::move(*s));
  ASSERT_NE(reopened, nullptr);
  ExpectAllPresent(reopened.get(), acks, 1);
  auto more = AppendN(reopened.get(), 5, 2);
  EXPECT_EQ(more.size(), 5u);
  EXPECT_EQ(more[0].queue_offset, 50);  // the refused append never took a queue offset slot
}

TEST_P(FaultTest, WriteErrorsFenceTheLog) {
  for (int err : {ENOSPC, EIO}) {
    opts_.store_path_root_dir = dir_.path() + "/w" + std::to_string(err);
    auto s = Store::Open(opts_);
    ASSERT_TRUE(s.ok()) << s.status();
    auto acks = AppendN(s->get(), 20, 3);
    // 300 bytes land, then the error.
    fault_->FailNth(FaultOp::kWrite, 1, err, /*torn_keep=*/300, kFirstSegment);
    std::string body = Body(9, 9, 700);
    auto r = (*s)->Append(Message{.topic = "F", .body = body});
    ASSERT_FALSE(r.ok());
    EXPECT_FALSE((*s)->Append(Message{.topic = "F", .body = body}).ok());
    auto reopened = PowerCycle(std::move(*s));
    ASSERT_NE(reopened, nullptr);
    ExpectAllPresent(reopened.get(), acks, 3);
    EXPECT_EQ(reopened->MaxOffset(), acks.back().wrote_offset + acks.back().wrote_bytes);
    EXPECT_EQ(AppendN(reopened.get(), 3, 4).size(), 3u);
  }
}

TEST_P(FaultTest, SegmentCreationFailureIsRefusedAndRecoverable) {
  auto s = Store::Open(opts_);
  ASSERT_TRUE(s.ok());
  // Every new segment fails to allocate (disk full) until the fault is cleared.
  fault_->FailRandomly(FaultOp::kAllocate, 1, ENOSPC);
  int refused = 0;
  std::vector<AppendResult> acks;
  for (int i = 0; i < 2000 && refused == 0; ++i) {
    std::string body = Body(5, i, 700);
    auto r = (*s)->Append(Message{.topic = "F", .body = body});
    if (r.ok()) {
      acks.push_back(*r);
    } else {
      EXPECT_EQ(PutStatusOf(r.status()), PutMessageStatus::kCreateMappedFileFailed) << r.status();
      ++refused;
    }
  }
  ASSERT_EQ(refused, 1) << "the log never needed a new segment";
  fault_->ClearFaults();
  std::string body = Body(5, 99999, 700);
  auto r = (*s)->Append(Message{.topic = "F", .body = body});
  ASSERT_TRUE(r.ok()) << r.status();  // not fenced: space came back, appends go on
  EXPECT_EQ(r->queue_offset, static_cast<int64_t>(acks.size()));
  ASSERT_TRUE((*s)->Close().ok());
}

TEST_P(FaultTest, SlowSyncReportsFlushDiskTimeout) {
  opts_.sync_flush_timeout_ms = 50;
  auto s = Store::Open(opts_);
  ASSERT_TRUE(s.ok());
  fault_->SetSyncDelay(std::chrono::milliseconds(400));
  // Two appenders: one leads the (slow) fdatasync, the other waits for it and times out.
  std::vector<absl::StatusOr<AppendResult>> res(2, absl::UnknownError("unset"));
  std::thread a([&] { res[0] = (*s)->Append(Message{.topic = "F", .body = "a"}); });
  std::thread b([&] { res[1] = (*s)->Append(Message{.topic = "F", .body = "b"}); });
  a.join();
  b.join();
  ASSERT_TRUE(res[0].ok() && res[1].ok());
  int timeouts = (res[0]->status == PutMessageStatus::kFlushDiskTimeout) +
                 (res[1]->status == PutMessageStatus::kFlushDiskTimeout);
  EXPECT_GE(timeouts, 1);
  fault_->SetSyncDelay(std::chrono::milliseconds(0));
  ASSERT_TRUE((*s)->Flush().ok());
  // Stored all the same.
  EXPECT_TRUE((*s)->Read(res[0]->wrote_offset).ok());
  EXPECT_TRUE((*s)->Read(res[1]->wrote_offset).ok());
}

TEST_P(FaultTest, AsyncCallbackTimesOutWhileTheSyncHangs) {
  opts_.sync_flush_timeout_ms = 50;
  auto s = Store::Open(opts_);
  ASSERT_TRUE(s.ok());
  fault_->SetSyncDelay(std::chrono::milliseconds(1500));
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::StatusOr<AppendResult>> got;
  (*s)->AppendAsync(Message{.topic = "F", .body = "x"}, [&](absl::StatusOr<AppendResult> r) {
    std::lock_guard<std::mutex> l(mu);
    got = std::move(r);
    cv.notify_all();
  });
  {
    // Answered by the watcher while the engine's fdatasync is still sleeping: without it the
    // callback would only come after the sync, as PUT_OK.
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return got.has_value(); }));
    ASSERT_TRUE(got->ok()) << got->status();
    EXPECT_EQ((*got)->status, PutMessageStatus::kFlushDiskTimeout);
  }
  fault_->SetSyncDelay(std::chrono::milliseconds(0));
  ASSERT_TRUE((*s)->Flush().ok());
  EXPECT_TRUE((*s)->Read((*got)->wrote_offset).ok());  // stored all the same
}

TEST_P(FaultTest, AsyncCallbacksGetTheError) {
  auto s = Store::Open(opts_);
  ASSERT_TRUE(s.ok());
  fault_->FailRandomly(FaultOp::kSync, 1, EIO);
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, failed = 0;
  for (int i = 0; i < 20; ++i) {
    (*s)->AppendAsync(Message{.topic = "F", .body = "x"}, [&](absl::StatusOr<AppendResult> r) {
      std::lock_guard<std::mutex> l(mu);
      ++done;
      if (!r.ok()) ++failed;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> l(mu);
  ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(10), [&] { return done == 20; }));
  EXPECT_EQ(failed, 20);
}

INSTANTIATE_TEST_SUITE_P(Backends, FaultTest,
                         ::testing::Values(Backend::kMemory, Backend::kPosix, Backend::kUring),
                         [](const auto& info) { return testing::BackendName(info.param); });

}  // namespace
}  // namespace stele
