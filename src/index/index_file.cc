#include "index/index_file.h"

#include <time.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "common/bytes.h"
#include "common/logging.h"
#include "common/status.h"
#include "index/java_hash.h"

namespace stele::index {
namespace {

constexpr uint64_t kHeaderSize = 40;
constexpr uint64_t kSlotSize = 4;
constexpr uint64_t kEntrySize = 20;
constexpr uint64_t kBeginTimestampAt = 0;
constexpr uint64_t kEndTimestampAt = 8;
constexpr uint64_t kBeginPhyOffsetAt = 16;
constexpr uint64_t kEndPhyOffsetAt = 24;
constexpr uint64_t kHashSlotCountAt = 32;
constexpr uint64_t kIndexCountAt = 36;
constexpr size_t kNameDigits = 17;
constexpr std::string_view kTmpSuffix = ".tmp";
constexpr std::string_view kCorruptSuffix = ".corrupt";
constexpr int kMaxNameTries = 100'000;

// Header words and slots are read by queries while the writer updates them, so they are accessed
// atomically in place (the file bytes are the shared state; there is no second copy to keep in
// step). may_alias because the memory holds chars (a mapping or a std::vector<char>).
typedef uint32_t __attribute__((may_alias)) AliasU32;
typedef uint64_t __attribute__((may_alias)) AliasU64;

uint32_t LoadWord32(const char* p, int order) {
  return __builtin_bswap32(__atomic_load_n(reinterpret_cast<const AliasU32*>(p), order));
}
uint64_t LoadWord64(const char* p, int order) {
  return __builtin_bswap64(__atomic_load_n(reinterpret_cast<const AliasU64*>(p), order));
}
void StoreWord32(char* p, uint32_t v, int order) {
  __atomic_store_n(reinterpret_cast<AliasU32*>(p), __builtin_bswap32(v), order);
}
void StoreWord64(char* p, uint64_t v, int order) {
  __atomic_store_n(reinterpret_cast<AliasU64*>(p), __builtin_bswap64(v), order);
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return r;
}

uint64_t FileSize(const IndexConfig& cfg) {
  return kHeaderSize + uint64_t{cfg.max_hash_slot_num} * kSlotSize +
         uint64_t{cfg.max_index_num} * kEntrySize;
}

bool IsIndexName(std::string_view name) {
  return name.size() == kNameDigits &&
         std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The next name in decimal order; used when the clock would give a name that sorts before the
// newest file's (clock stepped back), since load order is name order.
std::string IncrementName(std::string name) {
  for (size_t i = name.size(); i-- > 0;) {
    if (name[i] != '9') {
      ++name[i];
      return name;
    }
    name[i] = '0';
  }
  return "1" + name;
}

std::string EncodeHeader(int64_t begin_ts, int64_t end_ts, int64_t begin_phy, int64_t end_phy,
                         uint32_t slot_count, uint32_t index_count) {
  std::string h(kHeaderSize, '\0');
  StoreBe64(h.data() + kBeginTimestampAt, static_cast<uint64_t>(begin_ts));
  StoreBe64(h.data() + kEndTimestampAt, static_cast<uint64_t>(end_ts));
  StoreBe64(h.data() + kBeginPhyOffsetAt, static_cast<uint64_t>(begin_phy));
  StoreBe64(h.data() + kEndPhyOffsetAt, static_cast<uint64_t>(end_phy));
  StoreBe32(h.data() + kHashSlotCountAt, slot_count);
  StoreBe32(h.data() + kIndexCountAt, index_count);
  return h;
}

// Empty string if the header could have been written by Put under this config, else why not.
std::string HeaderProblem(const char* h, const IndexConfig& cfg) {
  uint32_t count = LoadBe32(h + kIndexCountAt);
  uint32_t slots_used = LoadBe32(h + kHashSlotCountAt);
  auto begin_phy = static_cast<int64_t>(LoadBe64(h + kBeginPhyOffsetAt));
  auto end_phy = static_cast<int64_t>(LoadBe64(h + kEndPhyOffsetAt));
  if (count < 1 || count > cfg.max_index_num) {
    return fmt::format("indexCount {} outside [1, {}]", count, cfg.max_index_num);
  }
  if (slots_used > count - 1 || slots_used > cfg.max_hash_slot_num) {
    return fmt::format("hashSlotCount {} with indexCount {}", slots_used, count);
  }
  if (begin_phy < 0 || end_phy < 0) {
    return fmt::format("negative phy offset ({}, {})", begin_phy, end_phy);
  }
  return "";
}

}  // namespace

int32_t IndexKeyHash(std::string_view key) {
  int32_t h = JavaStringHash(key);
  if (h == std::numeric_limits<int32_t>::min()) return 0;
  return h < 0 ? -h : h;
}

std::string IndexFileName(int64_t ms) {
  int64_t sec = ms / 1000;
  int64_t milli = ms % 1000;
  if (milli < 0) {
    milli += 1000;
    sec -= 1;
  }
  time_t t = static_cast<time_t>(sec);
  struct tm tm {};
  localtime_r(&t, &tm);
  return fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}{:03}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
}

// One index file, shared (via shared_ptr) by the service and in-flight queries.
//
// Publication protocol (single writer, lock-free readers): Put writes the entry, then the header
// (indexCount last, release), then the slot (release). A reader loads the slot (acquire), then
// indexCount (acquire), and follows only indexes in [1, indexCount); every prevIndex is smaller
// than its own index. So every entry a reader touches was completely written before it became
// reachable, even when the slot table of a loaded file is damaged, and chains always terminate.
class IndexFile {
 public:
  IndexFile(std::string name, std::string path, const IndexConfig& cfg)
      : name_(std::move(name)),
        path_(std::move(path)),
        slots_(cfg.max_hash_slot_num),
        num_(cfg.max_index_num),
        entries_at_(kHeaderSize + uint64_t{slots_} * kSlotSize),
        size_(FileSize(cfg)) {}

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }

