// StoreOptions::SetOption takes RocketMQ's broker.conf key names and rejects bad input clearly.
#include <gtest/gtest.h>

#include "stele/options.h"

namespace stele {
namespace {

TEST(StoreOptions, SetsByRocketMqKeyNames) {
  StoreOptions o;
  ASSERT_TRUE(o.SetOption("storePathRootDir", " /tmp/x ").ok());
  EXPECT_EQ(o.store_path_root_dir, "/tmp/x");
  ASSERT_TRUE(o.SetOption("flushDiskType", "SYNC_FLUSH").ok());
  EXPECT_EQ(o.flush_disk_type, FlushDiskType::kSyncFlush);
  ASSERT_TRUE(o.SetOption("mapedFileSizeCommitLog", "1048576").ok());  // RocketMQ's old spelling
  EXPECT_EQ(o.mapped_file_size_commit_log, 1048576u);
  ASSERT_TRUE(o.SetOption("enabledAppendPropCRC", "FALSE").ok());
  EXPECT_FALSE(o.enabled_append_prop_crc);
  ASSERT_TRUE(o.SetOption("segmentPreallocate", "fallocate").ok());
  EXPECT_EQ(o.preallocate, Preallocate::kFallocate);
  ASSERT_TRUE(o.SetOption("commitLogWriteMode", "mmap").ok());
  EXPECT_EQ(o.write_mode, WriteMode::kMmap);
  EXPECT_TRUE(o.Validate().ok()) << o.Validate();
}

TEST(StoreOptions, RejectsBadValuesNamingTheKey) {
  StoreOptions o;
  auto st = o.SetOption("flushDiskType", "SOMETIMES");
  EXPECT_TRUE(absl::IsInvalidArgument(st));
  EXPECT_NE(st.message().find("flushDiskType"), std::string_view::npos);
  EXPECT_NE(st.message().find("SYNC_FLUSH"), std::string_view::npos);
  EXPECT_TRUE(absl::IsInvalidArgument(o.SetOption("maxMessageSize", "4MB")));
  EXPECT_TRUE(absl::IsInvalidArgument(o.SetOption("checkCRCOnRecover", "yes")));
  EXPECT_TRUE(absl::IsNotFound(o.SetOption("noSuchKey", "1")));
}

TEST(StoreOptions, ValidateChecksRanges) {
  StoreOptions o;
  EXPECT_FALSE(o.Validate().ok());  // no root dir
  o.store_path_root_dir = "/tmp/x";
  EXPECT_TRUE(o.Validate().ok());
  o.mapped_file_size_commit_log = 1000;  // not a multiple of 4096
  EXPECT_FALSE(o.Validate().ok());
  o.mapped_file_size_commit_log = 1 << 20;
  o.write_buffer_size = 1024;  // smaller than 2 x (maxMessageSize + 64 KiB)
  EXPECT_FALSE(o.Validate().ok());
  o.write_buffer_size = 32 << 20;
  o.store_host = "not-an-address";
  EXPECT_FALSE(o.Validate().ok());
}

TEST(StoreOptions, IndexAndRetentionKeys) {
  StoreOptions o;
  o.store_path_root_dir = "/tmp/x";
  ASSERT_TRUE(o.SetOption("mappedFileSizeConsumeQueue", "6000000").ok());
  EXPECT_EQ(o.mapped_file_size_consume_queue, 6000000u);
  ASSERT_TRUE(o.SetOption("messageIndexEnable", "false").ok());
  EXPECT_FALSE(o.message_index_enable);
  ASSERT_TRUE(o.SetOption("maxHashSlotNum", "1000").ok());
  ASSERT_TRUE(o.SetOption("maxIndexNum", "4000").ok());
  ASSERT_TRUE(o.SetOption("fileReservedTime", "48").ok());
  EXPECT_EQ(o.file_reserved_time_hours, 48);
  ASSERT_TRUE(o.SetOption("deleteWhen", "04;10").ok());
  ASSERT_TRUE(o.SetOption("diskMaxUsedSpaceRatio", "80").ok());
  EXPECT_EQ(o.disk_max_used_space_ratio, 80);
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_EQ(*ParseDeleteWhen("04;10"), (std::vector<int>{4, 10}));
  o.delete_when = "25";
  absl::Status st = o.Validate();
  EXPECT_TRUE(absl::IsInvalidArgument(st));
  EXPECT_NE(st.message().find("deleteWhen"), std::string_view::npos) << st;
  o.delete_when = "04;";
  EXPECT_FALSE(o.Validate().ok());
  o.delete_when = "4";
  o.disk_max_used_space_ratio = 0;
  EXPECT_FALSE(o.Validate().ok());
  o.disk_max_used_space_ratio = 75;
  o.max_index_num = 1;
  EXPECT_FALSE(o.Validate().ok());
  EXPECT_TRUE(absl::IsInvalidArgument(o.SetOption("fileReservedTime", "3d")));
}

}  // namespace
}  // namespace stele
