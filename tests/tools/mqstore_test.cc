// mqstore end to end: a store written by the engine, damaged on disk in known ways, checked by
// running the built mqstore binary (its path comes from CMake as MQSTORE_PATH).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/record.h"
#include "engine/segments.h"
#include "index/consume_queue.h"
#include "index/java_hash.h"
#include "stele/store.h"
#include "testutil.h"
#include "tools/text.h"

extern char** environ;

namespace stele {
namespace {

namespace stdfs = std::filesystem;
using testing::Body;
using testing::TempDir;

constexpr int64_t kSeg = 256 * 1024;  // SmallOptions' segment size
constexpr size_t kBodyPos = 88;       // with IPv4 born and store hosts (engine/record.h)
constexpr int kMessages = 300;
// Consume-queue files of 10 entries, so each of the 12 queues (25 messages) spans 3 files.
constexpr int64_t kCqEntries = 10;
constexpr int64_t kCqFile = kCqEntries * index::kCqUnitSize;

struct RunResult {
  int status = -1;     // exit status, or -1 if it did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs mqstore with `args`, capturing stdout and stderr.
RunResult RunMqstore(const std::vector<std::string>& args) {
  RunResult r;
  int fds[2];
  if (pipe(fds) != 0) return r;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  std::vector<std::string> all = {MQSTORE_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, MQSTORE_PATH, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc == 0) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) r.output.append(buf, static_cast<size_t>(n));
    int st = 0;
    if (waitpid(pid, &st, 0) == pid && WIFEXITED(st)) r.status = WEXITSTATUS(st);
  }
  close(fds[0]);
  return r;
}

std::string SegmentPath(const std::string& root, int64_t start) {
  return root + "/commitlog/" + engine::SegmentName(start);
}

// Overwrites bytes of the commit log at a global offset, as damage on disk would.
void Patch(const std::string& root, int64_t offset, std::string_view bytes) {
  const int64_t start = offset - offset % kSeg;
  int fd = open(SegmentPath(root, start).c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, bytes.data(), bytes.size(), offset - start),
            static_cast<ssize_t>(bytes.size()));
  close(fd);
}

char ByteAt(const std::string& root, int64_t offset) {
  const int64_t start = offset - offset % kSeg;
  std::ifstream f(SegmentPath(root, start), std::ios::binary);
  f.seekg(offset - start);
  char c = 0;
  f.get(c);
  return c;
}

// Every file under `dir` with its contents.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    if (e.is_regular_file()) ss << f.rdbuf();
    out[e.path().string()] = ss.str();
  }
  return out;
}

struct Rec {
  std::string topic;
  int32_t queue_id = 0;
  AppendResult ack;
};

class MqstoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    const char* topics[] = {"TopicA", "TopicB", "TopicC"};
    for (int i = 0; i < kMessages; ++i) Append(store.get(), topics[i % 3], (i / 3) % 4, i);
    ASSERT_TRUE(store->Close().ok());
    // The fixture relies on at least three segments with records in each.
    ASSERT_GE(recs_.back().ack.wrote_offset, 2 * kSeg);
  }

  std::unique_ptr<Store> Open(std::function<int64_t()> clock = nullptr) {
    StoreOptions o = testing::SmallOptions(root_, NewPosixFileSystem(), FlushDiskType::kAsyncFlush);
    o.mapped_file_size_consume_queue = kCqFile;
    if (clock) {
      o.clock_ms = std::move(clock);
      o.file_reserved_time_hours = 1;
    }
    auto s = Store::Open(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  void Append(Store* store, const std::string& topic, int32_t queue_id, int i) {
    const std::string body = Body(7, static_cast<uint64_t>(i), 500 + (i * 37) % 2500);
    const std::string tags = fmt::format("tag{}", i % 5);
    const std::string keys = "key-" + std::to_string(i);
    auto r = store->Append(
        Message{.topic = topic, .queue_id = queue_id, .body = body, .tags = tags, .keys = keys});
    ASSERT_TRUE(r.ok()) << r.status();
    recs_.push_back(Rec{topic, queue_id, *r});
  }

  int64_t End() const { return recs_.back().ack.wrote_offset + recs_.back().ack.wrote_bytes; }

  // Index of a record in the middle of the first segment.
  size_t MiddleOfFirstSegment() const {
    size_t n = 0;
    while (n < recs_.size() && recs_[n].ack.wrote_offset < kSeg) ++n;
    return n / 2;
  }

  // The consume-queue file holding queue offset `qo` of a record's queue.
  std::string CqPath(const std::string& topic, int32_t qid, int64_t qo) const {
    return fmt::format("{}/consumequeue/{}/{}/{}", root_, topic, qid,
                       engine::SegmentName(qo / kCqEntries * kCqFile));
  }
  std::string CqPath(const Rec& r) const { return CqPath(r.topic, r.queue_id, r.ack.queue_offset); }

  // Overwrites the consume-queue entry at queue offset `qo` of (topic, qid).
  void PatchCq(const std::string& topic, int32_t qid, int64_t qo, const index::CqEntry& e) {
    char b[index::kCqUnitSize];
    StoreBe(b, 8, static_cast<uint64_t>(e.phy_offset));
    StoreBe(b + 8, 4, static_cast<uint32_t>(e.size));
    StoreBe(b + 12, 8, static_cast<uint64_t>(e.tags_code));
    int fd = open(CqPath(topic, qid, qo).c_str(), O_WRONLY);
    ASSERT_GE(fd, 0) << CqPath(topic, qid, qo);
    ASSERT_EQ(pwrite(fd, b, sizeof b, qo % kCqEntries * index::kCqUnitSize),
              static_cast<ssize_t>(sizeof b));
    close(fd);
  }
  void PatchCq(const Rec& r, const index::CqEntry& e) {
    PatchCq(r.topic, r.queue_id, r.ack.queue_offset, e);
  }
  static void StoreBe(char* p, int n, uint64_t v) {
    for (int i = 0; i < n; ++i) p[i] = static_cast<char>(v >> (8 * (n - 1 - i)));
  }

  // The entry the engine writes for record i.
  index::CqEntry EntryOf(size_t i) const {
    return index::CqEntry{.phy_offset = recs_[i].ack.wrote_offset,
                          .size = recs_[i].ack.wrote_bytes,
                          .tags_code = index::TagsCode(fmt::format("tag{}", i % 5))};
  }

  // Indexes into recs_ of a queue's records, in queue-offset order.
  std::vector<size_t> InQueue(const std::string& topic, int32_t qid) const {
    std::vector<size_t> out;
    for (size_t i = 0; i < recs_.size(); ++i) {
      if (recs_[i].topic == topic && recs_[i].queue_id == qid) out.push_back(i);
    }
    return out;
  }

  // "TopicB/2 queue offset 7": how verify names an entry.
  static std::string Where(const Rec& r) {
    return fmt::format("{}/{} queue offset {}", r.topic, r.queue_id, r.ack.queue_offset);
  }

  TempDir dir_;
  std::string root_ = dir_.path() + "/store";
  std::vector<Rec> recs_;
};

bool Has(const RunResult& r, const std::string& s) { return r.output.find(s) != std::string::npos; }

TEST_F(MqstoreTest, VerifyCleanStore) {
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("OK: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" " + std::to_string(kMessages) + " records,"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("12 queues"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("end offset " + std::to_string(End())), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("checkpoint: safe offset " + std::to_string(End())), std::string::npos)
      << r.output;
  // A clean close leaves everything dispatched, and every record has its consume-queue entry.
  EXPECT_TRUE(Has(r, "dispatch offset " + std::to_string(End()) + ",")) << r.output;
  EXPECT_TRUE(Has(r, "/consumequeue: 12 queues, 36 files of 200 bytes (10 entries each)"))
      << r.output;
  EXPECT_TRUE(Has(r,
                  "consume queues: 12 queues, 300 entries: 300 match the log, 0 pre-blank, 0 "
                  "below the log start; 0 records not yet dispatched; 0 errors, 0 warnings"))
      << r.output;
  EXPECT_FALSE(Has(r, "cq error")) << r.output;
  EXPECT_FALSE(Has(r, "queue TopicA/0:")) << r.output;  // per-queue lines only with -v
}

TEST_F(MqstoreTest, VerifyVerbosePrintsEveryQueue) {
  auto r = RunMqstore({"verify", "-v", root_});
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* t : {"TopicA", "TopicB", "TopicC"}) {
    for (int q = 0; q < 4; ++q) {
      EXPECT_TRUE(Has(r, fmt::format("queue {}/{}: 3 files, entries at queue offsets [0, 25); "
                                     "records in the log: queue offsets [0, 25); 25 match, 0 "
                                     "pre-blank, 0 below the log start, 0 not yet dispatched, 0 "
                                     "errors, 0 warnings",
                                     t, q)))
          << r.output;
    }
  }
}

TEST_F(MqstoreTest, VerifyWithExplicitOptions) {
  auto r =
      RunMqstore({"verify", root_, "--commitlog-dir", root_ + "/commitlog", "--segment-size=256k"});
  EXPECT_EQ(r.status, 0) << r.output;
  r = RunMqstore({"verify", root_, "--segment-size", "131072"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("expected 131072"), std::string::npos) << r.output;
}

TEST_F(MqstoreTest, VerifyDoesNotModifyTheStore) {
  const auto before = Snapshot(root_);
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 0) << r.output;
  r = RunMqstore({"dump", root_, "--count", "1000"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(Snapshot(root_), before);
}

TEST_F(MqstoreTest, VerifyWhileTheStoreIsOpen) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 50; ++i) Append(store.get(), "Live", 0, kMessages + i);
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("abort marker present"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" " + std::to_string(kMessages + 50) + " records,"), std::string::npos)
      << r.output;
  EXPECT_TRUE(Has(r, "consume queues: 13 queues, ")) << r.output;
  EXPECT_TRUE(Has(r, " 0 errors, ")) << r.output;
  ASSERT_TRUE(store->Close().ok());
}

TEST_F(MqstoreTest, VerifyWhileAppendsAreDispatched) {
  // The dispatcher writes entries (and the checkpoint moves) while verify reads: what it sees
  // after the checkpoint's dispatch offset is in flux, and must never count as corruption.
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 3000 && !stop.load(); ++i) {
      const std::string tag = fmt::format("t{}", i % 7);  // gcc 12 -O3 misreads "t" + to_string
      auto r = store->Append(Message{.topic = "Live",
                                     .queue_id = i % 3,
                                     .body = Body(9, static_cast<uint64_t>(i), 200),
                                     .tags = tag});
      ASSERT_TRUE(r.ok()) << r.status();
    }
  });
  auto r = RunMqstore({"verify", root_});
  stop.store(true);
  writer.join();
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(Has(r, "cq error")) << r.output;
  ASSERT_TRUE(store->Close().ok());
  r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(Has(r, "0 records not yet dispatched; 0 errors, 0 warnings")) << r.output;
}

