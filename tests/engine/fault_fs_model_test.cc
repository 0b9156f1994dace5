// The power-loss model of FaultInjectionFS (src/io/fault_fs.h) on every backend: contents belong
// to inodes and follow them through renames, names become durable with SyncDir of their directory,
// and an unsynced rename or delete brings the old name -> inode mapping back. The first test is
// what the engine relies on: a checkpoint replaced durably (temp, fdatasync, rename, dir fsync)
// comes back as the newest one, never an older one.
#include <gtest/gtest.h>

#include <string>

#include "engine/checkpoint.h"
#include "io/fault_fs.h"
#include "stele/store.h"
#include "testutil.h"

namespace stele {
namespace {

using io::FaultInjectionFS;
using io::LossPolicy;
using testing::Backend;

class FaultFsModelTest : public ::testing::TestWithParam<Backend> {
 protected:
  testing::TempDir dir_;
  std::shared_ptr<FaultInjectionFS> fs_ =
      std::make_shared<FaultInjectionFS>(testing::MakeBackend(GetParam()), 7);
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  void SetUp() override { ASSERT_TRUE(fs_->CreateDirs(dir_.path()).ok()); }

  // "<missing>" if there is no such file.
  std::string Read(const std::string& name) {
    auto f = fs_->Open(Path(name), OpenOptions{.read_only = true});
    if (!f.ok()) return "<missing>";
    auto size = (*f)->Size();
    EXPECT_TRUE(size.ok());
    std::string buf(*size, '\0');
    auto got = (*f)->ReadAt(0, buf.data(), buf.size());
    EXPECT_TRUE(got.ok());
    buf.resize(*got);
    return buf;
  }

  // Creates (or truncates) `name` with `data`, fdatasync'ed; `sync_dir` also makes its entry
  // durable.
  void Write(const std::string& name, const std::string& data, bool sync_dir) {
    auto f = fs_->Open(Path(name), OpenOptions{.create = true, .truncate = true});
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_TRUE((*f)->WriteAt(0, data, SyncMode::kData).ok());
    if (sync_dir) {
      ASSERT_TRUE(fs_->SyncDir(dir_.path()).ok());
    }
  }

  void PowerCycle(LossPolicy policy = LossPolicy::kDropAll) {
    fs_->Deactivate();
    ASSERT_TRUE(fs_->PowerLoss(policy).ok());
    fs_->Activate();
  }
};

TEST_P(FaultFsModelTest, StoreRecoversFromTheNewestCheckpoint) {
  auto opts = testing::SmallOptions(dir_.path() + "/s", fs_, FlushDiskType::kSyncFlush);
  int64_t end = 0;
  for (int session = 0; session < 3; ++session) {
    auto s = Store::Open(opts);
    ASSERT_TRUE(s.ok()) << s.status();
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE((*s)->Append(Message{.topic = "t", .body = testing::Body(session, i, 50)}).ok());
    }
    end = (*s)->MaxOffset();
    ASSERT_TRUE((*s)->Close().ok());  // checkpoint at `end`, replaced durably
  }
  for (LossPolicy policy : {LossPolicy::kDropAll, LossPolicy::kRandomPages}) {
    PowerCycle(policy);
    auto c = engine::ReadCheckpoint(fs_.get(), dir_.path() + "/s");
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->safe_offset, end);
    EXPECT_EQ(c->dispatch_offset, end);
  }
  auto s = Store::Open(opts);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE((*s)->recovery_report().clean_shutdown);
  EXPECT_EQ((*s)->recovery_report().scan_start_offset, end);
  EXPECT_EQ((*s)->MaxOffset(), end);
}

TEST_P(FaultFsModelTest, DurableRenameReplacesTheTarget) {
  ASSERT_TRUE(engine::WriteFileAtomically(fs_.get(), Path("x"), "v1").ok());
  ASSERT_TRUE(engine::WriteFileAtomically(fs_.get(), Path("x"), "v2").ok());
  ASSERT_TRUE(engine::WriteFileAtomically(fs_.get(), Path("x"), "v3").ok());
  PowerCycle();
  EXPECT_EQ(Read("x"), "v3");
  EXPECT_EQ(Read("x.tmp"), "<missing>");
}

TEST_P(FaultFsModelTest, UnsyncedRenameRevertsToTheOldMapping) {
  Write("x", "old", /*sync_dir=*/true);
  Write("x.tmp", "new", /*sync_dir=*/false);  // synced data, entry not durable
  ASSERT_TRUE(fs_->Rename(Path("x.tmp"), Path("x")).ok());
  PowerCycle();
  EXPECT_EQ(Read("x"), "old");
  EXPECT_EQ(Read("x.tmp"), "<missing>");

  // Both names durable before the rename: each names its own inode again, with its content.
  Write("a", "inode a", /*sync_dir=*/false);
  Write("b", "inode b", /*sync_dir=*/true);
  ASSERT_TRUE(fs_->Rename(Path("a"), Path("b")).ok());
  EXPECT_EQ(Read("b"), "inode a");
  PowerCycle();
  EXPECT_EQ(Read("a"), "inode a");
  EXPECT_EQ(Read("b"), "inode b");
}

TEST_P(FaultFsModelTest, SyncedContentFollowsTheInode) {
  Write("a", "synced", /*sync_dir=*/true);
  ASSERT_TRUE(fs_->Rename(Path("a"), Path("b")).ok());
  ASSERT_TRUE(fs_->SyncDir(dir_.path()).ok());
  {
    auto f = fs_->Open(Path("b"), OpenOptions{});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->WriteAt(6, " and more").ok());  // unsynced
  }
  PowerCycle();
  EXPECT_EQ(Read("a"), "<missing>");
  EXPECT_EQ(Read("b"), "synced");
}

TEST_P(FaultFsModelTest, DeletesNeedTheDirectorySync) {
  Write("kept", "durable", /*sync_dir=*/true);
  {
    auto f = fs_->Open(Path("kept"), OpenOptions{});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->WriteAt(0, "UNSYNCED").ok());
  }
  ASSERT_TRUE(fs_->Delete(Path("kept")).ok());
  Write("gone", "durable too", /*sync_dir=*/true);
  ASSERT_TRUE(fs_->Delete(Path("gone")).ok());
  ASSERT_TRUE(fs_->SyncDir(dir_.path()).ok());  // "gone" is gone; "kept" was deleted before it
  PowerCycle();
  EXPECT_EQ(Read("kept"), "<missing>");
  EXPECT_EQ(Read("gone"), "<missing>");

  Write("back", "durable", /*sync_dir=*/true);
  ASSERT_TRUE(fs_->Delete(Path("back")).ok());
  Write("back", "a new inode", /*sync_dir=*/false);  // same name, entry not durable
  PowerCycle();
  EXPECT_EQ(Read("back"), "durable");
}

TEST_P(FaultFsModelTest, ANamelessInodeKeepsWhatItsOpenHandleSyncs) {
  Write("f", "first", /*sync_dir=*/true);
  auto f = fs_->Open(Path("f"), OpenOptions{});
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(fs_->Delete(Path("f")).ok());  // not durable: the entry still names the inode
  ASSERT_TRUE((*f)->WriteAt(0, "FIRST", SyncMode::kData).ok());
  f->reset();
  PowerCycle();
  EXPECT_EQ(Read("f"), "FIRST");
}

INSTANTIATE_TEST_SUITE_P(Backends, FaultFsModelTest,
                         ::testing::Values(Backend::kMemory, Backend::kPosix, Backend::kUring),
                         [](const auto& info) { return testing::BackendName(info.param); });

}  // namespace
}  // namespace stele
