#include "io/fault_fs.h"

#include <algorithm>
#include <cerrno>
#include <thread>

#include "common/path.h"
#include "common/status.h"

namespace stele::io {

constexpr uint64_t kPage = 4096;

// What the wrapper knows about one file (shared by every handle, follows renames).
struct FaultFileState {
  uint64_t durable_size = 0;
  std::map<uint64_t, std::string> undo;  // page index -> content as of the last Sync
};

class FaultFile : public File {
 public:
  FaultFile(FaultInjectionFS* fs, std::unique_ptr<File> base, std::shared_ptr<FaultFileState> st,
            std::string path)
      : fs_(fs), base_(std::move(base)), st_(std::move(st)), path_(std::move(path)) {}

  absl::Status WriteAt(uint64_t offset, std::span<const iovec> iov, SyncMode sync) override {
    size_t total = 0;
    for (const iovec& v : iov) total += v.iov_len;
    {
      std::lock_guard<std::mutex> l(fs_->mu_);
      std::optional<size_t> torn;
      int err = fs_->NextFault(FaultOp::kWrite, &torn, path_);
      STELE_RETURN_IF_ERROR(fs_->SaveUndo(*st_, *base_, offset, total));
      if (err != 0) {
        if (torn && *torn > 0) {
          std::string prefix;
          for (const iovec& v : iov) prefix.append(static_cast<const char*>(v.iov_base), v.iov_len);
          prefix.resize(std::min(prefix.size(), *torn));
          (void)base_->WriteAt(offset, prefix, SyncMode::kNone);
        }
        return ErrnoStatus(err, "injected write fault " + path_);
      }
      STELE_RETURN_IF_ERROR(base_->WriteAt(offset, iov, SyncMode::kNone));
    }
    if (sync == SyncMode::kData) return Sync();
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadAt(uint64_t offset, void* buf, size_t n) override {
    return base_->ReadAt(offset, buf, n);
  }

  absl::Status Sync() override {
    std::chrono::milliseconds delay;
    {
      std::lock_guard<std::mutex> l(fs_->mu_);
      delay = fs_->sync_delay_;
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    std::lock_guard<std::mutex> l(fs_->mu_);
    STELE_RETURN_IF_ERROR(fs_->Check(FaultOp::kSync, "fdatasync " + path_));
    STELE_RETURN_IF_ERROR(base_->Sync());
    STELE_ASSIGN_OR_RETURN(uint64_t size, base_->Size());
    st_->undo.clear();
    st_->durable_size = size;
    return absl::OkStatus();
  }

  absl::Status Truncate(uint64_t size) override {
    std::lock_guard<std::mutex> l(fs_->mu_);
    STELE_RETURN_IF_ERROR(fs_->Check(FaultOp::kTruncate, "ftruncate " + path_));
    if (size < st_->durable_size) {
      STELE_RETURN_IF_ERROR(fs_->SaveUndo(*st_, *base_, size, st_->durable_size - size));
    }
    return base_->Truncate(size);
  }

  absl::Status Allocate(uint64_t offset, uint64_t len) override {
    std::lock_guard<std::mutex> l(fs_->mu_);
    STELE_RETURN_IF_ERROR(fs_->Check(FaultOp::kAllocate, "fallocate " + path_));
    return base_->Allocate(offset, len);
  }

  absl::StatusOr<uint64_t> Size() override { return base_->Size(); }
  absl::StatusOr<std::shared_ptr<const MappedRegion>> Map(uint64_t len) override {
    return base_->Map(len);
  }

 private:
  FaultInjectionFS* fs_;
  std::unique_ptr<File> base_;
  std::shared_ptr<FaultFileState> st_;
  std::string path_;
};

FaultInjectionFS::FaultInjectionFS(std::shared_ptr<FileSystem> base, uint64_t seed)
    : base_(std::move(base)), rng_(seed) {}
FaultInjectionFS::~FaultInjectionFS() = default;

void FaultInjectionFS::FailNth(FaultOp op, uint64_t nth, int err, std::optional<size_t> torn_keep,
                               std::string path_filter) {
  std::lock_guard<std::mutex> l(mu_);
  Rule& r = rules_[static_cast<int>(op)];
  r.matched = 0;
  r.nth = nth;
  r.err = err;
  r.torn_keep = torn_keep;
  r.path_filter = std::move(path_filter);
}

void FaultInjectionFS::FailRandomly(FaultOp op, uint32_t one_in, int err) {
  std::lock_guard<std::mutex> l(mu_);
  Rule& r = rules_[static_cast<int>(op)];
  r.one_in = one_in;
  r.random_err = err;
}

void FaultInjectionFS::SetSyncDelay(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> l(mu_);
  sync_delay_ = d;
}

void FaultInjectionFS::ClearFaults() {
  std::lock_guard<std::mutex> l(mu_);
  for (Rule& r : rules_) r = Rule{};
  sync_delay_ = std::chrono::milliseconds(0);
}

void FaultInjectionFS::Deactivate() {
  std::lock_guard<std::mutex> l(mu_);
  active_ = false;
}

void FaultInjectionFS::Activate() {
  std::lock_guard<std::mutex> l(mu_);
  active_ = true;
}

uint64_t FaultInjectionFS::Count(FaultOp op) const {
  std::lock_guard<std::mutex> l(mu_);
  return counts_[static_cast<int>(op)];
}

uint64_t FaultInjectionFS::InjectedCount() const {
  std::lock_guard<std::mutex> l(mu_);
  return injected_;
}

int FaultInjectionFS::NextFault(FaultOp op, std::optional<size_t>* torn_keep,
                                const std::string& what) {
  int i = static_cast<int>(op);
  ++counts_[i];
  if (!active_) {
    ++injected_;
    return EIO;
  }
  Rule& r = rules_[i];
  const bool matches = r.path_filter.empty() || what.find(r.path_filter) != std::string::npos;
  if (r.nth != 0 && matches && ++r.matched == r.nth) {
    ++injected_;
    if (torn_keep) *torn_keep = r.torn_keep;
    r.nth = 0;
    return r.err;
  }
  if (r.one_in > 0 && rng_() % r.one_in == 0) {
    ++injected_;
    return r.random_err;
  }
  return 0;
}

absl::Status FaultInjectionFS::Check(FaultOp op, const std::string& what) {
  int err = NextFault(op, nullptr, what);
  if (err != 0) return ErrnoStatus(err, "injected fault: " + what);
  return absl::OkStatus();
}

void FaultInjectionFS::TrackDir(const std::string& dir) {
  if (durable_dirs_.count(dir)) return;
  std::set<std::string> names;
  auto list = base_->List(dir);
  if (list.ok()) names.insert(list->begin(), list->end());
  durable_dirs_[dir] = std::move(names);
}

std::shared_ptr<FaultFileState> FaultInjectionFS::StateFor(const std::string& path) {
  auto it = files_.find(path);
  if (it != files_.end()) return it->second;
  auto st = std::make_shared<FaultFileState>();
  auto size = base_->FileSize(path);
  st->durable_size = size.ok() ? *size : 0;  // files that predate the wrapper count as durable
  files_[path] = st;
  return st;
}

absl::Status FaultInjectionFS::SaveUndo(FaultFileState& st, File& f, uint64_t off, uint64_t len) {
  if (len == 0) return absl::OkStatus();
  uint64_t first = off / kPage;
  uint64_t last = (off + len - 1) / kPage;
  for (uint64_t p = first; p <= last && p * kPage < st.durable_size; ++p) {
    if (st.undo.count(p)) continue;
    uint64_t n = std::min(kPage, st.durable_size - p * kPage);
    std::string old(n, '\0');
    STELE_ASSIGN_OR_RETURN(size_t got, f.ReadAt(p * kPage, old.data(), n));
    old.resize(got);
    st.undo.emplace(p, std::move(old));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FaultInjectionFS::DurableImage(const std::string& path,
                                                           FaultFileState& st) {
  STELE_ASSIGN_OR_RETURN(auto f, base_->Open(path, OpenOptions{.read_only = true}));
  std::string img(st.durable_size, '\0');
  STELE_ASSIGN_OR_RETURN(size_t got, f->ReadAt(0, img.data(), img.size()));
  img.resize(got);
  img.resize(st.durable_size, '\0');
  for (const auto& [p, old] : st.undo) {
    if (p * kPage < img.size())
      img.replace(p * kPage, std::min(old.size(), img.size() - p * kPage), old);
  }
  return img;
}

absl::StatusOr<std::unique_ptr<File>> FaultInjectionFS::Open(const std::string& path,
                                                             const OpenOptions& opts) {
  std::lock_guard<std::mutex> l(mu_);
  bool creating = false;
  if (opts.create || opts.truncate) {
    STELE_ASSIGN_OR_RETURN(bool exists, base_->Exists(path));
    creating = !exists;
    if (creating || opts.truncate) {
      STELE_RETURN_IF_ERROR(Check(FaultOp::kCreate, "create " + path));
    }
    TrackDir(ParentDir(path));
  }
  std::shared_ptr<FaultFileState> st;
  if (creating) {
    st = std::make_shared<FaultFileState>();
    files_[path] = st;
  } else {
    st = StateFor(path);
  }
  STELE_ASSIGN_OR_RETURN(auto base, base_->Open(path, opts));
  if (opts.truncate && !creating) {
    STELE_RETURN_IF_ERROR(SaveUndo(*st, *base, 0, st->durable_size));
  }
  return std::unique_ptr<File>(new FaultFile(this, std::move(base), st, path));
}

absl::Status FaultInjectionFS::Delete(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  STELE_RETURN_IF_ERROR(Check(FaultOp::kDelete, "unlink " + path));
  std::string dir = ParentDir(path);
  TrackDir(dir);
  if (durable_dirs_[dir].count(BaseName(path)) && !deleted_images_.count(path)) {
    auto st = StateFor(path);
    STELE_ASSIGN_OR_RETURN(deleted_images_[path], DurableImage(path, *st));
  }
  files_.erase(path);
  return base_->Delete(path);
}

absl::Status FaultInjectionFS::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  STELE_RETURN_IF_ERROR(Check(FaultOp::kRename, "rename " + from + " -> " + to));
  TrackDir(ParentDir(from));
  TrackDir(ParentDir(to));
  for (const std::string& p : {from, to}) {
    STELE_ASSIGN_OR_RETURN(bool exists, base_->Exists(p));
    if (exists && durable_dirs_[ParentDir(p)].count(BaseName(p)) && !deleted_images_.count(p)) {
      auto st = StateFor(p);
      STELE_ASSIGN_OR_RETURN(deleted_images_[p], DurableImage(p, *st));
    }
  }
  STELE_RETURN_IF_ERROR(base_->Rename(from, to));
  auto st = StateFor(from);
  files_.erase(from);
  files_[to] = st;
  return absl::OkStatus();
}

absl::Status FaultInjectionFS::CreateDirs(const std::string& path) {
  // Directories themselves are treated as durable once created (the engine syncs their parents).
  std::lock_guard<std::mutex> l(mu_);
  STELE_RETURN_IF_ERROR(Check(FaultOp::kCreate, "mkdir " + path));
  return base_->CreateDirs(path);
}

absl::Status FaultInjectionFS::SyncDir(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  STELE_RETURN_IF_ERROR(Check(FaultOp::kSyncDir, "fsync dir " + path));
  STELE_RETURN_IF_ERROR(base_->SyncDir(path));
  STELE_ASSIGN_OR_RETURN(auto names, base_->List(path));
  durable_dirs_[path] = std::set<std::string>(names.begin(), names.end());
  for (auto it = deleted_images_.begin(); it != deleted_images_.end();) {
    if (ParentDir(it->first) == path && !durable_dirs_[path].count(BaseName(it->first))) {
      it = deleted_images_.erase(it);  // the deletion is now durable
    } else {
      ++it;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> FaultInjectionFS::List(const std::string& dir) {
  return base_->List(dir);
}
absl::StatusOr<bool> FaultInjectionFS::Exists(const std::string& path) {
  return base_->Exists(path);
}
absl::StatusOr<uint64_t> FaultInjectionFS::FileSize(const std::string& path) {
  return base_->FileSize(path);
}
absl::StatusOr<std::unique_ptr<FileLock>> FaultInjectionFS::Lock(const std::string& path) {
  return base_->Lock(path);
}

absl::Status FaultInjectionFS::RemoveTree(const std::string& path) {
  auto children = base_->List(path);
  if (children.ok()) {  // a directory
    for (const std::string& c : *children) STELE_RETURN_IF_ERROR(RemoveTree(path + "/" + c));
    durable_dirs_.erase(path);
  }
  auto st = base_->Delete(path);
  if (!st.ok() && !absl::IsNotFound(st)) return st;
  files_.erase(path);
  return absl::OkStatus();
}

absl::Status FaultInjectionFS::PowerLoss(LossPolicy policy) {
  std::lock_guard<std::mutex> l(mu_);
  // 1. Directory entries: drop names that were never made durable, restore durable ones that were
  //    deleted or renamed over.
  std::vector<std::string> doomed;
  for (auto& [dir, durable] : durable_dirs_) {
    auto names = base_->List(dir);
    if (!names.ok()) continue;  // itself inside a directory that vanished
    for (const std::string& n : *names) {
      std::string p = dir + "/" + n;
      if (!durable.count(n) && !deleted_images_.count(p)) doomed.push_back(std::move(p));
    }
  }
  // A directory whose entry never became durable vanishes with everything in it.
  for (const std::string& p : doomed) STELE_RETURN_IF_ERROR(RemoveTree(p));
  for (const auto& [p, img] : deleted_images_) {
    if (!durable_dirs_[ParentDir(p)].count(BaseName(p))) continue;
    STELE_ASSIGN_OR_RETURN(auto f, base_->Open(p, OpenOptions{.create = true, .truncate = true}));
    STELE_RETURN_IF_ERROR(f->WriteAt(0, img, SyncMode::kNone));
    auto st = std::make_shared<FaultFileState>();
    st->durable_size = img.size();
    files_[p] = st;
  }
  deleted_images_.clear();
  // 2. File contents: unsynced pages revert (all, or a seeded random subset), size reverts.
  for (auto& [p, st] : files_) {
    auto f = base_->Open(p, OpenOptions{});
    if (!f.ok()) continue;
    for (const auto& [page, old] : st->undo) {
      if (policy == LossPolicy::kRandomPages && rng_() % 2 == 0) continue;
      STELE_RETURN_IF_ERROR((*f)->WriteAt(page * kPage, old, SyncMode::kNone));
    }
    STELE_RETURN_IF_ERROR((*f)->Truncate(st->durable_size));
    st->undo.clear();
  }
  return absl::OkStatus();
}

void FaultInjectionFS::SetSpaceUsedRatio(double r) {
  std::lock_guard<std::mutex> l(mu_);
  space_used_ratio_ = r;
}

absl::StatusOr<double> FaultInjectionFS::SpaceUsedRatio(const std::string& path) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (space_used_ratio_ >= 0) return space_used_ratio_;
  }
  return base_->SpaceUsedRatio(path);
}

}  // namespace stele::io
