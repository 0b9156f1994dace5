// TimerStore on the in-memory file system: slots as lists from their head, wrap-around of the
// wheel, reopening after a clean stop (nothing rebuilt) and after an unclean one (entries past the
// checkpoint dropped, the wheel rebuilt, delivered slots left out), a precision change, and
// deletion of delivered segments.
#include "net/broker/timer_store.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "stele/file_system.h"

namespace stele::broker {
namespace {

class TimerStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<TimerStore> Open(TimerStore::State st, int64_t slots = 10,
                                   int64_t precision = 1000, int64_t segment_entries = 1024) {
    auto t = TimerStore::Open(
        fs_, "/t/timer",
        {.precision_ms = precision, .slots = slots, .segment_entries = segment_entries},
        std::move(st));
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *std::move(t) : nullptr;
  }
  static TimerStore::State Fresh(int64_t dequeue_ms) {
    TimerStore::State st;
    st.dequeue_ms = dequeue_ms;
    st.rebuild = true;
    return st;
  }
  // What Stop() would checkpoint.
  static TimerStore::State Clean(TimerStore& t, int64_t dequeue_ms) {
    EXPECT_TRUE(t.Sync().ok());
    TimerStore::State st;
    st.log_end = t.log_end();
    st.dequeue_ms = dequeue_ms;
    st.rebuild = false;
    st.precision_ms = t.precision_ms();
    st.slots = t.slots();
    st.segment_max = t.segment_max();
    return st;
  }
  // The commit offsets of a slot, newest first.
  static std::vector<int64_t> Walk(TimerStore& t, int64_t slot_ms) {
    std::vector<int64_t> out;
    auto s = t.Slot(slot_ms);
    EXPECT_TRUE(s.ok());
    for (int64_t pos = s->head; pos >= 0;) {
      auto e = t.Read(pos);
      EXPECT_TRUE(e.ok()) << e.status();
      if (!e.ok()) break;
      EXPECT_EQ(e->slot_ms, slot_ms);
      out.push_back(e->commit_offset);
      pos = e->prev;
    }
    EXPECT_EQ(static_cast<int64_t>(out.size()), s->count);
    return out;
  }
  void Add(TimerStore& t, int64_t slot_ms, int64_t offset) {
    auto pos = t.Add(slot_ms, slot_ms - 10, offset, 100);
    ASSERT_TRUE(pos.ok()) << pos.status();
  }

  std::shared_ptr<FileSystem> fs_ = NewMemFileSystem();
};

TEST_F(TimerStoreTest, SlotForRoundsUpToATick) {
  auto t = Open(Fresh(0));
  EXPECT_EQ(t->SlotFor(5000), 5000);
  EXPECT_EQ(t->SlotFor(5001), 6000);
  EXPECT_EQ(t->SlotFor(5999), 6000);
  EXPECT_EQ(t->LastSlot(5000), 5000 + 9 * 1000);
}

TEST_F(TimerStoreTest, SlotsAreListsNewestFirst) {
  auto t = Open(Fresh(1000));
  Add(*t, 5000, 1);
  Add(*t, 6000, 2);
  Add(*t, 5000, 3);
  Add(*t, 5000, 4);
  EXPECT_EQ(Walk(*t, 5000), (std::vector<int64_t>{4, 3, 1}));
  EXPECT_EQ(Walk(*t, 6000), (std::vector<int64_t>{2}));
  EXPECT_TRUE(Walk(*t, 7000).empty());
  auto e = t->Read(0);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->deliver_ms, 4990);
  EXPECT_EQ(e->size, 100);
  EXPECT_FALSE(t->Read(t->log_end()).ok());
}

TEST_F(TimerStoreTest, WrapAroundReusesASlotForALaterLap) {
  auto t = Open(Fresh(1000), /*slots=*/4);
  Add(*t, 2000, 1);  // index 2
  // 6000 has the same index, one lap later: it reads empty and gets a list of its own.
  EXPECT_TRUE(Walk(*t, 6000).empty());
  Add(*t, 6000, 2);
  EXPECT_EQ(Walk(*t, 6000), (std::vector<int64_t>{2}));
  EXPECT_TRUE(Walk(*t, 2000).empty());  // its lap is over
}