// ---- Consume queues against the commit log ----

TEST_F(MqstoreTest, CqEntryWithTheWrongSize) {
  const size_t i = 150;
  index::CqEntry e = EntryOf(i);
  e.size += 1;
  PatchCq(recs_[i], e);
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(
      r, fmt::format("cq error: {} -> commit-log offset {}: entry size {}, record "
                     "TOTALSIZE {}\n",
                     Where(recs_[i]), recs_[i].ack.wrote_offset, e.size, recs_[i].ack.wrote_bytes)))
      << r.output;
  EXPECT_TRUE(Has(r, "FAILED: 1 consume-queue errors; the commit log itself is sound: "))
      << r.output;
  EXPECT_FALSE(Has(r, "OK: ")) << r.output;
}

TEST_F(MqstoreTest, CqEntryPointingAtAnotherRecord) {
  const size_t i = 150;
  index::CqEntry e = EntryOf(i);
  e.phy_offset = recs_[i + 1].ack.wrote_offset;  // the next record: another queue's
  PatchCq(recs_[i], e);
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r, fmt::format("cq error: {} -> commit-log offset {}: the record there belongs "
                                 "to {}/{} (queue offset {}) (the record with queue offset {} is "
                                 "at {})",
                                 Where(recs_[i]), e.phy_offset, recs_[i + 1].topic,
                                 recs_[i + 1].queue_id, recs_[i + 1].ack.queue_offset,
                                 recs_[i].ack.queue_offset, recs_[i].ack.wrote_offset)))
      << r.output;
}

TEST_F(MqstoreTest, CqEntryPointingIntoARecord) {
  const size_t i = 151;
  index::CqEntry e = EntryOf(i);
  e.phy_offset += 4;
  PatchCq(recs_[i], e);
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r, fmt::format("cq error: {} -> commit-log offset {}: where no record starts "
                                 "(the record with queue offset {} is at {})",
                                 Where(recs_[i]), e.phy_offset, recs_[i].ack.queue_offset,
                                 recs_[i].ack.wrote_offset)))
      << r.output;
}

TEST_F(MqstoreTest, CqEntryPointingPastTheLogEnd) {
  const size_t i = kMessages - 1;
  index::CqEntry e = EntryOf(i);
  e.phy_offset = End() + 1000;
  PatchCq(recs_[i], e);
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r, fmt::format("cq error: {} -> commit-log offset {}: past the end of the log at "
                                 "{} (the record with queue offset {} is at {})",
                                 Where(recs_[i]), End() + 1000, End(), recs_[i].ack.queue_offset,
                                 recs_[i].ack.wrote_offset)))
      << r.output;
}

TEST_F(MqstoreTest, CqEntryWithTheWrongTagsCode) {
  const size_t i = 152;
  index::CqEntry e = EntryOf(i);
  const int64_t good = e.tags_code;
  e.tags_code = 12345;
  PatchCq(recs_[i], e);
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r, fmt::format("cq error: {} -> commit-log offset {}: entry tags code 12345, "
                                 "record TAGS \"tag{}\" hash to {}\n",
                                 Where(recs_[i]), recs_[i].ack.wrote_offset, i % 5, good)))
      << r.output;
}

TEST_F(MqstoreTest, CqEntryBeyondTheQueueEnd) {
  // Queue offset 25 of TopicA/0 (one past its last message) made to point at a real record.
  PatchCq("TopicA", 0, 25, EntryOf(0));
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r, fmt::format("cq error: TopicA/0 queue offset 25 -> commit-log offset {}: "
                                 "record QUEUEOFFSET 0\n",
                                 recs_[0].ack.wrote_offset)))
      << r.output;
}

TEST_F(MqstoreTest, CqInvalidOrBlankEntryBeyondTheQueueEnd) {
  PatchCq("TopicA", 1, 25, index::CqEntry{.phy_offset = 5, .size = 0, .tags_code = 0});
  PatchCq("TopicA", 2, 25,
          index::CqEntry{.phy_offset = 0, .size = index::kPreBlankSize, .tags_code = 0});
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r,
                  "cq error: TopicA/1 queue offset 25: invalid entry (commit-log offset 5, size "
                  "0): the engine takes it as the end of the queue\n"))
      << r.output;
  EXPECT_TRUE(Has(r,
                  "cq error: TopicA/2 queue offset 25: 1 pre-blank entries after the queue's "
                  "last record (queue offset 24)"))
      << r.output;
  EXPECT_TRUE(Has(r, "FAILED: 2 consume-queue errors")) << r.output;
}

TEST_F(MqstoreTest, CqMissingFileInTheMiddle) {
  const Rec& rec = recs_[0];  // TopicA/0: its records are 0, 12, 24, ...
  ASSERT_TRUE(stdfs::remove(CqPath(rec.topic, rec.queue_id, kCqEntries)));
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r,
                  "cq error: TopicA/0 file 00000000000000000200: missing: no file holds queue "
                  "offsets 10..19\n"))
      << r.output;
  EXPECT_TRUE(Has(r, fmt::format("cq error: TopicA/0 queue offsets 10..19: no entries for 10 "
                                 "records at commit-log offsets {}..{} (no file "
                                 "00000000000000000200)",
                                 recs_[10 * 12].ack.wrote_offset, recs_[19 * 12].ack.wrote_offset)))
      << r.output;
  EXPECT_TRUE(Has(r, "FAILED: 2 consume-queue errors")) << r.output;
}

