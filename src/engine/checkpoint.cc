#include "engine/checkpoint.h"

#include <cstring>

#include "common/bytes.h"
#include "common/crc32.h"
#include "common/path.h"
#include "common/status.h"

namespace stele::engine {
namespace {

constexpr std::string_view kMagic = "STELECKP";
// Version 1 (engine only) lacked the dispatch offset; it is still read (as "rebuild everything").
constexpr uint32_t kVersion = 2;
constexpr size_t kFixedV1 = 76;
constexpr size_t kFixed = 84;
constexpr size_t kMinFileSize = 4096;  // RocketMQ maps a 4 KiB page

}  // namespace

int64_t QueueOffsetTable::Next(std::string_view topic, int32_t queue_id) const {
  auto it = map_.find(topic);
  if (it == map_.end()) return 0;
  auto q = it->second.find(queue_id);
  return q == it->second.end() ? 0 : q->second;
}

int64_t QueueOffsetTable::Assign(std::string_view topic, int32_t queue_id, int64_t n) {
  auto it = map_.find(topic);
  if (it == map_.end()) it = map_.emplace(std::string(topic), 0).first;
  int64_t& next = it->second[queue_id];
  int64_t cur = next;
  next += n;
  return cur;
}

void QueueOffsetTable::Observe(std::string_view topic, int32_t queue_id, int64_t queue_offset) {
  auto it = map_.find(topic);
  if (it == map_.end()) it = map_.emplace(std::string(topic), 0).first;
  int64_t& next = it->second[queue_id];
  if (queue_offset + 1 > next) next = queue_offset + 1;
}

bool QueueOffsetTable::Has(std::string_view topic, int32_t queue_id) const {
  auto it = map_.find(topic);
  return it != map_.end() && it->second.contains(queue_id);
}

size_t QueueOffsetTable::size() const {
  size_t n = 0;
  for (const auto& [_, q] : map_) n += q.size();
  return n;
}

std::string EncodeCheckpoint(const CheckpointData& c) {
  std::string out(kFixed, '\0');
  char* w = out.data();
  StoreBe64(w, static_cast<uint64_t>(c.physic_msg_timestamp));
  StoreBe64(w + 8, static_cast<uint64_t>(c.logics_msg_timestamp));
  StoreBe64(w + 16, static_cast<uint64_t>(c.index_msg_timestamp));
  StoreBe64(w + 24, static_cast<uint64_t>(c.safe_offset));  // masterFlushedOffset
  StoreBe64(w + 32, static_cast<uint64_t>(c.safe_offset));  // confirmPhyOffset
  std::memcpy(w + 40, kMagic.data(), 8);
  StoreBe32(w + 48, kVersion);
  StoreBe32(w + 52, static_cast<uint32_t>(c.queues.size()));
  StoreBe64(w + 56, static_cast<uint64_t>(c.safe_offset));
  StoreBe64(w + 64, static_cast<uint64_t>(c.min_offset));
  StoreBe32(w + 72, c.records_have_crc ? 1u : 0u);
  StoreBe64(w + 76, static_cast<uint64_t>(c.dispatch_offset));
  c.queues.ForEach([&](const std::string& topic, int32_t qid, int64_t next) {
    char b[14];
    StoreBe16(b, static_cast<uint16_t>(topic.size()));
    out.append(b, 2);
    out.append(topic);
    StoreBe32(b, static_cast<uint32_t>(qid));
    StoreBe64(b + 4, static_cast<uint64_t>(next));
    out.append(b, 12);
  });
  char crc[4];
  StoreBe32(crc, Crc32(out.data(), out.size()));
  out.append(crc, 4);
  if (out.size() < kMinFileSize) out.resize(kMinFileSize, '\0');
  return out;
}

absl::StatusOr<CheckpointData> DecodeCheckpoint(std::string_view b) {
  auto bad = [](std::string why) { return absl::DataLossError("checkpoint: " + why); };
  if (b.size() < kFixedV1 + 4) return bad("file too short");
  if (b.substr(40, 8) != kMagic) return bad("no Stele checkpoint magic");
  const uint32_t version = LoadBe32(b.data() + 48);
  if (version != 1 && version != kVersion) return bad("unknown version");
  const size_t fixed = version == 1 ? kFixedV1 : kFixed;
  if (b.size() < fixed + 4) return bad("file too short");
  uint32_t n = LoadBe32(b.data() + 52);
  CheckpointData c;
  c.physic_msg_timestamp = static_cast<int64_t>(LoadBe64(b.data()));
  c.logics_msg_timestamp = static_cast<int64_t>(LoadBe64(b.data() + 8));
  c.index_msg_timestamp = static_cast<int64_t>(LoadBe64(b.data() + 16));
  c.safe_offset = static_cast<int64_t>(LoadBe64(b.data() + 56));
  c.min_offset = static_cast<int64_t>(LoadBe64(b.data() + 64));
  c.records_have_crc = (LoadBe32(b.data() + 72) & 1u) != 0;
  c.dispatch_offset = version == 1 ? -1 : static_cast<int64_t>(LoadBe64(b.data() + 76));
  size_t pos = fixed;
  for (uint32_t i = 0; i < n; ++i) {
    if (b.size() - pos < 2) return bad("truncated entry");
    size_t len = LoadBe16(b.data() + pos);
    pos += 2;
    if (b.size() - pos < len + 12) return bad("truncated entry");
    std::string_view topic = b.substr(pos, len);
    pos += len;
    int32_t qid = static_cast<int32_t>(LoadBe32(b.data() + pos));
    int64_t next = static_cast<int64_t>(LoadBe64(b.data() + pos + 4));
    pos += 12;
    if (next < 0) return bad("negative queue offset");
    c.queues.Observe(topic, qid, next - 1);
  }
  if (b.size() - pos < 4) return bad("missing CRC");
  if (LoadBe32(b.data() + pos) != Crc32(b.data(), pos)) return bad("CRC mismatch");
  if (c.safe_offset < 0 || c.min_offset < 0 || c.min_offset > c.safe_offset ||
      c.dispatch_offset > c.safe_offset) {
    return bad("offsets out of range");
  }
  return c;
}

absl::Status WriteFileAtomically(FileSystem* fs, const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  {
    STELE_ASSIGN_OR_RETURN(auto f, fs->Open(tmp, OpenOptions{.create = true, .truncate = true}));
    STELE_RETURN_IF_ERROR(f->WriteAt(0, data, SyncMode::kData));
  }
  STELE_RETURN_IF_ERROR(fs->Rename(tmp, path));
  return fs->SyncDir(ParentDir(path));
}

absl::Status WriteCheckpoint(FileSystem* fs, const std::string& root, const CheckpointData& c) {
  return WriteFileAtomically(fs, root + "/checkpoint", EncodeCheckpoint(c));
}

absl::StatusOr<CheckpointData> ReadCheckpoint(FileSystem* fs, const std::string& root) {
  std::string path = root + "/checkpoint";
  STELE_ASSIGN_OR_RETURN(auto f, fs->Open(path, OpenOptions{.read_only = true}));
  STELE_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  if (size > (64u << 20)) return absl::DataLossError("checkpoint: implausibly large");
  std::string buf(size, '\0');
  STELE_ASSIGN_OR_RETURN(size_t got, f->ReadAt(0, buf.data(), size));
  buf.resize(got);
  return DecodeCheckpoint(buf);
}

}  // namespace stele::engine
