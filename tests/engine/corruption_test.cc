// Corruption and truncation matrix (ref/reliability.md, P0-4 (c)).
//
// Each case writes a store with known content (keeping every AppendResult and the exact bytes of
// every record), shuts it down cleanly or "crashes" it, damages its files directly on disk (POSIX
// calls, not the engine's FileSystem; one case uses the memory backend, see there), reopens it and
// checks that:
//   - whatever was acknowledged and is intact reads back byte for byte;
//   - damaged bytes are never served, and what recovery cuts off is never dropped silently (it is
//     copied to <root>/quarantine/ and counted in RecoveryReport::truncated_bytes);
//   - the store continues the right sequences: the next append lands where the log now ends and
//     takes the next queue offset of its queue.
//
// A crash is simulated by running the store on an io::FaultInjectionFS and deactivating it before
// destroying the store: Close() can then neither write a checkpoint nor remove the abort marker,
// while the files keep everything written (a process crash, not a power loss). Checkpoints are
// written only at open and close here (checkpoint_interval_ms is huge), so after a crash recovery
// scans everything appended in the crashed session.
#include "stele/store.h"

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/checkpoint.h"
#include "io/fault_fs.h"
#include "testutil.h"

namespace stele {
namespace {

namespace stdfs = std::filesystem;
using testing::Backend;
using testing::Body;
using testing::TempDir;

constexpr int64_t kSeg = 256 * 1024;  // SmallOptions' segment size
constexpr uint32_t kMagicV1 = 0xDAA320A7u;
constexpr uint32_t kMagicV2 = 0xDAA320ABu;
constexpr uint32_t kBlankMagic = 0xCBD43194u;
// Record layout with IPv4 born and store hosts (what these tests write); see engine/record.h.
constexpr size_t kQueueIdPos = 12;
constexpr size_t kQueueOffsetPos = 20;
constexpr size_t kPhysicalOffsetPos = 28;
constexpr size_t kSysFlagPos = 36;
constexpr size_t kBodyLenPos = 84;
constexpr size_t kBodyPos = 88;
constexpr size_t kCrcTailLen = 20;  // "__CRC32#\x01" + 10 digits + "\x02"

// One acknowledged append and the record exactly as the store wrote it.
struct Rec {
  std::string topic;
  int32_t queue_id = 0;
  std::string body;
  AppendResult ack;
  std::string bytes;
  int64_t start() const { return ack.wrote_offset; }
  int64_t end() const { return ack.wrote_offset + ack.wrote_bytes; }
  size_t topic_len_pos() const { return kBodyPos + body.size(); }
  size_t props_len_pos() const { return topic_len_pos() + 1 + topic.size(); }
  size_t props_pos() const { return props_len_pos() + 2; }
};

enum class Shutdown { kClean, kCrash };

std::string Be16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string Be32(uint32_t v) { return Be16(static_cast<uint16_t>(v >> 16)) + Be16(v & 0xFFFF); }
std::string Be64(uint64_t v) {
  return Be32(static_cast<uint32_t>(v >> 32)) + Be32(static_cast<uint32_t>(v));
}
uint32_t LoadBe32(std::string_view s, size_t pos) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}

std::string SegName(int64_t start) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(start));
  return buf;
}
std::string SegPath(const std::string& root, int64_t start) {
  return root + "/commitlog/" + SegName(start);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

// Overwrites bytes of an existing file in place.
void Pwrite(const std::string& path, int64_t off, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(off));
  ::close(fd);
  ASSERT_EQ(n, static_cast<ssize_t>(data.size())) << path;
}

// Overwrites commit-log bytes at `offset` (within one segment) of the closed store at `root`.
void PokeLog(const std::string& root, int64_t offset, std::string_view data) {
  ASSERT_LE(offset % kSeg + static_cast<int64_t>(data.size()), kSeg);
  Pwrite(SegPath(root, offset - offset % kSeg), offset % kSeg, data);
}

void ZeroLog(const std::string& root, int64_t from, int64_t to) {
  PokeLog(root, from, std::string(static_cast<size_t>(to - from), '\0'));
}

// XORs one bit of the commit-log byte at `offset`.
void FlipBit(const std::string& root, int64_t offset, int bit) {
  std::string seg = ReadFile(SegPath(root, offset - offset % kSeg));
  ASSERT_EQ(seg.size(), static_cast<size_t>(kSeg));
  char c = static_cast<char>(seg[static_cast<size_t>(offset % kSeg)] ^ (1 << bit));
  PokeLog(root, offset, std::string_view(&c, 1));
}

void CopyTree(const std::string& from, const std::string& to) {
  stdfs::remove_all(to);
  stdfs::copy(from, to, stdfs::copy_options::recursive);
}