TEST_F(MqstoreTest, CqTruncatedFile) {
  const std::string path = CqPath("TopicB", 1, 20);  // queue offsets 20..29, 20..24 written
  stdfs::resize_file(path, 3 * index::kCqUnitSize);
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r,
                  "cq error: TopicB/1 file 00000000000000000400: 60 bytes, expected 200 like "
                  "the others (queue offsets 20..29)\n"))
      << r.output;
  const std::vector<size_t> in_queue = InQueue("TopicB", 1);
  ASSERT_EQ(in_queue.size(), 25u);
  EXPECT_TRUE(Has(
      r, fmt::format("cq error: TopicB/1 queue offsets 23..24: no entries for 2 "
                     "records at commit-log offsets {}..{} (file "
                     "00000000000000000400 is too short)",
                     recs_[in_queue[23]].ack.wrote_offset, recs_[in_queue[24]].ack.wrote_offset)))
      << r.output;
}

TEST_F(MqstoreTest, CqNonZeroEntryAfterTheEndIsTorn) {
  // TopicC/3's entries end at queue offset 25; a copy of its last entry at 27.
  const std::vector<size_t> in_queue = InQueue("TopicC", 3);
  ASSERT_EQ(in_queue.size(), 25u);
  PatchCq("TopicC", 3, 27, EntryOf(in_queue.back()));
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r,
                  "cq error: TopicC/3 queue offset 27: 1 non-zero entries after the end of the "
                  "queue at queue offset 25 (a zero entry): torn or overwritten"))
      << r.output;
  EXPECT_TRUE(Has(r, "FAILED: 1 consume-queue errors")) << r.output;
}

TEST_F(MqstoreTest, CqZeroedEntryInTheMiddle) {
  const size_t i = 12 * 5;  // TopicA/0 queue offset 5
  PatchCq(recs_[i], index::CqEntry{});
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r, fmt::format("cq error: {}: no entry for the record at commit-log offset {} "
                                 "(a zero entry: the queue ends there)",
                                 Where(recs_[i]), recs_[i].ack.wrote_offset)))
      << r.output;
  // Readers stop at the zero, so the 19 entries after it are cut off.
  EXPECT_TRUE(Has(r,
                  "cq error: TopicA/0 queue offset 6: 19 non-zero entries after the end of "
                  "the queue at queue offset 5 (a zero entry)"))
      << r.output;
}

TEST_F(MqstoreTest, CqMissingQueueDirectory) {
  stdfs::remove_all(root_ + "/consumequeue/TopicB/2");
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r,
                  "cq error: TopicB/2 queue offsets 0..24: no entries for 25 records at "
                  "commit-log offsets "))
      << r.output;
  EXPECT_TRUE(Has(r, "(the queue has no directory)")) << r.output;
}

TEST_F(MqstoreTest, CqMisalignedFileName) {
  stdfs::rename(CqPath("TopicA", 1, 10), root_ + "/consumequeue/TopicA/1/00000000000000000210");
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r,
                  "cq error: TopicA/1 file 00000000000000000210: name is not a multiple of the "
                  "file size 200\n"))
      << r.output;
  EXPECT_TRUE(Has(r, "cq error: TopicA/1 file 00000000000000000200: missing")) << r.output;
}

TEST_F(MqstoreTest, CqDetailLinesAreCapped) {
  for (size_t i = 0; i < 100; ++i) {  // every entry of queue offsets 0..8 of all 12 queues
    index::CqEntry e = EntryOf(i);
    e.tags_code ^= 1;
    PatchCq(recs_[i], e);
  }
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  size_t lines = 0;
  for (size_t p = 0; (p = r.output.find("cq error: ", p)) != std::string::npos; ++p) ++lines;
  EXPECT_EQ(lines, 30u) << r.output;
  EXPECT_TRUE(Has(r, "(70 more consume-queue problems are only counted)")) << r.output;
  EXPECT_TRUE(Has(r, "FAILED: 100 consume-queue errors")) << r.output;
}

TEST_F(MqstoreTest, CqExplicitFileSize) {
  auto r = RunMqstore({"verify", root_, "--cq-file-size", "200"});
  EXPECT_EQ(r.status, 0) << r.output;
  r = RunMqstore({"verify", root_, "--cq-file-size=400"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r,
                  "cq error: TopicA/0 file 00000000000000000200: name is not a multiple of the "
                  "file size 400"))
      << r.output;
}

TEST_F(MqstoreTest, CqNoFilesAtAll) {
  for (const auto& e : stdfs::recursive_directory_iterator(root_ + "/consumequeue")) {
    if (e.is_regular_file()) stdfs::remove(e.path());
  }
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r, "/consumequeue: 12 queues, no files\n")) << r.output;
  EXPECT_TRUE(Has(r,
                  "cq error: TopicA/0 queue offsets 0..24: no entries for 25 records at "
                  "commit-log offsets "))
      << r.output;
  EXPECT_TRUE(Has(r, "(the queue has no files)")) << r.output;
  EXPECT_TRUE(Has(r, "FAILED: 12 consume-queue errors")) << r.output;
}

