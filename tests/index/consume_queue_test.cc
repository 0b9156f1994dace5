// ConsumeQueue on its own: format, file layout, recovery of its tail, truncation, retention.
#include "index/consume_queue.h"

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "index/java_hash.h"
#include "index/queue_store.h"
#include "io/fault_fs.h"
#include "testutil.h"

namespace stele::index {
namespace {

using stele::testing::Backend;
using stele::testing::BackendName;
using stele::testing::MakeBackend;
using stele::testing::TempDir;

constexpr int64_t kFile = 10 * kCqUnitSize;  // 10 entries per file

CqEntry SampleEntry(int64_t i) {
  return CqEntry{.phy_offset = 1000 + i * 100, .size = 100, .tags_code = i % 3};
}

class ConsumeQueueTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { fs_ = MakeBackend(GetParam()); }
  std::unique_ptr<ConsumeQueue> Make() {
    auto q = std::make_unique<ConsumeQueue>(fs_.get(), dir_.path() + "/cq/T/3", "T", 3, kFile);
    EXPECT_TRUE(q->Load().ok());
    return q;
  }
  static CqEntry E(int64_t i) { return SampleEntry(i); }
  std::string ReadFile(const std::string& name) {
    auto f = fs_->Open(dir_.path() + "/cq/T/3/" + name, OpenOptions{.read_only = true});
    EXPECT_TRUE(f.ok());
    std::string buf(kFile, '\0');
    auto n = (*f)->ReadAt(0, buf.data(), buf.size());
    EXPECT_TRUE(n.ok());
    buf.resize(*n);
    return buf;
  }

  TempDir dir_;
  std::shared_ptr<FileSystem> fs_;
};

TEST_P(ConsumeQueueTest, EntriesAreRocketMQsTwentyBytesInNumberedFiles) {
  auto q = Make();
  for (int64_t i = 0; i < 25; ++i) ASSERT_TRUE(q->Append(i, E(i)));
  EXPECT_EQ(q->MaxOffset(), 0);  // staged, not yet published
  ASSERT_TRUE(q->Commit().ok());
  EXPECT_EQ(q->MinOffset(), 0);
  EXPECT_EQ(q->MaxOffset(), 25);
  EXPECT_EQ(q->MaxPhyOffset(), 1000 + 24 * 100 + 100);
  EXPECT_EQ(q->FileCount(), 3u);
  // Second file starts at byte 200 and holds queue offsets 10..19.
  std::string f = ReadFile("00000000000000000200");
  ASSERT_EQ(f.size(), static_cast<size_t>(kFile));
  EXPECT_EQ(LoadBe64(f.data() + 20), 1000u + 11 * 100);  // entry 11
  EXPECT_EQ(LoadBe32(f.data() + 28), 100u);
  EXPECT_EQ(LoadBe64(f.data() + 32), 11u % 3);
  CqEntry out[30];
  ASSERT_EQ(q->Read(8, 30, out), 17u);
  for (int i = 0; i < 17; ++i) EXPECT_EQ(out[i].phy_offset, E(8 + i).phy_offset);
  EXPECT_FALSE(q->Append(5, E(5)));  // duplicate
}

TEST_P(ConsumeQueueTest, ReloadFindsTheEndAndZeroesATornTail) {
  {
    auto q = Make();
    for (int64_t i = 0; i < 13; ++i) q->Append(i, E(i));
    ASSERT_TRUE(q->Commit().ok());
    ASSERT_TRUE(q->Sync().ok());
  }
  // A torn write: entry 14 landed but 13 did not.
  {
    auto f = fs_->Open(dir_.path() + "/cq/T/3/00000000000000000200", OpenOptions{});
    ASSERT_TRUE(f.ok());
    char unit[20];
    StoreBe64(unit, 99999);
    StoreBe32(unit + 8, 77);
    StoreBe64(unit + 12, 0);
    ASSERT_TRUE((*f)->WriteAt(4 * 20, std::string_view(unit, 20)).ok());
  }
  auto q = Make();
  EXPECT_EQ(q->MaxOffset(), 13);
  EXPECT_EQ(q->MaxPhyOffset(), E(12).phy_offset + 100);
  // The stray entry is gone: appending over it and reloading gives exactly 14 entries.
  ASSERT_TRUE(q->Append(13, E(13)));
  ASSERT_TRUE(q->Commit().ok());
  q.reset();
  auto q2 = Make();
  EXPECT_EQ(q2->MaxOffset(), 14);
  EXPECT_EQ(q2->Get(13)->phy_offset, E(13).phy_offset);
}

TEST_P(ConsumeQueueTest, TruncateFromDropsEntriesAtOrPastAnOffset) {
  auto q = Make();
  for (int64_t i = 0; i < 25; ++i) q->Append(i, E(i));
  ASSERT_TRUE(q->Commit().ok());
  // Keep entries 0..9 exactly (the file boundary): files 2 and 3 go.
  auto n = q->TruncateFrom(E(10).phy_offset);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 15);
  EXPECT_EQ(q->MaxOffset(), 10);
  EXPECT_EQ(q->FileCount(), 1u);
  EXPECT_EQ(q->MaxPhyOffset(), E(9).phy_offset + 100);
  // Mid-file: 0..6 stay and the rest of the file is zero, so a reload agrees.
  ASSERT_EQ(*q->TruncateFrom(E(7).phy_offset - 1), 3);
  q.reset();
  auto q2 = Make();
  EXPECT_EQ(q2->MaxOffset(), 7);
  // Dispatch resumes at the next queue offset.
  ASSERT_TRUE(q2->Append(7, E(7)));
  ASSERT_TRUE(q2->Commit().ok());
  EXPECT_EQ(q2->MaxOffset(), 8);
}

