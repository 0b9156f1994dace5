#include "net/broker/timer_store.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "common/crc32.h"
#include "common/logging.h"
#include "common/status.h"
#include "fmt/format.h"

namespace stele::broker {
namespace {

constexpr int64_t kScanChunkEntries = 4096;

void EncodeEntry(const TimerEntry& e, char* out) {
  StoreBe64(out, static_cast<uint64_t>(e.slot_ms));
  StoreBe64(out + 8, static_cast<uint64_t>(e.deliver_ms));
  StoreBe64(out + 16, static_cast<uint64_t>(e.commit_offset));
  StoreBe64(out + 24, static_cast<uint64_t>(e.prev));
  StoreBe32(out + 32, static_cast<uint32_t>(e.size));
  StoreBe32(out + 36, Crc32(out, 36));
}

bool DecodeEntry(const char* in, TimerEntry* e) {
  if (LoadBe32(in + 36) != Crc32(in, 36)) return false;
  e->slot_ms = static_cast<int64_t>(LoadBe64(in));
  e->deliver_ms = static_cast<int64_t>(LoadBe64(in + 8));
  e->commit_offset = static_cast<int64_t>(LoadBe64(in + 16));
  e->prev = static_cast<int64_t>(LoadBe64(in + 24));
  e->size = static_cast<int32_t>(LoadBe32(in + 32));
  return true;
}

absl::Status ReadFull(File& f, uint64_t offset, char* buf, size_t n) {
  STELE_ASSIGN_OR_RETURN(size_t got, f.ReadAt(offset, buf, n));
  if (got != n) {
    return absl::DataLossError(fmt::format("short read: {} of {} bytes at {}", got, n, offset));
  }
  return absl::OkStatus();
}

}  // namespace

TimerStore::TimerStore(std::shared_ptr<FileSystem> fs, std::string dir, Options options)
    : fs_(std::move(fs)), dir_(std::move(dir)), opt_(options) {}

absl::StatusOr<std::unique_ptr<TimerStore>> TimerStore::Open(std::shared_ptr<FileSystem> fs,
                                                             std::string dir, Options options,
                                                             State state) {
  if (options.precision_ms <= 0 || options.slots < 2 || options.segment_entries <= 0) {
    return absl::InvalidArgumentError("timer store: bad precision, slot count or segment size");
  }
  std::unique_ptr<TimerStore> t(new TimerStore(std::move(fs), std::move(dir), options));
  STELE_RETURN_IF_ERROR(t->fs_->CreateDirs(t->dir_ + "/log"));
  bool rebuild =
      state.rebuild || state.precision_ms != options.precision_ms || state.slots != options.slots;
  STELE_RETURN_IF_ERROR(t->LoadLog(state));
  for (const auto& [start, max] : t->segment_max_) {
    if (max == INT64_MIN) rebuild = true;  // not in the checkpoint: its maximum is unknown
  }
  STELE_RETURN_IF_ERROR(t->OpenWheel(&rebuild));
  if (rebuild) {
    // Slot times must be ticks of the current precision for the dequeue walk to find them.
    const int64_t dequeue = state.dequeue_ms / options.precision_ms * options.precision_ms;
    STELE_RETURN_IF_ERROR(t->Rebuild(dequeue));
  }
  return t;
}

std::string TimerStore::SegmentPath(int64_t start) const {
  return fmt::format("{}/log/{:020d}", dir_, start);
}

absl::Status TimerStore::LoadLog(const State& state) {
  STELE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->List(dir_ + "/log"));
  std::vector<int64_t> starts;
  for (const std::string& name : names) {
    int64_t start = -1;
    auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), start);
    if (name.size() != 20 || ec != std::errc() || p != name.data() + name.size() ||
        start % segment_bytes() != 0) {
      log::Warn("timer log: ignoring unexpected file {}/log/{}", dir_, name);
      continue;
    }
    starts.push_back(start);
  }
  std::sort(starts.begin(), starts.end());
  log_end_ = state.log_end;
  for (int64_t start : starts) {
    const std::string path = SegmentPath(start);
    if (start >= log_end_) {  // written after the checkpoint: rebuilt from the parked topic
      STELE_RETURN_IF_ERROR(fs_->Delete(path));
      continue;
    }
    STELE_ASSIGN_OR_RETURN(File * f, Segment(start, false));
    STELE_ASSIGN_OR_RETURN(uint64_t size, f->Size());
    const int64_t want = std::min(segment_bytes(), log_end_ - start);
    if (static_cast<int64_t>(size) < want) {
      return absl::DataLossError(
          fmt::format("timer log {} has {} bytes, the checkpoint counts {}", path, size, want));
    }
    if (static_cast<int64_t>(size) > want) STELE_RETURN_IF_ERROR(f->Truncate(want));
    auto it = state.segment_max.find(start);
    segment_max_[start] = it == state.segment_max.end() ? INT64_MIN : it->second;
  }
  // A checkpointed segment with undelivered timers must still be there.
  for (const auto& [start, max] : state.segment_max) {
    if (start < log_end_ && max >= state.dequeue_ms && !segment_max_.contains(start)) {
      return absl::DataLossError(
          fmt::format("timer log segment {} is missing; it held timers due from {} ms",
                      SegmentPath(start), max));
    }
  }
  if (segment_max_.empty() && log_end_ % segment_bytes() != 0) {
    // Every segment delivered and deleted, the last one included: start a fresh one where the
    // next entry goes (positions only grow).
    log_end_ += segment_bytes() - log_end_ % segment_bytes();
  }
  return absl::OkStatus();
}

