#include "tools/verify.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include "absl/container/flat_hash_map.h"
#include "engine/checkpoint.h"
#include "engine/record.h"
#include "tools/commit_log_files.h"
#include "tools/text.h"
#include "tools/verify_queues.h"

namespace stele::tools {
namespace {

constexpr int kMaxPrintedWarnings = 20;
// While the store is open in a broker, a record being appended can look torn for a moment.
constexpr int kLiveRetries = 3;
constexpr auto kLiveRetryDelay = std::chrono::milliseconds(100);

// Index of the first non-zero byte of p[0, n), or n.
size_t FirstNonZero(const char* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w != 0) break;
  }
  for (; i < n; ++i) {
    if (p[i] != 0) return i;
  }
  return n;
}

struct QueueState {
  int64_t next = 0;   // the queue offset the next record must have
  bool seen = false;  // a record of this queue was met (else known from the checkpoint only)
};
using QueueTable = absl::flat_hash_map<std::string, absl::flat_hash_map<int32_t, QueueState>,
                                       engine::SvHash, engine::SvEq>;

class Verifier {
 public:
  Verifier(FileSystem* fs, const VerifyOptions& opts, std::FILE* out)
      : fs_(fs), opts_(opts), out_(out) {}
  int Run();

 private:
  void ReadCheckpoint();
  int Walk();
  // Prints the one-line verdict (and an optional hint); returns the exit status.
  int Fail(int64_t offset, std::string_view reason, std::string_view hint = {});
  int IoError(const absl::Status& st);
  void Warn(int64_t offset, std::string_view msg);
  absl::Status MapCurrent();
  // Offset of the first non-zero byte at or after `pos` in this and the later segments.
  absl::StatusOr<std::optional<int64_t>> NonZeroAfter(int64_t pos);
  // Checks made when the walk reaches the checkpoint's safe offset.
  std::optional<Problem> AtCheckpoint(int64_t pos);
  // Checks one decoded record; updates the per-queue state only when it passes.
  std::optional<Problem> CheckRecord(int64_t pos, const MessageView& v);
  // What the engine will do about a bad record at `pos` whose claimed extent ends at `rec_end`.
  std::string Hint(int64_t pos, int64_t rec_end);
  // What to do about non-zero bytes after the end of the log.
  std::string TailHint() const;
  bool RecoveryScans(int64_t pos) const { return !ckp_ || pos >= safe_offset_; }

  FileSystem* fs_;
  const VerifyOptions& opts_;
  std::FILE* out_;
  CommitLogFiles files_;
  ConsumeQueueFiles cq_files_;
  std::unique_ptr<QueueVerifier> queues_check_;  // set once both listings are done
  size_t seg_index_ = 0;
  std::shared_ptr<const MappedRegion> map_;  // segment seg_index_
  bool live_ = false;                        // abort marker present
  std::optional<engine::CheckpointData> ckp_;
  int64_t safe_offset_ = 0;  // where recovery would start scanning
  bool ckp_reached_ = false;
  QueueTable queues_;
  size_t queue_count_ = 0;      // queues with records in the log
  bool strict_queues_ = false;  // past the checkpoint: queues continue from its table
  int64_t last_store_ts_ = std::numeric_limits<int64_t>::min();
  uint64_t records_ = 0;
  uint64_t blanks_ = 0;
  uint64_t warnings_ = 0;
};

int Verifier::Fail(int64_t offset, std::string_view reason, std::string_view hint) {
  fmt::print(out_, "corrupt at offset {}: {}\n", offset, reason);
  if (!hint.empty()) fmt::print(out_, "hint: {}\n", hint);
  if (queues_check_ != nullptr) {
    fmt::print(out_, "note: consume queues not checked (they are checked against a sound log)\n");
  }
  return 1;
}

int Verifier::IoError(const absl::Status& st) {
  fmt::print(out_, "error: {}\n", st.ToString());
  return 1;
}

void Verifier::Warn(int64_t offset, std::string_view msg) {
  if (++warnings_ <= kMaxPrintedWarnings) {
    fmt::print(out_, "warning at offset {}: {}\n", offset, msg);
  } else if (warnings_ == kMaxPrintedWarnings + 1) {
    fmt::print(out_, "(further warnings are only counted)\n");
  }
}