TEST_P(ConsumeQueueTest, TruncateFromWalksOverHolesInTheTail) {
  {
    auto q = Make();
    for (int64_t i = 0; i < 25; ++i) q->Append(i, E(i));
    ASSERT_TRUE(q->Commit().ok());
  }
  // Power loss kept entries 14 and 24 but not 13 and 23 (unsynced pages), and left a zero-length
  // file where the next one was being created.
  for (const char* name : {"00000000000000000200", "00000000000000000400"}) {
    auto f = fs_->Open(dir_.path() + "/cq/T/3/" + name, OpenOptions{});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->WriteAt(3 * 20, std::string(20, '\0')).ok());
  }
  ASSERT_TRUE(
      fs_->Open(dir_.path() + "/cq/T/3/00000000000000000600", OpenOptions{.create = true}).ok());
  auto q = Make();  // the empty last file is dropped, the end is found at the hole (23)
  EXPECT_EQ(q->MaxOffset(), 23);
  // Everything from entry 12's record on is dispatched again: the hole at 13 goes too.
  auto n = q->TruncateFrom(E(12).phy_offset);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(q->MaxOffset(), 12);
  for (int64_t i = 12; i < 25; ++i) ASSERT_TRUE(q->Append(i, E(i)));
  ASSERT_TRUE(q->Commit().ok());
  q.reset();
  auto q2 = Make();
  ASSERT_EQ(q2->MaxOffset(), 25);
  for (int64_t i = 0; i < 25; ++i) EXPECT_EQ(q2->Get(i)->phy_offset, E(i).phy_offset) << i;
}

TEST_P(ConsumeQueueTest, AQueueStartingLateBeginsWithPreBlanks) {
  auto q = Make();
  ASSERT_TRUE(q->Append(23, E(23)));
  ASSERT_TRUE(q->Append(24, E(24)));
  ASSERT_TRUE(q->Commit().ok());
  EXPECT_EQ(q->MinOffset(), 23);
  EXPECT_EQ(q->MaxOffset(), 25);
  EXPECT_EQ(q->FileCount(), 1u);  // the file holding offsets 20..29 only
  auto blank = q->Get(21);
  ASSERT_TRUE(blank.has_value());
  EXPECT_TRUE(blank->is_blank());
  q.reset();
  auto q2 = Make();
  EXPECT_EQ(q2->MinOffset(), 23);
  EXPECT_EQ(q2->MaxOffset(), 25);
}

TEST_P(ConsumeQueueTest, DeleteBelowRemovesWholeFilesAndMovesTheMin) {
  auto q = Make();
  for (int64_t i = 0; i < 35; ++i) q->Append(i, E(i));
  ASSERT_TRUE(q->Commit().ok());
  // The log now starts inside entry 12's record range: files 0 (0..9) goes, min moves to 13.
  auto d = q->DeleteBelow(E(12).phy_offset + 1);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, 1);
  EXPECT_EQ(q->FileCount(), 3u);
  EXPECT_EQ(q->MinOffset(), 13);
  EXPECT_EQ(q->MaxOffset(), 35);
  // Everything expired: all files but the last go and the queue is empty but keeps its max.
  ASSERT_TRUE(q->DeleteBelow(1 << 30).ok());
  EXPECT_EQ(q->FileCount(), 1u);
  EXPECT_EQ(q->MinOffset(), 35);
  EXPECT_EQ(q->MaxOffset(), 35);
}