TEST_F(MqstoreTest, DumpQueueEntries) {
  // TopicA/0 holds records 0, 12, 24, ...
  auto r = RunMqstore({"dump", root_, "--queue", "TopicA/0", "--from", "1", "--count", "2"});
  EXPECT_EQ(r.status, 0) << r.output;
  for (int64_t qo : {1, 2}) {
    const size_t i = static_cast<size_t>(qo) * 12;
    EXPECT_TRUE(Has(r, fmt::format("queueOffset={} offset={} size={} tagsCode={} -> "
                                   "storeTimestamp={} (",
                                   qo, recs_[i].ack.wrote_offset, recs_[i].ack.wrote_bytes,
                                   EntryOf(i).tags_code, recs_[i].ack.store_timestamp)))
        << r.output;
    EXPECT_TRUE(Has(
        r, fmt::format("tags=\"tag{}\" keys=\"key-{}\" msgId={}\n", i % 5, i, recs_[i].ack.msg_id)))
        << r.output;
  }
  EXPECT_FALSE(Has(r, "queueOffset=3 ")) << r.output;
  EXPECT_TRUE(Has(r, "next queue offset 3 (--from 3 to continue)")) << r.output;
  r = RunMqstore({"dump", root_, "--queue", "TopicA/0", "--from", "24"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(Has(r, "end of the queue at queue offset 25 (zero entry)")) << r.output;
}

TEST_F(MqstoreTest, DumpQueueFlagsAMismatch) {
  index::CqEntry e = EntryOf(24);  // TopicA/0 queue offset 2
  e.size = 7;
  PatchCq(recs_[24], e);
  auto r = RunMqstore({"dump", root_, "--queue", "TopicA/0", "--count", "5"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r, fmt::format("queueOffset=2 offset={} size=7 ", recs_[24].ack.wrote_offset)))
      << r.output;
  EXPECT_TRUE(Has(
      r, fmt::format("  problem: entry size 7, record TOTALSIZE {}\n", recs_[24].ack.wrote_bytes)))
      << r.output;
  r = RunMqstore({"dump", root_, "--queue", "Nope/0"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r, "error: no consume-queue files for Nope/0")) << r.output;
}

// A crash leaves records after the checkpoint's dispatch offset without entries (the engine
// dispatches them again at the next open): information, not corruption.
TEST_F(MqstoreTest, CrashedStoreRecordsNotYetDispatched) {
  const size_t first_undispatched = 250;
  for (size_t i = first_undispatched; i < recs_.size(); ++i) PatchCq(recs_[i], index::CqEntry{});
  // An entry after the dispatch offset that is stale: rebuilt on open, so only a warning.
  index::CqEntry stale = EntryOf(first_undispatched - 1);
  stale.size += 8;
  auto fs = NewPosixFileSystem();
  auto ckp = engine::ReadCheckpoint(fs.get(), root_);
  ASSERT_TRUE(ckp.ok()) << ckp.status();
  // The dispatch offset sits one record earlier than the first zeroed entry.
  ckp->dispatch_offset = recs_[first_undispatched - 1].ack.wrote_offset;
  ASSERT_TRUE(engine::WriteCheckpoint(fs.get(), root_, *ckp).ok());
  std::ofstream(root_ + "/abort") << "1\n";
  PatchCq(recs_[first_undispatched - 1], stale);

  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(Has(r, fmt::format("info: not yet dispatched (50 records at or after the dispatch "
                                 "offset {} have no entry yet",
                                 ckp->dispatch_offset)))
      << r.output;
  EXPECT_TRUE(
      Has(r, fmt::format("cq warning: {} -> commit-log offset {}: entry size {}",
                         Where(recs_[first_undispatched - 1]), ckp->dispatch_offset, stale.size)))
      << r.output;
  EXPECT_TRUE(Has(r, "0 errors, 1 warnings")) << r.output;
  EXPECT_TRUE(Has(r, "OK: ")) << r.output;

  // Before the dispatch offset every entry must be there.
  PatchCq(recs_[100], index::CqEntry{});
  r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r, fmt::format("cq error: {}: no entry for the record at commit-log offset {}",
                                 Where(recs_[100]), recs_[100].ack.wrote_offset)))
      << r.output;

  // Reopening re-dispatches: the store is whole again.
  PatchCq(recs_[100], EntryOf(100));
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Close().ok());
  r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(Has(r, "300 match the log")) << r.output;
  EXPECT_TRUE(Has(r, "0 records not yet dispatched; 0 errors, 0 warnings")) << r.output;
}

// Retention deletes the oldest segments and the queue files wholly below them; the queue files
// left may still start with entries whose records are gone.
class MqstoreRetentionTest : public MqstoreTest {
 protected:
  void SetUp() override {
    MqstoreTest::SetUp();
    const int64_t later = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() +
                          2 * 3600 * 1000;
    auto store = Open([later] { return later; });
    ASSERT_NE(store, nullptr);
    auto rep = store->CleanExpiredFiles(/*manual=*/true);
    ASSERT_TRUE(rep.ok()) << rep.status();
    ASSERT_GE(rep->segments_deleted, 1);
    min_ = store->MinOffset();
    ASSERT_TRUE(store->Close().ok());
    ASSERT_FALSE(stdfs::exists(SegmentPath(root_, 0)));
    // Per queue: the first queue offset whose record survived.
    for (const Rec& r : recs_) {
      if (r.ack.wrote_offset < min_) continue;
      first_.try_emplace(fmt::format("{}/{}", r.topic, r.queue_id), r.ack.queue_offset);
    }
    ASSERT_EQ(first_.size(), 12u);
  }
  // Entries before the first surviving one in its file: f % 10 per queue.
  int64_t LeadingInFile() const {
    int64_t n = 0;
    for (const auto& [_, f] : first_) n += f % kCqEntries;
    return n;
  }

