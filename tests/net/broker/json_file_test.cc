// JsonFile: atomic replace with a backup, fallback to the backup, DataLoss when both are bad,
// fastjson's unquoted integer keys, and crash safety under injected faults and power loss.
#include "net/broker/state/json_file.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include <fmt/format.h>

#include "io/fault_fs.h"
#include "net/broker/state/names.h"
#include "testutil.h"

namespace stele::broker {
namespace {

using json = nlohmann::json;

class JsonFileTest : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
  std::shared_ptr<FileSystem> fs_ = NewPosixFileSystem();
  std::string path_ = tmp_.path() + "/config/x.json";

  void WriteRaw(const std::string& path, std::string_view text) {
    ASSERT_TRUE(fs_->CreateDirs(tmp_.path() + "/config").ok());
    auto f = fs_->Open(path, OpenOptions{.create = true, .truncate = true});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->WriteAt(0, text, SyncMode::kNone).ok());
  }
  std::string ReadRaw(const std::string& path) {
    auto t = ReadFileToString(*fs_, path, 1 << 20);
    return t.ok() ? *t : fmt::format("<{}>", StatusMessage(t.status()));
  }
  // Loads into `out`; the decoder accepts any object with an integer "v".
  absl::Status Load(JsonFile& f, json* out) {
    return f.Load([out](const json& doc) -> absl::Status {
      if (!doc.is_object() || !doc.contains("v") || !doc["v"].is_number_integer()) {
        return absl::InvalidArgumentError("no integer v");
      }
      *out = doc;
      return absl::OkStatus();
    });
  }
};

TEST(QuoteBareIntegerKeysTest, QuotesOnlyKeysOutsideStrings) {
  EXPECT_EQ(QuoteBareIntegerKeys(R"({"offsetTable":{"T@g":{0:5,1:7}}})"),
            R"({"offsetTable":{"T@g":{"0":5,"1":7}}})");
  EXPECT_EQ(QuoteBareIntegerKeys("{ -1 : 2 ,\n 10:3}"), "{ \"-1\" : 2 ,\n \"10\":3}");
  for (const char* same :
       {R"({"a":"{0:1}"})", "[1,2,3]", R"({"a\"{0:":1})", R"({"x":[1,{"0":2}]})", R"({"k":1.5})"}) {
    EXPECT_EQ(QuoteBareIntegerKeys(same), same);
  }
  auto j = ParseLenientJson(R"({"offsetTable":{"T@g":{0:5,1:7}}})");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["offsetTable"]["T@g"]["1"], 7);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseLenientJson(R"({"a":)").status()));
  EXPECT_FALSE(ParseLenientJson("").ok());
}

TEST_F(JsonFileTest, MissingIsNotFound) {
  JsonFile f(fs_, path_);
  json doc;
  EXPECT_TRUE(absl::IsNotFound(Load(f, &doc)));
}

TEST_F(JsonFileTest, StoreKeepsPreviousAsBackupAndReloads) {
  JsonFile f(fs_, path_);
  ASSERT_TRUE(f.Store({{"v", 1}}).ok());
  EXPECT_EQ(ReadRaw(path_), R"({"v":1})");
  EXPECT_FALSE(*fs_->Exists(f.bak_path()));
  ASSERT_TRUE(f.Store({{"v", 2}, {"s", "x"}}).ok());
  EXPECT_EQ(ReadRaw(path_), R"({"s":"x","v":2})");
  EXPECT_EQ(ReadRaw(f.bak_path()), R"({"v":1})");
  EXPECT_FALSE(*fs_->Exists(path_ + ".tmp"));
  EXPECT_FALSE(*fs_->Exists(f.bak_path() + ".tmp"));

  JsonFile again(fs_, path_);
  json doc;
  ASSERT_TRUE(Load(again, &doc).ok());
  EXPECT_EQ(doc, (json{{"v", 2}, {"s", "x"}}));
  EXPECT_FALSE(again.loaded_from_backup());
}

TEST_F(JsonFileTest, CorruptMainFallsBackToBackup) {
  JsonFile f(fs_, path_);
  ASSERT_TRUE(f.Store({{"v", 1}}).ok());
  ASSERT_TRUE(f.Store({{"v", 2}}).ok());
  WriteRaw(path_, R"({"v":2, "trunc)");
  JsonFile g(fs_, path_);
  json doc;
  ASSERT_TRUE(Load(g, &doc).ok());
  EXPECT_EQ(doc["v"], 1);
  EXPECT_TRUE(g.loaded_from_backup());
  // The next store must not make the corrupt main file the backup.
  ASSERT_TRUE(g.Store({{"v", 3}}).ok());
  EXPECT_EQ(ReadRaw(g.bak_path()), R"({"v":1})");
  EXPECT_EQ(ReadRaw(path_), R"({"v":3})");
}

