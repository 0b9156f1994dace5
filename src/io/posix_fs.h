// POSIX file system; the io_uring backend reuses everything but the data path.
#pragma once

#include <sys/uio.h>

#include <memory>
#include <string>

#include "stele/file_system.h"

namespace stele::io {

class PosixFile : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override;

  absl::Status WriteAt(uint64_t offset, std::span<const iovec> iov, SyncMode sync) override;
  absl::StatusOr<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override;
  absl::Status Sync() override;
  absl::Status Truncate(uint64_t size) override;
  absl::Status Allocate(uint64_t offset, uint64_t len) override;
  absl::StatusOr<uint64_t> Size() override;
  absl::StatusOr<std::shared_ptr<const MappedRegion>> Map(uint64_t len) override;
  absl::StatusOr<std::shared_ptr<const MappedRegion>> MapWritable(uint64_t len) override;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

class PosixFileSystem : public FileSystem {
 public:
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path,
                                             const OpenOptions& opts) override;
  absl::Status Delete(const std::string& path) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status CreateDirs(const std::string& path) override;
  absl::Status SyncDir(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> List(const std::string& dir) override;
  absl::StatusOr<bool> Exists(const std::string& path) override;
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) override;
  absl::StatusOr<double> SpaceUsedRatio(const std::string& path) override;
  std::string Name() const override { return "posix"; }

 protected:
  // Wraps an open descriptor; the io_uring backend returns its own File type.
  virtual std::unique_ptr<File> MakeFile(int fd, const std::string& path);
};

}  // namespace stele::io
