#include "tools/verify_queues.h"

#include <algorithm>
#include <chrono>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include "absl/container/flat_hash_map.h"
#include "engine/checkpoint.h"
#include "engine/segments.h"
#include "tools/text.h"

namespace stele::tools {
namespace {

using index::CqEntry;
using index::kCqUnitSize;

// Detailed consume-queue problem lines; the rest are only counted.
constexpr uint64_t kMaxDetailLines = 30;
// Queue files kept mapped at once during the log walk (one per queue, least recently used out).
constexpr size_t kMaxMappedFiles = 256;
// While a broker has the store open, a queue file can be caught mid-creation (created, not yet
// sized) or mid-write: a queue with errors is scanned again a few times before they count.
constexpr int kLiveRetries = 3;
constexpr auto kLiveRetryDelay = std::chrono::milliseconds(100);

// A run of consecutive queue offsets whose records have no entry, for the same reason.
struct MissingRun {
  int64_t first_qo = -1;
  int64_t last_qo = -1;
  int64_t first_pos = 0;
  int64_t last_pos = 0;
  std::string why;
};

// What scanning one queue's files found; committed once final (see kLiveRetries).
struct ScanResult {
  struct Problem {
    bool error;
    std::string where;
    std::string what;
  };
  std::vector<Problem> problems;
  uint64_t entries = 0;
  uint64_t pre_blank = 0;
  uint64_t below_start = 0;
  uint64_t matched = 0;
  int64_t min_qo = -1;
  int64_t max_qo = 0;
  bool has_errors() const {
    return std::any_of(problems.begin(), problems.end(), [](const Problem& p) { return p.error; });
  }
};

struct Queue {
  std::string topic;
  int32_t queue_id = 0;
  const QueueDir* dir = nullptr;  // null: no directory on disk
  std::unique_ptr<QueueReader> reader;
  std::list<Queue*>::iterator lru;
  bool in_lru = false;
  // From the commit-log walk: its records have queue offsets [log_first, log_next); those from
  // tail_from on are at or after the dispatch offset (-1: none are).
  int64_t log_first = -1;
  int64_t log_next = -1;
  int64_t tail_from = -1;
  MissingRun run;
  // Counts.
  uint64_t matched = 0;
  uint64_t undispatched = 0;
  uint64_t pre_blank = 0;
  uint64_t below_start = 0;
  uint64_t errors = 0;
  uint64_t warnings = 0;
  // From the file scan: real entries at queue offsets [min_qo, max_qo).
  int64_t min_qo = -1;
  int64_t max_qo = 0;
  bool InLog(int64_t qo) const { return log_first >= 0 && qo >= log_first && qo < log_next; }
  // Whether queue offset qo belongs to a record at or after the dispatch offset (or to none yet).
  bool InTail(int64_t qo) const {
    return log_first >= 0 && qo >= (tail_from >= 0 ? tail_from : log_next);
  }
  std::string Name() const { return fmt::format("{}/{}", Escape(topic), queue_id); }
};

}  // namespace

class QueueVerifier::Impl {
 public:
  Impl(FileSystem* fs, const CommitLogFiles* log, const ConsumeQueueFiles* cq,
       QueueCheckOptions opts)
      : fs_(fs), log_(log), cq_(cq), opts_(opts), records_(fs, log, log->end()) {
    for (const QueueDir& d : cq->queues) {
      Queue& q = Get(d.topic, d.queue_id);
      q.dir = &d;
      q.reader = std::make_unique<QueueReader>(fs, &d, cq->file_size);
    }
  }

  void OnRecord(int64_t pos, const MessageView& v);
  uint64_t Finish(int64_t log_end, std::FILE* out);
  uint64_t warnings() const { return warnings_; }

 private:
  Queue& Get(std::string_view topic, int32_t qid) {
    auto& slot = queues_[topic][qid];
    if (slot == nullptr) {
      slot = std::make_unique<Queue>();
      slot->topic = std::string(topic);
      slot->queue_id = qid;
    }
    return *slot;
  }
  void Report(Queue& q, bool error, std::string_view where, std::string_view what);
  // Reports entry `e` at queue offset `qo`, which does not match its record at `pos`. Described
  // in Finish, once the end of the log is known.
  void ReportMismatch(Queue& q, bool error, int64_t qo, const CqEntry& e, int64_t pos);
  void FlushRun(Queue& q);
  void Missing(Queue& q, int64_t qo, int64_t pos, std::string why);
  // Keeps the reader's mapping counted in the LRU, dropping the oldest past the bound.
  void Touch(Queue& q);
  // What is wrong with entry `e` at queue offset `qo` of `q`, judged by the record at its
  // commit-log offset; empty if nothing.
  std::string EntryProblem(const Queue& q, int64_t qo, const CqEntry& e);
  ScanResult ScanFiles(const Queue& q);
  int64_t FileSize() const { return static_cast<int64_t>(cq_->file_size); }

