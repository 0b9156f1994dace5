#include "index/consume_queue.h"

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/segments.h"

namespace stele::index {
namespace {

void EncodeEntry(const CqEntry& e, char* p) {
  StoreBe64(p, static_cast<uint64_t>(e.phy_offset));
  StoreBe32(p + 8, static_cast<uint32_t>(e.size));
  StoreBe64(p + 12, static_cast<uint64_t>(e.tags_code));
}

absl::Status WriteZeros(File* f, uint64_t off, uint64_t n) {
  static const std::string kZeros(64 * 1024, '\0');
  while (n > 0) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(n, kZeros.size()));
    STELE_RETURN_IF_ERROR(f->WriteAt(off, std::string_view(kZeros.data(), k), SyncMode::kNone));
    off += k;
    n -= k;
  }
  return absl::OkStatus();
}

}  // namespace

CqEntry DecodeCqEntry(const char* p) {
  CqEntry e;
  e.phy_offset = static_cast<int64_t>(LoadBe64(p));
  e.size = static_cast<int32_t>(LoadBe32(p + 8));
  e.tags_code = static_cast<int64_t>(LoadBe64(p + 12));
  return e;
}

ConsumeQueue::ConsumeQueue(FileSystem* fs, std::string dir, std::string topic, int32_t queue_id,
                           int64_t file_size)
    : fs_(fs),
      dir_(std::move(dir)),
      topic_(std::move(topic)),
      queue_id_(queue_id),
      file_size_(file_size) {}

ConsumeQueue::~ConsumeQueue() = default;

absl::StatusOr<std::shared_ptr<ConsumeQueue::CqFile>> ConsumeQueue::OpenFile(int64_t start,
                                                                             bool create) {
  auto f = std::make_shared<CqFile>();
  f->start = start;
  f->path = dir_ + "/" + engine::SegmentName(start);
  if (create) {
    if (!dir_created_) {
      STELE_RETURN_IF_ERROR(fs_->CreateDirs(dir_));
      dir_created_ = true;
      std::lock_guard<std::mutex> l(mu_);
      new_dir_ = true;
    }
    STELE_ASSIGN_OR_RETURN(f->file, fs_->Open(f->path, OpenOptions{.create = true}));
    // Sparse: unwritten entries read as zeros, which is what ends a queue on recovery.
    STELE_RETURN_IF_ERROR(f->file->Truncate(static_cast<uint64_t>(file_size_)));
    f->dirty = true;
    std::lock_guard<std::mutex> l(mu_);
    need_dir_sync_ = true;  // its directory entry must become durable with its data
  } else {
    STELE_ASSIGN_OR_RETURN(f->file, fs_->Open(f->path, OpenOptions{}));
  }
  STELE_ASSIGN_OR_RETURN(f->map, f->file->Map(static_cast<uint64_t>(file_size_)));
  return f;
}

