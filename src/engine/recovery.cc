// Opening a commit log after a clean or unclean shutdown.
//
// Recovery starts from the checkpoint's safe offset S (everything before S was durable when the
// checkpoint was written, and the checkpoint carries the queue offsets as of S) and validates every
// record after it: magic, TOTALSIZE against the field lengths, PHYSICALOFFSET against its position,
// the queue offset against its queue's sequence, and the whole-record (or body) CRC. The first
// record that fails ends the log. Its cost is therefore bounded by what was appended since the last
// checkpoint, not by the size of the log.
//
// What lies past the recovered end is never dropped silently: non-zero bytes there are copied to
// <root>/quarantine/ and then zeroed (so that they cannot be mistaken for records once new appends
// reach them), and the log says how many bytes and why. Finally the recovered range is
// fdatasync'ed: after a process crash it may still sit only in the page cache.
#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/commit_log.h"

namespace stele {
namespace {

constexpr uint64_t kMaxQuarantine = 256ull << 20;

// Index one past the last non-zero byte of p[0, n), or 0 if all zero.
size_t NonZeroEnd(const char* p, size_t n) {
  size_t end = n;
  while (end >= 8) {
    uint64_t w;
    std::memcpy(&w, p + end - 8, 8);
    if (w != 0) break;
    end -= 8;
  }
  while (end > 0 && p[end - 1] == 0) --end;
  return end;
}

}  // namespace

absl::Status CommitLog::Recover() {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string& root = opts_.store_path_root_dir;
  report_.file_system = fs_->Name();
  STELE_ASSIGN_OR_RETURN(bool abort_present, fs_->Exists(root + "/abort"));
  auto ckp = engine::ReadCheckpoint(fs_.get(), root);
  if (!ckp.ok() && !absl::IsNotFound(ckp.status())) {
    log::Warn("checkpoint unusable ({}); scanning the whole commit log", ckp.status().ToString());
  }
  auto first = segs_->First();
  auto last = segs_->Last();
  int64_t start = first ? first->start : 0;
  if (ckp.ok()) {
    const int64_t s = ckp->safe_offset;
    const int64_t lo = first ? first->start : 0;
    const int64_t hi = last ? last->end() : 0;
    if (s > 0 && (s < lo || s > hi)) {
      return absl::DataLossError(
          "checkpoint says the commit log is durable up to offset " + std::to_string(s) +
          " but its segments cover [" + std::to_string(lo) + ", " + std::to_string(hi) +
          "): segment files are missing; refusing to open (restore them or move the store aside)");
    }
    start = std::max(s, lo);
    queues_ = std::move(ckp->queues);
    last_store_ts_ = ckp->physic_msg_timestamp;
    report_.checkpoint_used = true;
  }
  report_.clean_shutdown = !abort_present && ckp.ok();
  // Records after the checkpoint were written by the run that wrote it: if that run wrote the
  // whole-record CRC, a record without one is torn, not merely old-format.
  const bool require_crc = opts_.check_crc_on_recover && ckp.ok() && ckp->records_have_crc;
  report_.scan_start_offset = start;

  // Scan forward from `start`.
  int64_t pos = start;
  std::string why;
  bool corrupt = false;
  while (true) {
    auto seg = segs_->Find(pos);
    if (seg == nullptr) break;
    const size_t avail = static_cast<size_t>(seg->end() - pos);
    const char* p = seg->map->data() + (pos - seg->start);
    MessageView v;
    auto res = engine::DecodeRecord(p, avail, opts_.check_crc_on_recover, &v, &why, require_crc);
    if (res == engine::DecodeResult::kBlank) {
      if (v.total_size != avail) {
        why = "blank record does not reach the segment end";
        corrupt = true;
        break;
      }
      pos = seg->end();
      continue;
    }
    if (res == engine::DecodeResult::kEmpty) break;
    if (res == engine::DecodeResult::kCorrupt) {
      corrupt = true;
      break;
    }
    if (v.physical_offset != pos) {
      why = "PHYSICALOFFSET " + std::to_string(v.physical_offset) + " does not match position";
      corrupt = true;
      break;
    }
    if (sysflag::AssignsQueueOffset(v.sys_flag)) {
      const int64_t expect = queues_.Next(v.topic, v.queue_id);
      // Without a checkpoint, a log whose oldest segments were deleted by retention starts each
      // queue wherever its oldest surviving record is.
      const bool first_seen = !report_.checkpoint_used && !queues_.Has(v.topic, v.queue_id);
      if (v.queue_offset != expect && !first_seen) {
        why = "queue offset " + std::to_string(v.queue_offset) + " of " + std::string(v.topic) +
              "/" + std::to_string(v.queue_id) + " out of sequence (expected " +
              std::to_string(expect) + ")";
        corrupt = true;
        break;
      }
      queues_.Observe(v.topic, v.queue_id, v.queue_offset);
    }
    last_store_ts_ = std::max(last_store_ts_, v.store_timestamp);
    ++report_.records_scanned;
    pos += v.total_size;
  }
  const int64_t end = pos;
  report_.scan_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // A checkpoint or record from a clock that ran ahead must not drag every later store timestamp
  // into the future (they never go backwards).
  last_store_ts_ = std::min(last_store_ts_, NowMs());
  report_.bytes_scanned = static_cast<uint64_t>(end - start);
  if (corrupt) {
    log::Error("recovery: invalid record at offset {} ({}); the commit log ends there", end, why);
  }
  if (!report_.clean_shutdown || corrupt) {
    STELE_RETURN_IF_ERROR(CleanTail(end, corrupt ? why : "unclean shutdown"));
  }
  STELE_RETURN_IF_ERROR(SyncRange(start, end));
  reserved_ = written_ = flushed_ = end;
  visible_.store(end, std::memory_order_release);
  // What was built from the log up to the checkpoint's dispatch offset is durable; later records
  // are dispatched again. (The log never recovers to less than the checkpoint's safe offset.)
  recovered_dispatch_ =
      ckp.ok() && ckp->dispatch_offset >= 0 ? std::min(ckp->dispatch_offset, end) : -1;
  dispatch_durable_.store(recovered_dispatch_, std::memory_order_release);
  report_.end_offset = end;
  report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (first == nullptr && !ckp.ok()) {
    log::Info("created a new store in {} ({})", root, report_.file_system);
    return absl::OkStatus();
  }
  log::Info(
      "recovery ({}, {} shutdown{}): scanned {} bytes / {} records from offset {} in {:.3f} s; "
      "commit log ends at {}",
      report_.file_system, report_.clean_shutdown ? "clean" : "unclean",
      report_.checkpoint_used ? "" : ", no checkpoint", report_.bytes_scanned,
      report_.records_scanned, start, report_.seconds, end);
  return absl::OkStatus();
}

absl::Status CommitLog::CleanTail(int64_t end, const std::string& why) {
  const std::string qdir = opts_.store_path_root_dir + "/quarantine";
  auto quarantine = [&](const char* p, size_t n, int64_t at) -> absl::Status {
    STELE_RETURN_IF_ERROR(fs_->CreateDirs(qdir));
    std::string path = qdir + "/commitlog-" + engine::SegmentName(at) + ".bin";
    size_t keep = static_cast<size_t>(std::min<uint64_t>(n, kMaxQuarantine));
    STELE_RETURN_IF_ERROR(engine::WriteFileAtomically(fs_.get(), path, std::string_view(p, keep)));
    report_.truncated_bytes += n;
    if (report_.truncate_reason.empty()) report_.truncate_reason = why;
    log::Warn(
        "recovery: {} bytes after offset {} are not part of the log ({}); copied {} of them to {}",
        n, at, why, keep, path);
    return absl::OkStatus();
  };
  // The segment holding `end`: zero whatever follows it.
  if (auto seg = segs_->Find(end)) {
    const size_t off = static_cast<size_t>(end - seg->start);
    const char* p = seg->map->data() + off;
    const size_t n = NonZeroEnd(p, seg->size - off);
    if (n > 0) {
      STELE_RETURN_IF_ERROR(quarantine(p, n, end));
      static const std::string kZeros(1 << 20, '\0');
      for (size_t done = 0; done < n; done += kZeros.size()) {
        size_t k = std::min(kZeros.size(), n - done);
        STELE_RETURN_IF_ERROR(
            seg->file->WriteAt(off + done, std::string_view(kZeros.data(), k), SyncMode::kNone));
      }
      STELE_RETURN_IF_ERROR(seg->file->Sync());
    }
  }
  // Later segments: untouched (all-zero, preallocated) ones may stay; from the first one holding
  // data on, every segment is copied to quarantine and then deleted.
  const int64_t next = end - end % seg_size_ + (end % seg_size_ == 0 ? 0 : seg_size_);
  int64_t first_dirty = -1;
  for (int64_t s = next; auto seg = segs_->Find(s); s += seg_size_) {
    if (s == end && first_dirty < 0) continue;  // handled above
    const size_t n = NonZeroEnd(seg->map->data(), seg->size);
    if (n == 0) continue;
    if (first_dirty < 0) first_dirty = s;
    STELE_RETURN_IF_ERROR(quarantine(seg->map->data(), n, s));
  }
  if (first_dirty >= 0) STELE_RETURN_IF_ERROR(segs_->DeleteFrom(first_dirty));
  return absl::OkStatus();
}

}  // namespace stele