  int64_t min_ = 0;
  std::map<std::string, int64_t> first_;
};

TEST_F(MqstoreRetentionTest, EntriesBelowTheLogStartAreFine) {
  auto r = RunMqstore({"verify", "-v", root_});
  EXPECT_EQ(r.status, 0) << r.output;
  int64_t survivors = 0;
  for (const Rec& rec : recs_) survivors += rec.ack.wrote_offset >= min_;
  EXPECT_TRUE(Has(r, fmt::format("{} match the log, 0 pre-blank, {} below the log start; 0 "
                                 "records not yet dispatched; 0 errors, 0 warnings",
                                 survivors, LeadingInFile())))
      << r.output;
  EXPECT_TRUE(
      Has(r, fmt::format("records in the log: queue offsets [{}, 25)", first_.at("TopicA/0"))))
      << r.output;
  // Dumping such a queue says which records are gone.
  const int64_t f = first_.at("TopicA/0");
  ASSERT_GT(f % kCqEntries, 0) << "TopicA/0 has no entry below the log start to show";
  r = RunMqstore({"dump", root_, "--queue", "TopicA/0", "--count", "1"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(Has(r, fmt::format("queueOffset={} offset=", f / kCqEntries * kCqEntries)))
      << r.output;
  EXPECT_TRUE(Has(r, fmt::format("(record deleted: before the start of the log at {})", min_)))
      << r.output;
}

TEST_F(MqstoreRetentionTest, RebuiltQueuesStartWithPreBlanks) {
  // Drop the queues and the checkpoint's dispatch offset: the engine rebuilds every queue from
  // the log start, and a queue whose first record is not at a file boundary gets pre-blanks.
  stdfs::remove_all(root_ + "/consumequeue");
  auto fs = NewPosixFileSystem();
  auto ckp = engine::ReadCheckpoint(fs.get(), root_);
  ASSERT_TRUE(ckp.ok()) << ckp.status();
  ckp->dispatch_offset = -1;
  ASSERT_TRUE(engine::WriteCheckpoint(fs.get(), root_, *ckp).ok());
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Close().ok());
  ASSERT_GT(LeadingInFile(), 0);

  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(Has(r, fmt::format("{} pre-blank, 0 below the log start; 0 records not yet "
                                 "dispatched; 0 errors",
                                 LeadingInFile())))
      << r.output;

  // A pre-blank where a record's entry belongs is a missing entry.
  const Rec* last = nullptr;
  for (const Rec& rec : recs_) {
    if (rec.topic == "TopicC" && rec.queue_id == 2) last = &rec;
  }
  ASSERT_NE(last, nullptr);
  PatchCq(*last, index::CqEntry{.phy_offset = 0, .size = index::kPreBlankSize, .tags_code = 0});
  r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(Has(r, fmt::format("cq error: {}: no entry for the record at commit-log offset {} "
                                 "(a pre-blank entry in its place)",
                                 Where(*last), last->ack.wrote_offset)))
      << r.output;
}

TEST_F(MqstoreTest, FlippedBodyByteNamesTheRecord) {
  const Rec& rec = recs_[MiddleOfFirstSegment()];
  const int64_t at = rec.ack.wrote_offset + kBodyPos + 10;
  Patch(root_, at, std::string(1, static_cast<char>(ByteAt(root_, at) ^ 0x20)));
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("corrupt at offset " + std::to_string(rec.ack.wrote_offset) + ": "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("CRC"), std::string::npos) << r.output;
  // Dump still shows it, flagged.
  r = RunMqstore({"dump", root_, "--offset", std::to_string(rec.ack.wrote_offset), "--count", "1"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("problem: record CRC mismatch"), std::string::npos) << r.output;
}

TEST_F(MqstoreTest, CorruptTotalSize) {
  const Rec& rec = recs_[MiddleOfFirstSegment()];
  const uint32_t bad = static_cast<uint32_t>(rec.ack.wrote_bytes) + 4;
  const char be[4] = {static_cast<char>(bad >> 24), static_cast<char>(bad >> 16),
                      static_cast<char>(bad >> 8), static_cast<char>(bad)};
  Patch(root_, rec.ack.wrote_offset, std::string_view(be, 4));
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("corrupt at offset " + std::to_string(rec.ack.wrote_offset) + ": "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("TOTALSIZE"), std::string::npos) << r.output;
}

TEST_F(MqstoreTest, StrayByteAfterTheEndIsAnUnrecoveredTail) {
  ASSERT_LT(End() % kSeg + 200, kSeg);
  Patch(root_, End() + 100, "\x01");
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(
      r.output.find("corrupt at offset " + std::to_string(End() + 100) + ": unrecovered tail"),
      std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("hint: "), std::string::npos) << r.output;
}

TEST_F(MqstoreTest, StrayByteInALaterSegmentIsAnUnrecoveredTail) {
  // A non-zero byte in a preallocated segment after the last one written (create it if needed).
  const int64_t next = End() - End() % kSeg + kSeg;
  if (!stdfs::exists(SegmentPath(root_, next))) {
    std::ofstream(SegmentPath(root_, next), std::ios::binary) << std::string(kSeg, '\0');
  }
  Patch(root_, next + 5000, "\x7f");
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(
      r.output.find("corrupt at offset " + std::to_string(next + 5000) + ": unrecovered tail"),
      std::string::npos)
      << r.output;
}

TEST_F(MqstoreTest, MissingMiddleSegmentIsAGap) {
  ASSERT_TRUE(stdfs::remove(SegmentPath(root_, kSeg)));
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("corrupt at offset " + std::to_string(kSeg) + ": gap"), std::string::npos)
      << r.output;
}

TEST_F(MqstoreTest, ShortSegmentIsAWrongSize) {
  stdfs::resize_file(SegmentPath(root_, 0), kSeg - 4096);
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("corrupt at offset 0: segment 00000000000000000000 has " +
                          std::to_string(kSeg - 4096) + " bytes, expected " + std::to_string(kSeg)),
            std::string::npos)
      << r.output;
}

