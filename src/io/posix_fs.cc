#include "io/posix_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/status.h"

namespace stele::io {
namespace {

class MmapRegion : public MappedRegion {
 public:
  MmapRegion(void* addr, size_t len, bool writable = false)
      : addr_(addr), len_(len), writable_(writable) {}
  ~MmapRegion() override {
    if (addr_ != nullptr && len_ > 0) munmap(addr_, len_);
  }
  const char* data() const override { return static_cast<const char*>(addr_); }
  size_t size() const override { return len_; }
  char* mutable_data() const override { return writable_ ? static_cast<char*>(addr_) : nullptr; }

 private:
  void* addr_;
  size_t len_;
  bool writable_;
};

class FlockLock : public FileLock {
 public:
  explicit FlockLock(int fd) : fd_(fd) {}
  ~FlockLock() override {
    flock(fd_, LOCK_UN);
    close(fd_);
  }

 private:
  int fd_;
};

}  // namespace

PosixFile::~PosixFile() {
  if (fd_ >= 0) close(fd_);
}

absl::Status PosixFile::WriteAt(uint64_t offset, std::span<const iovec> iov, SyncMode sync) {
  std::vector<iovec> v(iov.begin(), iov.end());
  size_t idx = 0;
  while (idx < v.size()) {
    if (v[idx].iov_len == 0) {
      ++idx;
      continue;
    }
    int cnt = static_cast<int>(std::min<size_t>(v.size() - idx, IOV_MAX));
    ssize_t n = pwritev(fd_, &v[idx], cnt, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "pwritev " + path_);
    }
    if (n == 0) return absl::InternalError("pwritev wrote 0 bytes to " + path_);
    offset += static_cast<uint64_t>(n);
    size_t left = static_cast<size_t>(n);
    while (left > 0 && idx < v.size()) {
      size_t take = std::min(left, v[idx].iov_len);
      v[idx].iov_base = static_cast<char*>(v[idx].iov_base) + take;
      v[idx].iov_len -= take;
      left -= take;
      if (v[idx].iov_len == 0) ++idx;
    }
  }
  if (sync == SyncMode::kData) return Sync();
  return absl::OkStatus();
}

absl::StatusOr<size_t> PosixFile::ReadAt(uint64_t offset, void* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r =
        pread(fd_, static_cast<char*>(buf) + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "pread " + path_);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

absl::Status PosixFile::Sync() {
  if (fdatasync(fd_) != 0) return ErrnoStatus(errno, "fdatasync " + path_);
  return absl::OkStatus();
}

absl::Status PosixFile::Truncate(uint64_t size) {
  if (ftruncate(fd_, static_cast<off_t>(size)) != 0)
    return ErrnoStatus(errno, "ftruncate " + path_);
  return absl::OkStatus();
}

absl::Status PosixFile::Allocate(uint64_t offset, uint64_t len) {
  int rc = posix_fallocate(fd_, static_cast<off_t>(offset), static_cast<off_t>(len));
  if (rc != 0) return ErrnoStatus(rc, "fallocate " + path_);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> PosixFile::Size() {
  struct stat st;
  if (fstat(fd_, &st) != 0) return ErrnoStatus(errno, "fstat " + path_);
  return static_cast<uint64_t>(st.st_size);
}

absl::StatusOr<std::shared_ptr<const MappedRegion>> PosixFile::Map(uint64_t len) {
  if (len == 0) return std::make_shared<MmapRegion>(nullptr, 0);
  void* p = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) return ErrnoStatus(errno, "mmap " + path_);
  return std::make_shared<MmapRegion>(p, len);
}

absl::StatusOr<std::shared_ptr<const MappedRegion>> PosixFile::MapWritable(uint64_t len) {
  if (len == 0) return absl::InvalidArgumentError("empty writable mapping");
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) return ErrnoStatus(errno, "mmap rw " + path_);
  return std::make_shared<MmapRegion>(p, len, true);
}

std::unique_ptr<File> PosixFileSystem::MakeFile(int fd, const std::string& path) {
  return std::make_unique<PosixFile>(fd, path);
}

absl::StatusOr<std::unique_ptr<File>> PosixFileSystem::Open(const std::string& path,
                                                            const OpenOptions& opts) {
  int flags = O_CLOEXEC | (opts.read_only ? O_RDONLY : O_RDWR);
  if (opts.create) flags |= O_CREAT;
  if (opts.exclusive) flags |= O_EXCL;
  if (opts.truncate) flags |= O_TRUNC;
  int fd = open(path.c_str(), flags, 0644);
  if (fd < 0) return ErrnoStatus(errno, "open " + path);
  return MakeFile(fd, path);
}

absl::Status PosixFileSystem::Delete(const std::string& path) {
  if (unlink(path.c_str()) == 0) return absl::OkStatus();
  if (errno == EISDIR || errno == EPERM) {
    if (rmdir(path.c_str()) == 0) return absl::OkStatus();
    return ErrnoStatus(errno, "rmdir " + path);
  }
  return ErrnoStatus(errno, "unlink " + path);
}

absl::Status PosixFileSystem::Rename(const std::string& from, const std::string& to) {
  if (rename(from.c_str(), to.c_str()) != 0)
    return ErrnoStatus(errno, "rename " + from + " -> " + to);
  return absl::OkStatus();
}

absl::Status PosixFileSystem::CreateDirs(const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoStatus(errno, "mkdir " + cur);
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat " + path);
  if (!S_ISDIR(st.st_mode)) return absl::FailedPreconditionError(path + " is not a directory");
  return absl::OkStatus();
}

absl::Status PosixFileSystem::SyncDir(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open dir " + path);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return ErrnoStatus(err, "fsync dir " + path);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> PosixFileSystem::List(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, "opendir " + dir);
  std::vector<std::string> out;
  while (struct dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    out.emplace_back(n);
  }
  closedir(d);
  return out;
}

absl::StatusOr<bool> PosixFileSystem::Exists(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return ErrnoStatus(errno, "stat " + path);
}

absl::StatusOr<double> PosixFileSystem::SpaceUsedRatio(const std::string& path) {
  struct statvfs sv;
  if (statvfs(path.c_str(), &sv) != 0) return ErrnoStatus(errno, "statvfs " + path);
  if (sv.f_blocks == 0) return 0.0;
  // As df computes it: space usable by unprivileged users is used + available.
  const double used = static_cast<double>(sv.f_blocks - sv.f_bfree);
  const double total = used + static_cast<double>(sv.f_bavail);
  return total > 0 ? used / total : 0.0;
}

absl::StatusOr<uint64_t> PosixFileSystem::FileSize(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat " + path);
  return static_cast<uint64_t>(st.st_size);
}

absl::StatusOr<std::unique_ptr<FileLock>> PosixFileSystem::Lock(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "open lock " + path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::UnavailableError("store is locked by another process: " + path);
    }
    return ErrnoStatus(err, "flock " + path);
  }
  return std::unique_ptr<FileLock>(new FlockLock(fd));
}

}  // namespace stele::io

namespace stele {
std::shared_ptr<FileSystem> NewPosixFileSystem() { return std::make_shared<io::PosixFileSystem>(); }
}  // namespace stele