  uint32_t IndexCount() const { return LoadWord32(data_ + kIndexCountAt, __ATOMIC_ACQUIRE); }
  int64_t EndPhyOffset() const { return Load64(kEndPhyOffsetAt); }
  int64_t EndTimestamp() const { return Load64(kEndTimestampAt); }
  bool Full() const { return IndexCount() >= num_; }

  // Maps the file read-write, or, where the file system cannot (fault injection), keeps a copy in
  // memory and writes every changed range through.
  absl::Status AttachWritable(std::unique_ptr<File> file) {
    auto rw = file->MapWritable(size_);
    if (rw.ok()) {
      map_ = *std::move(rw);
      wdata_ = map_->mutable_data();
      if (wdata_ == nullptr) return absl::InternalError("writable mapping without data");
    } else if (absl::IsUnimplemented(rw.status())) {
      shadow_.resize(size_);
      STELE_ASSIGN_OR_RETURN(size_t got, file->ReadAt(0, shadow_.data(), size_));
      if (got != size_) return absl::DataLossError(fmt::format("short read of {}", path_));
      wdata_ = shadow_.data();
      write_through_ = true;
    } else {
      return rw.status();
    }
    file_ = std::move(file);
    return SetData(wdata_);
  }

  absl::Status AttachReadOnly(std::unique_ptr<File> file) {
    STELE_ASSIGN_OR_RETURN(map_, file->Map(size_));
    return SetData(map_->data());
  }

