#include "tools/commit_log_files.h"

#include <algorithm>
#include <map>
#include <string_view>

#include <fmt/format.h>
#include "common/status.h"
#include "engine/record.h"
#include "engine/segments.h"

namespace stele::tools {
namespace {

uint64_t DetectSegmentSize(const std::vector<SegmentFile>& segs) {
  std::map<uint64_t, size_t> counts;
  for (const SegmentFile& s : segs) ++counts[s.size];
  uint64_t best = segs.front().size;
  size_t best_count = counts[best];
  for (const auto& [size, n] : counts) {
    if (n > best_count) {
      best = size;
      best_count = n;
    }
  }
  return best;
}

}  // namespace

const SegmentFile* CommitLogFiles::Find(int64_t offset) const {
  auto it = std::upper_bound(segments.begin(), segments.end(), offset,
                             [](int64_t off, const SegmentFile& s) { return off < s.start; });
  if (it == segments.begin()) return nullptr;
  --it;
  return offset < it->end() ? &*it : nullptr;
}

absl::StatusOr<CommitLogFiles> ListCommitLog(FileSystem* fs, const std::string& dir,
                                             uint64_t segment_size) {
  CommitLogFiles out;
  out.dir = dir;
  STELE_ASSIGN_OR_RETURN(auto names, fs->List(dir));
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    int64_t start = 0;
    if (!engine::ParseSegmentName(n, &start)) {
      out.notes.push_back(
          n.ends_with(".tmp")
              ? fmt::format("ignoring {}: a segment being prepared (or left by a crash)", n)
              : fmt::format("ignoring {}: not a segment file", n));
      continue;
    }
    SegmentFile seg;
    seg.start = start;
    seg.path = dir + "/" + n;
    STELE_ASSIGN_OR_RETURN(seg.size, fs->FileSize(seg.path));
    out.segments.push_back(std::move(seg));
  }
  // Names are fixed-width, so name order is offset order.
  if (!out.segments.empty() && out.segments.back().size == 0) {
    out.notes.push_back(fmt::format("ignoring empty last segment {} (the engine removes it)",
                                    engine::SegmentName(out.segments.back().start)));
    out.segments.pop_back();
  }
  if (out.segments.empty()) {
    out.segment_size = segment_size;
    return out;
  }
  out.segment_size = segment_size != 0 ? segment_size : DetectSegmentSize(out.segments);
  const auto size = static_cast<int64_t>(out.segment_size);
  for (size_t i = 0; i < out.segments.size(); ++i) {
    const SegmentFile& s = out.segments[i];
    const std::string name = engine::SegmentName(s.start);
    if (i > 0 && s.start != out.segments[i - 1].start + size) {
      const int64_t want = out.segments[i - 1].start + size;
      out.problem =
          Problem{want, fmt::format("gap in the commit log: no segment {} between {} and {}",
                                    engine::SegmentName(want),
                                    engine::SegmentName(out.segments[i - 1].start), name)};
      break;
    }
    if (s.size != out.segment_size) {
      out.problem =
          Problem{s.start, fmt::format("segment {} has {} bytes, expected {} like the others{}",
                                       name, s.size, out.segment_size,
                                       segment_size != 0 ? " (--segment-size)" : "")};
      break;
    }
    if (s.start % size != 0) {
      out.problem = Problem{s.start, fmt::format("segment {} does not start at a multiple of the "
                                                 "segment size {}",
                                                 name, out.segment_size)};
      break;
    }
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const MappedRegion>> MapSegment(FileSystem* fs,
                                                               const SegmentFile& seg) {
  STELE_ASSIGN_OR_RETURN(auto file, fs->Open(seg.path, OpenOptions{.read_only = true}));
  // The mapping outlives the file handle (see MappedRegion).
  return file->Map(seg.size);
}

bool RecordLookup::At(int64_t offset, MessageView* v, std::string* why) {
  if (offset < files_->start()) {
    *why = fmt::format("before the start of the log at {}", files_->start());
    return false;
  }
  if (offset >= log_end_) {
    *why = fmt::format("past the end of the log at {}", log_end_);
    return false;
  }
  const SegmentFile* seg = files_->Find(offset);
  if (seg == nullptr) {
    *why = "where no segment file is";
    return false;
  }
  std::shared_ptr<const MappedRegion> map;
  for (const auto& [s, m] : maps_) {
    if (s == seg) map = m;
  }
  if (map == nullptr) {
    auto m = MapSegment(fs_, *seg);
    if (!m.ok()) {
      *why = fmt::format("whose segment is unreadable: {}", m.status().ToString());
      return false;
    }
    map = *m;
    if (maps_.size() >= kMaxMapped) maps_.erase(maps_.begin());
    maps_.emplace_back(seg, map);
  }
  const auto res =
      engine::DecodeRecord(map->data() + (offset - seg->start),
                           static_cast<size_t>(seg->end() - offset), false, v, nullptr);
  // PHYSICALOFFSET pins a record to its position: bytes inside a body that happen to decode
  // cannot pass for a record there.
  if (res == engine::DecodeResult::kOk && v->physical_offset == offset) return true;
  *why = res == engine::DecodeResult::kEmpty ? "past the end of the log (zeros there)"
                                             : "where no record starts";
  return false;
}

}  // namespace stele::tools