TEST_P(ConsumeQueueTest, RejectsFilesOfTheWrongSize) {
  {
    auto q = Make();
    q->Append(0, E(0));
    ASSERT_TRUE(q->Commit().ok());
  }
  auto f = fs_->Open(dir_.path() + "/cq/T/3/00000000000000000000", OpenOptions{});
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Truncate(kFile - 20).ok());
  ConsumeQueue q(fs_.get(), dir_.path() + "/cq/T/3", "T", 3, kFile);
  absl::Status st = q.Load();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("00000000000000000000"), std::string_view::npos) << st;
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsumeQueueTest,
                         ::testing::Values(Backend::kMemory, Backend::kPosix),
                         [](const auto& info) { return BackendName(info.param); });

// Regression: the queue store synced a new topic directory's entry only if the directory already
// existed when SyncAll ran. A queue registered before a sync but whose first file (and so its
// directory) came after it was never linked durably: its entries were synced and the checkpoint
// counted them, yet a power loss took the whole directory (seen as a queue starting 20 entries
// late after recovery, under load).
TEST(QueueStoreTest, ADirectoryCreatedAfterASyncStillBecomesDurable) {
  TempDir dir;
  auto fault = std::make_shared<io::FaultInjectionFS>(MakeBackend(Backend::kMemory), 1);
  const std::string root = dir.path() + "/cq";
  {
    QueueStore qs(fault.get(), root, kFile);
    ASSERT_TRUE(qs.Load().ok());
    auto q = qs.GetOrCreate("T", 0);
    ASSERT_TRUE(q.ok());
    ASSERT_TRUE(qs.SyncAll().ok());  // nothing written yet: no directory to sync
    for (int64_t i = 0; i < 5; ++i) ASSERT_TRUE((*q)->Append(i, SampleEntry(i)));
    ASSERT_TRUE((*q)->Commit().ok());  // creates cq/T/0 and its first file
    auto q2 = qs.GetOrCreate("T", 1);  // a second queue of a topic whose directory exists
    ASSERT_TRUE(q2.ok());
    ASSERT_TRUE(qs.SyncAll().ok());
    ASSERT_TRUE((*q2)->Append(0, SampleEntry(0)));
    ASSERT_TRUE((*q2)->Commit().ok());
    ASSERT_TRUE(qs.SyncAll().ok());
  }
  ASSERT_TRUE(fault->PowerLoss(io::LossPolicy::kDropAll).ok());
  QueueStore qs(fault.get(), root, kFile);
  ASSERT_TRUE(qs.Load().ok());
  auto q = qs.Find("T", 0);
  ASSERT_NE(q, nullptr) << "queue T/0 lost its directory";
  EXPECT_EQ(q->MinOffset(), 0);
  EXPECT_EQ(q->MaxOffset(), 5);
  auto q2 = qs.Find("T", 1);
  ASSERT_NE(q2, nullptr) << "queue T/1 lost its directory";
  EXPECT_EQ(q2->MaxOffset(), 1);
}

TEST(JavaHash, MatchesJavaStringHashCode) {
  // Values computed with Java's String.hashCode.
  EXPECT_EQ(JavaStringHash(""), 0);
  EXPECT_EQ(JavaStringHash("TagA"), 2598919);
  EXPECT_EQ(JavaStringHash("hello world"), 1794106052);
  EXPECT_EQ(JavaStringHash("polygenelubricants"), INT32_MIN);
  // Non-ASCII: "é" is one UTF-16 unit (0xE9); U+1F600 is a surrogate pair.
  EXPECT_EQ(JavaStringHash("\xC3\xA9"), 0xE9);
  EXPECT_EQ(JavaStringHash("\xF0\x9F\x98\x80"), 0xD83D * 31 + 0xDE00);
  EXPECT_EQ(TagsCode(""), 0);
  EXPECT_EQ(TagsCode("polygenelubricants"), static_cast<int64_t>(INT32_MIN));
}

}  // namespace
}  // namespace stele::index
