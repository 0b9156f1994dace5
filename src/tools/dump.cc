#include "tools/dump.h"

#include <algorithm>

#include <fmt/format.h>
#include "engine/record.h"
#include "tools/commit_log_files.h"
#include "tools/queue_files.h"
#include "tools/text.h"

namespace stele::tools {
namespace {

void PrintRecord(std::FILE* out, int64_t pos, const MessageView& v, uint64_t body_bytes,
                 std::string_view problem) {
  fmt::print(out,
             "offset={} size={} topic={} queueId={} queueOffset={} sysFlag={} flag={} magic={}\n",
             pos, v.total_size, Escape(v.topic), v.queue_id, v.queue_offset,
             SysFlagString(v.sys_flag), v.flag, v.magic == engine::kMagicV2 ? "v2" : "v1");
  fmt::print(out, "  bornTimestamp={} ({}) bornHost={}\n", v.born_timestamp,
             IsoTime(v.born_timestamp), v.born_host.ToString());
  fmt::print(out, "  storeTimestamp={} ({}) storeHost={}\n", v.store_timestamp,
             IsoTime(v.store_timestamp), v.store_host.ToString());
  fmt::print(out, "  reconsumeTimes={} preparedTransactionOffset={} bodyCRC={} msgId={}\n",
             v.reconsume_times, v.prepared_transaction_offset, v.body_crc, v.OffsetMsgId());
  bool well_formed = true;
  fmt::print(out, "  properties={}\n", FormatProperties(v.properties, &well_formed));
  const size_t shown = static_cast<size_t>(std::min<uint64_t>(body_bytes, v.body.size()));
  if (shown == 0) {
    fmt::print(out, "  body({} bytes)\n", v.body.size());
  } else {
    fmt::print(out, "  body({} bytes)=\"{}\"{}\n", v.body.size(), Escape(v.body.substr(0, shown)),
               shown < v.body.size() ? "..." : "");
  }
  if (!well_formed) fmt::print(out, "  problem: properties are not well-formed\n");
  if (!problem.empty()) fmt::print(out, "  problem: {}\n", problem);
}

// Whether `pos` is where a record (or a BLANK filler, or the end of the log) starts in `seg`.
// Records never span segments, so walking from the segment's start decides it; on failure `why`
// names the record starts on either side.
bool IsRecordStart(const char* base, const SegmentFile& seg, int64_t pos, std::string* why) {
  const size_t avail = static_cast<size_t>(seg.end() - pos);
  MessageView v;
  auto res = engine::DecodeRecord(base + (pos - seg.start), avail, false, &v, nullptr);
  if (res == engine::DecodeResult::kOk && v.physical_offset == pos) return true;
  if (res == engine::DecodeResult::kBlank && v.total_size == avail) return true;
  int64_t before = -1;
  int64_t p = seg.start;
  while (p < pos) {
    res = engine::DecodeRecord(base + (p - seg.start), static_cast<size_t>(seg.end() - p), false,
                               &v, nullptr);
    if (res == engine::DecodeResult::kOk) {
      before = p;
      p += v.total_size;
    } else if (res == engine::DecodeResult::kBlank) {
      before = p;
      p = seg.end();
    } else {
      break;
    }
  }
  if (p == pos) return true;
  if (p > pos) {
    *why = fmt::format("offset {} is not at a record start (records start at {} and {})", pos,
                       before, p);
  } else if (res == engine::DecodeResult::kEmpty) {
    *why = fmt::format("offset {} is past the end of the log at {}", pos, p);
  } else {
    *why = fmt::format(
        "offset {} is not at a record start (a damaged record at {} hides where records start "
        "after it)",
        pos, p);
  }
  return false;
}

// `mqstore dump --queue`: one line per entry, with a summary of the record it points at.
int DumpQueue(FileSystem* fs, const DumpOptions& opts, const CommitLogFiles& log, std::FILE* out) {
  auto cq = ListConsumeQueues(fs, opts.root + "/consumequeue", opts.cq_file_size);
  if (!cq.ok()) {
    fmt::print(out, "error: {}\n", cq.status().ToString());
    return 1;
  }
  const std::string name = fmt::format("{}/{}", Escape(*opts.queue_topic), opts.queue_id);
  const QueueDir* q = nullptr;
  for (const QueueDir& d : cq->queues) {
    if (d.topic == *opts.queue_topic && d.queue_id == opts.queue_id) q = &d;
  }
  if (q == nullptr || q->files.empty()) {
    fmt::print(out, "error: no consume-queue files for {} in {}\n", name, cq->dir);
    return 1;
  }
  const int64_t unit = index::kCqUnitSize;
  const int64_t first = q->files.front().start / unit;
  int64_t qo = opts.from.value_or(first);
  if (qo < first) {
    fmt::print(out, "note: queue offsets before {} have no file (deleted by retention)\n", first);
    qo = first;
  }
  fmt::print(out, "consume queue {}: {} files of {} bytes, the first at queue offset {}\n", name,
             q->files.size(), cq->file_size, first);
  QueueReader reader(fs, q, cq->file_size);
  RecordLookup records(fs, &log, log.end());
  int rc = 0;
  for (uint64_t printed = 0; printed < opts.count; ++printed, ++qo) {
    index::CqEntry e;
    switch (reader.Read(qo, &e)) {
      case QueueReader::Result::kOk:
        break;
      case QueueReader::Result::kIoError:
        fmt::print(out, "error: {}\n", reader.error());
        return 1;
      default:
        fmt::print(out, "end of the consume-queue files at queue offset {}\n", qo);
        return rc;
    }
    if (IsZeroEntry(e)) {
      fmt::print(out, "end of the queue at queue offset {} (zero entry)\n", qo);
      return rc;
    }
    if (e.is_blank()) {
      fmt::print(out, "queueOffset={} pre-blank (readers skip it)\n", qo);
      continue;
    }
    fmt::print(out, "queueOffset={} offset={} size={} tagsCode={}", qo, e.phy_offset, e.size,
               e.tags_code);
    MessageView v;
    std::string why;
    if (!records.At(e.phy_offset, &v, &why)) {
      if (e.phy_offset >= 0 && e.phy_offset < log.start()) {
        fmt::print(out, " (record deleted: {})\n", why);
      } else {
        fmt::print(out, "\n  problem: {}\n", why);
        rc = 1;
      }
      continue;
    }
    const std::string_view tags = v.Property(kPropertyTags).value_or("");
    const std::string_view keys = v.Property(kPropertyKeys).value_or("");
    fmt::print(out, " -> storeTimestamp={} ({}) tags=\"{}\" keys=\"{}\" msgId={}\n",
               v.store_timestamp, IsoTime(v.store_timestamp), Escape(tags), Escape(keys),
               v.OffsetMsgId());
    if (std::string m = EntryMismatch(*opts.queue_topic, opts.queue_id, qo, e, v); !m.empty()) {
      fmt::print(out, "  problem: {}\n", m);
      rc = 1;
    }
  }
  fmt::print(out, "next queue offset {} (--from {} to continue)\n", qo, qo);
  return rc;
}

}  // namespace

int RunDump(FileSystem* fs, const DumpOptions& opts, std::FILE* out) {
  const std::string dir =
      opts.commitlog_dir.empty() ? opts.root + "/commitlog" : opts.commitlog_dir;
  auto listed = ListCommitLog(fs, dir, opts.segment_size);
  if (!listed.ok()) {
    fmt::print(out, "error: {}\n", listed.status().ToString());
    return 1;
  }
  const CommitLogFiles& files = *listed;
  for (const std::string& n : files.notes) fmt::print(out, "note: {}\n", n);
  if (files.problem) {
    fmt::print(out, "warning: at offset {}: {}\n", files.problem->offset, files.problem->reason);
  }
  if (opts.queue_topic) return DumpQueue(fs, opts, files, out);
  int64_t pos = opts.offset.value_or(files.start());
  const SegmentFile* seg = files.Find(pos);
  if (seg == nullptr) {
    if (pos == files.end()) {
      fmt::print(out, "end of the commit log files at offset {}\n", pos);
      return 0;
    }
    fmt::print(out, "error: offset {} is outside the commit log files [{}, {})\n", pos,
               files.start(), files.end());
    return 1;
  }
  auto map = MapSegment(fs, *seg);
  if (!map.ok()) {
    fmt::print(out, "error: {}\n", map.status().ToString());
    return 1;
  }
  if (std::string why; !IsRecordStart((*map)->data(), *seg, pos, &why)) {
    fmt::print(out, "error: {}\n", why);
    return 1;
  }
  int rc = 0;
  uint64_t printed = 0;
  while (printed < opts.count) {
    if (pos == seg->end()) {
      seg = files.Find(pos);
      if (seg == nullptr) {
        if (pos == files.end()) {
          fmt::print(out, "end of the commit log files at offset {}\n", pos);
          return rc;
        }
        fmt::print(out, "error: no segment file holds offset {}\n", pos);
        return 1;
      }
      map = MapSegment(fs, *seg);
      if (!map.ok()) {
        fmt::print(out, "error: {}\n", map.status().ToString());
        return 1;
      }
      continue;
    }
    const char* p = (*map)->data() + (pos - seg->start);
    const size_t avail = static_cast<size_t>(seg->end() - pos);
    MessageView v;
    std::string why;
    const auto res = engine::DecodeRecord(p, avail, false, &v, &why);
    if (res == engine::DecodeResult::kBlank) {
      if (v.total_size != avail) {
        fmt::print(out,
                   "corrupt at offset {}: BLANK filler of {} bytes does not reach the segment "
                   "end ({} bytes left)\n",
                   pos, v.total_size, avail);
        return 1;
      }
      fmt::print(out, "offset={} size={} BLANK filler to segment end\n", pos, v.total_size);
      pos = seg->end();
      continue;
    }
    if (res == engine::DecodeResult::kEmpty) {
      fmt::print(out, "end of log at offset {}\n", pos);
      return rc;
    }
    if (res == engine::DecodeResult::kCorrupt) {
      fmt::print(out, "corrupt at offset {}: {}\n", pos, why);
      return 1;
    }
    // The layout is sound; say what else is wrong but keep going.
    std::string problem;
    if (MessageView c;
        engine::DecodeRecord(p, avail, true, &c, &why) != engine::DecodeResult::kOk) {
      problem = why;
    } else if (v.physical_offset != pos) {
      problem =
          fmt::format("PHYSICALOFFSET {} does not match the record's position", v.physical_offset);
    }
    if (!problem.empty()) rc = 1;
    PrintRecord(out, pos, v, opts.body_bytes, problem);
    pos += v.total_size;
    ++printed;
  }
  fmt::print(out, "next record at offset {} (--offset {} to continue)\n", pos, pos);
  return rc;
}

}  // namespace stele::tools
