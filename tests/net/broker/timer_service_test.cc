// TimerService on a real store with an injected clock, driven pass by pass (RunOnce): a parked
// timer goes out at the first tick at or after its time and never before, with its real topic,
// queue, body and properties; pending timers survive a clean restart and a crash (a checkpoint
// behind the timer log and a wheel that ran ahead of it) without loss or duplicates; a timer
// beyond the wheel is linked again until it is due.
#include "net/broker/timer_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>

#include "fmt/format.h"
#include "net/broker/message_writer.h"
#include "net/broker/state/json_file.h"
#include "net/broker/state/names.h"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele::broker {
namespace {

constexpr std::string_view kTopic = "TimerTopic";
constexpr int64_t kT0 = 1'700'000'000'300;  // not on a tick

class TimerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.store_path_root_dir = dir_.path();
    config_.store.store_path_root_dir = dir_.path();
    config_.timer_max_delay_sec = 60;
    auto s = Store::Open(testing::SmallOptions(dir_.path(), NewPosixFileSystem()));
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    writer_ = std::make_unique<MessageWriter>(
        *store_, 1000, std::vector<int64_t>{1000},
        TimerPolicy{.max_delay_ms = 600000, .clock = [this] { return now_.load(); }});
    OpenService();
  }
  void TearDown() override {
    service_.reset();
    writer_.reset();
    if (store_) {
      EXPECT_TRUE(store_->Close().ok());
    }
  }
  void OpenService() {
    service_ = std::make_unique<TimerService>(*store_, *writer_, config_, nullptr,
                                              [this] { return now_.load(); });
    ASSERT_TRUE(service_->Load().ok());
  }

  // Sends a message due at `due` (TIMER_DELIVER_MS) to kTopic queue 1.
  void Send(const std::string& body, int64_t due) {
    OutgoingMessage m;
    m.topic = std::string(kTopic);
    m.queue_id = 1;
    m.body = body;
    m.properties.Set(kPropertyTags, "tagT");
    m.properties.Set(kPropTimerDeliverMs, fmt::format("{}", due));
    std::promise<absl::StatusOr<AppendResult>> p;
    writer_->Put(std::move(m), [&p](absl::StatusOr<AppendResult> r) { p.set_value(r); });
    auto r = p.get_future().get();
    EXPECT_TRUE(r.ok()) << r.status();
  }
  // Waits until the parked queue's first `n` messages are dispatched (Enqueue reads them there).
  void WaitParked(int64_t n) {
    ASSERT_TRUE(store_->WaitForMessages(kTimerTopic, 0, n - 1, std::chrono::seconds(20)));
  }
  int64_t Delivered() { return store_->NextQueueOffset(kTopic, 1); }
  void RunAt(int64_t now) {
    now_ = now;
    service_->RunOnce();
  }

  testing::TempDir dir_;
  BrokerConfig config_;
  std::atomic<int64_t> now_{kT0};
  std::unique_ptr<Store> store_;
  std::unique_ptr<MessageWriter> writer_;
  std::unique_ptr<TimerService> service_;
};

TEST_F(TimerServiceTest, DeliversAtTheFirstTickAfterItsTimeNeverBefore) {
  Send("a", kT0 + 1500);
  Send("b", kT0 + 2500);
  Send("c", kT0 + 2500);
  EXPECT_EQ(store_->NextQueueOffset(kTimerTopic, 0), 3);
  WaitParked(3);
  RunAt(kT0);
  EXPECT_EQ(Delivered(), 0);
  EXPECT_EQ(service_->stats().enqueue_offset, 3);
  RunAt(kT0 + 1499);
  EXPECT_EQ(Delivered(), 0);
  RunAt(kT0 + 1700);  // the tick at or after kT0 + 1500
  EXPECT_EQ(Delivered(), 1);
  RunAt(kT0 + 2699);
  EXPECT_EQ(Delivered(), 1);
  RunAt(kT0 + 2700);
  EXPECT_EQ(Delivered(), 3);
  EXPECT_EQ(service_->stats().delivered, 3);

  ASSERT_TRUE(store_->WaitForMessages(kTopic, 1, 2, std::chrono::seconds(20)));
  auto got = store_->Get(kTopic, 1, 0);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->messages.size(), 3u);
  EXPECT_EQ(got->messages[0].msg.body, "a");
  const std::string_view props = got->messages[0].msg.properties;
  EXPECT_EQ(FindProperty(props, kPropertyTags).value_or(""), "tagT");
  EXPECT_EQ(FindProperty(props, kPropTimerOutMs).value_or(""), fmt::format("{}", kT0 + 1500));
  EXPECT_EQ(FindProperty(props, kPropRealTopic).value_or(""), kTopic);
  EXPECT_TRUE(FindProperty(props, kPropTimerDequeueMs).has_value());
}