  // Writer only (the Put thread, under IndexService::mu_).
  absl::Status Append(int32_t key_hash, int64_t phy_offset, int64_t store_ts) {
    assert(wdata_ != nullptr && key_hash >= 0);
    const uint32_t count = LoadWord32(data_ + kIndexCountAt, __ATOMIC_RELAXED);
    assert(count >= 1 && count < num_);
    const uint64_t slot_at = kHeaderSize + static_cast<uint64_t>(key_hash) % slots_ * kSlotSize;
    uint32_t head = LoadWord32(data_ + slot_at, __ATOMIC_RELAXED);
    if (head >= count) head = 0;  // damaged slot: never link to an entry that is not older

    // RocketMQ sets the begin values after computing the first entry's timeDiff against the
    // seeded ones, so its first entry in a rolled file can claim a later time than it has; setting
    // them first gives that entry timeDiff 0, which is what it means.
    if (count == 1) {
      Store64(kBeginTimestampAt, store_ts);
      Store64(kBeginPhyOffsetAt, phy_offset);
    }
    const int64_t begin_ts = Load64(kBeginTimestampAt);
    int64_t diff = 0;
    if (begin_ts > 0) {
      int64_t delta;
      if (__builtin_sub_overflow(store_ts, begin_ts, &delta)) {
        delta = store_ts > begin_ts ? std::numeric_limits<int64_t>::max() : 0;
      }
      diff = std::clamp<int64_t>(delta / 1000, 0, std::numeric_limits<int32_t>::max());
    }

    const uint64_t entry_at = entries_at_ + uint64_t{count} * kEntrySize;
    char* e = wdata_ + entry_at;
    StoreBe32(e, static_cast<uint32_t>(key_hash));
    StoreBe64(e + 4, static_cast<uint64_t>(phy_offset));
    StoreBe32(e + 12, static_cast<uint32_t>(diff));
    StoreBe32(e + 16, head);
    STELE_RETURN_IF_ERROR(WriteThrough(entry_at, kEntrySize));

    Store64(kEndPhyOffsetAt, phy_offset);
    Store64(kEndTimestampAt, store_ts);
    if (head == 0) {
      uint32_t used = LoadWord32(data_ + kHashSlotCountAt, __ATOMIC_RELAXED);
      StoreWord32(wdata_ + kHashSlotCountAt, used + 1, __ATOMIC_RELAXED);
    }
    StoreWord32(wdata_ + kIndexCountAt, count + 1, __ATOMIC_RELEASE);
    STELE_RETURN_IF_ERROR(WriteThrough(0, kHeaderSize));

    StoreWord32(wdata_ + slot_at, count, __ATOMIC_RELEASE);
    return WriteThrough(slot_at, kSlotSize);
  }

  absl::Status Sync() { return file_ ? file_->Sync() : absl::OkStatus(); }

  // Appends to `out` (skipping offsets in `seen`) the offsets of this file's entries with
  // `key_hash` whose second-resolution time may fall in [begin, end], newest first.
  void Select(int32_t key_hash, int64_t begin, int64_t end, size_t max_num,
              std::vector<int64_t>* out, std::unordered_set<int64_t>* seen) const {
    const uint64_t slot_at = kHeaderSize + static_cast<uint64_t>(key_hash) % slots_ * kSlotSize;
    uint32_t idx = LoadWord32(data_ + slot_at, __ATOMIC_ACQUIRE);
    const uint32_t count = IndexCount();
    if (count <= 1) return;
    const int64_t file_begin = Load64(kBeginTimestampAt);
    const int64_t file_end = Load64(kEndTimestampAt);
    if (file_begin > end || file_end < begin) return;
    while (idx >= 1 && idx < count && out->size() < max_num) {
      const char* e = data_ + entries_at_ + uint64_t{idx} * kEntrySize;
      auto hash = static_cast<int32_t>(LoadBe32(e));
      auto phy = static_cast<int64_t>(LoadBe64(e + 4));
      auto diff = static_cast<int32_t>(LoadBe32(e + 12));
      uint32_t prev = LoadBe32(e + 16);
      if (diff < 0) break;
      // The entry stands for a store time somewhere in [t, t + 999].
      int64_t t = SaturatingAdd(file_begin, int64_t{diff} * 1000);
      int64_t t_last = SaturatingAdd(t, 999);
      if (hash == key_hash && t <= end && t_last >= begin && seen->insert(phy).second) {
        out->push_back(phy);
      }
      // Chains run newest to oldest, so once an entry is older than `begin` the rest are too.
      if (prev >= idx || t_last < begin) break;
      idx = prev;
    }
  }

  int64_t BeginPhyOffset() const { return Load64(kBeginPhyOffsetAt); }
  bool writable() const { return wdata_ != nullptr; }

