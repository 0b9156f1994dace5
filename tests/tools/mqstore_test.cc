// mqstore end to end: a store written by the engine, damaged on disk in known ways, checked by
// running the built mqstore binary (its path comes from CMake as MQSTORE_PATH).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/record.h"
#include "engine/segments.h"
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

  std::unique_ptr<Store> Open() {
    auto s =
        Store::Open(testing::SmallOptions(root_, NewPosixFileSystem(), FlushDiskType::kAsyncFlush));
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

  TempDir dir_;
  std::string root_ = dir_.path() + "/store";
  std::vector<Rec> recs_;
};

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
  ASSERT_TRUE(store->Close().ok());
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