absl::Status ConsumeQueue::Load() {
  auto exists = fs_->Exists(dir_);
  if (!exists.ok() || !*exists) return absl::OkStatus();
  dir_created_ = true;
  STELE_ASSIGN_OR_RETURN(auto names, fs_->List(dir_));
  std::vector<int64_t> starts;
  for (const std::string& n : names) {
    int64_t start;
    if (!engine::ParseSegmentName(n, &start)) {
      log::Warn("consume queue {}: ignoring foreign file {}", dir_, n);
      continue;
    }
    if (start % file_size_ != 0) {
      return absl::FailedPreconditionError(
          fmt::format("consume-queue file {}/{} does not start at a multiple of "
                      "mappedFileSizeConsumeQueue ({})",
                      dir_, n, file_size_));
    }
    starts.push_back(start);
  }
  std::sort(starts.begin(), starts.end());
  for (size_t i = 0; i < starts.size(); ++i) {
    const std::string path = dir_ + "/" + engine::SegmentName(starts[i]);
    STELE_ASSIGN_OR_RETURN(uint64_t size, fs_->FileSize(path));
    if (size == 0 && i + 1 == starts.size()) {
      // A crash between creating the file and sizing it: nothing in it was ever durable.
      log::Warn("consume queue {}: removing empty last file {}", dir_, path);
      STELE_RETURN_IF_ERROR(fs_->Delete(path));
      break;
    }
    if (size != static_cast<uint64_t>(file_size_)) {
      return absl::FailedPreconditionError(fmt::format(
          "consume-queue file {} has {} bytes, expected {} (mappedFileSizeConsumeQueue changed?)",
          path, size, file_size_));
    }
    if (i > 0 && starts[i] != starts[i - 1] + file_size_) {
      return absl::FailedPreconditionError(
          fmt::format("consume queue {}: file {} does not follow the one before (a gap)", dir_,
                      engine::SegmentName(starts[i])));
    }
    STELE_ASSIGN_OR_RETURN(auto f, OpenFile(starts[i], /*create=*/false));
    files_.emplace(f->start, std::move(f));
  }
  if (files_.empty()) return absl::OkStatus();

  // Only the last file can be partly written.
  auto& last = files_.rbegin()->second;
  const char* p = last->map->data();
  int64_t n = 0;
  const int64_t units = file_size_ / kCqUnitSize;
  while (n < units && DecodeCqEntry(p + n * kCqUnitSize).is_valid()) ++n;
  const int64_t end_byte = n * kCqUnitSize;
  // A torn tail (bytes after the first invalid unit) would be read back as entries once the
  // queue grows over it: zero it now.
  int64_t dirty_end = file_size_;
  while (dirty_end > end_byte && p[dirty_end - 1] == 0) --dirty_end;
  if (dirty_end > end_byte) {
    log::Warn("consume queue {}: zeroing {} bytes of torn tail after entry {}", dir_,
              dirty_end - end_byte, last->start / kCqUnitSize + n);
    STELE_RETURN_IF_ERROR(WriteZeros(last->file.get(), static_cast<uint64_t>(end_byte),
                                     static_cast<uint64_t>(dirty_end - end_byte)));
    last->dirty = true;
  }
  const int64_t max = last->start / kCqUnitSize + n;
  max_.store(max, std::memory_order_release);
  staged_from_ = max;
  if (max > 0) {
    auto e = Get(max - 1);
    if (e && e->is_message()) max_phy_.store(e->phy_offset + e->size, std::memory_order_release);
  }
  CorrectMin(files_.begin()->first / kCqUnitSize, 0);
  return absl::OkStatus();
}

std::shared_ptr<ConsumeQueue::CqFile> ConsumeQueue::FileFor(int64_t byte_pos) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.upper_bound(byte_pos);
  if (it == files_.begin()) return nullptr;
  --it;
  if (byte_pos >= it->first + file_size_) return nullptr;
  return it->second;
}

size_t ConsumeQueue::Read(int64_t from, size_t max, CqEntry* out) const {
  const int64_t end = std::min<int64_t>(MaxOffset(), from + static_cast<int64_t>(max));
  size_t got = 0;
  int64_t q = std::max<int64_t>(from, 0);
  while (q < end) {
    auto f = FileFor(q * kCqUnitSize);
    if (f == nullptr) break;  // deleted under us (retention)
    const int64_t file_end = (f->start + file_size_) / kCqUnitSize;
    for (; q < end && q < file_end; ++q) {
      out[got++] = DecodeCqEntry(f->map->data() + (q * kCqUnitSize - f->start));
    }
  }
  return got;
}

std::optional<CqEntry> ConsumeQueue::Get(int64_t queue_offset) const {
  CqEntry e;
  if (queue_offset < 0 || Read(queue_offset, 1, &e) != 1) return std::nullopt;
  return e;
}

