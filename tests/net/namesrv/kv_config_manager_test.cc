#include "net/namesrv/kv_config_manager.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "io/fault_fs.h"
#include "nlohmann/json.hpp"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele::namesrv {
namespace {

using nlohmann::json;

void WriteFile(FileSystem& fs, const std::string& path, const std::string& text) {
  ASSERT_TRUE(fs.CreateDirs(path.substr(0, path.rfind('/'))).ok());
  auto f = fs.Open(path, OpenOptions{.create = true, .truncate = true});
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->WriteAt(0, text, SyncMode::kData).ok());
}

TEST(KvConfigManagerTest, PersistsAndReloads) {
  stele::testing::TempDir dir;
  const std::string path = dir.path() + "/namesrv/kvConfig.json";
  {
    KvConfigManager kv(nullptr, path);
    ASSERT_TRUE(kv.Load().ok());  // no file yet: empty
    EXPECT_FALSE(kv.Get("ns", "k").has_value());
    ASSERT_TRUE(kv.Put("ns", "k", "v1").ok());
    ASSERT_TRUE(kv.Put("ns", "k", "v2").ok());
    ASSERT_TRUE(kv.Put("ns", "gone", "x").ok());
    ASSERT_TRUE(kv.Put(kNamespaceOrderTopicConfig, "T", "broker-a:4").ok());
    ASSERT_TRUE(kv.Delete("ns", "gone").ok());
    ASSERT_TRUE(kv.Delete("ns", "never-there").ok());
  }
  KvConfigManager kv(nullptr, path);
  ASSERT_TRUE(kv.Load().ok());
  EXPECT_EQ(kv.Get("ns", "k"), "v2");
  EXPECT_FALSE(kv.Get("ns", "gone").has_value());
  EXPECT_EQ(json::parse(*kv.GetKvListByNamespace(kNamespaceOrderTopicConfig)),
            json::parse(R"({"table":{"T":"broker-a:4"}})"));
  EXPECT_FALSE(kv.GetKvListByNamespace("empty").has_value());
}

TEST(KvConfigManagerTest, ReadsAJavaNameServersFile) {
  auto fs = NewMemFileSystem();
  WriteFile(*fs, "/ns/kvConfig.json", R"({
	"configTable":{
		"ORDER_TOPIC_CONFIG":{"TopicTest":"broker-a:8;broker-b:8"},
		"other":{"a":"1"}
	}
})");
  KvConfigManager kv(fs, "/ns/kvConfig.json");
  ASSERT_TRUE(kv.Load().ok());
  EXPECT_EQ(kv.Get("ORDER_TOPIC_CONFIG", "TopicTest"), "broker-a:8;broker-b:8");
  EXPECT_EQ(kv.Get("other", "a"), "1");
  // The file written back is the same format.
  ASSERT_TRUE(kv.Put("other", "b", "2").ok());
  KvConfigManager again(fs, "/ns/kvConfig.json");
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.Get("other", "b"), "2");
  EXPECT_EQ(again.Get("ORDER_TOPIC_CONFIG", "TopicTest"), "broker-a:8;broker-b:8");
}

TEST(KvConfigManagerTest, UnusableFileRefusesToLoad) {
  auto fs = NewMemFileSystem();
  for (const char* text : {"{not json", R"({"configTable":[]})", R"({"configTable":{"ns":5}})"}) {
    WriteFile(*fs, "/ns/kvConfig.json", text);
    KvConfigManager kv(fs, "/ns/kvConfig.json");
    absl::Status s = kv.Load();
    EXPECT_TRUE(absl::IsDataLoss(s)) << text << ": " << s;
    EXPECT_NE(s.message().find("kvConfig.json"), std::string::npos) << s;
  }
}

TEST(KvConfigManagerTest, FailedPersistUndoesTheChange) {
  auto faulty = std::make_shared<io::FaultInjectionFS>(NewMemFileSystem(), /*seed=*/1);
  KvConfigManager kv(faulty, "/ns/kvConfig.json");
  ASSERT_TRUE(kv.Load().ok());
  ASSERT_TRUE(kv.Put("ns", "k", "old").ok());

  faulty->FailNth(io::FaultOp::kSync, 1, EIO);
  EXPECT_FALSE(kv.Put("ns", "k", "new").ok());
  EXPECT_EQ(kv.Get("ns", "k"), "old");
  faulty->FailNth(io::FaultOp::kSync, 1, EIO);
  EXPECT_FALSE(kv.Delete("ns", "k").ok());
  EXPECT_EQ(kv.Get("ns", "k"), "old");
  faulty->FailNth(io::FaultOp::kSync, 1, EIO);
  EXPECT_FALSE(kv.Put("ns2", "fresh", "v").ok());
  EXPECT_FALSE(kv.GetKvListByNamespace("ns2").has_value());
}

TEST(KvConfigManagerTest, AcknowledgedPutSurvivesPowerLoss) {
  auto faulty = std::make_shared<io::FaultInjectionFS>(NewMemFileSystem(), /*seed=*/2);
  {
    KvConfigManager kv(faulty, "/ns/kvConfig.json");
    ASSERT_TRUE(kv.Load().ok());
    ASSERT_TRUE(kv.Put("ns", "k", "v").ok());
  }
  ASSERT_TRUE(faulty->PowerLoss(io::LossPolicy::kDropAll).ok());
  KvConfigManager kv(faulty, "/ns/kvConfig.json");
  ASSERT_TRUE(kv.Load().ok());
  EXPECT_EQ(kv.Get("ns", "k"), "v");
}

TEST(KvConfigManagerTest, EmptyPathIsMemoryOnly) {
  KvConfigManager kv(NewMemFileSystem(), "");
  ASSERT_TRUE(kv.Load().ok());
  ASSERT_TRUE(kv.Put("ns", "k", "v").ok());
  EXPECT_EQ(kv.Get("ns", "k"), "v");
}

}  // namespace
}  // namespace stele::namesrv
