// A FileSystem wrapper that injects faults, for crash-safety tests (RocksDB's FaultInjectionTestFS,
// LevelDB's FaultInjectionTestEnv). Works over any backend (memory, POSIX, io_uring).
//
// It injects errors (EIO, ENOSPC, ...) at chosen or seeded-random points, tears writes (a prefix
// reaches the file, then the call fails), and simulates power loss. To simulate a crash:
// Deactivate() (every later mutating call fails with EIO, as if the machine were gone), destroy the
// store, PowerLoss(), Activate(), reopen.
//
// The power-loss model grants what POSIX fsync/fdatasync guarantee (ext4 gives no less), no more,
// and keeps names and contents apart as the kernel keeps directory entries and inodes apart:
// - Contents belong to the inode, not to a name. An inode's durable image is its content and size
//   as of its last successful Sync (fdatasync): later writes, truncations and extensions are lost
//   (all of them, or under kRandomPages each 4 KiB page independently keeps its old or new bytes;
//   the size always reverts). The image follows the inode through renames, so data synced under
//   "x.tmp" is there under "x" once that name is durable.
// - Names belong to directories. A directory's durable entries are its name -> inode mapping as of
//   its last successful SyncDir; creates, deletes and renames after that are undone by power
//   loss. So a rename within a directory is durable exactly when a SyncDir of that directory
//   succeeded after it: then the target names the moved inode and the replaced inode is gone for
//   good. Before that, the old mapping comes back: the target names its previous inode again
//   (with that inode's durable image, kept when the name was replaced or deleted, and refreshed
//   if a still-open handle of the nameless inode syncs), and the source names the moved inode.
//   (Across directories each directory's half of a rename becomes durable with its own SyncDir.)
// - A directory is tracked from the first create, rename or delete in it (or its first SyncDir);
//   the entries it had then count as durable, with their current content. Directories themselves
//   are created durable unless their parent is tracked, in which case their entry needs a SyncDir
//   of the parent like a file's; a directory whose entry is lost vanishes with everything in it.
//   Renaming directories is not modelled (the engine never does it).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "stele/file_system.h"

namespace stele::io {

enum class FaultOp { kWrite, kSync, kCreate, kAllocate, kTruncate, kRename, kDelete, kSyncDir };
constexpr int kFaultOpCount = 8;

enum class LossPolicy {
  kDropAll,      // every unsynced page reverts to its last synced content
  kRandomPages,  // each unsynced 4 KiB page independently keeps its new or its old content
};

struct FaultFileState;

class FaultInjectionFS : public FileSystem {
 public:
  FaultInjectionFS(std::shared_ptr<FileSystem> base, uint64_t seed);
  ~FaultInjectionFS() override;

  // The nth call (1-based, counted from now) of `op` fails with `err`. For kWrite with
  // `torn_keep`, that many bytes of the write reach the file before it fails. With `path_filter`,
  // only calls on paths containing it count (so background threads touching other files, like
  // the checkpoint writer or the segment allocator, cannot take the fault meant for the log).
  void FailNth(FaultOp op, uint64_t nth, int err, std::optional<size_t> torn_keep = {},
               std::string path_filter = "");
  // Every call of `op` fails with probability 1/one_in (seeded); 0 turns it off.
  void FailRandomly(FaultOp op, uint32_t one_in, int err);
  // Each Sync sleeps this long first (to provoke flush timeouts).
  void SetSyncDelay(std::chrono::milliseconds d);
  void ClearFaults();
  void Deactivate();
  void Activate();
  // Number of calls of `op` seen so far.
  uint64_t Count(FaultOp op) const;
  uint64_t InjectedCount() const;
  // Reverts every directory to its durable entries and every inode to its durable image (see the
  // model above); afterwards everything on disk counts as durable. Call with no File of this FS
  // open.
  absl::Status PowerLoss(LossPolicy policy);

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
  // Tests: report this disk usage instead of the base file system's (negative = the base's).
  void SetSpaceUsedRatio(double r);
  absl::StatusOr<double> SpaceUsedRatio(const std::string& path) override;
  std::string Name() const override { return "fault(" + base_->Name() + ")"; }

 private:
  friend class FaultFile;
  struct Rule {
    uint64_t nth = 0;  // matching-call count at which to fire; 0 = none
    uint64_t matched = 0;
    std::string path_filter;
    int err = 0;
    std::optional<size_t> torn_keep;
    uint32_t one_in = 0;
    int random_err = 0;
  };

  // Decides whether this call of `op` fails; returns the errno (0 = proceed). Holds mu_.
  int NextFault(FaultOp op, std::optional<size_t>* torn_keep, const std::string& what);
  absl::Status Check(FaultOp op, const std::string& what);
  // A directory's entries: name -> inode, nullptr for a subdirectory.
  using Entries = std::map<std::string, std::shared_ptr<FaultFileState>>;

  // The rest hold mu_.
  void TrackDir(const std::string& dir);
  // The base file system's current entries of `dir`, with the inode of each file.
  absl::StatusOr<Entries> CurrentEntries(const std::string& dir);
  std::shared_ptr<FaultFileState> StateFor(const std::string& path);
  bool DurablyNamed(const FaultFileState* st) const;
  // The durable image of the inode at `path`, if a durable directory entry names it (so that power
  // loss could bring it back once `path` stops naming it); nullopt otherwise.
  absl::StatusOr<std::optional<std::string>> ImageToKeep(const std::string& path);
  // `path` no longer names its inode (deleted or renamed over); `image` is from ImageToKeep.
  void Unlinked(const std::string& path, std::optional<std::string> image);
  // The inode's content after power loss, read through `f` (its current name or an open handle).
  // Unsynced pages revert (all, or a seeded random subset); the size reverts.
  absl::StatusOr<std::string> LostImage(File& f, FaultFileState& st, LossPolicy policy);
  absl::Status RemoveTree(const std::string& path);
  absl::Status SaveUndo(FaultFileState& st, File& f, uint64_t off, uint64_t len);

  std::shared_ptr<FileSystem> base_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  bool active_ = true;
  std::chrono::milliseconds sync_delay_{0};
  Rule rules_[kFaultOpCount];
  uint64_t counts_[kFaultOpCount] = {};
  uint64_t injected_ = 0;
  double space_used_ratio_ = -1;
  std::map<std::string, std::shared_ptr<FaultFileState>> files_;  // current path -> inode
  std::map<std::string, Entries> durable_dirs_;  // tracked dir -> its durable entries
};

}  // namespace stele::io
