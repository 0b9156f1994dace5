// In-memory file system. File data lives in a heap buffer that is replaced (not reallocated in
// place) when it must grow, so a MappedRegion handed out earlier keeps pointing at valid memory.
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "common/path.h"
#include "common/status.h"
#include "stele/file_system.h"

namespace stele::io {
namespace {

using Buffer = std::vector<char>;

struct Inode {
  std::mutex mu;
  std::shared_ptr<Buffer> buf = std::make_shared<Buffer>();  // buf->size() is capacity
  uint64_t size = 0;
};

class MemRegion : public MappedRegion {
 public:
  MemRegion(std::shared_ptr<Buffer> buf, size_t len, bool writable = false)
      : buf_(std::move(buf)), len_(len), writable_(writable) {}
  const char* data() const override { return buf_->data(); }
  size_t size() const override { return len_; }
  char* mutable_data() const override { return writable_ ? buf_->data() : nullptr; }

 private:
  std::shared_ptr<Buffer> buf_;
  size_t len_;
  bool writable_;
};

// Grows capacity to at least `need`, copying into a new buffer (old mappings keep the old one).
void Reserve(Inode& ino, uint64_t need) {
  if (need <= ino.buf->size()) return;
  uint64_t cap = std::max<uint64_t>(need, ino.buf->size() * 2);
  auto nb = std::make_shared<Buffer>(cap, 0);
  if (ino.size > 0) std::memcpy(nb->data(), ino.buf->data(), ino.size);
  ino.buf = std::move(nb);
}

class MemFile : public File {
 public:
  MemFile(std::shared_ptr<Inode> ino, bool read_only) : ino_(std::move(ino)), ro_(read_only) {}

  absl::Status WriteAt(uint64_t offset, std::span<const iovec> iov, SyncMode) override {
    if (ro_) return absl::PermissionDeniedError("file opened read-only");
    size_t total = 0;
    for (const iovec& v : iov) total += v.iov_len;
    std::lock_guard<std::mutex> l(ino_->mu);
    Reserve(*ino_, offset + total);
    char* p = ino_->buf->data() + offset;
    for (const iovec& v : iov) {
      if (v.iov_len == 0) continue;
      std::memcpy(p, v.iov_base, v.iov_len);
      p += v.iov_len;
    }
    ino_->size = std::max<uint64_t>(ino_->size, offset + total);
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    std::lock_guard<std::mutex> l(ino_->mu);
    if (offset >= ino_->size) return 0;
    size_t k = static_cast<size_t>(std::min<uint64_t>(n, ino_->size - offset));
    std::memcpy(buf, ino_->buf->data() + offset, k);
    return k;
  }

  absl::Status Sync() override { return absl::OkStatus(); }

  absl::Status Truncate(uint64_t size) override {
    std::lock_guard<std::mutex> l(ino_->mu);
    if (size < ino_->size) {
      std::memset(ino_->buf->data() + size, 0, ino_->size - size);
    } else {
      Reserve(*ino_, size);
    }
    ino_->size = size;
    return absl::OkStatus();
  }

  absl::Status Allocate(uint64_t offset, uint64_t len) override {
    std::lock_guard<std::mutex> l(ino_->mu);
    Reserve(*ino_, offset + len);
    ino_->size = std::max<uint64_t>(ino_->size, offset + len);
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Size() override {
    std::lock_guard<std::mutex> l(ino_->mu);
    return ino_->size;
  }

  absl::StatusOr<std::shared_ptr<const MappedRegion>> Map(uint64_t len) override {
    std::lock_guard<std::mutex> l(ino_->mu);
    if (len > ino_->size) return absl::InvalidArgumentError("map past end of file");
    return std::make_shared<MemRegion>(ino_->buf, len);
  }

  absl::StatusOr<std::shared_ptr<const MappedRegion>> MapWritable(uint64_t len) override {
    if (ro_) return absl::PermissionDeniedError("file opened read-only");
    std::lock_guard<std::mutex> l(ino_->mu);
    if (len > ino_->size) return absl::InvalidArgumentError("map past end of file");
    return std::make_shared<MemRegion>(ino_->buf, len, true);
  }

 private:
  std::shared_ptr<Inode> ino_;
  bool ro_;
};

class MemFileSystem;

class MemLock : public FileLock {
 public:
  MemLock(std::shared_ptr<std::mutex> mu, std::shared_ptr<std::set<std::string>> held,
          std::string path)
      : mu_(std::move(mu)), held_(std::move(held)), path_(std::move(path)) {}
  ~MemLock() override {
    std::lock_guard<std::mutex> l(*mu_);
    held_->erase(path_);
  }

