// Recovery must copy every byte it cuts off to quarantine/, including whole later segments.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <filesystem>
#include "engine/segments.h"
#include "stele/store.h"
#include "testutil.h"
namespace stele {
TEST(Quarantine, LaterSegmentsAreQuarantinedNotJustDeleted) {
  testing::TempDir dir;
  const std::string root = dir.path() + "/s";
  const int64_t seg = 256 * 1024;
  int64_t end = 0;
  {
    auto s = Store::Open(testing::SmallOptions(root, NewPosixFileSystem()));
    ASSERT_TRUE(s.ok());
    std::string body(2000, 'x');
    while (end < 2 * seg + 10000) {  // records in segments 0, 1 and 2
      auto r = (*s)->Append(Message{.topic = "T", .body = body});
      ASSERT_TRUE(r.ok());
      end = r->wrote_offset + r->wrote_bytes;
    }
    ASSERT_TRUE((*s)->Close().ok());
  }
  // Damage the first record's TOTALSIZE and drop the checkpoint: recovery scans from 0.
  int fd = open((root + "/commitlog/" + engine::SegmentName(0)).c_str(), O_WRONLY);
  ASSERT_EQ(pwrite(fd, "\x00\x00\x10\x00", 4, 0), 4);
  close(fd);
  std::filesystem::remove(root + "/checkpoint");
  uint64_t truncated = 0;
  {
    auto s = Store::Open(testing::SmallOptions(root, NewPosixFileSystem()));
    ASSERT_TRUE(s.ok());
    truncated = (*s)->recovery_report().truncated_bytes;
  }
  // Every byte cut off must be in quarantine/: segments 0 (tail), 1 and 2.
  EXPECT_TRUE(
      std::filesystem::exists(root + "/quarantine/commitlog-" + engine::SegmentName(seg) + ".bin"));
  EXPECT_TRUE(std::filesystem::exists(root + "/quarantine/commitlog-" +
                                      engine::SegmentName(2 * seg) + ".bin"))
      << "segment 2 was deleted without a quarantine copy";
  // Only non-zero bytes count: the zero fill after each segment's 8-byte BLANK record is not data.
  EXPECT_GE(truncated, static_cast<uint64_t>(end) - 2 * 8192) << "truncated_bytes undercounts";
}
}  // namespace stele