TEST_F(JsonFileTest, DecoderRejectionAlsoFallsBack) {
  WriteRaw(path_, R"({"v":"not a number"})");
  WriteRaw(path_ + ".bak", R"({"v":9})");
  JsonFile f(fs_, path_);
  json doc;
  ASSERT_TRUE(Load(f, &doc).ok());
  EXPECT_EQ(doc["v"], 9);
}

TEST_F(JsonFileTest, MissingMainWithBackupLoadsBackup) {
  // Java RocketMQ's writer deletes the file before renaming the new one in; a crash there leaves
  // only the backup.
  WriteRaw(path_ + ".bak", R"({"v":4})");
  JsonFile f(fs_, path_);
  json doc;
  ASSERT_TRUE(Load(f, &doc).ok());
  EXPECT_EQ(doc["v"], 4);
}

TEST_F(JsonFileTest, BothBadIsDataLoss) {
  WriteRaw(path_, "{garbage");
  WriteRaw(path_ + ".bak", "");
  JsonFile f(fs_, path_);
  json doc;
  absl::Status s = Load(f, &doc);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(std::string(StatusMessage(s)).find("x.json"), std::string::npos) << s;
}

TEST_F(JsonFileTest, CorruptMainWithoutBackupIsDataLoss) {
  WriteRaw(path_, "");
  JsonFile f(fs_, path_);
  json doc;
  EXPECT_TRUE(absl::IsDataLoss(Load(f, &doc)));
}

TEST_F(JsonFileTest, WritesStandardJsonEvenForBadUtf8) {
  JsonFile f(fs_, path_);
  ASSERT_TRUE(f.Store({{"v", 1}, {"s", std::string("a\xff")}}).ok());
  json doc;
  JsonFile g(fs_, path_);
  ASSERT_TRUE(Load(g, &doc).ok());
  EXPECT_EQ(doc["v"], 1);
}

// Every fault at every point of Store: the file then loads as the old or the new version, never
// as neither, and a Store that returned OK is never lost. Then power loss on top.
TEST(JsonFileCrashTest, FaultsAndPowerLossNeverLoseTheFile) {
  const io::FaultOp ops[] = {io::FaultOp::kWrite, io::FaultOp::kSync, io::FaultOp::kCreate,
                             io::FaultOp::kRename, io::FaultOp::kSyncDir};
  const std::string path = "/db/config/x.json";
  auto load = [&](std::shared_ptr<FileSystem> fs, int* v) {
    JsonFile g(std::move(fs), path);
    return g.Load([&](const json& d) -> absl::Status {
      if (!d.contains("v")) return absl::InvalidArgumentError("no v");
      *v = d["v"].get<int>();
      return absl::OkStatus();
    });
  };
  int stores_failed = 0;
  for (io::FaultOp op : ops) {
    for (uint64_t nth = 1; nth <= 4; ++nth) {
      for (bool two_before : {false, true}) {
        SCOPED_TRACE(
            fmt::format("op {} nth {} two_before {}", static_cast<int>(op), nth, two_before));
        const int prev = two_before ? 2 : 1;
        auto fs = std::make_shared<io::FaultInjectionFS>(NewMemFileSystem(), nth);
        JsonFile f(fs, path);
        ASSERT_TRUE(f.Store({{"v", 1}}).ok());
        if (two_before) {
          ASSERT_TRUE(f.Store({{"v", 2}}).ok());
        }
        fs->FailNth(op, nth, EIO,
                    op == io::FaultOp::kWrite ? std::optional<size_t>(3) : std::nullopt);
        absl::Status s = f.Store({{"v", 10}});
        stores_failed += !s.ok();
        fs->ClearFaults();
        int v = 0;
        ASSERT_TRUE(load(fs, &v).ok());
        if (s.ok()) {
          EXPECT_EQ(v, 10);
        } else {
          EXPECT_TRUE(v == 10 || v == prev) << v;
        }

        // Power loss: a Store that returned OK is durable (written, synced, renamed, directory
        // synced), so it is what comes back; after a failed one, either version may.
        fs->Deactivate();
        ASSERT_TRUE(fs->PowerLoss(io::LossPolicy::kDropAll).ok());
        fs->Activate();
        ASSERT_TRUE(load(fs, &v).ok());
        if (s.ok()) {
          EXPECT_EQ(v, 10);
        } else {
          EXPECT_TRUE(v == 10 || v == prev) << v;
        }
      }
    }
  }
  EXPECT_GT(stores_failed, 10);  // the faults did hit
}

}  // namespace
}  // namespace stele::broker
