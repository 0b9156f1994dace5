// The same conformance suite on every FileSystem backend, and the fault-injecting wrapper's
// power-loss model on top of each.
#include <gtest/gtest.h>

#include <cerrno>

#include "io/fault_fs.h"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele {
namespace {

using testing::Backend;

class FsTest : public ::testing::TestWithParam<Backend> {
 protected:
  std::shared_ptr<FileSystem> fs_ = testing::MakeBackend(GetParam());
  testing::TempDir tmp_;
  std::string dir_ = tmp_.path() + "/d";
  void SetUp() override { ASSERT_TRUE(fs_->CreateDirs(dir_).ok()); }

  std::string ReadAll(const std::string& path) {
    auto f = fs_->Open(path, OpenOptions{.read_only = true});
    EXPECT_TRUE(f.ok()) << f.status();
    if (!f.ok()) return "";
    std::string out(*(*f)->Size(), '\0');
    EXPECT_EQ(*(*f)->ReadAt(0, out.data(), out.size()), out.size());
    return out;
  }
};

TEST_P(FsTest, WriteReadSyncMapAndMetadata) {
  const std::string p = dir_ + "/a";
  auto f = fs_->Open(p, OpenOptions{.create = true});
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE((*f)->Allocate(0, 8192).ok());
  EXPECT_EQ(*(*f)->Size(), 8192u);
  std::string a = "hello ", b = "world";
  iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  ASSERT_TRUE((*f)->WriteAt(100, std::span<const iovec>(iov, 2), SyncMode::kData).ok());
  auto map = (*f)->Map(8192);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(std::string_view((*map)->data() + 100, 11), "hello world");
  // Later writes show through an existing mapping.
  ASSERT_TRUE((*f)->WriteAt(200, "again").ok());
  EXPECT_EQ(std::string_view((*map)->data() + 200, 5), "again");
  char buf[11];
  EXPECT_EQ(*(*f)->ReadAt(100, buf, 11), 11u);
  EXPECT_EQ(std::string_view(buf, 11), "hello world");
  EXPECT_EQ(*(*f)->ReadAt(8190, buf, 11), 2u);  // short only at end of file
  ASSERT_TRUE((*f)->Truncate(4096).ok());
  EXPECT_EQ(*fs_->FileSize(p), 4096u);
  ASSERT_TRUE(fs_->Rename(p, dir_ + "/b").ok());
  EXPECT_FALSE(*fs_->Exists(p));
  EXPECT_TRUE(*fs_->Exists(dir_ + "/b"));
  auto names = fs_->List(dir_);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"b"});
  ASSERT_TRUE(fs_->SyncDir(dir_).ok());
  ASSERT_TRUE(fs_->Delete(dir_ + "/b").ok());
  EXPECT_TRUE(absl::IsNotFound(fs_->Delete(dir_ + "/b")));
  EXPECT_TRUE(absl::IsNotFound(fs_->Open(dir_ + "/none", OpenOptions{}).status()));
  ASSERT_TRUE(fs_->Open(dir_ + "/c", OpenOptions{.create = true, .exclusive = true}).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(
      fs_->Open(dir_ + "/c", OpenOptions{.create = true, .exclusive = true}).status()));
}

TEST_P(FsTest, LockIsExclusive) {
  auto l1 = fs_->Lock(dir_ + "/lock");
  ASSERT_TRUE(l1.ok()) << l1.status();
  EXPECT_FALSE(fs_->Lock(dir_ + "/lock").ok());
  l1->reset();
  EXPECT_TRUE(fs_->Lock(dir_ + "/lock").ok());
}

TEST_P(FsTest, LargeVectoredWriteIsWhole) {
  auto f = fs_->Open(dir_ + "/big", OpenOptions{.create = true});
  ASSERT_TRUE(f.ok());
  std::string x(3 << 20, 'x'), y(1 << 20, 'y');
  iovec iov[2] = {{x.data(), x.size()}, {y.data(), y.size()}};
  ASSERT_TRUE((*f)->WriteAt(4096, std::span<const iovec>(iov, 2), SyncMode::kData).ok());
  std::string got = ReadAll(dir_ + "/big");
  ASSERT_EQ(got.size(), 4096 + x.size() + y.size());
  EXPECT_EQ(got.substr(4096, x.size()), x);
  EXPECT_EQ(got.substr(4096 + x.size()), y);
}