void ConsumeQueue::CorrectMin(int64_t from, int64_t min_phy) {
  // Entries are ordered by commit-log offset (pre-blanks, offset 0, come first): bisect for the
  // first real entry at or above min_phy.
  int64_t lo = std::max(from, MinOffset()), hi = MaxOffset();
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    auto e = Get(mid);
    if (e && !e->is_blank() && e->phy_offset >= min_phy) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  if (lo > MinOffset()) min_.store(lo, std::memory_order_release);
}

void ConsumeQueue::StageBlanks(int64_t count) {
  char unit[kCqUnitSize];
  EncodeEntry(CqEntry{.phy_offset = 0, .size = kPreBlankSize, .tags_code = 0}, unit);
  for (int64_t i = 0; i < count; ++i) staged_.append(unit, kCqUnitSize);
}

bool ConsumeQueue::Append(int64_t queue_offset, const CqEntry& e) {
  const int64_t end = staged_from_ + static_cast<int64_t>(staged_.size()) / kCqUnitSize;
  if (queue_offset < end) return false;
  if (queue_offset > end) {
    bool empty;
    {
      std::lock_guard<std::mutex> l(mu_);
      empty = files_.empty() && staged_.empty();
    }
    if (empty) {
      // The queue's first surviving message: start the file that holds it, blanks before it.
      staged_from_ = queue_offset * kCqUnitSize / file_size_ * file_size_ / kCqUnitSize;
      pending_min_ = queue_offset;
      StageBlanks(queue_offset - staged_from_);
    } else {
      log::Error("consume queue {}: queue offset {} leaves a gap after {}; filling it with blanks",
                 dir_, queue_offset, end);
      StageBlanks(queue_offset - end);
    }
  }
  char unit[kCqUnitSize];
  EncodeEntry(e, unit);
  staged_.append(unit, kCqUnitSize);
  return true;
}

absl::Status ConsumeQueue::Commit() {
  while (!staged_.empty()) {
    const int64_t pos = staged_from_ * kCqUnitSize;
    const int64_t file_start = pos / file_size_ * file_size_;
    auto f = FileFor(pos);
    if (f == nullptr) {
      STELE_ASSIGN_OR_RETURN(f, OpenFile(file_start, /*create=*/true));
      std::lock_guard<std::mutex> l(mu_);
      files_.emplace(file_start, f);
    }
    const size_t n = std::min<size_t>(staged_.size(), file_start + file_size_ - pos);
    STELE_RETURN_IF_ERROR(f->file->WriteAt(static_cast<uint64_t>(pos - file_start),
                                           std::string_view(staged_.data(), n), SyncMode::kNone));
    {
      std::lock_guard<std::mutex> l(mu_);
      f->dirty = true;
    }
    // Published file by file, so a failure later in the batch keeps what was written.
    const CqEntry last = DecodeCqEntry(staged_.data() + n - kCqUnitSize);
    staged_.erase(0, n);
    staged_from_ += static_cast<int64_t>(n) / kCqUnitSize;
    if (last.is_message()) max_phy_.store(last.phy_offset + last.size, std::memory_order_release);
    if (pending_min_ >= 0) {
      min_.store(pending_min_, std::memory_order_release);
      pending_min_ = -1;
    }
    max_.store(staged_from_, std::memory_order_seq_cst);
  }
  return absl::OkStatus();
}

absl::Status ConsumeQueue::Sync() {
  std::vector<std::shared_ptr<CqFile>> dirty;
  bool dir_sync;
  {
    std::lock_guard<std::mutex> l(mu_);
    dir_sync = need_dir_sync_;
    need_dir_sync_ = false;
    for (auto& [_, f] : files_) {
      if (f->dirty) {
        f->dirty = false;
        dirty.push_back(f);
      }
    }
  }
  absl::Status st;
  for (auto& f : dirty) {
    if (st.ok()) st = f->file->Sync();
    if (!st.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      f->dirty = true;
    }
  }
  // New files' directory entries (the caller syncs the parents).
  if (dir_sync) {
    if (st.ok()) st = fs_->SyncDir(dir_);
    if (!st.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      need_dir_sync_ = true;
    }
  }
  return st;
}