 private:
  std::shared_ptr<std::mutex> mu_;
  std::shared_ptr<std::set<std::string>> held_;
  std::string path_;
};

class MemFileSystem : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path,
                                             const OpenOptions& opts) override {
    std::lock_guard<std::mutex> l(*mu_);
    auto it = files_.find(path);
    if (it == files_.end()) {
      if (!opts.create) return absl::NotFoundError("open " + path + ": no such file");
      if (!dirs_.count(ParentDir(path)))
        return absl::NotFoundError("open " + path + ": no parent dir");
      it = files_.emplace(path, std::make_shared<Inode>()).first;
    } else if (opts.create && opts.exclusive) {
      return absl::AlreadyExistsError("open " + path + ": exists");
    }
    if (opts.truncate) {
      std::lock_guard<std::mutex> il(it->second->mu);
      it->second->buf = std::make_shared<Buffer>();
      it->second->size = 0;
    }
    return std::unique_ptr<File>(new MemFile(it->second, opts.read_only));
  }

  absl::Status Delete(const std::string& path) override {
    std::lock_guard<std::mutex> l(*mu_);
    if (files_.erase(path) > 0) return absl::OkStatus();
    if (dirs_.count(path)) {
      const std::string prefix = path + "/";
      for (const auto& f : files_) {
        if (f.first.starts_with(prefix))
          return absl::FailedPreconditionError("rmdir " + path + ": not empty");
      }
      for (const auto& d : dirs_) {
        if (d.starts_with(prefix))
          return absl::FailedPreconditionError("rmdir " + path + ": not empty");
      }
      dirs_.erase(path);
      return absl::OkStatus();
    }
    return absl::NotFoundError("unlink " + path);
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> l(*mu_);
    auto it = files_.find(from);
    if (it == files_.end()) return absl::NotFoundError("rename " + from);
    if (!dirs_.count(ParentDir(to))) return absl::NotFoundError("rename to " + to + ": no parent");
    auto ino = it->second;
    files_.erase(it);
    files_[to] = std::move(ino);
    return absl::OkStatus();
  }

  absl::Status CreateDirs(const std::string& path) override {
    std::lock_guard<std::mutex> l(*mu_);
    std::string cur = path;
    while (!cur.empty() && cur != "/" && cur != ".") {
      if (files_.count(cur)) return absl::FailedPreconditionError(cur + " is a file");
      dirs_.insert(cur);
      cur = ParentDir(cur);
    }
    return absl::OkStatus();
  }

  absl::Status SyncDir(const std::string& path) override {
    std::lock_guard<std::mutex> l(*mu_);
    if (!dirs_.count(path)) return absl::NotFoundError("sync dir " + path);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> List(const std::string& dir) override {
    std::lock_guard<std::mutex> l(*mu_);
    if (!dirs_.count(dir)) return absl::NotFoundError("list " + dir);
    std::vector<std::string> out;
    for (const auto& [p, _] : files_) {
      if (ParentDir(p) == dir) out.push_back(BaseName(p));
    }
    for (const auto& d : dirs_) {
      if (d != dir && ParentDir(d) == dir) out.push_back(BaseName(d));
    }
    return out;
  }

  absl::StatusOr<bool> Exists(const std::string& path) override {
    std::lock_guard<std::mutex> l(*mu_);
    return files_.count(path) > 0 || dirs_.count(path) > 0;
  }

  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    std::shared_ptr<Inode> ino;
    {
      std::lock_guard<std::mutex> l(*mu_);
      auto it = files_.find(path);
      if (it == files_.end()) return absl::NotFoundError("stat " + path);
      ino = it->second;
    }
    std::lock_guard<std::mutex> il(ino->mu);
    return ino->size;
  }

  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) override {
    {
      std::lock_guard<std::mutex> l(*mu_);
      if (!dirs_.count(ParentDir(path))) return absl::NotFoundError("lock " + path + ": no parent");
      files_.try_emplace(path, std::make_shared<Inode>());
      if (!held_->insert(path).second) {
        return absl::UnavailableError("store is locked by another user: " + path);
      }
    }
    return std::unique_ptr<FileLock>(new MemLock(mu_, held_, path));
  }

  std::string Name() const override { return "memory"; }

 private:
  std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
  std::map<std::string, std::shared_ptr<Inode>> files_;
  std::set<std::string> dirs_{"/"};
  std::shared_ptr<std::set<std::string>> held_ = std::make_shared<std::set<std::string>>();
};

}  // namespace
}  // namespace stele::io

namespace stele {
std::shared_ptr<FileSystem> NewMemFileSystem() { return std::make_shared<io::MemFileSystem>(); }
}  // namespace stele