TEST_P(FsTest, PowerLossDropsOnlyWhatWasNotSynced) {
  auto fault = std::make_shared<io::FaultInjectionFS>(fs_, 1);
  {
    auto f = fault->Open(dir_ + "/synced", OpenOptions{.create = true});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->WriteAt(0, std::string(10000, 'a'), SyncMode::kData).ok());
    ASSERT_TRUE(fault->SyncDir(dir_).ok());
    ASSERT_TRUE((*f)->WriteAt(5000, std::string(10000, 'b')).ok());  // overwrite + extend, unsynced
    auto g = fault->Open(dir_ + "/unsynced-entry", OpenOptions{.create = true});
    ASSERT_TRUE(g.ok());
    ASSERT_TRUE((*g)->WriteAt(0, "data", SyncMode::kData).ok());  // data synced, entry not
    auto h = fault->Open(dir_ + "/renamed", OpenOptions{.create = true});
    ASSERT_TRUE((*h)->WriteAt(0, "old", SyncMode::kData).ok());
  }
  ASSERT_TRUE(fault->SyncDir(dir_).ok());
  ASSERT_TRUE(fault->Rename(dir_ + "/renamed", dir_ + "/renamed2").ok());  // not dir-synced
  fault->Deactivate();
  EXPECT_FALSE(fault->Delete(dir_ + "/synced").ok());  // the machine is "down"
  ASSERT_TRUE(fault->PowerLoss(io::LossPolicy::kDropAll).ok());
  fault->Activate();
  EXPECT_EQ(ReadAll(dir_ + "/synced"), std::string(10000, 'a'));
  EXPECT_FALSE(*fs_->Exists(dir_ + "/renamed2"));
  EXPECT_EQ(ReadAll(dir_ + "/renamed"), "old");
  // "unsynced-entry" was created after the first SyncDir but before the second: it survives.
  EXPECT_EQ(ReadAll(dir_ + "/unsynced-entry"), "data");
}

TEST_P(FsTest, NewFileWithoutDirSyncVanishes) {
  auto fault = std::make_shared<io::FaultInjectionFS>(fs_, 1);
  {
    auto f = fault->Open(dir_ + "/x", OpenOptions{.create = true});
    ASSERT_TRUE((*f)->WriteAt(0, "content", SyncMode::kData).ok());
  }
  ASSERT_TRUE(fault->PowerLoss(io::LossPolicy::kDropAll).ok());
  EXPECT_FALSE(*fs_->Exists(dir_ + "/x"));
}

TEST_P(FsTest, InjectedErrorsAndTornWrites) {
  auto fault = std::make_shared<io::FaultInjectionFS>(fs_, 1);
  auto f = fault->Open(dir_ + "/t", OpenOptions{.create = true});
  ASSERT_TRUE(f.ok());
  fault->FailNth(io::FaultOp::kWrite, 2, ENOSPC, 3);
  ASSERT_TRUE((*f)->WriteAt(0, "first").ok());
  auto st = (*f)->WriteAt(5, "second");
  EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
  EXPECT_EQ(ReadAll(dir_ + "/t"), "firstsec");  // torn: 3 bytes landed
  fault->FailNth(io::FaultOp::kSync, 1, EIO);
  EXPECT_FALSE((*f)->Sync().ok());
  EXPECT_TRUE((*f)->Sync().ok());
  EXPECT_EQ(fault->InjectedCount(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Backends, FsTest,
                         ::testing::Values(Backend::kMemory, Backend::kPosix, Backend::kUring),
                         [](const auto& info) { return testing::BackendName(info.param); });

}  // namespace
}  // namespace stele