absl::Status TimerStore::OpenWheel(bool* rebuild) {
  STELE_ASSIGN_OR_RETURN(wheel_, fs_->Open(dir_ + "/wheel", OpenOptions{.create = true}));
  const uint64_t want = static_cast<uint64_t>(opt_.slots * kSlotBytes);
  STELE_ASSIGN_OR_RETURN(uint64_t size, wheel_->Size());
  if (size != want) *rebuild = true;
  return absl::OkStatus();
}

absl::Status TimerStore::Rebuild(int64_t dequeue_ms) {
  // An empty wheel: every slot_ms reads 0, which matches no real slot time.
  STELE_RETURN_IF_ERROR(wheel_->Truncate(0));
  STELE_RETURN_IF_ERROR(wheel_->Truncate(static_cast<uint64_t>(opt_.slots * kSlotBytes)));
  wheel_dirty_ = true;
  int64_t linked = 0;
  std::vector<char> buf(static_cast<size_t>(kScanChunkEntries * kEntryBytes));
  for (auto& [start, max] : segment_max_) {
    max = -1;
    STELE_ASSIGN_OR_RETURN(File * f, Segment(start, false));
    const int64_t end = std::min(start + segment_bytes(), log_end_);
    for (int64_t pos = start; pos < end;) {
      const int64_t n = std::min(kScanChunkEntries * kEntryBytes, end - pos);
      STELE_RETURN_IF_ERROR(
          ReadFull(*f, static_cast<uint64_t>(pos - start), buf.data(), static_cast<size_t>(n)));
      for (int64_t i = 0; i < n; i += kEntryBytes, pos += kEntryBytes) {
        TimerEntry e;
        if (!DecodeEntry(buf.data() + i, &e)) {
          log::Error("timer log: entry at {} fails its CRC; its timer is lost", pos);
          continue;
        }
        if (e.slot_ms < dequeue_ms) continue;  // delivered
        const int64_t slot_ms =
            std::min(std::max(SlotFor(e.slot_ms), dequeue_ms), LastSlot(dequeue_ms));
        STELE_ASSIGN_OR_RETURN(TimerSlot s, Slot(slot_ms));
        if (e.slot_ms != slot_ms || e.prev != s.head) {
          e.slot_ms = slot_ms;
          e.prev = s.head;
          STELE_RETURN_IF_ERROR(WriteEntry(pos, e));
        }
        s.head = pos;
        ++s.count;
        STELE_RETURN_IF_ERROR(WriteSlot(s));
        max = std::max(max, slot_ms);
        ++linked;
      }
    }
  }
  log::Info("timer wheel rebuilt from the timer log: {} pending timers from slot {}", linked,
            dequeue_ms);
  return absl::OkStatus();
}

int64_t TimerStore::SlotFor(int64_t ms) const {
  const int64_t p = precision();
  const int64_t q = ms / p;
  return (q * p < ms ? q + 1 : q) * p;
}

absl::StatusOr<File*> TimerStore::Segment(int64_t start, bool create) {
  auto it = segments_.find(start);
  if (it != segments_.end()) return it->second.get();
  STELE_ASSIGN_OR_RETURN(std::unique_ptr<File> f,
                         fs_->Open(SegmentPath(start), OpenOptions{.create = create}));
  File* raw = f.get();
  segments_.emplace(start, std::move(f));
  return raw;
}