TEST_F(MqstoreTest, CheckpointPastTheEnd) {
  auto fs = NewPosixFileSystem();
  auto ckp = engine::ReadCheckpoint(fs.get(), root_);
  ASSERT_TRUE(ckp.ok()) << ckp.status();
  ckp->safe_offset = End() + 1000;
  ASSERT_TRUE(engine::WriteCheckpoint(fs.get(), root_, *ckp).ok());
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("corrupt at offset " + std::to_string(End() + 1000) +
                          ": the checkpoint's safe offset " + std::to_string(End() + 1000) +
                          " is past the end of the log at " + std::to_string(End())),
            std::string::npos)
      << r.output;
}

TEST_F(MqstoreTest, CheckpointQueueTableMustMatchTheLog) {
  auto fs = NewPosixFileSystem();
  auto ckp = engine::ReadCheckpoint(fs.get(), root_);
  ASSERT_TRUE(ckp.ok()) << ckp.status();
  ckp->queues.Assign("TopicB", 2, 3);  // next offset now 3 too high
  ASSERT_TRUE(engine::WriteCheckpoint(fs.get(), root_, *ckp).ok());
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("queue table disagrees"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("TopicB/2"), std::string::npos) << r.output;
}

TEST_F(MqstoreTest, DumpTwoRecordsFromTheThird) {
  auto r = RunMqstore(
      {"dump", root_, "--offset", std::to_string(recs_[2].ack.wrote_offset), "--count", "2"});
  EXPECT_EQ(r.status, 0) << r.output;
  for (size_t i : {2, 3}) {
    const Rec& rec = recs_[i];
    EXPECT_NE(r.output.find("offset=" + std::to_string(rec.ack.wrote_offset) +
                            " size=" + std::to_string(rec.ack.wrote_bytes) + " topic=" + rec.topic +
                            " queueId=" + std::to_string(rec.queue_id) +
                            " queueOffset=" + std::to_string(rec.ack.queue_offset) + " "),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("msgId=" + rec.ack.msg_id), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("KEYS=key-" + std::to_string(i)), std::string::npos) << r.output;
  }
  EXPECT_EQ(r.output.find("offset=" + std::to_string(recs_[4].ack.wrote_offset) + " "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("next record at offset " + std::to_string(recs_[4].ack.wrote_offset)),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("storeHost=127.0.0.1:10911"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("body(" + std::to_string(500 + (2 * 37) % 2500) + " bytes)=\""),
            std::string::npos)
      << r.output;
}

TEST_F(MqstoreTest, DumpAcrossASegmentRollShowsTheBlankFiller) {
  size_t last = 0;
  while (recs_[last + 1].ack.wrote_offset < kSeg) ++last;
  auto r = RunMqstore(
      {"dump", root_, "--offset", std::to_string(recs_[last].ack.wrote_offset), "--count", "2"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("BLANK filler to segment end"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("offset=" + std::to_string(kSeg) + " size="), std::string::npos)
      << r.output;
}

TEST_F(MqstoreTest, DumpToTheEndOfTheLog) {
  auto r = RunMqstore({"dump", root_, "--offset",
                       std::to_string(recs_[kMessages - 1].ack.wrote_offset), "--count", "5"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("end of log at offset " + std::to_string(End())), std::string::npos)
      << r.output;
}

TEST_F(MqstoreTest, DumpAtABadOffsetFails) {
  const int64_t off = recs_[2].ack.wrote_offset + 1;
  auto r = RunMqstore({"dump", root_, "--offset", std::to_string(off)});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("offset " + std::to_string(off) + " is not at a record start"),
            std::string::npos)
      << r.output;
  r = RunMqstore({"dump", root_, "--offset", std::to_string(End() + 64)});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("past the end of the log"), std::string::npos) << r.output;
  r = RunMqstore({"dump", root_, "--offset", std::to_string(100 * kSeg)});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("outside the commit log files"), std::string::npos) << r.output;
}

TEST(MqstoreUsage, HelpAndBadUsage) {
  auto r = RunMqstore({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("mqstore verify DIR"), std::string::npos) << r.output;
  r = RunMqstore({"verify", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("Usage: mqstore verify"), std::string::npos) << r.output;
  r = RunMqstore({"help", "dump"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("--body-bytes"), std::string::npos) << r.output;
  for (const auto& args :
       std::vector<std::vector<std::string>>{{},
                                             {"frobnicate"},
                                             {"verify"},
                                             {"verify", "/a", "/b"},
                                             {"verify", "-x", "/a"},
                                             {"verify", "/a", "--offset", "1"},
                                             {"dump", "/a", "--count"},
                                             {"dump", "/a", "--count", "-1"},
                                             {"dump", "/a", "--offset=x"},
                                             {"dump", "/a", "--from", "1"},
                                             {"dump", "/a", "--queue", "T"},
                                             {"dump", "/a", "--queue", "T/x"},
                                             {"dump", "/a", "--queue", "T/0", "--offset", "1"},
                                             {"verify", "/a", "--queue", "T/0"},
                                             {"verify", "/a", "--cq-file-size", "30"},
                                             {"verify", "/a", "--segment-size", "0"}}) {
    r = RunMqstore(args);
    EXPECT_EQ(r.status, 2) << ::testing::PrintToString(args) << "\n" << r.output;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << r.output;
  }
}

TEST(MqstoreUsage, MissingStoreIsAnError) {
  TempDir dir;
  auto r = RunMqstore({"verify", dir.path() + "/nothing"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
}

// Logs built record by record, to reach what the engine itself never writes.
class MqstoreHandBuiltLog : public ::testing::Test {
 protected:
  struct Spec {
    int64_t queue_offset;
    int64_t store_ts;
    int32_t sys_flag = 0;
  };

  // Writes one 64 KiB segment holding records of topic "T", queue 0; returns their offsets.
  std::vector<int64_t> Write(const std::vector<Spec>& specs) {
    std::string seg(64 * 1024, '\0');
    engine::EncodeParams p;
    p.store_host = *HostAddress::Parse("127.0.0.1:10911");
    std::vector<int64_t> offsets;
    int64_t pos = 0;
    for (const Spec& s : specs) {
      engine::PreparedRecord rec;
      Message m{.topic = "T", .queue_id = 0, .body = "hello", .sys_flag = s.sys_flag};
      EXPECT_TRUE(engine::PrepareRecord(m, p, 1000, &rec).ok());
      engine::FinalizeRecord(&rec, s.queue_offset, pos, s.store_ts);
      seg.replace(static_cast<size_t>(pos), rec.size(), rec.buf);
      offsets.push_back(pos);
      pos += rec.size();
    }
    stdfs::create_directories(root_ + "/commitlog");
    std::ofstream(root_ + "/commitlog/" + engine::SegmentName(0), std::ios::binary) << seg;
    return offsets;
  }

  TempDir dir_;
  std::string root_ = dir_.path() + "/store";
};

TEST_F(MqstoreHandBuiltLog, QueueOffsetsMustBeContiguous) {
  auto offs = Write({{5, 100}, {6, 101}, {8, 102}});
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("corrupt at offset " + std::to_string(offs[2]) +
                          ": queue offset 8 of T/0 out of sequence (expected 7)"),
            std::string::npos)
      << r.output;
}

TEST_F(MqstoreHandBuiltLog, PreparedAndRollbackRecordsTakeNoQueueOffset) {
  Write({{0, 100},
         {0, 100, sysflag::kTransactionPreparedType},
         {1, 100, sysflag::kTransactionCommitType},
         {0, 100, sysflag::kTransactionRollbackType},
         {2, 100}});
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(" 5 records,"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("checkpoint: none"), std::string::npos) << r.output;
  // No checkpoint and no consume queues: the engine builds them from the log when it opens it.
  EXPECT_NE(r.output.find("consume queues " + root_ + "/consumequeue: no such directory"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("info: not yet dispatched (3 records"), std::string::npos) << r.output;
}

TEST_F(MqstoreHandBuiltLog, StoreTimestampGoingBackIsOnlyAWarning) {
  auto offs = Write({{0, 2000}, {1, 1000}, {2, 3000}});
  auto r = RunMqstore({"verify", root_});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning at offset " + std::to_string(offs[1]) + ": store timestamp"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("1 warnings"), std::string::npos) << r.output;
  r = RunMqstore({"dump", root_, "--offset", std::to_string(offs[1]), "--count", "1"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("storeTimestamp=1000 (1970-01-01T00:00:01.000Z)"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("sysFlag=0x0 "), std::string::npos) << r.output;
}

TEST(MqstoreText, Helpers) {
  EXPECT_EQ(tools::IsoTime(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(tools::IsoTime(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(tools::IsoTime(1700000000123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(tools::Escape(std::string_view("a\"b\\c\x01\xff", 7)), "a\\\"b\\\\c\\x01\\xff");
  bool ok = false;
  EXPECT_EQ(tools::FormatProperties("TAGS\x01t\x02KEYS\x01k1 k2\x02", &ok), "{TAGS=t, KEYS=k1 k2}");
  EXPECT_TRUE(ok);
  EXPECT_EQ(tools::FormatProperties("junk\x02", &ok), "{junk}");
  EXPECT_FALSE(ok);
  EXPECT_FALSE(
      tools::PropertiesWellFormed("a\x01"
                                  "b\x02junk"));
  EXPECT_TRUE(tools::PropertiesWellFormed(""));
  EXPECT_EQ(tools::SysFlagString(0x8 | 0x10), "0x18(COMMIT|BORNHOST_V6)");
  EXPECT_EQ(tools::SysFlagString(0), "0x0");
  uint64_t v = 0;
  EXPECT_TRUE(tools::ParseUint64("1g", true, &v));
  EXPECT_EQ(v, 1ull << 30);
  EXPECT_FALSE(tools::ParseUint64("1g", false, &v));
  EXPECT_FALSE(tools::ParseUint64("-1", false, &v));
  EXPECT_FALSE(tools::ParseUint64("+1", false, &v));
  EXPECT_FALSE(tools::ParseUint64("", true, &v));
  EXPECT_FALSE(tools::ParseUint64("99999999999999999999", false, &v));
}

}  // namespace
}  // namespace stele
