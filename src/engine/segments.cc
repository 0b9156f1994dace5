#include "engine/segments.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <vector>

#include "common/logging.h"
#include "common/status.h"

namespace stele::engine {
namespace {

constexpr std::string_view kTmpSuffix = ".tmp";
constexpr auto kAllocateWait = std::chrono::seconds(15);

}  // namespace

bool ParseSegmentName(std::string_view name, int64_t* start) {
  if (name.size() != 20) return false;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
  }
  auto [p, ec] = std::from_chars(name.data(), name.data() + 20, *start);
  return ec == std::errc() && p == name.data() + 20;
}

std::string SegmentName(int64_t start) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(start));
  return buf;
}

SegmentSet::SegmentSet(FileSystem* fs, std::string dir, uint64_t segment_size, bool zero_fill,
                       bool writable_maps)
    : fs_(fs),
      dir_(std::move(dir)),
      size_(segment_size),
      zero_fill_(zero_fill),
      writable_maps_(writable_maps) {}

SegmentSet::~SegmentSet() { StopAllocator(); }

absl::Status SegmentSet::Load() {
  STELE_RETURN_IF_ERROR(fs_->CreateDirs(dir_));
  STELE_ASSIGN_OR_RETURN(auto names, fs_->List(dir_));
  std::vector<int64_t> starts;
  for (const std::string& n : names) {
    int64_t start;
    if (n.ends_with(kTmpSuffix)) {
      log::Info("removing unfinished segment {}/{}", dir_, n);
      STELE_RETURN_IF_ERROR(fs_->Delete(dir_ + "/" + n));
    } else if (ParseSegmentName(n, &start)) {
      starts.push_back(start);
    } else {
      log::Warn("ignoring foreign file {}/{} in the commit-log directory", dir_, n);
    }
  }
  std::sort(starts.begin(), starts.end());
  for (size_t i = 0; i < starts.size(); ++i) {
    std::string path = dir_ + "/" + SegmentName(starts[i]);
    STELE_ASSIGN_OR_RETURN(uint64_t fsize, fs_->FileSize(path));
    if (fsize == 0 && i + 1 == starts.size()) {
      log::Warn("removing empty last segment {}", path);
      STELE_RETURN_IF_ERROR(fs_->Delete(path));
      starts.pop_back();
      break;
    }
    if (fsize != size_) {
      return absl::FailedPreconditionError(
          "segment " + path + " has " + std::to_string(fsize) + " bytes, expected " +
          std::to_string(size_) + " (mappedFileSizeCommitLog changed, or the file was damaged)");
    }
    if (starts[i] % static_cast<int64_t>(size_) != 0) {
      return absl::FailedPreconditionError("segment " + path +
                                           " does not start at a multiple of the segment size");
    }
    if (i > 0 && starts[i] != starts[i - 1] + static_cast<int64_t>(size_)) {
      return absl::FailedPreconditionError(
          "commit log has a gap: no segment " +
          SegmentName(starts[i - 1] + static_cast<int64_t>(size_)) + " before " + path);
    }
  }
  std::unique_lock<std::shared_mutex> l(mu_);
  segs_.clear();
  for (int64_t s : starts) {
    STELE_ASSIGN_OR_RETURN(auto seg, OpenSegment(s));
    segs_[s] = std::move(seg);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Segment>> SegmentSet::OpenSegment(int64_t start) {
  auto seg = std::make_shared<Segment>();
  seg->start = start;
  seg->size = size_;
  seg->path = dir_ + "/" + SegmentName(start);
  STELE_ASSIGN_OR_RETURN(seg->file, fs_->Open(seg->path, OpenOptions{}));
  if (writable_maps_) {
    auto rw = seg->file->MapWritable(size_);
    if (rw.ok()) {
      seg->map = *rw;
      seg->wdata = (*rw)->mutable_data();
      return seg;
    }
    if (!absl::IsUnimplemented(rw.status())) return rw.status();
  }
  STELE_ASSIGN_OR_RETURN(seg->map, seg->file->Map(size_));
  return seg;
}

absl::Status SegmentSet::Create(int64_t start, bool zero) {
  std::string path = dir_ + "/" + SegmentName(start);
  std::string tmp = path + std::string(kTmpSuffix);
  {
    STELE_ASSIGN_OR_RETURN(auto f, fs_->Open(tmp, OpenOptions{.create = true, .truncate = true}));
    STELE_RETURN_IF_ERROR(f->Allocate(0, size_));
    if (zero) {
      // Writing the zeros turns unwritten extents into written ones now, so that the fdatasync
      // of each later append does not also commit an extent conversion (ref/perf.md: ~2x).
      static const std::string kZeros(1 << 20, '\0');
      for (uint64_t off = 0; off < size_; off += kZeros.size()) {
        if (hurry_.load(std::memory_order_relaxed)) break;
        size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), size_ - off));
        STELE_RETURN_IF_ERROR(f->WriteAt(off, std::string_view(kZeros.data(), n)));
      }
    }
    STELE_RETURN_IF_ERROR(f->Sync());
  }
  STELE_RETURN_IF_ERROR(fs_->Rename(tmp, path));
  return fs_->SyncDir(dir_);
}

void SegmentSet::StartAllocator() {
  std::lock_guard<std::mutex> l(amu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { AllocatorLoop(); });
}