absl::Status TimerStore::WriteEntry(int64_t pos, const TimerEntry& e) {
  char buf[kEntryBytes];
  EncodeEntry(e, buf);
  const int64_t start = pos - pos % segment_bytes();
  STELE_ASSIGN_OR_RETURN(File * f, Segment(start, true));
  dirty_segments_.insert(start);
  return f->WriteAt(static_cast<uint64_t>(pos - start), std::string_view(buf, sizeof buf));
}

absl::Status TimerStore::WriteSlot(const TimerSlot& s) {
  char buf[kSlotBytes];
  StoreBe64(buf, static_cast<uint64_t>(s.slot_ms));
  StoreBe64(buf + 8, static_cast<uint64_t>(s.head));
  StoreBe64(buf + 16, static_cast<uint64_t>(s.count));
  const int64_t index = s.slot_ms / precision() % opt_.slots;
  wheel_dirty_ = true;
  return wheel_->WriteAt(static_cast<uint64_t>(index * kSlotBytes),
                         std::string_view(buf, sizeof buf));
}

absl::StatusOr<TimerSlot> TimerStore::Slot(int64_t slot_ms) {
  assert(slot_ms % precision() == 0);
  const int64_t index = slot_ms / precision() % opt_.slots;
  char buf[kSlotBytes];
  STELE_RETURN_IF_ERROR(
      ReadFull(*wheel_, static_cast<uint64_t>(index * kSlotBytes), buf, sizeof buf));
  TimerSlot s;
  s.slot_ms = slot_ms;
  if (static_cast<int64_t>(LoadBe64(buf)) != slot_ms) return s;  // an earlier lap, or never used
  s.head = static_cast<int64_t>(LoadBe64(buf + 8));
  s.count = static_cast<int64_t>(LoadBe64(buf + 16));
  return s;
}

absl::StatusOr<TimerEntry> TimerStore::Read(int64_t pos) {
  if (pos < 0 || pos >= log_end_ || pos % kEntryBytes != 0) {
    return absl::OutOfRangeError(fmt::format("timer log position {} (end {})", pos, log_end_));
  }
  const int64_t start = pos - pos % segment_bytes();
  if (!segment_max_.contains(start)) {
    return absl::NotFoundError(fmt::format("timer log segment {} was deleted", start));
  }
  STELE_ASSIGN_OR_RETURN(File * f, Segment(start, false));
  char buf[kEntryBytes];
  STELE_RETURN_IF_ERROR(ReadFull(*f, static_cast<uint64_t>(pos - start), buf, sizeof buf));
  TimerEntry e;
  if (!DecodeEntry(buf, &e)) {
    return absl::DataLossError(fmt::format("timer log entry at {} fails its CRC", pos));
  }
  return e;
}

absl::StatusOr<int64_t> TimerStore::Add(int64_t slot_ms, int64_t deliver_ms, int64_t commit_offset,
                                        int32_t size) {
  const int64_t pos = log_end_;
  const int64_t start = pos - pos % segment_bytes();
  STELE_ASSIGN_OR_RETURN(TimerSlot s, Slot(slot_ms));
  TimerEntry e{.slot_ms = slot_ms,
               .deliver_ms = deliver_ms,
               .commit_offset = commit_offset,
               .prev = s.head,
               .size = size};
  STELE_RETURN_IF_ERROR(WriteEntry(pos, e));
  log_end_ += kEntryBytes;
  auto [it, fresh] = segment_max_.try_emplace(start, slot_ms);
  if (!fresh) it->second = std::max(it->second, slot_ms);
  s.head = pos;
  ++s.count;
  STELE_RETURN_IF_ERROR(WriteSlot(s));
  return pos;
}

absl::Status TimerStore::Sync() {
  for (int64_t start : dirty_segments_) {
    if (auto it = segments_.find(start); it != segments_.end()) {
      STELE_RETURN_IF_ERROR(it->second->Sync());
    }
  }
  dirty_segments_.clear();
  if (wheel_dirty_) STELE_RETURN_IF_ERROR(wheel_->Sync());
  wheel_dirty_ = false;
  return fs_->SyncDir(dir_ + "/log");
}

absl::Status TimerStore::DeleteDelivered(int64_t dequeue_ms) {
  const int64_t writing = log_end_ - log_end_ % segment_bytes();
  for (auto it = segment_max_.begin(); it != segment_max_.end();) {
    if (it->first >= writing || it->second >= dequeue_ms) {
      ++it;
      continue;
    }
    segments_.erase(it->first);
    dirty_segments_.erase(it->first);
    STELE_RETURN_IF_ERROR(fs_->Delete(SegmentPath(it->first)));
    it = segment_max_.erase(it);
  }
  return absl::OkStatus();
}

}  // namespace stele::broker