  // Recovery after a crash; writable files only, with nothing else using the file. Pages written
  // since the last Sync may have reached the disk in any mix, so a slot (or indexCount) can name an
  // entry that never arrived: a chain walk then stops there, or never starts, and every durable
  // entry further down that chain is hidden for good (the next Put links to the damaged head).
  // Keeps the longest prefix of entries that is consistent (phyOffset does not decrease and stays
  // below `from`, prevIndex is exactly the head the entries before it give its slot, which is what
  // Append wrote) and rebuilds the slot table and the header's counts from it, then syncs. Every
  // entry indexing a record before the caller's durable dispatch offset `from` is in that prefix:
  // it was synced before `from` was. Returns how many entries were dropped; `*wrong_slots` is set
  // to how many slots the rebuild changed.
  absl::StatusOr<uint32_t> Repair(int64_t from, uint32_t* wrong_slots) {
    assert(wdata_ != nullptr);
    const uint32_t count = std::clamp<uint32_t>(IndexCount(), 1, num_);
    std::vector<uint32_t> heads(slots_, 0);
    uint32_t n = 1;
    uint32_t used = 0;
    int64_t last_phy = 0;
    for (; n < count; ++n) {
      const char* e = data_ + entries_at_ + uint64_t{n} * kEntrySize;
      const uint32_t hash = LoadBe32(e);
      const auto phy = static_cast<int64_t>(LoadBe64(e + 4));
      const auto diff = static_cast<int32_t>(LoadBe32(e + 12));
      const uint32_t prev = LoadBe32(e + 16);
      if (hash > uint32_t{std::numeric_limits<int32_t>::max()}) break;
      uint32_t& head = heads[hash % slots_];
      if (phy < last_phy || phy >= from || diff < 0 || prev != head) break;
      if (head == 0) ++used;
      head = n;
      last_phy = phy;
    }
    *wrong_slots = 0;
    for (uint32_t s = 0; s < slots_; ++s) {
      const uint64_t at = kHeaderSize + uint64_t{s} * kSlotSize;
      if (LoadWord32(data_ + at, __ATOMIC_RELAXED) == heads[s]) continue;
      StoreWord32(wdata_ + at, heads[s], __ATOMIC_RELAXED);
      ++*wrong_slots;
    }
    if (*wrong_slots > 0) {
      STELE_RETURN_IF_ERROR(WriteThrough(kHeaderSize, uint64_t{slots_} * kSlotSize));
    }
    // Dropped entries are zeroed: a later crash must not be able to count them back in.
    const uint64_t drop_at = entries_at_ + uint64_t{n} * kEntrySize;
    const uint64_t drop_len = uint64_t{count - n} * kEntrySize;
    std::memset(wdata_ + drop_at, 0, drop_len);
    STELE_RETURN_IF_ERROR(WriteThrough(drop_at, drop_len));
    if (n > 1) Store64(kEndPhyOffsetAt, last_phy);
    StoreWord32(wdata_ + kHashSlotCountAt, used, __ATOMIC_RELAXED);
    StoreWord32(wdata_ + kIndexCountAt, n, __ATOMIC_RELEASE);
    STELE_RETURN_IF_ERROR(WriteThrough(0, kHeaderSize));
    STELE_RETURN_IF_ERROR(Sync());
    return count - n;
  }

  bool dirty = false;  // in IndexService::dirty_; guarded by IndexService::mu_

 private:
  absl::Status SetData(const char* data) {
    if (reinterpret_cast<uintptr_t>(data) % 8 != 0) {
      return absl::InternalError(fmt::format("{}: mapping not 8-byte aligned", path_));
    }
    data_ = data;
    return absl::OkStatus();
  }
  int64_t Load64(uint64_t at) const {
    return static_cast<int64_t>(LoadWord64(data_ + at, __ATOMIC_RELAXED));
  }
  void Store64(uint64_t at, int64_t v) {
    StoreWord64(wdata_ + at, static_cast<uint64_t>(v), __ATOMIC_RELAXED);
  }
  absl::Status WriteThrough(uint64_t at, uint64_t len) {
    if (!write_through_) return absl::OkStatus();
    return file_->WriteAt(at, std::string_view(shadow_.data() + at, len));
  }

  const std::string name_;
  const std::string path_;
  const uint32_t slots_;
  const uint32_t num_;
  const uint64_t entries_at_;
  const uint64_t size_;
  std::unique_ptr<File> file_;  // null for files loaded read-only
  std::shared_ptr<const MappedRegion> map_;
  std::vector<char> shadow_;  // the in-memory copy when the file system has no writable mappings
  const char* data_ = nullptr;
  char* wdata_ = nullptr;  // null for read-only files
  bool write_through_ = false;
};

IndexService::IndexService(FileSystem* fs, std::string dir, IndexConfig cfg,
                           std::function<int64_t()> now_ms)
    : fs_(fs), dir_(std::move(dir)), cfg_(cfg), now_ms_(std::move(now_ms)) {}

IndexService::~IndexService() { Close(); }

