#include "index/index_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/bytes.h"
#include "common/logging.h"
#include "index/java_hash.h"
#include "io/fault_fs.h"
#include "stele/file_system.h"

namespace stele::index {
namespace {

#define ASSERT_OK(expr)                          \
  do {                                           \
    const ::absl::Status s_ = (expr);            \
    ASSERT_TRUE(s_.ok()) << #expr << ": " << s_; \
  } while (0)

constexpr int64_t kT0 = 1'700'000'000'123;  // 2023-11-14, ms part 123 (no carry when adding 1 ms)
constexpr int64_t kForever = std::numeric_limits<int64_t>::max();

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/stele-index-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp: " << strerror(errno);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Collects log lines so tests can check what the service warned about.
class LogCapture {
 public:
  LogCapture() {
    log::SetSink([this](log::Level, std::string_view line) {
      std::lock_guard<std::mutex> l(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { log::SetSink(nullptr); }
  bool Contains(std::string_view a, std::string_view b) {
    std::lock_guard<std::mutex> l(mu_);
    return std::any_of(lines_.begin(), lines_.end(), [&](const std::string& s) {
      return s.find(a) != std::string::npos && s.find(b) != std::string::npos;
    });
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

enum class Backend { kMemory, kPosix };

IndexConfig Cfg(uint32_t slots, uint32_t num) {
  return IndexConfig{.max_hash_slot_num = slots, .max_index_num = num};
}

std::vector<int64_t> Range(int64_t from, int64_t to_inclusive, int64_t step) {
  std::vector<int64_t> v;
  for (int64_t x = from; step > 0 ? x <= to_inclusive : x >= to_inclusive; x += step) {
    v.push_back(x);
  }
  return v;
}

class IndexTest : public ::testing::TestWithParam<Backend> {
 protected:
  IndexTest() {
    if (getenv("STELE_TEST_VERBOSE") == nullptr) log::SetMinLevel(log::Level::kWarn);
    if (GetParam() == Backend::kMemory) {
      base_ = NewMemFileSystem();
      root_ = "/store";
    } else {
      tmp_ = std::make_unique<TempDir>();
      base_ = NewPosixFileSystem();
      root_ = tmp_->path();
    }
    fs_ = base_.get();
    dir_ = root_ + "/index";
  }

  // Wraps the backend in a fault-injecting file system (writable mappings unavailable).
  io::FaultInjectionFS* UseFaultFs() {
    fault_ = std::make_shared<io::FaultInjectionFS>(base_, 42);
    fs_ = fault_.get();
    return fault_.get();
  }

  std::unique_ptr<IndexService> Open(IndexConfig cfg, std::string dir = "") {
    auto svc = std::make_unique<IndexService>(fs_, dir.empty() ? dir_ : dir, cfg,
                                              [this] { return clock_.load(); });
    absl::Status s = svc->Load();
    EXPECT_TRUE(s.ok()) << s;
    return svc;
  }

  std::vector<std::string> ListDir() {
    auto names = fs_->List(dir_);
    EXPECT_TRUE(names.ok()) << names.status();
    std::vector<std::string> v = names.ok() ? *names : std::vector<std::string>{};
    std::sort(v.begin(), v.end());
    return v;
  }

  std::string ReadRaw(const std::string& name) {
    auto f = base_->Open(dir_ + "/" + name, OpenOptions{.read_only = true});
    EXPECT_TRUE(f.ok()) << f.status();
    if (!f.ok()) return "";
    auto size = (*f)->Size();
    std::string buf(size.ok() ? *size : 0, '\0');
    auto got = (*f)->ReadAt(0, buf.data(), buf.size());
    EXPECT_TRUE(got.ok() && *got == buf.size());
    return buf;
  }

  std::unique_ptr<TempDir> tmp_;
  std::shared_ptr<FileSystem> base_;
  std::shared_ptr<io::FaultInjectionFS> fault_;
  FileSystem* fs_ = nullptr;
  std::string root_;
  std::string dir_;
  std::atomic<int64_t> clock_{kT0};
};

INSTANTIATE_TEST_SUITE_P(Backends, IndexTest, ::testing::Values(Backend::kMemory, Backend::kPosix),
                         [](const auto& info) {
                           return info.param == Backend::kMemory ? "Memory" : "Posix";
                         });

TEST(IndexKeyHashTest, MatchesJavaAbsHashCode) {
  // Java: "t#a".hashCode() == 116*31*31 + 35*31 + 97.
  EXPECT_EQ(IndexKeyHash("t#a"), 112658);
  // "polygenelubricants".hashCode() == Integer.MIN_VALUE; Math.abs keeps it negative -> 0.
  EXPECT_EQ(JavaStringHash("polygenelubricants"), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(IndexKeyHash("polygenelubricants"), 0);
  int negatives = 0;
  for (int i = 0; i < 200; ++i) {
    std::string k = fmt::format("topic#key-{}", i);
    int32_t h = JavaStringHash(k);
    EXPECT_EQ(IndexKeyHash(k), h < 0 ? -h : h) << k;
    negatives += h < 0;
  }
  EXPECT_GT(negatives, 0);  // the abs branch was exercised
}

TEST(IndexFileNameTest, SeventeenDigitsEndingInMillis) {
  std::string n = IndexFileName(kT0);
  ASSERT_EQ(n.size(), 17u);
  EXPECT_TRUE(std::all_of(n.begin(), n.end(), ::isdigit));
  EXPECT_EQ(n.substr(0, 6), "202311");
  EXPECT_EQ(n.substr(14), "123");
  EXPECT_LT(IndexFileName(kT0), IndexFileName(kT0 + 1));
}

TEST_P(IndexTest, RejectsUnusableConfig) {
  IndexService svc(fs_, dir_, Cfg(64, 1), [] { return kT0; });
  EXPECT_TRUE(absl::IsInvalidArgument(svc.Load()));
  EXPECT_TRUE(absl::IsFailedPrecondition(svc.Put("t", "k", "", 0, kT0)));
}

TEST_P(IndexTest, PutQueryRoundTrip) {
  auto svc = Open(Cfg(64, 1000));
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK(svc->Put("t", fmt::format("k{}", i), "", i * 100, kT0 + i * 10));
  }
  EXPECT_EQ(svc->FileCount(), 1u);
  EXPECT_EQ(svc->TotalEntries(), 100);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(svc->Query("t", fmt::format("k{}", i), 64, 0, kForever),
              std::vector<int64_t>{i * 100})
        << i;
  }
  EXPECT_TRUE(svc->Query("t", "k100", 64, 0, kForever).empty());
  EXPECT_TRUE(svc->Query("other", "k5", 64, 0, kForever).empty());
  EXPECT_EQ(ListDir(), std::vector<std::string>{IndexFileName(kT0)});
}

TEST_P(IndexTest, CollidingSlotsReturnExactOffsetsNewestFirst) {
  auto svc = Open(Cfg(4, 1000));
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK(svc->Put("t", fmt::format("k{}", i % 10), "", i, kT0));
  }
  for (int k = 0; k < 10; ++k) {
    EXPECT_EQ(svc->Query("t", fmt::format("k{}", k), 1000, 0, kForever), Range(190 + k, k, -10))
        << k;
  }
}

TEST_P(IndexTest, KeysPropertyAndUniqKey) {
  auto svc = Open(Cfg(64, 1000));
  // Records without keys cost nothing: not even a file.
  ASSERT_OK(svc->Put("t", "", "", 5, kT0));
  ASSERT_OK(svc->Put("t", "   ", "", 6, kT0));
  EXPECT_EQ(svc->FileCount(), 0u);
  ASSERT_OK(svc->Put("t", "a b  c ", "UNIQ1", 700, kT0));
  ASSERT_OK(svc->Put("t", "b", "", 800, kT0));
  EXPECT_EQ(svc->TotalEntries(), 5);
  EXPECT_EQ(svc->Query("t", "a", 64, 0, kForever), std::vector<int64_t>{700});
  EXPECT_EQ(svc->Query("t", "b", 64, 0, kForever), (std::vector<int64_t>{800, 700}));
  EXPECT_EQ(svc->Query("t", "c", 64, 0, kForever), std::vector<int64_t>{700});
  EXPECT_EQ(svc->Query("t", "UNIQ1", 64, 0, kForever), std::vector<int64_t>{700});
  EXPECT_TRUE(svc->Query("t", "a b", 64, 0, kForever).empty());
  EXPECT_TRUE(svc->Query("t", "", 64, 0, kForever).empty());
}

TEST_P(IndexTest, MaxNumKeepsTheNewest) {
  auto svc = Open(Cfg(64, 1000));
  for (int i = 0; i < 50; ++i) ASSERT_OK(svc->Put("t", "k", "", i, kT0));
  EXPECT_EQ(svc->Query("t", "k", 10, 0, kForever), Range(49, 40, -1));
  EXPECT_EQ(svc->Query("t", "k", 1, 0, kForever), std::vector<int64_t>{49});
  EXPECT_TRUE(svc->Query("t", "k", 0, 0, kForever).empty());
  EXPECT_EQ(svc->Query("t", "k", 1000, 0, kForever).size(), 50u);
}

TEST_P(IndexTest, TimeRangeFiltersAtSecondResolution) {
  auto svc = Open(Cfg(64, 1000));
  for (int i = 0; i < 100; ++i) ASSERT_OK(svc->Put("t", "k", "", i, kT0 + i * 1000));

  EXPECT_EQ(svc->Query("t", "k", 64, kT0 + 10'000, kT0 + 19'999), Range(19, 10, -1));
  EXPECT_EQ(svc->Query("t", "k", 64, kT0 + 10'500, kT0 + 10'600), std::vector<int64_t>{10});
  EXPECT_EQ(svc->Query("t", "k", 64, kT0 + 99'000, kForever), std::vector<int64_t>{99});
  EXPECT_TRUE(svc->Query("t", "k", 64, 0, kT0 - 1).empty());
  EXPECT_TRUE(svc->Query("t", "k", 64, kT0 + 200'000, kForever).empty());
  EXPECT_TRUE(svc->Query("t", "k", 64, kT0 + 5000, kT0 + 4000).empty());  // empty range

  // Sub-second store times: the entry says "second 1", so [1400, 1600] may hold it.
  auto svc2 = Open(Cfg(64, 1000), root_ + "/index2");
  ASSERT_OK(svc2->Put("t", "k", "", 1, kT0));
  ASSERT_OK(svc2->Put("t", "k", "", 2, kT0 + 1500));
  ASSERT_OK(svc2->Put("t", "k", "", 3, kT0 + 4200));
  EXPECT_EQ(svc2->Query("t", "k", 64, kT0 + 1400, kT0 + 1600), std::vector<int64_t>{2});
  EXPECT_EQ(svc2->Query("t", "k", 64, kT0 + 2000, kT0 + 3999), std::vector<int64_t>{});
  EXPECT_EQ(svc2->Query("t", "k", 64, kT0 + 4000, kT0 + 4000), std::vector<int64_t>{3});
  EXPECT_EQ(svc2->Query("t", "k", 64, kT0 + 999, kT0 + 999), std::vector<int64_t>{1});
}

TEST_P(IndexTest, RollsWhenFullAndQueriesSpanFiles) {
  auto svc = Open(Cfg(8, 11));  // 10 entries per file
  for (int i = 0; i < 25; ++i) {
    ASSERT_OK(svc->Put("t", fmt::format("k x{}", i), "", 100 + i, kT0 + i * 1000));
  }
  // 50 entries: 10 per file; the clock stood still, so names are 1 ms apart.
  ASSERT_EQ(svc->FileCount(), 5u);
  std::vector<std::string> names = ListDir();
  ASSERT_EQ(names.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(names[i], IndexFileName(kT0 + i));
  EXPECT_EQ(svc->TotalEntries(), 50);

  EXPECT_EQ(svc->Query("t", "k", 100, 0, kForever), Range(124, 100, -1));
  EXPECT_EQ(svc->Query("t", "x3", 100, 0, kForever), std::vector<int64_t>{103});
  EXPECT_EQ(svc->Query("t", "k", 100, kT0 + 8000, kT0 + 12'000), Range(112, 108, -1));

  // File 1 ends with record 4 (key x4); file 2 begins with record 5 (key k).
  std::string f1 = ReadRaw(names[0]);
  std::string f2 = ReadRaw(names[1]);
  ASSERT_EQ(f1.size(), 40u + 8 * 4 + 11 * 20);
  EXPECT_EQ(LoadBe64(f1.data() + 0), static_cast<uint64_t>(kT0));
  EXPECT_EQ(LoadBe64(f1.data() + 8), static_cast<uint64_t>(kT0 + 4000));
  EXPECT_EQ(LoadBe64(f1.data() + 16), 100u);
  EXPECT_EQ(LoadBe64(f1.data() + 24), 104u);
  EXPECT_EQ(LoadBe32(f1.data() + 36), 11u);
  EXPECT_EQ(LoadBe64(f2.data() + 0), static_cast<uint64_t>(kT0 + 5000));
  EXPECT_EQ(LoadBe64(f2.data() + 16), 105u);
  EXPECT_EQ(LoadBe32(f2.data() + 36), 11u);
}

TEST_P(IndexTest, NewFileIsSeededFromThePreviousFilesEnd) {
  io::FaultInjectionFS* fault = UseFaultFs();
  auto svc = Open(Cfg(8, 5));
  for (int i = 0; i < 4; ++i) ASSERT_OK(svc->Put("t", "k", "", 1000 + i, kT0 + i * 1000));
  ASSERT_EQ(svc->FileCount(), 1u);
  // The next Put creates file 2 (write 1: its header) and fails writing its first entry (write
  // 2), which leaves file 2 exactly as created.
  fault->FailNth(io::FaultOp::kWrite, 2, EIO);
  EXPECT_FALSE(svc->Put("t", "k", "", 2000, kT0 + 9000).ok());
  ASSERT_EQ(svc->FileCount(), 2u);
  std::string f2 = ReadRaw(IndexFileName(kT0 + 1));
  ASSERT_EQ(f2.size(), 40u + 8 * 4 + 5 * 20);
  EXPECT_EQ(LoadBe64(f2.data() + 0), static_cast<uint64_t>(kT0 + 3000));
  EXPECT_EQ(LoadBe64(f2.data() + 8), static_cast<uint64_t>(kT0 + 3000));
  EXPECT_EQ(LoadBe64(f2.data() + 16), 1003u);
  EXPECT_EQ(LoadBe64(f2.data() + 24), 1003u);
  EXPECT_EQ(LoadBe32(f2.data() + 32), 0u);
  EXPECT_EQ(LoadBe32(f2.data() + 36), 1u);
  // A failed write is sticky until reload; the unpublished entry is never returned.
  EXPECT_FALSE(svc->Put("t", "k", "", 2001, kT0 + 9000).ok());
  EXPECT_FALSE(svc->Sync().ok());
  EXPECT_EQ(svc->Query("t", "k", 64, 0, kForever), Range(1003, 1000, -1));
  fault->ClearFaults();
  svc->Close();
  ASSERT_OK(svc->Load());
  ASSERT_OK(svc->Put("t", "k", "", 2002, kT0 + 9000));
  ASSERT_OK(svc->Sync());
  EXPECT_EQ(svc->Query("t", "k", 64, 0, kForever),
            (std::vector<int64_t>{2002, 1003, 1002, 1001, 1000}));
}

TEST_P(IndexTest, ReloadGivesTheSameAnswers) {
  auto cfg = Cfg(8, 11);
  std::vector<std::vector<int64_t>> before;
  auto queries = [](IndexService& s) {
    std::vector<std::vector<int64_t>> r;
    for (int k = 0; k < 7; ++k) r.push_back(s.Query("t", fmt::format("k{}", k), 100, 0, kForever));
    r.push_back(s.Query("t", "k3", 100, kT0 + 5000, kT0 + 15'000));
    return r;
  };
  {
    auto svc = Open(cfg);
    for (int i = 0; i < 25; ++i) {
      clock_ = kT0 + i * 1000;
      ASSERT_OK(svc->Put("t", fmt::format("k{}", i % 7), "", i * 10, kT0 + i * 1000));
    }
    ASSERT_OK(svc->Sync());
    before = queries(*svc);
    EXPECT_EQ(before[3], (std::vector<int64_t>{240, 170, 100, 30}));
  }
  std::vector<std::string> names = ListDir();
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0], IndexFileName(kT0));
  EXPECT_EQ(names[1], IndexFileName(kT0 + 10'000));
  EXPECT_EQ(names[2], IndexFileName(kT0 + 20'000));

  clock_ = kT0 - 86'400'000;  // the clock stepped back a day
  auto svc = Open(cfg);
  EXPECT_EQ(svc->FileCount(), 3u);
  EXPECT_EQ(svc->TotalEntries(), 25);
  EXPECT_EQ(queries(*svc), before);
  // The newest file was reopened writable and is filled before a new one is made, whose name
  // still sorts after it.
  for (int i = 25; i < 31; ++i) ASSERT_OK(svc->Put("t", "k3", "", i * 10, kT0 + i * 1000));
  EXPECT_EQ(svc->FileCount(), 4u);
  names = ListDir();
  ASSERT_EQ(names.size(), 4u);
  EXPECT_GT(names[3], names[2]);
  EXPECT_EQ(svc->Query("t", "k3", 4, 0, kForever), (std::vector<int64_t>{300, 290, 280, 270}));
  svc.reset();
  svc = Open(cfg);
  EXPECT_EQ(svc->Query("t", "k3", 100, 0, kForever).size(), 10u);
}

TEST_P(IndexTest, DuplicatePutsAreReturnedOnce) {
  auto svc = Open(Cfg(8, 6));  // 5 entries per file, so the duplicates span files
  for (int round = 0; round < 3; ++round) {
    ASSERT_OK(svc->Put("t", "k", "", 10, kT0));
    ASSERT_OK(svc->Put("t", "k", "", 20, kT0 + 1000));
    ASSERT_OK(svc->Put("t", "other", "", 30, kT0 + 1000));
  }
  ASSERT_GE(svc->FileCount(), 2u);
  EXPECT_EQ(svc->Query("t", "k", 64, 0, kForever), (std::vector<int64_t>{20, 10}));
  // Duplicates do not use up max_num.
  EXPECT_EQ(svc->Query("t", "k", 2, 0, kForever), (std::vector<int64_t>{20, 10}));
}

TEST_P(IndexTest, DeleteFilesBelowKeepsTheNewest) {
  auto svc = Open(Cfg(8, 11));
  for (int i = 0; i < 25; ++i) {
    ASSERT_OK(svc->Put("t", fmt::format("k{}", i), "", i * 100, kT0 + i * 1000));
  }
  ASSERT_EQ(svc->FileCount(), 3u);  // ends: 900, 1900, 2400
  std::vector<std::string> names = ListDir();

  auto n = svc->DeleteFilesBelow(900);  // endPhyOffset 900 is not below 900
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
  n = svc->DeleteFilesBelow(901);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(ListDir(), (std::vector<std::string>{names[1], names[2]}));
  EXPECT_TRUE(svc->Query("t", "k3", 64, 0, kForever).empty());
  EXPECT_EQ(svc->Query("t", "k13", 64, 0, kForever), std::vector<int64_t>{1300});

  n = svc->DeleteFilesBelow(kForever);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(svc->FileCount(), 1u);
  EXPECT_EQ(ListDir(), std::vector<std::string>{names[2]});
  EXPECT_EQ(svc->TotalEntries(), 5);
  EXPECT_TRUE(svc->Query("t", "k13", 64, 0, kForever).empty());
  EXPECT_EQ(svc->Query("t", "k24", 64, 0, kForever), std::vector<int64_t>{2400});
  ASSERT_OK(svc->Put("t", "k24", "", 2500, kT0 + 30'000));
  EXPECT_EQ(svc->Query("t", "k24", 64, 0, kForever), (std::vector<int64_t>{2500, 2400}));
}

TEST_P(IndexTest, CorruptFilesAreRenamedAsideAndTheRestServed) {
  auto cfg = Cfg(8, 11);
  {
    auto svc = Open(cfg);
    for (int i = 0; i < 30; ++i) {
      ASSERT_OK(svc->Put("t", fmt::format("k{}", i), "", i * 100, kT0 + i * 1000));
    }
    ASSERT_EQ(svc->FileCount(), 3u);
  }
  std::vector<std::string> names = ListDir();
  ASSERT_EQ(names.size(), 3u);
  {
    // File 1: wrong size. File 3 (the newest): impossible indexCount.
    auto f = fs_->Open(dir_ + "/" + names[0], OpenOptions{});
    ASSERT_TRUE(f.ok());
    ASSERT_OK((*f)->Truncate(100));
    f = fs_->Open(dir_ + "/" + names[2], OpenOptions{});
    ASSERT_TRUE(f.ok());
    char bad[4];
    StoreBe32(bad, 12);  // > max_index_num (11)
    ASSERT_OK((*f)->WriteAt(36, std::string_view(bad, 4)));
    auto g = fs_->Open(dir_ + "/notes.txt", OpenOptions{.create = true});
    ASSERT_TRUE(g.ok());
  }
  LogCapture logs;
  auto svc = Open(cfg);
  EXPECT_EQ(svc->FileCount(), 1u);
  EXPECT_TRUE(logs.Contains(names[0], "corrupt"));
  EXPECT_TRUE(logs.Contains(names[2], "indexCount 12"));
  EXPECT_TRUE(logs.Contains("notes.txt", "foreign"));
  EXPECT_EQ(ListDir(), (std::vector<std::string>{names[0] + ".corrupt", names[1],
                                                 names[2] + ".corrupt", "notes.txt"}));
  EXPECT_TRUE(svc->Query("t", "k5", 64, 0, kForever).empty());
  EXPECT_EQ(svc->Query("t", "k15", 64, 0, kForever), std::vector<int64_t>{1500});
  EXPECT_TRUE(svc->Query("t", "k25", 64, 0, kForever).empty());
  // Remaining file 2 is full: the next Put starts a new file after it.
  ASSERT_OK(svc->Put("t", "k15", "", 9000, kT0 + 50'000));
  EXPECT_EQ(svc->FileCount(), 2u);
  EXPECT_EQ(svc->Query("t", "k15", 64, 0, kForever), (std::vector<int64_t>{9000, 1500}));
}

TEST_P(IndexTest, FaultFsFallbackSurvivesPowerLossAfterSync) {
  io::FaultInjectionFS* fault = UseFaultFs();
  auto cfg = Cfg(8, 11);
  auto svc = Open(cfg);
  for (int i = 0; i < 30; ++i) {
    ASSERT_OK(svc->Put("t", fmt::format("k{}", i % 4), "", i, kT0 + i * 1000));
  }
  ASSERT_OK(svc->Sync());
  for (int i = 30; i < 35; ++i) ASSERT_OK(svc->Put("t", "k0", "", i, kT0 + i * 1000));
  EXPECT_EQ(svc->Query("t", "k0", 64, 0, kForever),
            (std::vector<int64_t>{34, 33, 32, 31, 30, 28, 24, 20, 16, 12, 8, 4, 0}));
  svc->Close();
  ASSERT_OK(fault->PowerLoss(io::LossPolicy::kDropAll));

  svc = Open(cfg);
  EXPECT_EQ(svc->FileCount(), 4u);
  EXPECT_EQ(svc->TotalEntries(), 30);
  EXPECT_EQ(svc->Query("t", "k0", 64, 0, kForever), Range(28, 0, -4));
  EXPECT_EQ(svc->Query("t", "k3", 64, 0, kForever), Range(27, 3, -4));
}

TEST_P(IndexTest, SyncFailureIsSticky) {
  io::FaultInjectionFS* fault = UseFaultFs();
  auto svc = Open(Cfg(8, 11));
  ASSERT_OK(svc->Put("t", "k", "", 1, kT0));
  fault->FailNth(io::FaultOp::kSync, 1, EIO);
  EXPECT_FALSE(svc->Sync().ok());
  EXPECT_FALSE(svc->Sync().ok());
  EXPECT_FALSE(svc->Put("t", "k", "", 2, kT0).ok());
  EXPECT_EQ(svc->Query("t", "k", 64, 0, kForever), std::vector<int64_t>{1});
}

TEST_P(IndexTest, DiskFullOnCreateIsReturnedAndRetried) {
  io::FaultInjectionFS* fault = UseFaultFs();
  auto svc = Open(Cfg(8, 11));
  fault->FailNth(io::FaultOp::kAllocate, 1, ENOSPC);
  absl::Status s = svc->Put("t", "k", "", 1, kT0);
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_EQ(svc->FileCount(), 0u);
  EXPECT_TRUE(ListDir().empty());  // no temporary file left behind
  ASSERT_OK(svc->Put("t", "k", "", 2, kT0));
  EXPECT_EQ(svc->Query("t", "k", 64, 0, kForever), std::vector<int64_t>{2});
}

TEST_P(IndexTest, ByteLevelFormat) {
  auto svc = Open(Cfg(8, 4));
  // "t#a" hashes to 112658 -> slot 112658 % 8 == 2.
  ASSERT_OK(svc->Put("t", "a", "", 0x0102030405060708, kT0));
  ASSERT_OK(svc->Put("t", "a", "", 0x1112131415161718, kT0 + 2500));
  ASSERT_OK(svc->Sync());
  std::string b = ReadRaw(IndexFileName(kT0));
  ASSERT_EQ(b.size(), 40u + 8 * 4 + 4 * 20);

  const std::string golden_header =
      std::string("\x00\x00\x01\x8b\xcf\xe5\x68\x7b", 8) +  // beginTimestamp = kT0
      std::string("\x00\x00\x01\x8b\xcf\xe5\x72\x3f", 8) +  // endTimestamp = kT0 + 2500
      std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8) +  // beginPhyOffset
      std::string("\x11\x12\x13\x14\x15\x16\x17\x18", 8) +  // endPhyOffset
      std::string("\x00\x00\x00\x01", 4) +                  // hashSlotCount
      std::string("\x00\x00\x00\x03", 4);                   // indexCount: 1 + 2 entries
  EXPECT_EQ(b.substr(0, 40), golden_header);

  for (int slot = 0; slot < 8; ++slot) {
    EXPECT_EQ(LoadBe32(b.data() + 40 + slot * 4), slot == 2 ? 2u : 0u) << slot;
  }
  const char* e0 = b.data() + 72;  // entry 0 is never used
  EXPECT_EQ(std::string(e0, 20), std::string(20, '\0'));
  const char* e1 = b.data() + 72 + 20;
  EXPECT_EQ(std::string(e1, 20), std::string("\x00\x01\xb8\x12"                  // keyHash 112658
                                             "\x01\x02\x03\x04\x05\x06\x07\x08"  // phyOffset
                                             "\x00\x00\x00\x00"                  // timeDiff
                                             "\x00\x00\x00\x00",                 // prevIndex
                                             20));
  const char* e2 = b.data() + 72 + 40;
  EXPECT_EQ(LoadBe32(e2), 112658u);
  EXPECT_EQ(LoadBe64(e2 + 4), 0x1112131415161718u);
  EXPECT_EQ(LoadBe32(e2 + 12), 2u);  // 2500 ms -> 2 whole seconds
  EXPECT_EQ(LoadBe32(e2 + 16), 1u);  // chained to entry 1
  EXPECT_EQ(std::string(b.data() + 72 + 60, 20), std::string(20, '\0'));
}

TEST_P(IndexTest, ConcurrentPutSyncAndQuery) {
  auto svc = Open(Cfg(64, 1000));
  constexpr int kRecords = 20'000;
  constexpr int kStep = 1000;  // the writer lets every other thread take a turn this often
  std::atomic<bool> done{false};
  // Rounds completed by reader 0, reader 1 and the syncer; kGone once a thread has left (so a
  // failed assertion in it cannot leave the writer waiting).
  constexpr int kGone = std::numeric_limits<int>::max();
  std::atomic<int> rounds[3] = {0, 0, 0};
  struct Leave {
    std::atomic<int>& r;
    ~Leave() { r = kGone; }
  };

  auto reader = [&](int me) {
    Leave leave{rounds[me]};
    size_t last = 0;
    size_t last_files = 0;
    for (bool finished = false; !finished;) {
      finished = done.load();  // a query that starts after the last Put must see all of them
      std::vector<int64_t> r = svc->Query("t", "hot", kRecords, 0, kForever);
      ASSERT_GE(r.size(), last);
      last = r.size();
      for (size_t i = 0; i < r.size(); ++i) {
        ASSERT_EQ(r[i] % 100, 0) << r[i];
        if (i > 0) {
          ASSERT_LT(r[i], r[i - 1]);
        }
      }
      EXPECT_GE(svc->TotalEntries(), static_cast<int64_t>(last));
      size_t files = svc->FileCount();
      EXPECT_GE(files, last_files);  // nothing is deleted here
      last_files = files;
      rounds[me].fetch_add(1);
    }
    EXPECT_EQ(last, static_cast<size_t>(kRecords / 10));
  };
  std::thread r0(reader, 0), r1(reader, 1);
  std::thread syncer([&] {
    Leave leave{rounds[2]};
    while (!done.load()) {
      ASSERT_OK(svc->Sync());
      rounds[2].fetch_add(1);
    }
  });
  // Without the turns a fast writer can finish before the other threads start, and the test
  // would check nothing concurrent.
  auto wait_for_turns = [&](int at_least) {
    for (auto& r : rounds) {
      while (r.load() < at_least) std::this_thread::yield();
    }
  };
  for (int i = 0; i < kRecords; ++i) {
    if (i % kStep == 0) wait_for_turns(i / kStep + 1);
    std::string keys = fmt::format("k{}", i);
    if (i % 10 == 0) keys.append(" hot");
    absl::Status s = svc->Put("t", keys, "", int64_t{i} * 10, kT0 + i);
    if (!s.ok()) {
      ADD_FAILURE() << s;
      break;
    }
  }
  done = true;
  r0.join();
  r1.join();
  syncer.join();
  ASSERT_OK(svc->Sync());
  EXPECT_EQ(svc->TotalEntries(), kRecords + kRecords / 10);
  EXPECT_EQ(svc->FileCount(), static_cast<size_t>((kRecords + kRecords / 10 + 998) / 999));
  EXPECT_EQ(svc->Query("t", "k12345", 64, 0, kForever), std::vector<int64_t>{123450});
}

}  // namespace
}  // namespace stele::index
