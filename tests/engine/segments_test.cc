// The segment allocator: ahead-of-need segments are zero-filled, a segment an appender waits for
// is not (a busy disk must not stall a roll for the seconds a 1 GiB fill takes).
#include "engine/segments.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "stele/file_system.h"

namespace stele::engine {
namespace {

constexpr uint64_t kSize = 32ull << 20;

// Wraps the in-memory file system, counting the bytes written to each path; every write can be
// made slow, as on a busy disk.
class CountingFS : public FileSystem {
 public:
  explicit CountingFS(std::chrono::milliseconds per_write) : per_write_(per_write) {}

  uint64_t Written(const std::string& path) {
    std::lock_guard<std::mutex> l(mu_);
    return written_[path];
  }

  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path,
                                             const OpenOptions& opts) override {
    auto f = base_->Open(path, opts);
    if (!f.ok()) return f.status();
    return std::unique_ptr<File>(new CountingFile(this, path, std::move(*f)));
  }
  absl::Status Delete(const std::string& p) override { return base_->Delete(p); }
  absl::Status Rename(const std::string& a, const std::string& b) override {
    return base_->Rename(a, b);
  }
  absl::Status CreateDirs(const std::string& p) override { return base_->CreateDirs(p); }
  absl::Status SyncDir(const std::string& p) override { return base_->SyncDir(p); }
  absl::StatusOr<std::vector<std::string>> List(const std::string& d) override {
    return base_->List(d);
  }
  absl::StatusOr<bool> Exists(const std::string& p) override { return base_->Exists(p); }
  absl::StatusOr<uint64_t> FileSize(const std::string& p) override { return base_->FileSize(p); }
  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& p) override {
    return base_->Lock(p);
  }
  std::string Name() const override { return "counting"; }

 private:
  class CountingFile : public File {
   public:
    CountingFile(CountingFS* fs, std::string path, std::unique_ptr<File> f)
        : fs_(fs), path_(std::move(path)), f_(std::move(f)) {}
    absl::Status WriteAt(uint64_t offset, std::span<const iovec> iov, SyncMode sync) override {
      uint64_t n = 0;
      for (const iovec& v : iov) n += v.iov_len;
      if (fs_->per_write_.count() > 0) std::this_thread::sleep_for(fs_->per_write_);
      {
        std::lock_guard<std::mutex> l(fs_->mu_);
        fs_->written_[path_] += n;
      }
      return f_->WriteAt(offset, iov, sync);
    }
    absl::StatusOr<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
      return f_->ReadAt(offset, buf, n);
    }
    absl::Status Sync() override { return f_->Sync(); }
    absl::Status Truncate(uint64_t size) override { return f_->Truncate(size); }
    absl::Status Allocate(uint64_t offset, uint64_t len) override {
      return f_->Allocate(offset, len);
    }
    absl::StatusOr<uint64_t> Size() override { return f_->Size(); }
    absl::StatusOr<std::shared_ptr<const MappedRegion>> Map(uint64_t len) override {
      return f_->Map(len);
    }

   private:
    CountingFS* fs_;
    std::string path_;
    std::unique_ptr<File> f_;
  };

  std::shared_ptr<FileSystem> base_ = NewMemFileSystem();
  std::chrono::milliseconds per_write_;
  std::mutex mu_;
  std::map<std::string, uint64_t> written_;
};

std::string Tmp(int64_t start) { return "/log/" + SegmentName(start) + ".tmp"; }

TEST(SegmentAllocatorTest, AwaitedSegmentIsNotZeroFilledButTheOneAheadIs) {
  CountingFS fs(std::chrono::milliseconds(0));
  ASSERT_TRUE(fs.CreateDirs("/log").ok());
  SegmentSet set(&fs, "/log", kSize, /*zero_fill=*/true, /*writable_maps=*/false);
  ASSERT_TRUE(set.Load().ok());
  set.StartAllocator();
  auto first = set.GetOrCreate(0);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(fs.Written(Tmp(0)), 0u) << "the segment an appender waited for was zero-filled";

  // The next one is prepared ahead of need, with the zeros written.
  const std::string next = "/log/" + SegmentName(kSize);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!*fs.Exists(next) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(*fs.Exists(next)) << "the allocator did not prepare the next segment";
  EXPECT_EQ(fs.Written(Tmp(kSize)), kSize);
  set.StopAllocator();
}

TEST(SegmentAllocatorTest, AnAppenderArrivingDuringTheZeroFillCutsItShort) {
  // 32 writes of 1 MiB at 40 ms each: the fill would take 1.3 s.
  CountingFS fs(std::chrono::milliseconds(40));
  ASSERT_TRUE(fs.CreateDirs("/log").ok());
  SegmentSet set(&fs, "/log", kSize, /*zero_fill=*/true, /*writable_maps=*/false);
  ASSERT_TRUE(set.Load().ok());
  set.StartAllocator();
  ASSERT_TRUE(set.GetOrCreate(0).ok());
  // The allocator now prepares the next segment; wait for it (as a roll would).
  auto second = set.GetOrCreate(kSize);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_LT(fs.Written(Tmp(kSize)), kSize)
      << "the fill ran to the end while an appender was waiting for the segment";
  EXPECT_EQ((*second)->size, kSize);
  // The file is whole (allocated to its size), and readable as zeros past what was filled.
  auto size = fs.FileSize("/log/" + SegmentName(kSize));
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, kSize);
  set.StopAllocator();
}

TEST(SegmentAllocatorTest, StoppingCutsASpeculativeFillShort) {
  CountingFS fs(std::chrono::milliseconds(40));
  ASSERT_TRUE(fs.CreateDirs("/log").ok());
  SegmentSet set(&fs, "/log", kSize, /*zero_fill=*/true, /*writable_maps=*/false);
  ASSERT_TRUE(set.Load().ok());
  set.StartAllocator();
  ASSERT_TRUE(set.GetOrCreate(0).ok());
  // Wait until the fill of the next segment is under way, then close.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (fs.Written(Tmp(kSize)) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GT(fs.Written(Tmp(kSize)), 0u) << "the allocator never started the next segment";
  set.StopAllocator();
  EXPECT_LT(fs.Written(Tmp(kSize)), kSize) << "closing waited for the whole speculative fill";
}

}  // namespace
}  // namespace stele::engine