  FileSystem* fs_;
  const CommitLogFiles* log_;
  const ConsumeQueueFiles* cq_;
  QueueCheckOptions opts_;
  RecordLookup records_;
  absl::flat_hash_map<std::string, absl::flat_hash_map<int32_t, std::unique_ptr<Queue>>,
                      engine::SvHash, engine::SvEq>
      queues_;
  std::list<Queue*> lru_;
  // A detail line; a mismatch found during the walk is described when printed.
  struct Line {
    std::string text;
    Queue* q = nullptr;  // set for a mismatch still to describe
    int64_t qo = 0;
    CqEntry entry;
    int64_t pos = 0;
  };
  std::vector<Line> lines_;
  uint64_t errors_ = 0;
  uint64_t warnings_ = 0;
  uint64_t matched_ = 0;
  uint64_t undispatched_ = 0;
  uint64_t entries_ = 0;
  uint64_t pre_blank_ = 0;
  uint64_t below_start_ = 0;
};

void QueueVerifier::Impl::Report(Queue& q, bool error, std::string_view where,
                                 std::string_view what) {
  if (error) {
    ++errors_;
    ++q.errors;
  } else {
    ++warnings_;
    ++q.warnings;
  }
  if (lines_.size() < kMaxDetailLines) {
    lines_.push_back(Line{.text = fmt::format("cq {}: {} {}: {}", error ? "error" : "warning",
                                              q.Name(), where, what)});
  }
}

void QueueVerifier::Impl::ReportMismatch(Queue& q, bool error, int64_t qo, const CqEntry& e,
                                         int64_t pos) {
  const size_t n = lines_.size();
  Report(q, error, fmt::format("queue offset {} -> commit-log offset {}", qo, e.phy_offset), "");
  if (lines_.size() > n) {
    lines_.back().q = &q;
    lines_.back().qo = qo;
    lines_.back().entry = e;
    lines_.back().pos = pos;
  }
}

void QueueVerifier::Impl::FlushRun(Queue& q) {
  MissingRun& r = q.run;
  if (r.first_qo < 0) return;
  const int64_t n = r.last_qo - r.first_qo + 1;
  if (n == 1) {
    Report(q, true, fmt::format("queue offset {}", r.first_qo),
           fmt::format("no entry for the record at commit-log offset {} ({})", r.first_pos, r.why));
  } else {
    Report(q, true, fmt::format("queue offsets {}..{}", r.first_qo, r.last_qo),
           fmt::format("no entries for {} records at commit-log offsets {}..{} ({})", n,
                       r.first_pos, r.last_pos, r.why));
  }
  r = MissingRun{};
}

void QueueVerifier::Impl::Missing(Queue& q, int64_t qo, int64_t pos, std::string why) {
  MissingRun& r = q.run;
  if (r.first_qo >= 0 && (r.last_qo + 1 != qo || r.why != why)) FlushRun(q);
  if (r.first_qo < 0) {
    r.first_qo = qo;
    r.first_pos = pos;
    r.why = std::move(why);
  }
  r.last_qo = qo;
  r.last_pos = pos;
}

void QueueVerifier::Impl::Touch(Queue& q) {
  if (q.in_lru) lru_.erase(q.lru);
  q.in_lru = false;
  if (!q.reader->mapped()) return;
  lru_.push_front(&q);
  q.lru = lru_.begin();
  q.in_lru = true;
  if (lru_.size() > kMaxMappedFiles) {
    Queue* old = lru_.back();
    lru_.pop_back();
    old->in_lru = false;
    old->reader->Release();
  }
}

std::string QueueVerifier::Impl::EntryProblem(const Queue& q, int64_t qo, const CqEntry& e) {
  MessageView v;
  std::string why;
  if (!records_.At(e.phy_offset, &v, &why)) return why;
  return EntryMismatch(q.topic, q.queue_id, qo, e, v);
}

void QueueVerifier::Impl::OnRecord(int64_t pos, const MessageView& v) {
  if (!sysflag::AssignsQueueOffset(v.sys_flag)) return;
  Queue& q = Get(v.topic, v.queue_id);
  const int64_t qo = v.queue_offset;
  if (q.log_first < 0) q.log_first = qo;
  q.log_next = qo + 1;  // the walk has checked that they are consecutive
  const bool dispatched = pos < opts_.dispatch_offset;
  if (!dispatched && q.tail_from < 0) q.tail_from = qo;
  CqEntry e;
  std::string missing;
  if (q.reader == nullptr) {
    missing = "the queue has no directory";
  } else if (q.dir->files.empty()) {
    missing = "the queue has no files";
  } else if (FileSize() <= 0) {
    missing = "the queue's files are empty";
  } else {
    const auto res = q.reader->Read(qo, &e);
    Touch(q);
    auto file = [&] {  // the name of the file that should hold qo
      return engine::SegmentName(qo * kCqUnitSize / FileSize() * FileSize());
    };
    switch (res) {
      case QueueReader::Result::kNoFile:
        missing = fmt::format("no file {}", file());
        break;
      case QueueReader::Result::kShort:
        missing = fmt::format("file {} is too short", file());
        break;
      case QueueReader::Result::kIoError:
        missing = fmt::format("file {} is unreadable: {}", file(), q.reader->error());
        break;
      case QueueReader::Result::kOk:
        if (IsZeroEntry(e)) {
          missing = "a zero entry: the queue ends there";
        } else if (e.is_blank()) {
          missing = "a pre-blank entry in its place";
        }
        break;
    }
  }
  if (!missing.empty()) {
    if (!dispatched) {
      ++q.undispatched;
      ++undispatched_;
      FlushRun(q);
    } else {
      Missing(q, qo, pos, std::move(missing));
    }
    return;
  }
  FlushRun(q);
  if (e.phy_offset == pos && EntryMismatch(q.topic, q.queue_id, qo, e, v).empty()) {
    ++q.matched;
    ++matched_;
    return;
  }
  // Entries after the dispatch offset of a store not shut down cleanly are dropped and rebuilt on
  // open (and may be being written right now).
  const bool stale = opts_.unclean && !dispatched && e.phy_offset >= opts_.dispatch_offset;
  ReportMismatch(q, !stale, qo, e, pos);
}

ScanResult QueueVerifier::Impl::ScanFiles(const Queue& q) {
  ScanResult r;
  auto report = [&r](bool error, std::string where, std::string what) {
    r.problems.push_back({error, std::move(where), std::move(what)});
  };
  const int64_t fsize = FileSize();
  const int64_t units = fsize / kCqUnitSize;
  if (fsize <= 0) return r;  // only empty files: reported once, in Finish
  // Layout: the engine refuses to open a store whose queue files break these rules. Sizes are
  // taken now, not from the listing, as a file being created grows to its size right after.
  std::vector<CqFile> usable;
  int64_t prev_end = -1;
  for (const CqFile& listed : q.dir->files) {
    CqFile f = listed;
    const std::string name = "file " + engine::SegmentName(f.start);
    if (f.start % fsize != 0) {
      report(true, name, fmt::format("name is not a multiple of the file size {}", fsize));
      continue;
    }
    auto size = fs_->FileSize(f.path);
    if (!size.ok()) {  // deleted by retention meanwhile, when the store is open
      report(!opts_.live, name, fmt::format("unreadable: {}", size.status().ToString()));
      continue;
    }
    f.size = *size;
    if (f.size != cq_->file_size) {
      report(true, name,
             fmt::format("{} bytes, expected {} like the others (queue offsets {}..{})", f.size,
                         fsize, f.start / kCqUnitSize, (f.start + fsize) / kCqUnitSize - 1));
    }
    if (prev_end >= 0 && f.start != prev_end) {
      report(true, "file " + engine::SegmentName(prev_end),
             fmt::format("missing: no file holds queue offsets {}..{}", prev_end / kCqUnitSize,
                         f.start / kCqUnitSize - 1));
    }
    prev_end = f.start + fsize;
    usable.push_back(std::move(f));
  }
  // Entries, in queue order. The queue ends at its first zero or invalid entry.
  int64_t end_qo = -1;
  std::string end_kind;
  int64_t torn = 0, first_torn = -1, torn_min_phy = INT64_MAX;
  bool torn_before_last = false;
  int64_t mid_blanks = 0, first_mid_blank = -1, late_blanks = 0, first_late_blank = -1;
  bool seen_real = false;
  for (size_t i = 0; i < usable.size(); ++i) {
    const CqFile& f = usable[i];
    const bool last = i + 1 == usable.size();
    auto map = MapPrefix(fs_, f.path, std::min<uint64_t>(f.size, cq_->file_size));
    if (!map.ok()) {
      report(true, "file " + engine::SegmentName(f.start),
             fmt::format("unreadable: {}", map.status().ToString()));
      continue;
    }
    const int64_t n = *map == nullptr ? 0 : static_cast<int64_t>((*map)->size()) / kCqUnitSize;
    for (int64_t u = 0; u < n && u < units; ++u) {
      const int64_t qo = f.start / kCqUnitSize + u;
      const CqEntry e = DecodeCqEntry((*map)->data() + u * kCqUnitSize);
      if (IsZeroEntry(e)) {
        if (end_qo < 0) {
          end_qo = qo;
          end_kind = "a zero entry";
        }
        continue;
      }
      if (end_qo >= 0) {
        if (torn++ == 0) first_torn = qo;
        torn_min_phy = std::min(torn_min_phy, e.phy_offset);
        torn_before_last |= !last;
        continue;
      }
      if (e.is_blank()) {
        if (!seen_real) {
          ++r.pre_blank;
        } else if (q.log_first >= 0 && qo >= q.log_next) {
          if (late_blanks++ == 0) first_late_blank = qo;
        } else if (!q.InLog(qo) && mid_blanks++ == 0) {  // in the log: reported as missing
          first_mid_blank = qo;
        }
        continue;
      }
      if (!e.is_valid()) {
        end_qo = qo;
        end_kind = "an invalid entry";
        if (!q.InLog(qo)) {
          // The engine zeroes the last file from its first invalid entry on; after the dispatch
          // offset that is only what it dispatches again.
          const bool stale = opts_.unclean && last && q.InTail(qo);
          report(!stale, fmt::format("queue offset {}", qo),
                 fmt::format("invalid entry (commit-log offset {}, size {}): the engine takes it "
                             "as the end of the queue",
                             e.phy_offset, e.size));
        }
        continue;
      }
      seen_real = true;
      ++r.entries;
      if (r.min_qo < 0) r.min_qo = qo;
      r.max_qo = qo + 1;
      if (q.InLog(qo)) continue;  // checked against its record during the walk
      if (e.phy_offset < log_->start() && (q.log_first < 0 || qo < q.log_first)) {
        ++r.below_start;  // its record was deleted by retention
        continue;
      }
      const std::string what = EntryProblem(q, qo, e);
      if (what.empty()) {  // appended since the walk passed by (the store is open)
        ++r.matched;
        continue;
      }
      // Recovery drops the queue's tail entries at or after the dispatch offset.
      const bool stale = opts_.unclean && e.phy_offset >= opts_.dispatch_offset;
      report(!stale, fmt::format("queue offset {} -> commit-log offset {}", qo, e.phy_offset),
             stale ? what + " (after the dispatch offset: rebuilt when the engine opens the store)"
                   : what);
    }
  }
  if (mid_blanks > 0) {
    report(false, fmt::format("queue offset {}", first_mid_blank),
           fmt::format("{} pre-blank entries after real ones (a gap in the queue's offsets)",
                       mid_blanks));
  }
  if (late_blanks > 0) {  // recovery keeps blanks, so these stay and take the next offsets
    report(true, fmt::format("queue offset {}", first_late_blank),
           fmt::format("{} pre-blank entries after the queue's last record (queue offset {}): the "
                       "engine would take the next messages' offsets as already dispatched",
                       late_blanks, q.log_next - 1));
  }
  if (torn > 0) {
    // Only the last file's tail is zeroed by the engine, and only entries after the dispatch
    // offset may be missing their predecessors after a crash.
    const bool stale = opts_.unclean && !torn_before_last && torn_min_phy >= opts_.dispatch_offset;
    report(!stale, fmt::format("queue offset {}", first_torn),
           fmt::format("{} non-zero entries after the end of the queue at queue offset {} ({}): "
                       "torn or overwritten; {}",
                       torn, end_qo, end_kind,
                       stale ? "the engine zeroes them when it opens the store"
                             : "readers stop at the end, so they are unreachable"));
  }
  return r;
}

uint64_t QueueVerifier::Impl::Finish(int64_t log_end, std::FILE* out) {
  records_.set_log_end(log_end);
  records_.Release();
  for (Queue* q : lru_) q->reader->Release();
  lru_.clear();
  std::vector<Queue*> all;
  for (auto& [_, qs] : queues_) {
    for (auto& [__, q] : qs) all.push_back(q.get());
  }
  std::sort(all.begin(), all.end(), [](const Queue* a, const Queue* b) {
    return a->topic != b->topic ? a->topic < b->topic : a->queue_id < b->queue_id;
  });
  size_t files = 0;
  for (Queue* q : all) {
    FlushRun(*q);
    if (q->dir == nullptr) continue;
    files += q->dir->files.size();
    ScanResult r = ScanFiles(*q);
    for (int i = 0; i < kLiveRetries && opts_.live && r.has_errors(); ++i) {
      std::this_thread::sleep_for(kLiveRetryDelay);
      r = ScanFiles(*q);
    }
    for (const ScanResult::Problem& p : r.problems) Report(*q, p.error, p.where, p.what);
    q->pre_blank = r.pre_blank;
    q->below_start = r.below_start;
    q->matched += r.matched;
    q->min_qo = r.min_qo;
    q->max_qo = r.max_qo;
    entries_ += r.entries;
    pre_blank_ += r.pre_blank;
    below_start_ += r.below_start;
    matched_ += r.matched;
  }
  const uint64_t counted = errors_ + warnings_;  // the per-queue problems
  if (!cq_->exists) {
    fmt::print(out, "consume queues {}: no such directory\n", cq_->dir);
  } else {
    if (files == 0) {
      fmt::print(out, "consume queues {}: {} queues, no files\n", cq_->dir, cq_->queues.size());
    } else {
      fmt::print(out, "consume queues {}: {} queues, {} files of {} bytes ({} entries each)\n",
                 cq_->dir, cq_->queues.size(), files, cq_->file_size, cq_->file_size / kCqUnitSize);
    }
    if (files > 0 && (cq_->file_size == 0 || cq_->file_size % kCqUnitSize != 0)) {
      ++errors_;
      fmt::print(out,
                 "cq error: the file size {} is not a positive multiple of the entry size {}\n",
                 cq_->file_size, kCqUnitSize);
    }
  }
  for (const std::string& n : cq_->notes) fmt::print(out, "note: {}\n", n);
  for (Line& l : lines_) {
    if (l.q != nullptr) {
      l.text += EntryProblem(*l.q, l.qo, l.entry);
      if (l.entry.phy_offset != l.pos) {
        l.text += fmt::format(" (the record with queue offset {} is at {})", l.qo, l.pos);
      }
    }
    fmt::print(out, "{}\n", l.text);
  }
  if (counted > lines_.size()) {
    fmt::print(out, "({} more consume-queue problems are only counted)\n", counted - lines_.size());
  }
  if (opts_.verbose) {
    for (const Queue* q : all) {
      std::string log = q->log_first < 0
                            ? "none"
                            : fmt::format("queue offsets [{}, {})", q->log_first, q->log_next);
      std::string entries = q->dir == nullptr ? "no directory"
                            : q->min_qo < 0
                                ? fmt::format("{} files, no entries", q->dir->files.size())
                                : fmt::format("{} files, entries at queue offsets [{}, {})",
                                              q->dir->files.size(), q->min_qo, q->max_qo);
      fmt::print(out,
                 "queue {}: {}; records in the log: {}; {} match, {} pre-blank, {} below the log "
                 "start, {} not yet dispatched, {} errors, {} warnings\n",
                 q->Name(), entries, log, q->matched, q->pre_blank, q->below_start, q->undispatched,
                 q->errors, q->warnings);
    }
  }
  if (undispatched_ > 0) {
    fmt::print(out,
               "info: not yet dispatched ({} records at or after the dispatch offset {} have no "
               "entry yet; the engine adds them when it opens the store)\n",
               undispatched_, opts_.dispatch_offset);
  }
  fmt::print(out,
             "consume queues: {} queues, {} entries: {} match the log, {} pre-blank, {} below the "
             "log start; {} records not yet dispatched; {} errors, {} warnings\n",
             all.size(), entries_, matched_, pre_blank_, below_start_, undispatched_, errors_,
             warnings_);
  return errors_;
}

QueueVerifier::QueueVerifier(FileSystem* fs, const CommitLogFiles* log,
                             const ConsumeQueueFiles* queues, QueueCheckOptions opts)
    : impl_(std::make_unique<Impl>(fs, log, queues, opts)) {}
QueueVerifier::~QueueVerifier() = default;
void QueueVerifier::OnRecord(int64_t pos, const MessageView& v) { impl_->OnRecord(pos, v); }
uint64_t QueueVerifier::Finish(int64_t log_end, std::FILE* out) {
  return impl_->Finish(log_end, out);
}
uint64_t QueueVerifier::warnings() const { return impl_->warnings(); }

}  // namespace stele::tools
