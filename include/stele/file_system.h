// The FileSystem interface: every byte Stele reads or writes goes through it, so that tests can
// swap in an in-memory or fault-injecting implementation (LevelDB's Env, RocksDB's FileSystem).
//
// Thread safety: a FileSystem may be used from many threads at once. A File may be used from many
// threads at once as long as concurrent writes do not overlap; reads of ranges that are not being
// written are always safe.
//
// Durability: nothing is durable until Sync() returns OK for the file's data, and SyncDir() for the
// directory entry of a file created, renamed or deleted. After a failed Sync the file's state on
// disk is unknown; callers must not retry and assume success.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace stele {

// A read-only view of a file's first `size()` bytes. Stays valid (and keeps the memory mapped)
// while any copy of the owning shared_ptr lives, even after the File is closed or deleted.
class MappedRegion {
 public:
  virtual ~MappedRegion() = default;
  virtual const char* data() const = 0;
  virtual size_t size() const = 0;
  // Non-null only for regions from File::MapWritable.
  virtual char* mutable_data() const { return nullptr; }
};

enum class SyncMode {
  kNone,  // only write
  kData,  // fdatasync after the write: data and the metadata needed to read it back
};

class File {
 public:
  virtual ~File() = default;

  // Writes all of `iov` contiguously at `offset`, then (kData) makes the file's data durable, as
  // one batched submission where the backend supports it. A short write is an error, never OK.
  virtual absl::Status WriteAt(uint64_t offset, std::span<const iovec> iov, SyncMode sync) = 0;
  absl::Status WriteAt(uint64_t offset, std::string_view data, SyncMode sync = SyncMode::kNone) {
    iovec v{const_cast<char*>(data.data()), data.size()};
    return WriteAt(offset, std::span<const iovec>(&v, 1), sync);
  }
  // Reads up to n bytes at offset; returns the number read (short only at end of file).
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, void* buf, size_t n) = 0;
  // fdatasync.
  virtual absl::Status Sync() = 0;
  virtual absl::Status Truncate(uint64_t size) = 0;
  // Reserves blocks for [offset, offset+len) and extends the size if needed (fallocate mode 0).
  virtual absl::Status Allocate(uint64_t offset, uint64_t len) = 0;
  virtual absl::StatusOr<uint64_t> Size() = 0;
  // Maps the first `len` bytes read-only and shared: later writes through WriteAt are visible in
  // the mapping once WriteAt returns. `len` must not exceed Size().
  virtual absl::StatusOr<std::shared_ptr<const MappedRegion>> Map(uint64_t len) = 0;
  // Maps the first `len` bytes read-write and shared: stores into it land in the page cache like
  // a write (visible to WriteAt/ReadAt/Map users), and Sync() makes them durable. The file must
  // already be `len` bytes long with its blocks allocated (no SIGBUS on a full disk). Backends
  // that cannot observe such stores (the fault-injecting wrapper) return Unimplemented.
  virtual absl::StatusOr<std::shared_ptr<const MappedRegion>> MapWritable(uint64_t len) {
    (void)len;
    return absl::UnimplementedError("writable mappings not supported by this file system");
  }
};

// An exclusive advisory lock on a path (flock), held until destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

struct OpenOptions {
  bool create = false;     // create if missing
  bool exclusive = false;  // with create: fail if it exists
  bool truncate = false;   // truncate to 0 on open
  bool read_only = false;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path,
                                                     const OpenOptions& opts) = 0;
  // Deletes a file or an empty directory.
  virtual absl::Status Delete(const std::string& path) = 0;
  // Atomically replaces `to` (POSIX rename).
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  // Creates a directory and its missing parents; OK if it exists.
  virtual absl::Status CreateDirs(const std::string& path) = 0;
  // Makes the directory's entries durable (fsync on the directory).
  virtual absl::Status SyncDir(const std::string& path) = 0;
  // Names (not paths) of the entries in a directory, unsorted, without "." and "..".
  virtual absl::StatusOr<std::vector<std::string>> List(const std::string& dir) = 0;
  virtual absl::StatusOr<bool> Exists(const std::string& path) = 0;
  virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  // Takes an exclusive lock on `path` (creating it); fails at once if another holder has it.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> Lock(const std::string& path) = 0;
  // Fraction (0..1) of the space of the file system holding `path` that is in use (statvfs), for
  // retention's disk-space rules. Unimplemented where there is no such thing (memory).
  virtual absl::StatusOr<double> SpaceUsedRatio(const std::string& path) {
    (void)path;
    return absl::UnimplementedError("no disk usage for this file system");
  }
  // Human-readable backend name, for logs ("io_uring", "posix", "memory", "fault(...)").
  virtual std::string Name() const = 0;
};

// The plain POSIX backend (pread/pwritev/fdatasync).
std::shared_ptr<FileSystem> NewPosixFileSystem();
// The io_uring backend: writes and fdatasync are submitted to a ring together (linked SQEs).
// Returns an error if a ring cannot be created.
absl::StatusOr<std::shared_ptr<FileSystem>> NewUringFileSystem();
// io_uring if a ring can be created here, else POSIX after logging one line that says why.
std::shared_ptr<FileSystem> NewDefaultFileSystem();
// A private in-memory file system (tests, and embedders who want a volatile queue).
std::shared_ptr<FileSystem> NewMemFileSystem();

}  // namespace stele