absl::Status Verifier::MapCurrent() {
  auto m = MapSegment(fs_, files_.segments[seg_index_]);
  if (!m.ok()) return m.status();
  map_ = std::move(*m);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int64_t>> Verifier::NonZeroAfter(int64_t pos) {
  for (size_t i = seg_index_; i < files_.segments.size(); ++i) {
    const SegmentFile& seg = files_.segments[i];
    std::shared_ptr<const MappedRegion> m = map_;
    if (i != seg_index_) {
      auto mapped = MapSegment(fs_, seg);
      if (!mapped.ok()) return mapped.status();
      m = std::move(*mapped);
    }
    const int64_t from = std::max(pos, seg.start);
    if (from >= seg.end()) continue;
    const size_t n = static_cast<size_t>(seg.end() - from);
    const size_t k = FirstNonZero(m->data() + (from - seg.start), n);
    if (k < n) return std::optional<int64_t>(from + static_cast<int64_t>(k));
  }
  return std::optional<int64_t>();
}

void Verifier::ReadCheckpoint() {
  auto ckp = engine::ReadCheckpoint(fs_, opts_.root);
  if (ckp.ok()) {
    ckp_ = std::move(*ckp);
    fmt::print(out_,
               "checkpoint: safe offset {}, min offset {}, dispatch offset {}, {} queues, "
               "physicMsgTimestamp {} ({})\n",
               ckp_->safe_offset, ckp_->min_offset,
               ckp_->dispatch_offset >= 0 ? std::to_string(ckp_->dispatch_offset)
                                          : std::string("unknown (queues rebuilt on open)"),
               ckp_->queues.size(), ckp_->physic_msg_timestamp,
               IsoTime(ckp_->physic_msg_timestamp));
  } else if (absl::IsNotFound(ckp.status())) {
    fmt::print(out_, "checkpoint: none\n");
  } else {
    ++warnings_;
    fmt::print(out_, "warning: checkpoint unusable ({}); the engine scans the whole log on open\n",
               ckp.status().ToString());
  }
}

std::optional<Problem> Verifier::AtCheckpoint(int64_t pos) {
  if (!ckp_ || ckp_reached_ || pos < safe_offset_) return std::nullopt;
  if (pos > safe_offset_) {
    return Problem{safe_offset_, fmt::format("the checkpoint's safe offset {} is not at a record "
                                             "boundary (recovery would start scanning there)",
                                             safe_offset_)};
  }
  ckp_reached_ = true;
  for (const auto& [topic, qs] : queues_) {
    for (const auto& [qid, q] : qs) {
      const int64_t want = ckp_->queues.Next(topic, qid);
      if (want != q.next) {
        return Problem{safe_offset_,
                       fmt::format("the checkpoint's queue table disagrees with the log at its "
                                   "safe offset: next offset of {}/{} is {} in the checkpoint, {} "
                                   "in the log",
                                   Escape(topic), qid, want, q.next)};
      }
    }
  }
  ckp_->queues.ForEach([&](std::string_view topic, int32_t qid, int64_t next) {
    queues_[topic].try_emplace(qid, QueueState{.next = next});
  });
  strict_queues_ = true;
  return std::nullopt;
}

std::optional<Problem> Verifier::CheckRecord(int64_t pos, const MessageView& v) {
  if (v.physical_offset != pos) {
    return Problem{pos, fmt::format("PHYSICALOFFSET {} does not match the record's position",
                                    v.physical_offset)};
  }
  const bool assigns = sysflag::AssignsQueueOffset(v.sys_flag);
  QueueState* state = nullptr;
  if (assigns) {
    std::optional<int64_t> expect;
    auto t = queues_.find(v.topic);
    if (t != queues_.end()) {
      auto q = t->second.find(v.queue_id);
      if (q != t->second.end()) {
        state = &q->second;
        expect = state->next;
      }
    }
    if (!expect && strict_queues_) expect = 0;
    if (v.queue_offset < 0 || (expect && v.queue_offset != *expect)) {
      std::string want = expect ? fmt::format("expected {}", *expect) : "expected >= 0";
      if (strict_queues_) want += fmt::format(", continuing the checkpoint at {}", safe_offset_);
      return Problem{pos, fmt::format("queue offset {} of {}/{} out of sequence ({})",
                                      v.queue_offset, Escape(v.topic), v.queue_id, want)};
    }
  }
  // Passed: commit the state.
  if (assigns) {
    if (state == nullptr) state = &queues_[v.topic][v.queue_id];
    if (!state->seen) ++queue_count_;
    state->seen = true;
    state->next = v.queue_offset + 1;
  }
  if (v.store_timestamp < last_store_ts_) {
    Warn(pos, fmt::format("store timestamp {} ({}) is earlier than the previous record's {} ({})",
                          v.store_timestamp, IsoTime(v.store_timestamp), last_store_ts_,
                          IsoTime(last_store_ts_)));
  }
  last_store_ts_ = std::max(last_store_ts_, v.store_timestamp);
  if (!PropertiesWellFormed(v.properties)) {
    Warn(pos, "properties are not well-formed (an item has no name\\x01value separator)");
  }
  return std::nullopt;
}

std::string Verifier::Hint(int64_t pos, int64_t rec_end) {
  if (!RecoveryScans(pos)) {
    return fmt::format(
        "this is before the checkpoint's safe offset {}, so opening the store does not re-check "
        "it; reading it through the engine fails",
        safe_offset_);
  }
  auto nz = NonZeroAfter(rec_end);
  const bool torn_tail = nz.ok() && !nz->has_value();
  if (torn_tail) {
    return fmt::format(
        "only zeros follow, as after a write torn by a crash; opening the store with the engine "
        "recovers it: the log then ends at {} and the torn bytes are copied to {}/quarantine/",
        pos, opts_.root);
  }
  return fmt::format(
      "data follows; opening the store with the engine would end the log at {} and move "
      "everything after it to {}/quarantine/ (back the store up first)",
      pos, opts_.root);
}

std::string Verifier::TailHint() const {
  // The engine cleans the tail (copies it to quarantine/, then zeroes it) only when it recovers
  // from an unclean shutdown: an abort marker, or no usable checkpoint.
  if (live_ || !ckp_) {
    return fmt::format(
        "opening the store with the engine recovers it: the bytes are copied to {}/quarantine/ "
        "and zeroed",
        opts_.root);
  }
  return fmt::format(
      "the store was shut down cleanly, and the engine cleans the tail only when it recovers from "
      "a crash: with no broker running, create {}/abort and open the store with the engine; it "
      "copies the bytes to {}/quarantine/ and zeroes them",
      opts_.root, opts_.root);
}

int Verifier::Walk() {
  const auto& segs = files_.segments;
  int64_t pos = files_.start();
  int retries = kLiveRetries;
  seg_index_ = 0;
  if (!segs.empty()) {
    if (absl::Status st = MapCurrent(); !st.ok()) return IoError(st);
  }
  while (seg_index_ < segs.size()) {
    const SegmentFile& seg = segs[seg_index_];
    if (auto p = AtCheckpoint(pos)) return Fail(p->offset, p->reason);
    if (pos == seg.end()) {
      if (++seg_index_ < segs.size()) {
        if (absl::Status st = MapCurrent(); !st.ok()) return IoError(st);
      }
      continue;
    }
    const size_t avail = static_cast<size_t>(seg.end() - pos);
    MessageView v;
    std::string why;
    const auto res = engine::DecodeRecord(map_->data() + (pos - seg.start), avail, true, &v, &why);
    std::optional<Problem> problem;
    std::string hint;
    if (res == engine::DecodeResult::kBlank) {
      if (v.total_size == avail) {
        ++blanks_;
        pos = seg.end();
        retries = kLiveRetries;
        continue;
      }
      problem = Problem{pos, fmt::format("BLANK filler of {} bytes does not reach the segment end "
                                         "({} bytes left)",
                                         v.total_size, avail)};
      hint = Hint(pos, pos + engine::kBlankRecordSize);
    } else if (res == engine::DecodeResult::kEmpty) {
      auto nz = NonZeroAfter(pos);
      if (!nz.ok()) return IoError(nz.status());
      if (!nz->has_value()) break;  // the end of the log
      problem = Problem{**nz, fmt::format("unrecovered tail: non-zero bytes after the end of the "
                                          "log at offset {}",
                                          pos)};
      hint = TailHint();
    } else if (res == engine::DecodeResult::kCorrupt) {
      problem = Problem{pos, why};
      const bool size_plausible = v.total_size >= engine::kBlankRecordSize && v.total_size <= avail;
      hint = Hint(pos, pos + (size_plausible ? v.total_size : engine::kBlankRecordSize));
    } else {
      problem = CheckRecord(pos, v);
      if (!problem) {
        queues_check_->OnRecord(pos, v);
        ++records_;
        pos += v.total_size;
        retries = kLiveRetries;
        continue;
      }
      hint = Hint(pos, pos + v.total_size);
    }
    if (live_ && retries-- > 0) {  // maybe a record being written right now: look again
      std::this_thread::sleep_for(kLiveRetryDelay);
      continue;
    }
    return Fail(problem->offset, problem->reason, hint);
  }
  const int64_t end = pos;
  if (auto p = AtCheckpoint(end)) return Fail(p->offset, p->reason);
  if (ckp_ && !ckp_reached_) {
    return Fail(safe_offset_, fmt::format("the checkpoint's safe offset {} is past the end of the "
                                          "log at {}",
                                          safe_offset_, end));
  }
  const uint64_t cq_errors = queues_check_->Finish(end, out_);
  const std::string summary = fmt::format(
      "{} segments, {} records, {} queues, {} bytes, end offset {} (segment size {}, {} blank "
      "fillers, {} warnings)",
      segs.size(), records_, queue_count_, end - files_.start(), end, files_.segment_size, blanks_,
      warnings_ + queues_check_->warnings());
  if (cq_errors > 0) {
    fmt::print(out_, "FAILED: {} consume-queue errors; the commit log itself is sound: {}\n",
               cq_errors, summary);
    return 1;
  }
  fmt::print(out_, "OK: {}\n", summary);
  return 0;
}

int Verifier::Run() {
  // The abort marker and the checkpoint first: a broker running meanwhile only appends, so every
  // segment the checkpoint covers is then already there when the directory is listed.
  auto abort = fs_->Exists(opts_.root + "/abort");
  live_ = abort.ok() && *abort;
  if (live_) {
    fmt::print(out_,
               "note: abort marker present: a broker has the store open, or it was not shut down "
               "cleanly\n");
  }
  ReadCheckpoint();
  // The consume queues after the checkpoint, so that every queue file holding entries before its
  // dispatch offset is already there (a running broker only adds files; retention aside).
  auto cq = ListConsumeQueues(fs_, opts_.root + "/consumequeue", opts_.cq_file_size);
  if (!cq.ok()) return IoError(cq.status());
  cq_files_ = std::move(*cq);
  const std::string dir =
      opts_.commitlog_dir.empty() ? opts_.root + "/commitlog" : opts_.commitlog_dir;
  auto files = ListCommitLog(fs_, dir, opts_.segment_size);
  if (!files.ok()) return IoError(files.status());
  files_ = std::move(*files);
  for (const std::string& n : files_.notes) fmt::print(out_, "note: {}\n", n);
  fmt::print(out_, "commit log {}: {} segments of {} bytes, offsets [{}, {})\n", dir,
             files_.segments.size(), files_.segment_size, files_.start(), files_.end());
  if (files_.problem) {
    return Fail(files_.problem->offset, files_.problem->reason,
                opts_.segment_size != 0 ? ""
                                        : "the engine refuses to open the store until the segment "
                                          "files are restored");
  }
  if (ckp_) {
    const int64_t s = ckp_->safe_offset;
    if (s > 0 && s < files_.start()) {
      return Fail(s, fmt::format("the checkpoint's safe offset {} is before the first segment "
                                 "(offset {}): segment files are missing, and the engine refuses "
                                 "to open the store",
                                 s, files_.start()));
    }
    safe_offset_ = std::max(s, files_.start());
  }
  // Records before the dispatch offset must be in their queues. Unknown (no checkpoint, or an old
  // one): the engine rebuilds the queues from the log start when it opens the store.
  int64_t dispatch = ckp_ && ckp_->dispatch_offset >= 0 ? ckp_->dispatch_offset : files_.start();
  dispatch = std::max(dispatch, files_.start());
  queues_check_ = std::make_unique<QueueVerifier>(fs_, &files_, &cq_files_,
                                                  QueueCheckOptions{.dispatch_offset = dispatch,
                                                                    .unclean = live_ || !ckp_,
                                                                    .live = live_,
                                                                    .verbose = opts_.verbose});
  return Walk();
}

}  // namespace

int RunVerify(FileSystem* fs, const VerifyOptions& opts, std::FILE* out) {
  return Verifier(fs, opts, out).Run();
}

}  // namespace stele::tools