TEST_F(TimerStoreTest, CleanReopenKeepsTheWheel) {
  TimerStore::State st;
  {
    auto t = Open(Fresh(1000));
    Add(*t, 3000, 7);
    Add(*t, 3000, 8);
    Add(*t, 4000, 9);
    st = Clean(*t, 1000);
  }
  auto t = Open(st);
  EXPECT_EQ(t->log_end(), 3 * TimerStore::kEntryBytes);
  EXPECT_EQ(Walk(*t, 3000), (std::vector<int64_t>{8, 7}));
  Add(*t, 3000, 10);
  EXPECT_EQ(Walk(*t, 3000), (std::vector<int64_t>{10, 8, 7}));
}

TEST_F(TimerStoreTest, UncleanReopenDropsEntriesPastTheCheckpointAndRebuilds) {
  TimerStore::State st;
  {
    auto t = Open(Fresh(1000));
    Add(*t, 2000, 1);
    Add(*t, 3000, 2);
    Add(*t, 3000, 3);
    st = Clean(*t, 1000);
    // Written after the checkpoint: the wheel on disk now points at entries it will drop.
    Add(*t, 3000, 4);
    Add(*t, 5000, 5);
    ASSERT_TRUE(t->Sync().ok());
  }
  st.rebuild = true;
  st.dequeue_ms = 3000;  // slot 2000 was delivered
  auto t = Open(st);
  EXPECT_EQ(t->log_end(), 3 * TimerStore::kEntryBytes);
  EXPECT_TRUE(Walk(*t, 2000).empty());
  EXPECT_EQ(Walk(*t, 3000), (std::vector<int64_t>{3, 2}));
  EXPECT_TRUE(Walk(*t, 5000).empty());
  // The rescan of the parked queue adds them again.
  Add(*t, 3000, 4);
  EXPECT_EQ(Walk(*t, 3000), (std::vector<int64_t>{4, 3, 2}));
}

TEST_F(TimerStoreTest, PrecisionChangeMovesEntriesToTheNextTick) {
  TimerStore::State st;
  {
    auto t = Open(Fresh(1000));
    Add(*t, 3000, 1);
    Add(*t, 4000, 2);
    Add(*t, 5000, 3);
    st = Clean(*t, 1000);
  }
  auto t = Open(st, /*slots=*/10, /*precision=*/2000);
  EXPECT_EQ(Walk(*t, 4000), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(Walk(*t, 6000), (std::vector<int64_t>{3}));
}

TEST_F(TimerStoreTest, FarTimersAreClampedIntoTheWheelOnRebuild) {
  TimerStore::State st;
  {
    auto t = Open(Fresh(1000), /*slots=*/100);
    Add(*t, 90000, 1);
    st = Clean(*t, 1000);
  }
  auto t = Open(st, /*slots=*/10);  // a shorter wheel: 1000..10000
  EXPECT_EQ(Walk(*t, 10000), (std::vector<int64_t>{1}));
  auto e = t->Read(0);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->deliver_ms, 89990);  // still knows when it is really due
}

TEST_F(TimerStoreTest, DeliveredSegmentsAreDeleted) {
  auto t = Open(Fresh(1000), 10, 1000, /*segment_entries=*/2);
  Add(*t, 1000, 1);
  Add(*t, 1000, 2);  // segment 0: max 1000
  Add(*t, 2000, 3);
  Add(*t, 3000, 4);  // segment 80: max 3000
  Add(*t, 3000, 5);  // segment 160: being written
  ASSERT_TRUE(t->DeleteDelivered(2001).ok());
  EXPECT_FALSE(t->Read(0).ok());
  EXPECT_TRUE(t->Read(2 * TimerStore::kEntryBytes).ok());
  ASSERT_TRUE(t->DeleteDelivered(100000).ok());
  EXPECT_FALSE(t->Read(2 * TimerStore::kEntryBytes).ok());
  EXPECT_TRUE(t->Read(4 * TimerStore::kEntryBytes).ok());  // the segment being written stays
  auto files = fs_->List("/t/timer/log");
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->size(), 1u);
  // A reopen from that checkpoint does not miss the deleted segments.
  auto st = Clean(*t, 100000);
  t.reset();
  auto again = Open(st, 10, 1000, 2);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->log_end(), 5 * TimerStore::kEntryBytes);
}

}  // namespace
}  // namespace stele::broker