TEST_F(TimerServiceTest, PastAndNearTimesAreNotParked) {
  Send("past", kT0 - 20000);
  Send("near", kT0 + 999);
  EXPECT_EQ(store_->NextQueueOffset(kTimerTopic, 0), 0);
  EXPECT_EQ(Delivered(), 2);
}

TEST_F(TimerServiceTest, CleanRestartKeepsPendingTimers) {
  for (int i = 0; i < 20; ++i) Send(fmt::format("m{}", i), kT0 + 2000 + i * 100);
  WaitParked(20);
  RunAt(kT0);
  service_->Stop();
  OpenService();
  RunAt(kT0 + 10000);
  EXPECT_EQ(Delivered(), 20);
  EXPECT_EQ(service_->stats().delivered, 20);
}

TEST_F(TimerServiceTest, CrashAfterTheCheckpointLosesNothingAndDuplicatesNothing) {
  for (int i = 0; i < 10; ++i) Send(fmt::format("m{}", i), kT0 + 5000);
  WaitParked(10);
  RunAt(kT0);  // scans them in and checkpoints (the first checkpoint is due at once)
  ASSERT_TRUE(service_->Checkpoint(false).ok());
  auto fs = NewPosixFileSystem();
  auto saved = ReadFileToString(*fs, service_->checkpoint_path(), 1 << 20);
  ASSERT_TRUE(saved.ok());
  // More timers after the checkpoint: in the timer log and the wheel, not in the checkpoint.
  for (int i = 10; i < 25; ++i) Send(fmt::format("m{}", i), kT0 + 5000);
  WaitParked(25);
  RunAt(kT0 + 100);
  EXPECT_EQ(service_->stats().enqueue_offset, 25);
  // The crash: the files stay as they are, the checkpoint is the one taken before.
  service_->Stop();
  {
    auto f = fs->Open(service_->checkpoint_path(), OpenOptions{.truncate = true});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->WriteAt(0, *saved, SyncMode::kData).ok());
  }
  OpenService();
  EXPECT_EQ(service_->stats().enqueue_offset, 10);  // rescans from the checkpoint
  RunAt(kT0 + 4000);
  EXPECT_EQ(service_->stats().enqueue_offset, 25);
  EXPECT_EQ(Delivered(), 0);
  RunAt(kT0 + 6000);
  EXPECT_EQ(Delivered(), 25);
}

TEST_F(TimerServiceTest, TimerBeyondTheWheelIsLinkedAgainUntilDue) {
  // The wheel spans 2 x 60 s; this one is due in 200 s (allowed by the writer's policy).
  Send("far", kT0 + 200000);
  WaitParked(1);
  int64_t t = kT0;
  for (; t < kT0 + 200000 && Delivered() == 0; t += 5000) RunAt(t);
  EXPECT_EQ(Delivered(), 0);
  EXPECT_GE(service_->stats().relinked, 1);
  RunAt(kT0 + 200000);
  RunAt(kT0 + 200700);
  EXPECT_EQ(Delivered(), 1);
}

}  // namespace
}  // namespace stele::broker