void SegmentSet::StopAllocator() {
  {
    std::lock_guard<std::mutex> l(amu_);
    stop_ = true;
    // A close must not wait for a speculative fill of the next segment (seconds for 1 GiB).
    hurry_.store(true, std::memory_order_relaxed);
  }
  acv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SegmentSet::AllocatorLoop() {
  std::unique_lock<std::mutex> l(amu_);
  while (true) {
    acv_.wait(l, [&] { return stop_ || !wanted_.empty(); });
    if (stop_) return;
    const int64_t start = *wanted_.begin();
    creating_ = start;
    hurry_.store(awaited_.count(start) > 0, std::memory_order_relaxed);
    l.unlock();
    absl::Status st;
    auto exists = fs_->Exists(dir_ + "/" + SegmentName(start));
    if (!exists.ok()) {
      st = exists.status();
    } else if (!*exists) {
      st = Create(start, zero_fill_);
    }
    l.lock();
    creating_ = -1;
    hurry_.store(false, std::memory_order_relaxed);
    wanted_.erase(start);
    if (st.ok()) {
      prepared_.insert(start);
    } else {
      log::Error("cannot create commit-log segment {}: {}", SegmentName(start), st.ToString());
      failed_[start] = st;  // the waiter reports it; a later request retries
    }
    acv_.notify_all();
  }
}

absl::StatusOr<std::shared_ptr<Segment>> SegmentSet::GetOrCreate(int64_t start) {
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    auto it = segs_.find(start);
    if (it != segs_.end()) return it->second;
  }
  bool have_thread;
  {
    std::unique_lock<std::mutex> l(amu_);
    have_thread = thread_.joinable();
    if (have_thread && !prepared_.count(start)) {
      failed_.erase(start);
      wanted_.insert(start);
      ++awaited_[start];
      if (creating_ == start) hurry_.store(true, std::memory_order_relaxed);
      acv_.notify_all();
      // Another appender may open (and un-prepare) it before this one wakes up.
      auto opened = [&] {
        std::shared_lock<std::shared_mutex> sl(mu_);
        return segs_.count(start) > 0;
      };
      bool done = acv_.wait_for(l, kAllocateWait, [&] {
        return prepared_.count(start) || failed_.count(start) || stop_ || opened();
      });
      if (auto a = awaited_.find(start); a != awaited_.end() && --a->second == 0) awaited_.erase(a);
      if (auto f = failed_.find(start); f != failed_.end()) {
        absl::Status st = f->second;
        failed_.erase(f);
        return st;
      }
      if (stop_) return absl::UnavailableError("store is closing");
      if (!done) {
        return absl::DeadlineExceededError("timed out waiting for segment " + SegmentName(start));
      }
      if (!prepared_.count(start)) {
        std::shared_lock<std::shared_mutex> sl(mu_);
        return segs_.at(start);
      }
    }
  }
  if (!have_thread) {
    STELE_ASSIGN_OR_RETURN(bool exists, fs_->Exists(dir_ + "/" + SegmentName(start)));
    if (!exists) STELE_RETURN_IF_ERROR(Create(start, zero_fill_));
  }
  STELE_ASSIGN_OR_RETURN(auto seg, OpenSegment(start));
  {
    std::unique_lock<std::shared_mutex> l(mu_);
    auto [it, inserted] = segs_.emplace(start, seg);
    if (!inserted) seg = it->second;
  }
  if (have_thread) {
    std::lock_guard<std::mutex> l(amu_);
    prepared_.erase(start);
    const int64_t next = start + static_cast<int64_t>(size_);
    if (!prepared_.count(next)) wanted_.insert(next);  // prepare the next one ahead of need
    acv_.notify_all();
  }
  return seg;
}

std::shared_ptr<Segment> SegmentSet::Find(int64_t offset) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  auto it = segs_.upper_bound(offset);
  if (it == segs_.begin()) return nullptr;
  --it;
  if (offset >= it->second->end()) return nullptr;
  return it->second;
}

std::shared_ptr<Segment> SegmentSet::First() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return segs_.empty() ? nullptr : segs_.begin()->second;
}

std::shared_ptr<Segment> SegmentSet::Last() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return segs_.empty() ? nullptr : segs_.rbegin()->second;
}

size_t SegmentSet::Count() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return segs_.size();
}

absl::Status SegmentSet::DeleteFrom(int64_t start) {
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::unique_lock<std::shared_mutex> l(mu_);
    for (auto it = segs_.lower_bound(start); it != segs_.end();) {
      doomed.push_back(it->second);
      it = segs_.erase(it);
    }
  }
  for (auto& s : doomed) STELE_RETURN_IF_ERROR(fs_->Delete(s->path));
  if (!doomed.empty()) STELE_RETURN_IF_ERROR(fs_->SyncDir(dir_));
  return absl::OkStatus();
}

absl::StatusOr<int> SegmentSet::DeleteBefore(int64_t offset) {
  std::vector<std::shared_ptr<Segment>> doomed;
  {
    std::unique_lock<std::shared_mutex> l(mu_);
    for (auto it = segs_.begin(); it != segs_.end() && it->second->end() <= offset;) {
      doomed.push_back(it->second);
      it = segs_.erase(it);
    }
  }
  for (auto& s : doomed) {
    log::Info("retention: deleting commit-log segment {}", s->path);
    STELE_RETURN_IF_ERROR(fs_->Delete(s->path));
  }
  if (!doomed.empty()) STELE_RETURN_IF_ERROR(fs_->SyncDir(dir_));
  return static_cast<int>(doomed.size());
}

std::vector<int64_t> SegmentSet::Starts() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  std::vector<int64_t> out;
  out.reserve(segs_.size());
  for (const auto& [start, _] : segs_) out.push_back(start);
  return out;
}

}  // namespace stele::engine