absl::Status IndexService::Load() {
  Close();
  if (cfg_.max_hash_slot_num < 1 || cfg_.max_index_num < 2 ||
      cfg_.max_hash_slot_num > uint32_t{std::numeric_limits<int32_t>::max()} ||
      cfg_.max_index_num > uint32_t{std::numeric_limits<int32_t>::max()}) {
    return absl::InvalidArgumentError(
        fmt::format("index: need 1 <= max_hash_slot_num ({}) and 2 "
                    "<= max_index_num ({}), both < 2^31",
                    cfg_.max_hash_slot_num, cfg_.max_index_num));
  }
  STELE_RETURN_IF_ERROR(fs_->CreateDirs(dir_));
  STELE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->List(dir_));
  std::sort(names.begin(), names.end());

  const uint64_t size = FileSize(cfg_);
  std::vector<std::string> good;
  bool dir_changed = false;
  for (const std::string& name : names) {
    const std::string path = dir_ + "/" + name;
    if (!IsIndexName(name)) {
      std::string_view base(name);
      if (base.ends_with(kTmpSuffix) &&
          IsIndexName(base.substr(0, base.size() - kTmpSuffix.size()))) {
        log::Info("index: removing {}, left by an interrupted file creation", path);
        STELE_RETURN_IF_ERROR(fs_->Delete(path));
        dir_changed = true;
      } else {
        log::Warn("index: ignoring foreign file {}", path);
      }
      continue;
    }
    std::string problem;
    STELE_ASSIGN_OR_RETURN(uint64_t actual, fs_->FileSize(path));
    if (actual != size) {
      problem = fmt::format("size {} but the config needs {}", actual, size);
    } else {
      STELE_ASSIGN_OR_RETURN(auto f, fs_->Open(path, OpenOptions{.read_only = true}));
      char header[kHeaderSize];
      STELE_ASSIGN_OR_RETURN(size_t got, f->ReadAt(0, header, kHeaderSize));
      problem = got == kHeaderSize ? HeaderProblem(header, cfg_) : "short header";
    }
    if (problem.empty()) {
      good.push_back(name);
      continue;
    }
    log::Warn("index: {} is unusable ({}); renaming it to {}{}", path, problem, name,
              kCorruptSuffix);
    STELE_RETURN_IF_ERROR(fs_->Rename(path, path + std::string(kCorruptSuffix)));
    dir_changed = true;
  }
  if (dir_changed) STELE_RETURN_IF_ERROR(fs_->SyncDir(dir_));

  std::vector<std::shared_ptr<IndexFile>> files;
  for (size_t i = 0; i < good.size(); ++i) {
    const bool newest = i + 1 == good.size();
    auto f = std::make_shared<IndexFile>(good[i], dir_ + "/" + good[i], cfg_);
    STELE_ASSIGN_OR_RETURN(auto file, fs_->Open(f->path(), OpenOptions{.read_only = !newest}));
    STELE_RETURN_IF_ERROR(newest ? f->AttachWritable(std::move(file))
                                 : f->AttachReadOnly(std::move(file)));
    files.push_back(std::move(f));
  }
  log::Info("index: loaded {} file(s) from {}", files.size(), dir_);
  std::lock_guard<std::mutex> l(mu_);
  files_ = std::move(files);
  dirty_.clear();
  failed_ = absl::OkStatus();
  open_ = true;
  return absl::OkStatus();
}

absl::Status IndexService::Put(std::string_view topic, std::string_view keys,
                               std::string_view uniq_key, int64_t phy_offset,
                               int64_t store_timestamp_ms) {
  if (uniq_key.empty() && keys.find_first_not_of(' ') == std::string_view::npos) {
    return absl::OkStatus();
  }
  std::string key;
  key.reserve(topic.size() + 1 + std::max(uniq_key.size(), keys.size()));
  key.append(topic);
  key.push_back('#');
  const size_t prefix = key.size();

  std::unique_lock<std::mutex> l(mu_);
  if (!open_) return absl::FailedPreconditionError("index: not loaded");
  STELE_RETURN_IF_ERROR(failed_);
  auto put = [&](std::string_view k) {
    key.resize(prefix);
    key.append(k);
    return PutKeyLocked(l, key, phy_offset, store_timestamp_ms);
  };
  if (!uniq_key.empty()) STELE_RETURN_IF_ERROR(put(uniq_key));
  for (size_t pos = 0; pos < keys.size();) {
    size_t end = std::min(keys.find(' ', pos), keys.size());
    if (end > pos) STELE_RETURN_IF_ERROR(put(keys.substr(pos, end - pos)));
    pos = end + 1;
  }
  return absl::OkStatus();
}