bool ConsumeQueue::TakeNewDir() {
  std::lock_guard<std::mutex> l(mu_);
  return std::exchange(new_dir_, false);
}

void ConsumeQueue::MarkNewDir() {
  std::lock_guard<std::mutex> l(mu_);
  new_dir_ = true;
}

absl::StatusOr<int64_t> ConsumeQueue::TruncateFrom(int64_t phy_offset) {
  const int64_t old_max = MaxOffset();
  int64_t max = old_max;
  // Walks back over entries at or past the offset and over invalid (zero) ones: after a power
  // loss, unsynced pages of the tail may be holes between valid-looking entries.
  while (max > MinOffset()) {
    auto e = Get(max - 1);
    if (!e || e->is_blank() || (e->is_valid() && e->phy_offset < phy_offset)) break;
    --max;
  }
  if (max == old_max) return 0;
  const int64_t byte_end = max * kCqUnitSize;
  std::vector<std::shared_ptr<CqFile>> doomed;
  std::shared_ptr<CqFile> keep;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = files_.begin(); it != files_.end();) {
      if (it->first >= byte_end) {
        doomed.push_back(it->second);
        it = files_.erase(it);
      } else {
        if (byte_end < it->first + file_size_) keep = it->second;
        ++it;
      }
    }
  }
  for (auto& f : doomed) STELE_RETURN_IF_ERROR(fs_->Delete(f->path));
  if (!doomed.empty()) STELE_RETURN_IF_ERROR(fs_->SyncDir(dir_));
  if (keep) {
    const int64_t off = byte_end - keep->start;
    const int64_t old_end = std::min(old_max * kCqUnitSize, keep->start + file_size_) - keep->start;
    STELE_RETURN_IF_ERROR(WriteZeros(keep->file.get(), static_cast<uint64_t>(off),
                                     static_cast<uint64_t>(old_end - off)));
    std::lock_guard<std::mutex> l(mu_);
    keep->dirty = true;
  }
  max_.store(max, std::memory_order_release);
  staged_.clear();
  staged_from_ = max;
  int64_t phy = 0;
  if (auto e = Get(max - 1); e && e->is_message()) phy = e->phy_offset + e->size;
  max_phy_.store(phy, std::memory_order_release);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (files_.empty()) {
      // Nothing left: the next entry starts the queue afresh.
      min_.store(max, std::memory_order_release);
      max_.store(max, std::memory_order_release);
    }
  }
  return old_max - max;
}

absl::StatusOr<int> ConsumeQueue::DeleteBelow(int64_t min_phy_offset) {
  int deleted = 0;
  while (true) {
    std::shared_ptr<CqFile> first;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (files_.size() < 2) break;
      first = files_.begin()->second;
    }
    // Not the last file, so it is full: its last entry is its newest.
    auto last = DecodeCqEntry(first->map->data() + file_size_ - kCqUnitSize);
    if (!last.is_blank() && last.phy_offset >= min_phy_offset) break;
    {
      std::lock_guard<std::mutex> l(mu_);
      files_.erase(first->start);
    }
    min_.store(std::max(MinOffset(), (first->start + file_size_) / kCqUnitSize),
               std::memory_order_release);
    STELE_RETURN_IF_ERROR(fs_->Delete(first->path));
    ++deleted;
  }
  if (deleted > 0) STELE_RETURN_IF_ERROR(fs_->SyncDir(dir_));
  CorrectMin(MinOffset(), min_phy_offset);
  return deleted;
}

size_t ConsumeQueue::FileCount() const {
  std::lock_guard<std::mutex> l(mu_);
  return files_.size();
}

}  // namespace stele::index