// Starts of the segment files in <root>/commitlog, sorted.
std::vector<int64_t> Segments(const std::string& root) {
  std::vector<int64_t> out;
  for (const auto& e : stdfs::directory_iterator(root + "/commitlog")) {
    std::string name = e.path().filename().string();
    if (name.size() == 20 &&
        std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      out.push_back(std::stoll(name));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The quarantine files of `root`, keyed by the commit-log offset of their first byte.
std::map<int64_t, std::string> Quarantine(const std::string& root) {
  std::map<int64_t, std::string> out;
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator(root + "/quarantine", ec)) {
    std::string name = e.path().filename().string();
    if (name.size() != 34 || !name.starts_with("commitlog-") || !name.ends_with(".bin")) {
      ADD_FAILURE() << "unexpected quarantine file " << name;
      continue;
    }
    out[std::stoll(name.substr(10, 20))] = ReadFile(e.path().string());
  }
  return out;
}

// What quarantine holds for the commit-log range [offset, offset + len), if anything.
std::optional<std::string> Quarantined(const std::map<int64_t, std::string>& q, int64_t offset,
                                       size_t len) {
  auto it = q.upper_bound(offset);
  if (it == q.begin()) return std::nullopt;
  --it;
  const size_t rel = static_cast<size_t>(offset - it->first);
  if (rel + len > it->second.size()) return std::nullopt;
  return it->second.substr(rel, len);
}

// One past the last non-zero byte.
size_t NonZeroEnd(std::string_view s) {
  size_t n = s.size();
  while (n > 0 && s[n - 1] == '\0') --n;
  return n;
}

using QueueKey = std::pair<std::string, int32_t>;

// The next queue offset of every queue in `recs` once only recs[0, n) are in the log.
std::map<QueueKey, int64_t> ExpectedQueues(const std::vector<Rec>& recs, size_t n) {
  std::map<QueueKey, int64_t> next;
  for (const Rec& r : recs) next.emplace(QueueKey(r.topic, r.queue_id), 0);
  for (size_t i = 0; i < n; ++i) {
    next[QueueKey(recs[i].topic, recs[i].queue_id)] = recs[i].ack.queue_offset + 1;
  }
  return next;
}

// Which record field byte `pos` of `r` belongs to (for failure reports).
std::string FieldAt(const Rec& r, size_t pos) {
  static const std::pair<size_t, const char*> kHeader[] = {
      {0, "TOTALSIZE"},       {4, "MAGICCODE"},
      {8, "BODYCRC"},         {12, "QUEUEID"},
      {16, "FLAG"},           {20, "QUEUEOFFSET"},
      {28, "PHYSICALOFFSET"}, {36, "SYSFLAG"},
      {40, "BORNTIMESTAMP"},  {48, "BORNHOST"},
      {56, "STORETIMESTAMP"}, {64, "STOREHOST"},
      {72, "RECONSUMETIMES"}, {76, "PREPAREDTRANSACTIONOFFSET"},
      {84, "BODY length"}};
  if (pos < kBodyPos) {
    const char* name = "?";
    for (const auto& [at, n] : kHeader) {
      if (at <= pos) name = n;
    }
    return name;
  }
  if (pos < r.topic_len_pos()) return "BODY";
  if (pos < r.topic_len_pos() + 1) return "TOPIC length";
  if (pos < r.props_len_pos()) return "TOPIC";
  if (pos < r.props_pos()) return "PROPERTIES length";
  if (pos < r.bytes.size() - kCrcTailLen) return "PROPERTIES (user part)";
  return "PROPERTIES (__CRC32# tail)";
}

class CorruptionTest : public ::testing::Test {
 protected:
  std::shared_ptr<FileSystem> posix_ = NewPosixFileSystem();
  TempDir dir_;
  std::string root_ = dir_.path() + "/store";
  std::string work_ = dir_.path() + "/work";
  Preallocate preallocate_ = Preallocate::kAuto;
  std::shared_ptr<io::FaultInjectionFS> fault_;

  StoreOptions Options(const std::string& root, std::shared_ptr<FileSystem> fs = nullptr) const {
    StoreOptions o = testing::SmallOptions(root, fs ? std::move(fs) : posix_);
    o.checkpoint_interval_ms = 1 << 30;  // checkpoints only at open and close: deterministic
    o.preallocate = preallocate_;
    return o;
  }

  absl::StatusOr<std::unique_ptr<Store>> Reopen(const std::string& root) {
    return Store::Open(Options(root));
  }

  // Opens `root` on a fault-injecting wrapper of `base` (POSIX by default), so that the session
  // can end in a crash.
  std::unique_ptr<Store> StartSession(const std::string& root,
                                      std::shared_ptr<FileSystem> base = nullptr) {
    fault_ = std::make_shared<io::FaultInjectionFS>(base ? std::move(base) : posix_, /*seed=*/1);
    auto s = Store::Open(Options(root, fault_));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // Appends record number recs->size() (its topic, queue and body follow from that number).
  void AppendRec(Store& store, std::vector<Rec>* recs, size_t body_size) {
    const int i = static_cast<int>(recs->size());
    Rec r;
    r.topic = i % 2 == 0 ? "TopicA" : "TopicB";
    r.queue_id = i % 3;
    r.body = Body(/*seed=*/42, static_cast<uint64_t>(i), body_size);
    auto res = store.Append(
        Message{.topic = r.topic, .queue_id = r.queue_id, .body = r.body, .tags = "TagA"});
    ASSERT_TRUE(res.ok()) << res.status();
    ASSERT_EQ(res->status, PutMessageStatus::kPutOk);
    r.ack = *res;
    auto rd = store.Read(r.start());
    ASSERT_TRUE(rd.ok()) << rd.status();
    r.bytes = std::string(rd->bytes);
    recs->push_back(std::move(r));
  }

  void EndSession(std::unique_ptr<Store> store, Shutdown how) {
    if (how == Shutdown::kClean) {
      EXPECT_TRUE(store->Close().ok());
      return;
    }
    fault_->Deactivate();
    store.reset();  // Close() fails: no checkpoint, the abort marker stays
    fault_->Activate();
  }

  // One session that appends `n` records (record i with a body of body_size(i) bytes) and ends
  // with `how`. Returns the log end.
  int64_t Session(const std::string& root, Shutdown how, int n,
                  const std::function<size_t(int)>& body_size, std::vector<Rec>* recs) {
    auto store = StartSession(root);
    if (store == nullptr) return -1;
    for (int k = 0; k < n && !::testing::Test::HasFatalFailure(); ++k) {
      AppendRec(*store, recs, body_size(static_cast<int>(recs->size())));
    }
    const int64_t end = store->MaxOffset();
    EndSession(std::move(store), how);
    return end;
  }

  // Records whose bodies of 2000..4999 bytes fill about 3.5 segments with 300 records.
  static size_t MediumBody(int i) { return 2000 + static_cast<size_t>(i) * 7919 % 3000; }
  static size_t SmallBody(int i) { return 60 + static_cast<size_t>(i) * 13 % 90; }

  // recs[0, n) read back byte for byte (but `skip`), and every queue stands right after them.
  static void ExpectIntact(const Store& store, const std::vector<Rec>& recs, size_t n,
                           std::optional<size_t> skip = std::nullopt) {
    int bad = 0;
    for (size_t i = 0; i < n; ++i) {
      if (skip == i) continue;
      auto rd = store.Read(recs[i].start());
      if (!rd.ok() || rd->bytes != recs[i].bytes) {
        if (++bad <= 5) {
          ADD_FAILURE() << "record " << i << " at offset " << recs[i].start() << " "
                        << (rd.ok() ? std::string("differs") : rd.status().ToString());
        }
      }
    }
    EXPECT_EQ(bad, 0) << "records not read back intact";
    for (const auto& [key, next] : ExpectedQueues(recs, n)) {
      EXPECT_EQ(store.NextQueueOffset(key.first, key.second), next)
          << "queue " << key.first << "/" << key.second;
    }
  }

  // The next append to `lost`'s queue lands at `offset` and takes `lost`'s queue offset.
  static void ExpectResumesWith(Store& store, const Rec& lost, int64_t offset) {
    const std::string body = "appended after recovery";
    auto r = store.Append(Message{.topic = lost.topic, .queue_id = lost.queue_id, .body = body});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->wrote_offset, offset);
    EXPECT_EQ(r->queue_offset, lost.ack.queue_offset);
    auto rd = store.Read(r->wrote_offset);
    ASSERT_TRUE(rd.ok()) << rd.status();
    EXPECT_EQ(rd->msg.body, body);
  }

  // Case 1: reopens `root`, whose records recs[k..] were torn (recs[k] keeps its first `cut`
  // bytes, everything after them is zero) and returns what went wrong ("" if nothing).
  std::string CheckTornAt(const std::string& root, const std::vector<Rec>& recs, size_t k,
                          size_t cut);
};

// ---- 1. A torn tail: the last records cut at every byte --------------------------------------

std::string CorruptionTest::CheckTornAt(const std::string& root, const std::vector<Rec>& recs,
                                        size_t k, size_t cut) {
  const Rec& victim = recs[k];
  auto opened = Reopen(root);
  if (!opened.ok()) return "open failed: " + opened.status().ToString();
  Store& store = **opened;
  std::ostringstream err;
  if (store.MaxOffset() != victim.start()) {
    err << "log ends at " << store.MaxOffset() << ", not at the torn record's start "
        << victim.start() << " (the torn record was accepted)";
    return err.str();
  }
  for (size_t i = 0; i < k; ++i) {
    auto rd = store.Read(recs[i].start());
    if (!rd.ok() || rd->bytes != recs[i].bytes) err << "record " << i << " not intact; ";
  }
  for (const auto& [key, next] : ExpectedQueues(recs, k)) {
    int64_t got = store.NextQueueOffset(key.first, key.second);
    if (got != next) err << "queue " << key.first << "/" << key.second << " next " << got << "; ";
  }
  // The non-zero part of the kept prefix is garbage: quarantined, then zeroed. (A prefix of only
  // zero bytes, e.g. the high bytes of a small TOTALSIZE, is indistinguishable from "never
  // written" and leaves nothing to quarantine.)
  const std::string garbage = victim.bytes.substr(0, NonZeroEnd(victim.bytes.substr(0, cut)));
  const uint64_t truncated = store.recovery_report().truncated_bytes;
  if (truncated != garbage.size()) {
    err << "truncated_bytes " << truncated << " != " << garbage.size() << "; ";
  }
  auto q = Quarantine(root);
  if (garbage.empty()
          ? !q.empty()
          : q.size() != 1 || q.begin()->first != victim.start() || q.begin()->second != garbage) {
    err << "quarantine holds " << q.size() << " file(s), not exactly the torn prefix; ";
  }
  auto r = store.Append(Message{.topic = victim.topic, .queue_id = victim.queue_id, .body = "x"});
  if (!r.ok()) {
    err << "append failed: " << r.status() << "; ";
  } else if (r->wrote_offset != victim.start() || r->queue_offset != victim.ack.queue_offset) {
    err << "next append at " << r->wrote_offset << " queue offset " << r->queue_offset << "; ";
  } else if (auto rd = store.Read(r->wrote_offset); !rd.ok() || rd->msg.body != "x") {
    err << "next append not readable; ";
  }
  if (absl::Status st = store.Close(); !st.ok()) err << "close: " << st << "; ";
  return err.str();
}

TEST_F(CorruptionTest, TornTailAtEveryByteOfTheLastRecords) {
  // 40 small records in segment 0, then a crash: recovery scans all of them.
  std::vector<Rec> recs;
  const int64_t end = Session(root_, Shutdown::kCrash, 40, SmallBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_LT(end, kSeg);
  ASSERT_EQ(end, recs.back().end());

  struct FieldStats {
    size_t first_cut;
    int failed = 0;
    int total = 0;
  };
  std::map<std::string, FieldStats> by_field;
  std::vector<std::string> failures;
  // The last record torn at every byte; for the two before it, a torn write that also lost every
  // record after them (group commit writes many records at once).
  // Under the sanitizers (several times slower) only the last record is cut at every byte: that
  // build is there for memory errors in recovery, which the last record's cuts reach as well; the
  // Release build runs all three.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  const size_t first_victim = recs.size() - 1;
#else
  const size_t first_victim = recs.size() - 3;
#endif
  for (size_t k = first_victim; k < recs.size(); ++k) {
    const Rec& victim = recs[k];
    ASSERT_GT(victim.ack.queue_offset, 0);  // a zeroed topic cannot pass as a new queue's first
    for (size_t cut = 1; cut < victim.bytes.size(); ++cut) {
      CopyTree(root_, work_);
      ZeroLog(work_, victim.start() + static_cast<int64_t>(cut), end);
      ASSERT_FALSE(HasFatalFailure());
      std::string err = CheckTornAt(work_, recs, k, cut);
      std::string field = FieldAt(victim, cut);
      auto& st = by_field.try_emplace(field, FieldStats{cut}).first->second;
      ++st.total;
      if (!err.empty()) {
        ++st.failed;
        failures.push_back("record " + std::to_string(k) + " (" +
                           std::to_string(victim.bytes.size()) + " bytes) cut at " +
                           std::to_string(cut) + " [" + field + "]: " + err);
      }
    }
  }
  std::ostringstream summary;
  summary << failures.size() << " torn positions mishandled. Failing cuts by field of the first "
          << "zeroed byte:\n";
  std::vector<std::pair<std::string, FieldStats>> fields(by_field.begin(), by_field.end());
  std::sort(fields.begin(), fields.end(),
            [](const auto& a, const auto& b) { return a.second.first_cut < b.second.first_cut; });
  for (const auto& [field, st] : fields) {
    if (st.failed > 0) summary << "  " << field << ": " << st.failed << " of " << st.total << "\n";
  }
  for (size_t i = 0; i < failures.size() && i < 12; ++i) summary << "  " << failures[i] << "\n";
  EXPECT_TRUE(failures.empty()) << summary.str();
}

// ---- 2. Properties torn with the body intact (RocketMQ #7437) --------------------------------

TEST_F(CorruptionTest, TornPropertiesTailIsDetected) {
  std::vector<Rec> recs;
  Session(root_, Shutdown::kCrash, 20, SmallBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  const Rec& victim = recs.back();
  // The last 10 bytes (the CRC digits and the final separator) never reached the file; TOTALSIZE,
  // the body and its CRC, and every length field are intact.
  ZeroLog(root_, victim.end() - 10, victim.end());
  auto s = Reopen(root_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->MaxOffset(), victim.start()) << "a record with a torn properties tail was kept";
  ExpectIntact(**s, recs, recs.size() - 1);
  EXPECT_EQ((*s)->recovery_report().truncated_bytes, victim.bytes.size() - 10);
  EXPECT_EQ(Quarantined(Quarantine(root_), victim.start(), victim.bytes.size() - 10),
            victim.bytes.substr(0, victim.bytes.size() - 10));
  ExpectResumesWith(**s, victim, victim.start());
}

TEST_F(CorruptionTest, TornPropertiesIncludingTheWholeCrcPropertyAreDetected) {
  std::vector<Rec> recs;
  Session(root_, Shutdown::kCrash, 20, SmallBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  const Rec& victim = recs.back();
  // Everything after the PROPERTIES length field was lost: user properties and the __CRC32#
  // property. The body and all length fields are intact, so only the missing record CRC (which the
  // store always writes: enabled_append_prop_crc) can tell.
  ZeroLog(root_, victim.start() + static_cast<int64_t>(victim.props_pos()), victim.end());
  auto s = Reopen(root_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->MaxOffset(), victim.start()) << "a record with torn properties was kept";
  ExpectIntact(**s, recs, recs.size() - 1);
  EXPECT_EQ((*s)->recovery_report().truncated_bytes, victim.props_pos());
  if ((*s)->MaxOffset() != victim.start()) {
    auto rd = (*s)->Read(victim.start());
    if (rd.ok()) {
      ADD_FAILURE() << "the torn record is served: TAGS=" << rd->msg.Property("TAGS").value_or("-")
                    << " properties length " << rd->msg.properties.size();
    }
    return;
  }
  ExpectResumesWith(**s, victim, victim.start());
}

// ---- 3 and 4. A bit flip in the body of a middle record of a sealed segment ----------------

// Index of the first record that starts in the second half of segment 0.
size_t MiddleOfSegment0(const std::vector<Rec>& recs) {
  size_t v = 0;
  while (v < recs.size() && recs[v].start() < kSeg / 2) ++v;
  return v;
}

TEST_F(CorruptionTest, BitFlipInSealedSegmentAfterCleanCloseIsReportedOnRead) {
  // Behaviour: after a clean shutdown recovery starts at the checkpoint (the log end) and does not
  // re-verify sealed data, so the store opens without noticing; nothing is truncated or moved to
  // quarantine. The damage shows when the record is read: Store::Read verifies the record CRC and
  // returns DataLoss naming the offset instead of serving the record. Every other record, before
  // and after it, stays readable, and appends continue at the end. (The raw bytes stay available
  // through ReadBytes for tools.)
  std::vector<Rec> recs;
  const int64_t end = Session(root_, Shutdown::kClean, 300, MediumBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_GT(end, 3 * kSeg);
  const size_t v = MiddleOfSegment0(recs);
  const Rec& victim = recs[v];
  ASSERT_LT(victim.end(), kSeg);
  ASSERT_LT(v + 1, recs.size());
  ASSERT_LT(recs[v + 1].end(), kSeg);  // a record after it in the same segment
  FlipBit(root_, victim.start() + static_cast<int64_t>(kBodyPos + victim.body.size() / 2), 3);

  auto s = Reopen(root_);
  ASSERT_TRUE(s.ok()) << s.status();
  Store& store = **s;
  const RecoveryReport& rep = store.recovery_report();
  EXPECT_TRUE(rep.clean_shutdown);
  EXPECT_EQ(rep.bytes_scanned, 0u);
  EXPECT_EQ(rep.truncated_bytes, 0u);
  EXPECT_EQ(store.MaxOffset(), end);
  auto rd = store.Read(victim.start());
  EXPECT_TRUE(absl::IsDataLoss(rd.status())) << rd.status();
  EXPECT_NE(rd.status().message().find(std::to_string(victim.start())), std::string::npos)
      << rd.status();
  ExpectIntact(store, recs, recs.size(), /*skip=*/v);
  auto raw = store.ReadBytes(victim.start(), victim.ack.wrote_bytes);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_NE(*raw, victim.bytes);
  Rec next_in_queue = victim;  // the next append to that queue continues its sequence
  next_in_queue.ack.queue_offset =
      ExpectedQueues(recs, recs.size())[{victim.topic, victim.queue_id}];
  ExpectResumesWith(store, next_in_queue, end);
}

TEST_F(CorruptionTest, BitFlipScannedAfterCrashStopsRecoveryAndQuarantinesTheRest) {
  // Recovery scans across the flipped record: the log ends there. Every acknowledged record after
  // it (the rest of segment 0 and all later segments) must be preserved byte for byte under
  // <root>/quarantine/, never silently dropped.
  std::vector<Rec> recs;
  const int64_t end = Session(root_, Shutdown::kCrash, 300, MediumBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_GT(end, 3 * kSeg);
  const size_t v = MiddleOfSegment0(recs);
  ASSERT_LT(recs[v].end(), kSeg);
  const int64_t flip_at =
      recs[v].start() + static_cast<int64_t>(kBodyPos + recs[v].body.size() / 2);
  FlipBit(root_, flip_at, 3);
  std::string flipped = recs[v].bytes;
  flipped[static_cast<size_t>(flip_at - recs[v].start())] ^= 1 << 3;

  auto s = Reopen(root_);
  ASSERT_TRUE(s.ok()) << s.status();
  Store& store = **s;
  const RecoveryReport& rep = store.recovery_report();
  EXPECT_FALSE(rep.clean_shutdown);
  EXPECT_EQ(rep.scan_start_offset, 0);
  EXPECT_EQ(store.MaxOffset(), recs[v].start());
  ExpectIntact(store, recs, v);

  uint64_t cut_off = 0;
  std::map<int64_t, int> lost_by_segment;
  auto q = Quarantine(root_);
  for (size_t i = v; i < recs.size(); ++i) {
    cut_off += recs[i].bytes.size();
    const std::string& want = i == v ? flipped : recs[i].bytes;
    if (Quarantined(q, recs[i].start(), want.size()) != want) {
      ++lost_by_segment[recs[i].start() - recs[i].start() % kSeg];
    }
  }
  std::ostringstream lost;
  for (const auto& [seg, n] : lost_by_segment) lost << " segment " << seg << ": " << n << ";";
  EXPECT_TRUE(lost_by_segment.empty())
      << "acknowledged records after the damaged one are in no quarantine file (" << q.size()
      << " files):" << lost.str();
  EXPECT_GE(rep.truncated_bytes, cut_off);
  ExpectResumesWith(store, recs[v], recs[v].start());
}

// ---- 5. Damaged header fields of the first record after the checkpoint ---------------------

struct HeaderDamage {
  const char* name;
  std::function<void(const Rec&, std::string*)> apply;  // edits the record's bytes
};

std::vector<HeaderDamage> HeaderDamages() {
  auto put = [](size_t pos, std::string v) {
    return [pos, v](const Rec&, std::string* b) { b->replace(pos, v.size(), v); };
  };
  return {
      {"magic garbage", put(4, Be32(0xDEADBEEF))},
      {"magic of a BLANK record", put(4, Be32(kBlankMagic))},
      {"magic v2 on a v1 record", put(4, Be32(kMagicV2))},
      {"TOTALSIZE and magic zero", put(0, std::string(8, '\0'))},
      {"TOTALSIZE 0", put(0, Be32(0))},
      {"TOTALSIZE 4", put(0, Be32(4))},
      {"TOTALSIZE 60 (inside the header)", put(0, Be32(60))},
      {"TOTALSIZE negative", put(0, Be32(0x80000000u))},
      {"TOTALSIZE -1", put(0, Be32(0xFFFFFFFFu))},
      {"TOTALSIZE one short",
       [](const Rec& r, std::string* b) { b->replace(0, 4, Be32(r.ack.wrote_bytes - 1)); }},
      {"TOTALSIZE one long",
       [](const Rec& r, std::string* b) { b->replace(0, 4, Be32(r.ack.wrote_bytes + 1)); }},
      {"TOTALSIZE beyond the segment", put(0, Be32(kSeg + 1))},
      {"TOTALSIZE beyond 4 MiB", put(0, Be32((4u << 20) + 100))},
      {"body length beyond the record", put(kBodyLenPos, Be32(0x7FFFFFFFu))},
      {"body length negative", put(kBodyLenPos, Be32(0xFFFFFFFFu))},
      {"topic length beyond the record",
       [](const Rec& r, std::string* b) { (*b)[r.topic_len_pos()] = static_cast<char>(255); }},
      {"properties length beyond the record",
       [](const Rec& r, std::string* b) { b->replace(r.props_len_pos(), 2, Be16(0xFFFF)); }},
      {"queue id 1000", put(kQueueIdPos, Be32(1000))},
      {"queue offset ahead",
       [](const Rec& r, std::string* b) {
         b->replace(kQueueOffsetPos, 8, Be64(static_cast<uint64_t>(r.ack.queue_offset + 5)));
       }},
      {"physical offset off by one",
       [](const Rec& r, std::string* b) {
         b->replace(kPhysicalOffsetPos, 8, Be64(static_cast<uint64_t>(r.start() + 1)));
       }},
      {"born host flagged IPv6",
       [](const Rec&, std::string* b) {
         b->replace(kSysFlagPos, 4, Be32(LoadBe32(*b, kSysFlagPos) | 0x10));
       }},
      {"store host flagged IPv6",
       [](const Rec&, std::string* b) {
         b->replace(kSysFlagPos, 4, Be32(LoadBe32(*b, kSysFlagPos) | 0x20));
       }},
  };
}

TEST_F(CorruptionTest, DamagedHeaderAfterCheckpointStopsRecoveryThere) {
  // Session 1 ends cleanly (checkpoint at e1); session 2 appends 30 more records and crashes, so
  // recovery starts at e1 and the first record it meets is the damaged one.
  std::vector<Rec> recs;
  const int64_t e1 = Session(root_, Shutdown::kClean, 30, SmallBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  const int64_t e2 = Session(root_, Shutdown::kCrash, 30, SmallBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_LT(e2, kSeg);
  const Rec& victim = recs[30];
  ASSERT_EQ(victim.start(), e1);

  for (const HeaderDamage& d : HeaderDamages()) {
    SCOPED_TRACE(d.name);
    std::string damaged = victim.bytes;
    d.apply(victim, &damaged);
    ASSERT_NE(damaged, victim.bytes);
    CopyTree(root_, work_);
    PokeLog(work_, victim.start(), damaged);
    auto s = Reopen(work_);
    ASSERT_TRUE(s.ok()) << s.status();
    Store& store = **s;
    const RecoveryReport& rep = store.recovery_report();
    EXPECT_EQ(rep.scan_start_offset, e1);
    EXPECT_EQ(rep.records_scanned, 0u);
    EXPECT_EQ(store.MaxOffset(), e1);
    ExpectIntact(store, recs, 30);
    // Everything from the damaged record on was acknowledged: all of it is quarantined.
    std::string tail = damaged;
    for (size_t i = 31; i < recs.size(); ++i) tail += recs[i].bytes;
    EXPECT_EQ(rep.truncated_bytes, static_cast<uint64_t>(e2 - e1));
    EXPECT_TRUE(Quarantined(Quarantine(work_), e1, tail.size()) == tail);
    ExpectResumesWith(store, victim, e1);
  }
}

// A record header whose TOTALSIZE is below the fixed header size, at a position with fewer than
// 84 bytes left in the segment: the decoder must not read past the segment. This case runs on the
// memory backend, whose segment buffer is exactly one segment on the heap, so that ASan reports any
// such read deterministically; on POSIX the read would go past the mapping, and whether that
// faults depends on what happens to be mapped next to it.
TEST_F(CorruptionTest, TinyTotalSizeNearTheSegmentEndDoesNotReadPastIt) {
  for (uint32_t total_size : {0u, 4u, 7u}) {
    SCOPED_TRACE("TOTALSIZE " + std::to_string(total_size));
    std::shared_ptr<FileSystem> fs = testing::MakeBackend(Backend::kMemory);
    const std::string root = root_ + std::to_string(total_size);
    std::vector<Rec> recs;
    {
      auto store = StartSession(root, fs);
      ASSERT_NE(store, nullptr);
      while (kSeg - store->MaxOffset() > 3000) {
        AppendRec(*store, &recs, 1500);
        ASSERT_FALSE(HasFatalFailure());
      }
      // One record ending 40 bytes before the segment end, so the next one does not fit and a
      // 40-byte BLANK record closes the segment.
      const size_t overhead = recs.back().bytes.size() - recs.back().body.size();
      const int64_t gap = 40;
      AppendRec(*store, &recs, static_cast<size_t>(kSeg - store->MaxOffset() - gap) - overhead);
      ASSERT_FALSE(HasFatalFailure());
      ASSERT_EQ(recs.back().end(), kSeg - gap);
      AppendRec(*store, &recs, 100);
      ASSERT_FALSE(HasFatalFailure());
      ASSERT_EQ(recs.back().start(), kSeg);
      EndSession(std::move(store), Shutdown::kCrash);
    }
    const int64_t blank_at = recs[recs.size() - 2].end();
    {
      auto f = fs->Open(SegPath(root, 0), OpenOptions{});
      ASSERT_TRUE(f.ok()) << f.status();
      ASSERT_TRUE((*f)->WriteAt(blank_at, Be32(total_size) + Be32(kMagicV1)).ok());
    }
    StoreOptions opts = Options(root, fs);
    auto s = Store::Open(opts);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ((*s)->MaxOffset(), blank_at);
    ExpectIntact(**s, recs, recs.size() - 1);
    EXPECT_GE((*s)->recovery_report().truncated_bytes, 8 + recs.back().bytes.size());
    // The segment is closed by a new BLANK record; the lost record's queue offset is reused.
    ExpectResumesWith(**s, recs.back(), kSeg);
  }
}

// ---- 6. A stale, valid-looking record right after the end -----------------------------------

TEST_F(CorruptionTest, StaleRecordAfterTheEndIsIgnoredAndQuarantined) {
  // As left by a recycled or reused segment (RocketMQ #10017): a complete, CRC-valid record whose
  // PHYSICALOFFSET names where it was first written, not where it now lies.
  std::vector<Rec> recs;
  const int64_t end = Session(root_, Shutdown::kCrash, 30, SmallBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  const Rec& stale = recs[5];
  PokeLog(root_, end, stale.bytes);

  auto s = Reopen(root_);
  ASSERT_TRUE(s.ok()) << s.status();
  Store& store = **s;
  EXPECT_EQ(store.MaxOffset(), end);
  EXPECT_EQ(store.recovery_report().records_scanned, recs.size());
  EXPECT_EQ(store.recovery_report().truncated_bytes, stale.bytes.size());
  auto q = Quarantine(root_);
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q.begin()->first, end);
  EXPECT_TRUE(q.begin()->second == stale.bytes);
  EXPECT_TRUE(absl::IsNotFound(store.Read(end).status()));
  ExpectIntact(store, recs, recs.size());
  // The next append overwrites the (zeroed) stale bytes and reads back as itself.
  Rec next = recs[0];
  next.ack.queue_offset = ExpectedQueues(recs, recs.size())[{next.topic, next.queue_id}];
  ExpectResumesWith(store, next, end);
}

TEST_F(CorruptionTest, StaleRecordAfterACleanEndIsIgnoredAndQuarantined) {
  // After a clean shutdown recovery still validates what follows the checkpointed end (and finds
  // the stale record right there), so it is treated the same way.
  std::vector<Rec> recs;
  const int64_t end = Session(root_, Shutdown::kClean, 30, SmallBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  PokeLog(root_, end, recs[5].bytes);
  auto s = Reopen(root_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->MaxOffset(), end);
  EXPECT_EQ((*s)->recovery_report().records_scanned, 0u);
  EXPECT_EQ((*s)->recovery_report().truncated_bytes, recs[5].bytes.size());
  EXPECT_TRUE(Quarantined(Quarantine(root_), end, recs[5].bytes.size()) == recs[5].bytes);
  EXPECT_TRUE(absl::IsNotFound((*s)->Read(end).status()));
  ExpectIntact(**s, recs, recs.size());
  Rec next = recs[0];
  next.ack.queue_offset = ExpectedQueues(recs, recs.size())[{next.topic, next.queue_id}];
  ExpectResumesWith(**s, next, end);
}

// ---- 7. A missing or damaged checkpoint --------------------------------------------------------

TEST_F(CorruptionTest, UnusableCheckpointFallsBackToAFullScan) {
  std::vector<Rec> recs;
  const int64_t end = Session(root_, Shutdown::kClean, 300, MediumBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_GT(end, 3 * kSeg);  // the scan crosses BLANK records
  const std::string ckp = "/checkpoint";
  const std::string good = ReadFile(root_ + ckp);
  ASSERT_GE(good.size(), 76u);

  std::mt19937_64 rng(7);
  std::string garbage(4096, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  const std::vector<std::pair<const char*, std::function<void(const std::string&)>>> damages = {
      {"missing", [](const std::string& p) { stdfs::remove(p); }},
      {"zero length", [](const std::string& p) { stdfs::resize_file(p, 0); }},
      {"truncated", [](const std::string& p) { stdfs::resize_file(p, 60); }},
      {"garbage", [&](const std::string& p) { WriteFile(p, garbage); }},
      {"all zeros", [&](const std::string& p) { WriteFile(p, std::string(good.size(), '\0')); }},
      {"CRC damaged (safe offset bit)",
       [&](const std::string& p) {
         std::string b = good;
         b[63] ^= 1;  // lowest byte of the safe offset: covered by the CRC
         WriteFile(p, b);
       }},
  };
  for (const auto& [name, damage] : damages) {
    SCOPED_TRACE(name);
    CopyTree(root_, work_);
    damage(work_ + ckp);
    auto s = Reopen(work_);
    ASSERT_TRUE(s.ok()) << s.status();
    Store& store = **s;
    const RecoveryReport& rep = store.recovery_report();
    EXPECT_FALSE(rep.checkpoint_used);
    EXPECT_FALSE(rep.clean_shutdown);
    EXPECT_EQ(rep.scan_start_offset, 0);
    EXPECT_EQ(rep.records_scanned, recs.size());
    EXPECT_EQ(rep.truncated_bytes, 0u);
    EXPECT_EQ(store.MaxOffset(), end);
    ExpectIntact(store, recs, recs.size());
    // Every queue continues its sequence.
    for (const auto& [key, next] : ExpectedQueues(recs, recs.size())) {
      auto r = store.Append(Message{.topic = key.first, .queue_id = key.second, .body = "n"});
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->queue_offset, next) << key.first << "/" << key.second;
    }
  }
}

TEST_F(CorruptionTest, CheckpointWithFutureTimestampsDoesNotMoveTheStoreClock) {
  // A well-formed checkpoint whose timestamps lie ten years ahead (written while the clock was
  // wrong). The data is intact either way, but the store clock must not jump with it: store
  // timestamps never go backwards, so every later message would be dated ten years ahead.
  std::vector<Rec> recs;
  const int64_t end = Session(root_, Shutdown::kClean, 30, SmallBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  auto c = engine::DecodeCheckpoint(ReadFile(root_ + "/checkpoint"));
  ASSERT_TRUE(c.ok()) << c.status();
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const int64_t ten_years_ms = int64_t{10} * 365 * 24 * 3600 * 1000;
  c->physic_msg_timestamp = c->logics_msg_timestamp = now_ms + ten_years_ms;
  WriteFile(root_ + "/checkpoint", engine::EncodeCheckpoint(*c));
  auto s = Reopen(root_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->MaxOffset(), end);
  ExpectIntact(**s, recs, recs.size());
  auto r = (*s)->Append(Message{.topic = "TopicA", .queue_id = 0, .body = "n"});
  ASSERT_TRUE(r.ok()) << r.status();
  const int64_t want = ExpectedQueues(recs, recs.size())[QueueKey("TopicA", 0)];
  EXPECT_EQ(r->queue_offset, want);
  EXPECT_LT(r->store_timestamp, now_ms + 24 * 3600 * 1000)
      << "a future checkpoint timestamp became the store clock";
}

// ---- 8. The abort marker -----------------------------------------------------------------------

TEST_F(CorruptionTest, AbortMarkerPresentOrAbsentConvergesToTheSameState) {
  // With intact files the marker only decides whether the tail past the end is cleaned; the
  // recovered log and queues are the same either way, after a clean close and after a crash.
  for (Shutdown how : {Shutdown::kClean, Shutdown::kCrash}) {
    SCOPED_TRACE(how == Shutdown::kClean ? "clean close" : "crash");
    const std::string base = root_ + (how == Shutdown::kClean ? "-clean" : "-crash");
    std::vector<Rec> recs;
    const int64_t end = Session(base, how, 120, MediumBody, &recs);
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_EQ(stdfs::exists(base + "/abort"), how == Shutdown::kCrash);
    struct Variant {
      const char* name;
      std::function<void(const std::string&)> make;
    };
    const Variant variants[] = {
        {"absent", [](const std::string& p) { stdfs::remove(p); }},
        {"present", [](const std::string& p) { WriteFile(p, "12345\n"); }},
        {"present, empty", [](const std::string& p) { WriteFile(p, ""); }},
    };
    for (const Variant& var : variants) {
      SCOPED_TRACE(var.name);
      CopyTree(base, work_);
      var.make(work_ + "/abort");
      auto s = Reopen(work_);
      ASSERT_TRUE(s.ok()) << s.status();
      EXPECT_EQ((*s)->MaxOffset(), end);
      EXPECT_EQ((*s)->recovery_report().truncated_bytes, 0u);
      ExpectIntact(**s, recs, recs.size());
    }
  }
}

// ---- 9. Missing, misnamed and mis-sized segment files ---------------------------------------

TEST_F(CorruptionTest, SegmentFileProblems) {
  std::vector<Rec> recs;
  const int64_t end = Session(root_, Shutdown::kClean, 300, MediumBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_GT(end, 3 * kSeg);
  ASSERT_GE(Segments(root_).size(), 4u);
  {
    SCOPED_TRACE("middle segment missing");
    CopyTree(root_, work_);
    stdfs::remove(SegPath(work_, kSeg));
    auto s = Reopen(work_);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("gap"), std::string::npos) << s.status();
    EXPECT_NE(s.status().message().find(SegName(kSeg)), std::string::npos) << s.status();
  }
  for (uintmax_t size : {uintmax_t{100000}, uintmax_t{300000}}) {
    SCOPED_TRACE("segment of " + std::to_string(size) + " bytes");
    CopyTree(root_, work_);
    stdfs::resize_file(SegPath(work_, kSeg), size);
    auto s = Reopen(work_);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find(std::to_string(size)), std::string::npos) << s.status();
    EXPECT_NE(s.status().message().find(std::to_string(kSeg)), std::string::npos) << s.status();
  }
  {
    SCOPED_TRACE("stray file");
    CopyTree(root_, work_);
    WriteFile(work_ + "/commitlog/foo.txt", "not a segment");
    auto s = Reopen(work_);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ((*s)->MaxOffset(), end);
    ExpectIntact(**s, recs, recs.size());
    EXPECT_TRUE(stdfs::exists(work_ + "/commitlog/foo.txt"));  // ignored, not deleted
  }
  {
    SCOPED_TRACE("empty last segment");
    CopyTree(root_, work_);
    const int64_t extra = Segments(work_).back() + kSeg;
    WriteFile(SegPath(work_, extra), "");
    auto s = Reopen(work_);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ((*s)->MaxOffset(), end);
    ExpectIntact(**s, recs, recs.size());
    ASSERT_TRUE((*s)->Close().ok());
    // Removed (the segment allocator may have created it again since, at full size).
    if (stdfs::exists(SegPath(work_, extra))) {
      EXPECT_EQ(stdfs::file_size(SegPath(work_, extra)), static_cast<uintmax_t>(kSeg));
    }
  }
}

// ---- 10. A zero-filled tail ---------------------------------------------------------------------

TEST_F(CorruptionTest, ZeroFilledTailIsNormal) {
  for (Preallocate p : {Preallocate::kZeroFill, Preallocate::kFallocate}) {
    SCOPED_TRACE(p == Preallocate::kZeroFill ? "zero-filled segments" : "fallocated segments");
    preallocate_ = p;
    const std::string root = root_ + (p == Preallocate::kZeroFill ? "-zero" : "-falloc");
    std::vector<Rec> recs;
    const int64_t end = Session(root, Shutdown::kCrash, 40, SmallBody, &recs);
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_LT(end, kSeg);
    ZeroLog(root, end, kSeg);  // explicit zeros up to the segment end
    auto s = Reopen(root);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_FALSE((*s)->recovery_report().clean_shutdown);
    EXPECT_EQ((*s)->recovery_report().records_scanned, recs.size());
    EXPECT_EQ((*s)->recovery_report().truncated_bytes, 0u);
    EXPECT_EQ((*s)->MaxOffset(), end);
    EXPECT_FALSE(stdfs::exists(root + "/quarantine"));
    ExpectIntact(**s, recs, recs.size());
  }
}

// ---- 11. A checkpoint beyond the end of the log ------------------------------------------------

TEST_F(CorruptionTest, CheckpointBeyondTheLogEndRefusesToOpen) {
  // The checkpoint vouches for data up to its safe offset; if the segments holding it are gone the
  // store must not open (and then overwrite) as if nothing had been written there.
  std::vector<Rec> recs;
  const int64_t end = Session(root_, Shutdown::kClean, 300, MediumBody, &recs);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_GT(end, 3 * kSeg);
  for (int64_t seg : Segments(root_)) {
    if (seg >= 2 * kSeg) stdfs::remove(SegPath(root_, seg));
  }
  auto s = Reopen(root_);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsDataLoss(s.status())) << s.status();
  EXPECT_NE(s.status().message().find(std::to_string(end)), std::string::npos) << s.status();
  // Nothing was changed: the remaining segments are still there.
  EXPECT_EQ(Segments(root_), (std::vector<int64_t>{0, kSeg}));
}

}  // namespace
}  // namespace stele
