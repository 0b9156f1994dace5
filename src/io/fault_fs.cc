#include "io/fault_fs.h"

#include <algorithm>
#include <cerrno>
#include <thread>
#include <utility>

#include "common/path.h"
#include "common/status.h"

namespace stele::io {

constexpr uint64_t kPage = 4096;

// What the wrapper knows about one inode (shared by every handle and every directory entry naming
// it; follows renames).
struct FaultFileState {
  uint64_t durable_size = 0;
  std::map<uint64_t, std::string> undo;  // page index -> content as of the last Sync
  bool linked = true;                    // some current path names it
  // While unlinked but still named by a durable directory entry: its durable content, which power
  // loss puts back under that name.
  std::optional<std::string> unlinked_image;
};

namespace {

std::string Join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

}  // namespace

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
    if (st_->unlinked_image) {
      // A nameless inode that a durable entry still names: what comes back is what was synced.
      STELE_ASSIGN_OR_RETURN(*st_->unlinked_image,
                             fs_->LostImage(*base_, *st_, LossPolicy::kDropAll));
    }
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

absl::StatusOr<FaultInjectionFS::Entries> FaultInjectionFS::CurrentEntries(const std::string& dir) {
  STELE_ASSIGN_OR_RETURN(auto names, base_->List(dir));
  Entries out;
  for (const std::string& n : names) {
    const std::string p = Join(dir, n);
    out[n] = base_->List(p).ok() ? nullptr : StateFor(p);  // listable: a subdirectory
  }
  return out;
}

void FaultInjectionFS::TrackDir(const std::string& dir) {
  if (durable_dirs_.count(dir)) return;
  auto entries = CurrentEntries(dir);
  durable_dirs_[dir] = entries.ok() ? *std::move(entries) : Entries{};
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

bool FaultInjectionFS::DurablyNamed(const FaultFileState* st) const {
  for (const auto& [_, entries] : durable_dirs_) {
    for (const auto& [__, ino] : entries) {
      if (ino.get() == st) return true;
    }
  }
  return false;
}

absl::StatusOr<std::optional<std::string>> FaultInjectionFS::ImageToKeep(const std::string& path) {
  // Every file a tracked directory durably names is in files_ (TrackDir and SyncDir put it there).
  auto it = files_.find(path);
  if (it == files_.end() || !DurablyNamed(it->second.get())) return std::nullopt;
  STELE_ASSIGN_OR_RETURN(auto f, base_->Open(path, OpenOptions{.read_only = true}));
  return LostImage(*f, *it->second, LossPolicy::kDropAll);
}

void FaultInjectionFS::Unlinked(const std::string& path, std::optional<std::string> image) {
  auto it = files_.find(path);
  if (it == files_.end()) return;
  it->second->linked = false;
  it->second->unlinked_image = std::move(image);
  files_.erase(it);
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

absl::StatusOr<std::string> FaultInjectionFS::LostImage(File& f, FaultFileState& st,
                                                        LossPolicy policy) {
  std::string img(st.durable_size, '\0');
  STELE_ASSIGN_OR_RETURN(size_t got, f.ReadAt(0, img.data(), img.size()));
  img.resize(got);
  img.resize(st.durable_size, '\0');
  for (const auto& [p, old] : st.undo) {
    if (policy == LossPolicy::kRandomPages && rng_() % 2 == 0) continue;
    if (p * kPage < img.size()) {
      img.replace(p * kPage, std::min(old.size(), img.size() - p * kPage), old);
    }
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
  // An existing file keeps its inode (O_TRUNC included); a created one gets a new, empty one.
  std::shared_ptr<FaultFileState> st = creating ? nullptr : StateFor(path);
  STELE_ASSIGN_OR_RETURN(auto base, base_->Open(path, opts));
  if (creating) {
    if (auto old = files_.find(path); old != files_.end()) old->second->linked = false;
    st = std::make_shared<FaultFileState>();
    files_[path] = st;
  } else if (opts.truncate) {
    STELE_RETURN_IF_ERROR(SaveUndo(*st, *base, 0, st->durable_size));
  }
  return std::unique_ptr<File>(new FaultFile(this, std::move(base), st, path));
}

absl::Status FaultInjectionFS::Delete(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  STELE_RETURN_IF_ERROR(Check(FaultOp::kDelete, "unlink " + path));
  TrackDir(ParentDir(path));
  // An (empty) directory keeps its tracked durable entries: if its own entry comes back, they do.
  const bool is_dir = base_->List(path).ok();
  std::optional<std::string> image;
  if (!is_dir) {
    STELE_ASSIGN_OR_RETURN(image, ImageToKeep(path));
  }
  STELE_RETURN_IF_ERROR(base_->Delete(path));
  if (!is_dir) Unlinked(path, std::move(image));
  return absl::OkStatus();
}

absl::Status FaultInjectionFS::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> l(mu_);
  STELE_RETURN_IF_ERROR(Check(FaultOp::kRename, "rename " + from + " -> " + to));
  if (from == to) return base_->Rename(from, to);
  TrackDir(ParentDir(from));
  TrackDir(ParentDir(to));
  STELE_ASSIGN_OR_RETURN(bool from_exists, base_->Exists(from));
  if (!from_exists) return base_->Rename(from, to);  // the base's error
  std::shared_ptr<FaultFileState> moved = StateFor(from);
  // The inode `to` names loses that name; its durable image is kept while the old entry is durable.
  STELE_ASSIGN_OR_RETURN(bool to_exists, base_->Exists(to));
  std::optional<std::string> image;
  if (to_exists) {
    STELE_ASSIGN_OR_RETURN(image, ImageToKeep(to));
  }
  STELE_RETURN_IF_ERROR(base_->Rename(from, to));
  if (to_exists) Unlinked(to, std::move(image));
  files_.erase(from);
  files_[to] = std::move(moved);
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
  // Every entry as it is now becomes durable: created and renamed names with the inodes they name
  // now; deleted names and the inodes replaced by a rename are gone.
  STELE_ASSIGN_OR_RETURN(Entries now, CurrentEntries(path));
  Entries before = std::exchange(durable_dirs_[path], std::move(now));
  for (const auto& [_, ino] : before) {
    // A nameless inode that no durable entry names any more can never come back.
    if (ino != nullptr && !ino->linked && !DurablyNamed(ino.get())) ino->unlinked_image.reset();
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
    for (const std::string& c : *children) STELE_RETURN_IF_ERROR(RemoveTree(Join(path, c)));
    durable_dirs_.erase(path);
  }
  auto st = base_->Delete(path);
  if (!st.ok() && !absl::IsNotFound(st)) return st;
  Unlinked(path, std::nullopt);
  return absl::OkStatus();
}

absl::Status FaultInjectionFS::PowerLoss(LossPolicy policy) {
  std::lock_guard<std::mutex> l(mu_);
  // 1. Durable entries whose inode is no longer at that path (deleted, renamed over or renamed
  //    away since the last SyncDir): read the content they will hold, before any name changes.
  std::map<std::string, std::string> restore;  // path -> content
  for (const auto& [dir, durable] : durable_dirs_) {
    for (const auto& [name, ino] : durable) {
      const std::string p = Join(dir, name);
      auto cur = files_.find(p);
      if (ino == nullptr || (cur != files_.end() && cur->second == ino)) continue;
      if (!ino->linked) {
        if (!ino->unlinked_image) {
          return absl::InternalError("fault fs: no image kept for durable entry " + p);
        }
        restore[p] = *ino->unlinked_image;
        continue;
      }
      // (A copy: clang 14 cannot capture a structured binding.)
      auto at = std::find_if(files_.begin(), files_.end(),
                             [want = ino](const auto& f) { return f.second == want; });
      if (at == files_.end()) {
        return absl::InternalError("fault fs: lost track of the inode of durable entry " + p);
      }
      STELE_ASSIGN_OR_RETURN(auto f, base_->Open(at->first, OpenOptions{.read_only = true}));
      STELE_ASSIGN_OR_RETURN(restore[p], LostImage(*f, *ino, policy));
    }
  }
  // 2. Names: drop those that are not durable (a directory vanishes with everything in it), bring
  //    back durable subdirectories. Parents sort before their children, and RemoveTree erases
  //    only entries below the current directory, so the iteration stays valid.
  for (auto& [dir, durable] : durable_dirs_) {
    auto names = base_->List(dir);
    if (!names.ok()) continue;  // itself inside a directory that vanished
    for (const std::string& n : *names) {
      if (!durable.count(n)) STELE_RETURN_IF_ERROR(RemoveTree(Join(dir, n)));
    }
    for (const auto& [n, ino] : durable) {
      if (ino == nullptr) STELE_RETURN_IF_ERROR(base_->CreateDirs(Join(dir, n)));
    }
  }
  // 3. Durable entries that name another inode again get that inode's durable content.
  for (const auto& [p, img] : restore) {
    auto parent = base_->Exists(ParentDir(p));
    if (!parent.ok() || !*parent) continue;  // its directory's own entry was not durable
    STELE_ASSIGN_OR_RETURN(auto f, base_->Open(p, OpenOptions{.create = true, .truncate = true}));
    STELE_RETURN_IF_ERROR(f->WriteAt(0, img, SyncMode::kNone));
    if (auto old = files_.find(p); old != files_.end()) old->second->linked = false;
    auto st = std::make_shared<FaultFileState>();
    st->durable_size = img.size();
    files_[p] = std::move(st);
  }
  // 4. Inodes still under their durable names: unsynced pages revert (all, or a seeded random
  //    subset), the size reverts.
  for (auto& [p, st] : files_) {
    if (restore.count(p)) continue;
    auto f = base_->Open(p, OpenOptions{});
    if (!f.ok()) continue;
    for (const auto& [page, old] : st->undo) {
      if (policy == LossPolicy::kRandomPages && rng_() % 2 == 0) continue;
      STELE_RETURN_IF_ERROR((*f)->WriteAt(page * kPage, old, SyncMode::kNone));
    }
    STELE_RETURN_IF_ERROR((*f)->Truncate(st->durable_size));
    st->undo.clear();
  }
  // 5. Whatever survived is durable now.
  for (auto it = durable_dirs_.begin(); it != durable_dirs_.end();) {
    auto now = CurrentEntries(it->first);
    if (!now.ok()) {
      it = durable_dirs_.erase(it);
      continue;
    }
    it->second = *std::move(now);
    ++it;
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