absl::Status IndexService::PutKeyLocked(std::unique_lock<std::mutex>& l, std::string_view key,
                                        int64_t phy_offset, int64_t store_timestamp_ms) {
  if (files_.empty() || files_.back()->Full()) STELE_RETURN_IF_ERROR(RollLocked(l));
  const std::shared_ptr<IndexFile>& f = files_.back();
  absl::Status s = f->Append(IndexKeyHash(key), phy_offset, store_timestamp_ms);
  if (!f->dirty) {
    f->dirty = true;
    dirty_.push_back(f);
  }
  if (!s.ok()) {
    log::Error("index: write to {} failed, refusing further writes: {}", f->path(), s.ToString());
    failed_ = s;
  }
  return s;
}

absl::Status IndexService::RollLocked(std::unique_lock<std::mutex>& l) {
  std::string newest;
  int64_t seed_phy = 0;
  int64_t seed_ts = 0;
  if (!files_.empty()) {
    newest = files_.back()->name();
    seed_phy = files_.back()->EndPhyOffset();
    seed_ts = files_.back()->EndTimestamp();
  }
  // Creating a file is slow (fallocate, two fsyncs): do not make queries wait for it. Put has a
  // single caller and nothing else adds files, so files_.back() is still `newest` afterwards.
  l.unlock();
  auto created = CreateFile(newest, seed_phy, seed_ts);
  l.lock();
  if (!created.ok()) {
    log::Error("index: cannot create a new index file in {}: {}", dir_,
               created.status().ToString());
    return created.status();
  }
  if (!open_) return absl::FailedPreconditionError("index: closed");
  log::Info("index: created {}", (*created)->path());
  files_.push_back(*std::move(created));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<IndexFile>> IndexService::CreateFile(const std::string& newest,
                                                                    int64_t seed_phy,
                                                                    int64_t seed_ts) {
  int64_t t = now_ms_();
  std::string name = IndexFileName(t);
  bool from_clock = true;
  for (int tries = 0;; ++tries) {
    if (name <= newest) {
      name = IncrementName(newest);
      from_clock = false;
    }
    STELE_ASSIGN_OR_RETURN(bool taken, fs_->Exists(dir_ + "/" + name));
    if (!taken) break;
    if (tries == kMaxNameTries) {
      return absl::AlreadyExistsError(fmt::format("index: no free file name in {}", dir_));
    }
    name = from_clock ? IndexFileName(++t) : IncrementName(name);
  }

  // Built under a temporary name and made durable before it gets its own, so a crash never
  // leaves an index file without a valid header.
  const std::string path = dir_ + "/" + name;
  const std::string tmp = path + std::string(kTmpSuffix);
  absl::Status s = [&]() -> absl::Status {
    STELE_ASSIGN_OR_RETURN(auto f, fs_->Open(tmp, OpenOptions{.create = true, .truncate = true}));
    // Reserved blocks: a store into the mapping cannot SIGBUS on a full disk.
    STELE_RETURN_IF_ERROR(f->Allocate(0, FileSize(cfg_)));
    int64_t ts = seed_ts > 0 ? seed_ts : 0;
    int64_t phy = seed_phy > 0 ? seed_phy : 0;
    STELE_RETURN_IF_ERROR(f->WriteAt(0, EncodeHeader(ts, ts, phy, phy, 0, 1)));
    STELE_RETURN_IF_ERROR(f->Sync());
    STELE_RETURN_IF_ERROR(fs_->Rename(tmp, path));
    return fs_->SyncDir(dir_);
  }();
  if (!s.ok()) {
    (void)fs_->Delete(tmp);  // best effort: Load removes a leftover anyway
    return s;
  }
  auto file = std::make_shared<IndexFile>(name, path, cfg_);
  STELE_ASSIGN_OR_RETURN(auto f, fs_->Open(path, OpenOptions{}));
  STELE_RETURN_IF_ERROR(file->AttachWritable(std::move(f)));
  return file;
}

absl::Status IndexService::Sync() {
  std::lock_guard<std::mutex> sl(sync_mu_);
  std::vector<std::shared_ptr<IndexFile>> todo;
  {
    std::lock_guard<std::mutex> l(mu_);
    STELE_RETURN_IF_ERROR(failed_);
    todo.swap(dirty_);
    for (const auto& f : todo) f->dirty = false;
  }
  for (const auto& f : todo) {
    absl::Status s = f->Sync();
    if (!s.ok()) {
      log::Error("index: sync of {} failed, refusing further writes: {}", f->path(), s.ToString());
      std::lock_guard<std::mutex> l(mu_);
      failed_ = s;
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> IndexService::RepairAfterCrash(int64_t from) {
  std::lock_guard<std::mutex> sl(sync_mu_);
  std::lock_guard<std::mutex> l(mu_);
  if (!open_) return absl::FailedPreconditionError("index: not loaded");
  int64_t dropped = 0;
  for (size_t i = files_.size(); i-- > 0;) {
    // Entries only grow in commit-log order and a file starts at or after where the one before it
    // ended, so once a file's successor starts below `from`, it and all before it were last
    // written before the Sync that made `from` durable: nothing unsynced can have damaged them.
    if (i + 1 < files_.size() && files_[i + 1]->BeginPhyOffset() < from) break;
    std::shared_ptr<IndexFile>& f = files_[i];
    if (!f->writable()) {
      auto w = std::make_shared<IndexFile>(f->name(), f->path(), cfg_);
      STELE_ASSIGN_OR_RETURN(auto file, fs_->Open(f->path(), OpenOptions{}));
      STELE_RETURN_IF_ERROR(w->AttachWritable(std::move(file)));
      f = std::move(w);
    }
    uint32_t wrong_slots = 0;
    STELE_ASSIGN_OR_RETURN(uint32_t n, f->Repair(from, &wrong_slots));
    if (n > 0 || wrong_slots > 0) {
      log::Warn(
          "index: {} after the crash: dropped {} entries (damaged, or at or after commit-log "
          "offset {}, which is indexed again), rebuilt {} hash slots",
          f->path(), n, from, wrong_slots);
    }
    dropped += n;
  }
  return dropped;
}

std::vector<std::shared_ptr<IndexFile>> IndexService::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  return files_;
}

std::vector<int64_t> IndexService::Query(std::string_view topic, std::string_view key,
                                         size_t max_num, int64_t begin_ms, int64_t end_ms) const {
  std::vector<int64_t> out;
  if (max_num == 0 || begin_ms > end_ms) return out;
  const std::vector<std::shared_ptr<IndexFile>> files = Snapshot();
  const int32_t hash = IndexKeyHash(fmt::format("{}#{}", topic, key));
  std::unordered_set<int64_t> seen;
  for (auto it = files.rbegin(); it != files.rend() && out.size() < max_num; ++it) {
    (*it)->Select(hash, begin_ms, end_ms, max_num, &out, &seen);
  }
  return out;
}

absl::StatusOr<int> IndexService::DeleteFilesBelow(int64_t min_phy_offset) {
  std::vector<std::shared_ptr<IndexFile>> victims;
  {
    std::lock_guard<std::mutex> l(mu_);
    size_t n = 0;
    while (n + 1 < files_.size() && files_[n]->EndPhyOffset() < min_phy_offset) ++n;
    victims.assign(files_.begin(), files_.begin() + static_cast<ptrdiff_t>(n));
    files_.erase(files_.begin(), files_.begin() + static_cast<ptrdiff_t>(n));
  }
  if (victims.empty()) return 0;
  // Unlinking a large file can take a while, so it happens outside mu_. A file whose unlink fails
  // stays out of the index anyway (it is below the retention mark); Load will retry it later.
  int deleted = 0;
  absl::Status first_error;
  for (const auto& f : victims) {
    absl::Status s = fs_->Delete(f->path());
    if (s.ok()) {
      ++deleted;
      log::Info("index: deleted {} (endPhyOffset {} < {})", f->path(), f->EndPhyOffset(),
                min_phy_offset);
    } else {
      log::Error("index: cannot delete {}: {}", f->path(), s.ToString());
      if (first_error.ok()) first_error = s;
    }
  }
  absl::Status s = fs_->SyncDir(dir_);
  if (first_error.ok()) first_error = s;
  STELE_RETURN_IF_ERROR(first_error);
  return deleted;
}

size_t IndexService::FileCount() const {
  std::lock_guard<std::mutex> l(mu_);
  return files_.size();
}

int64_t IndexService::TotalEntries() const {
  int64_t n = 0;
  for (const auto& f : Snapshot()) n += int64_t{f->IndexCount()} - 1;
  return n;
}

void IndexService::Close() {
  std::lock_guard<std::mutex> l(mu_);
  files_.clear();
  dirty_.clear();
  open_ = false;
}

}  // namespace stele::index
