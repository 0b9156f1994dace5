#include "tools/queue_files.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <string_view>

#include <fmt/format.h>
#include "common/status.h"
#include "engine/record.h"
#include "engine/segments.h"
#include "index/java_hash.h"
#include "tools/text.h"

namespace stele::tools {
namespace {

// RocketMQ puts the delivery time, not a tag hash, in the entries of delayed messages.
constexpr std::string_view kScheduleTopic = "SCHEDULE_TOPIC_XXXX";

bool ParseQueueId(std::string_view s, int32_t* qid) {
  if (s.empty() || s.size() > 10) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *qid);
  return ec == std::errc() && p == s.data() + s.size();
}

// The size most files have; ties go to a multiple of the entry size, then to the larger.
uint64_t DetectFileSize(const std::vector<QueueDir>& queues) {
  std::map<uint64_t, size_t> counts;
  for (const QueueDir& q : queues) {
    for (const CqFile& f : q.files) ++counts[f.size];
  }
  uint64_t best = 0;
  size_t best_count = 0;
  auto better = [](uint64_t a, uint64_t b) {  // whether a wins a tie against b
    const bool a_units = a % index::kCqUnitSize == 0, b_units = b % index::kCqUnitSize == 0;
    return a_units != b_units ? a_units : a > b;
  };
  for (const auto& [size, n] : counts) {
    if (n > best_count || (n == best_count && better(size, best))) {
      best = size;
      best_count = n;
    }
  }
  return best;
}

}  // namespace

std::string EntryMismatch(std::string_view topic, int32_t queue_id, int64_t qo,
                          const index::CqEntry& e, const MessageView& v) {
  if (v.topic != topic || v.queue_id != queue_id) {
    return fmt::format("the record there belongs to {}/{} (queue offset {})", Escape(v.topic),
                       v.queue_id, v.queue_offset);
  }
  if (!sysflag::AssignsQueueOffset(v.sys_flag)) {
    return fmt::format("the record there is a {} transaction record, which has no entry",
                       SysFlagString(v.sys_flag));
  }
  std::string out;
  auto add = [&out](std::string s) { out += (out.empty() ? "" : "; ") + s; };
  if (v.queue_offset != qo) add(fmt::format("record QUEUEOFFSET {}", v.queue_offset));
  if (static_cast<int64_t>(e.size) != static_cast<int64_t>(v.total_size)) {
    add(fmt::format("entry size {}, record TOTALSIZE {}", e.size, v.total_size));
  }
  const std::string_view tags = v.Property(kPropertyTags).value_or("");
  const int64_t code = index::TagsCode(tags);
  if (e.tags_code != code && v.topic != kScheduleTopic) {
    add(tags.empty() ? fmt::format("entry tags code {}, record has no TAGS (0)", e.tags_code)
                     : fmt::format("entry tags code {}, record TAGS \"{}\" hash to {}", e.tags_code,
                                   Escape(tags), code));
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const MappedRegion>> MapPrefix(FileSystem* fs,
                                                              const std::string& path,
                                                              uint64_t size) {
  if (size == 0) return std::shared_ptr<const MappedRegion>();
  STELE_ASSIGN_OR_RETURN(auto file, fs->Open(path, OpenOptions{.read_only = true}));
  return file->Map(size);
}

absl::StatusOr<ConsumeQueueFiles> ListConsumeQueues(FileSystem* fs, const std::string& dir,
                                                    uint64_t file_size) {
  ConsumeQueueFiles out;
  out.dir = dir;
  out.file_size = file_size;
  STELE_ASSIGN_OR_RETURN(out.exists, fs->Exists(dir));
  if (!out.exists) return out;
  STELE_ASSIGN_OR_RETURN(auto topics, fs->List(dir));
  std::sort(topics.begin(), topics.end());
  for (const std::string& topic : topics) {
    // The engine skips what is not a valid topic (QueueStore::Load); so does the tool.
    if (!engine::ValidateTopic(topic).ok()) {
      out.notes.push_back(
          fmt::format("ignoring {}/{}: not a valid topic name", dir, Escape(topic)));
      continue;
    }
    auto qids = fs->List(dir + "/" + topic);
    if (!qids.ok()) {
      out.notes.push_back(fmt::format("ignoring {}/{}: {}", dir, topic, qids.status().ToString()));
      continue;
    }
    std::vector<QueueDir> found;
    for (const std::string& name : *qids) {
      QueueDir q;
      if (!ParseQueueId(name, &q.queue_id)) {
        out.notes.push_back(
            fmt::format("ignoring {}/{}/{}: not a queue id", dir, topic, Escape(name)));
        continue;
      }
      q.topic = topic;
      q.dir = fmt::format("{}/{}/{}", dir, topic, name);
      auto files = fs->List(q.dir);
      if (!files.ok()) {
        out.notes.push_back(fmt::format("ignoring {}: {}", q.dir, files.status().ToString()));
        continue;
      }
      for (const std::string& f : *files) {
        CqFile file;
        if (!engine::ParseSegmentName(f, &file.start)) {
          out.notes.push_back(
              fmt::format("ignoring {}/{}: not a consume-queue file", q.dir, Escape(f)));
          continue;
        }
        file.path = q.dir + "/" + f;
        STELE_ASSIGN_OR_RETURN(file.size, fs->FileSize(file.path));
        q.files.push_back(std::move(file));
      }
      // Names are fixed-width, so name order is offset order.
      std::sort(q.files.begin(), q.files.end(),
                [](const CqFile& a, const CqFile& b) { return a.start < b.start; });
      found.push_back(std::move(q));
    }
    std::sort(found.begin(), found.end(),
              [](const QueueDir& a, const QueueDir& b) { return a.queue_id < b.queue_id; });
    for (QueueDir& q : found) out.queues.push_back(std::move(q));
  }
  if (out.file_size == 0) out.file_size = DetectFileSize(out.queues);
  return out;
}

QueueReader::QueueReader(FileSystem* fs, const QueueDir* q, uint64_t file_size)
    : fs_(fs), q_(q), file_size_(static_cast<int64_t>(file_size)) {}

QueueReader::Result QueueReader::Read(int64_t queue_offset, index::CqEntry* out) {
  if (q_ == nullptr || file_size_ <= 0 || queue_offset < 0) return Result::kNoFile;
  const int64_t byte = queue_offset * index::kCqUnitSize;
  const int64_t start = byte / file_size_ * file_size_;
  if (file_ == nullptr || file_->start != start || map_ == nullptr) {
    auto it = std::lower_bound(q_->files.begin(), q_->files.end(), start,
                               [](const CqFile& f, int64_t s) { return f.start < s; });
    if (it == q_->files.end() || it->start != start) return Result::kNoFile;
    const uint64_t len = std::min<uint64_t>(it->size, static_cast<uint64_t>(file_size_));
    auto m = MapPrefix(fs_, it->path, len);
    if (!m.ok()) {
      error_ = m.status().ToString();
      return Result::kIoError;
    }
    file_ = &*it;
    map_ = std::move(*m);
  }
  const size_t have = map_ == nullptr ? 0 : map_->size();
  const auto pos = static_cast<size_t>(byte - start);
  if (pos + index::kCqUnitSize > have) return Result::kShort;
  *out = DecodeCqEntry(map_->data() + pos);
  return Result::kOk;
}

}  // namespace stele::tools
