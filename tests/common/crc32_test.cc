#include "common/crc32.h"

#include <gtest/gtest.h>

#include <string>

namespace stele {
namespace {

TEST(Crc32, KnownVectors) {
  // CRC-32/IEEE check value and java.util.zip.CRC32 results.
  EXPECT_EQ(Crc32("123456789", 9), 0xCBF43926u);
  EXPECT_EQ(Crc32("", 0), 0u);
  EXPECT_EQ(Crc32("The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
  // RocketMQ stores it masked: UtilAll.crc32 = CRC32 & 0x7FFFFFFF.
  EXPECT_EQ(MaskedCrc32("123456789"), 0x4BF43926u);
  EXPECT_EQ(MaskedCrc32("hello"), 0x3610A686u);
}

TEST(Crc32, CombineMatchesWholeBuffer) {
  std::string a = "head part of a record ", b(5000, 'x');
  uint32_t whole = Crc32((a + b).data(), a.size() + b.size());
  EXPECT_EQ(Crc32Combine(Crc32(a.data(), a.size()), Crc32(b.data(), b.size()), b.size()), whole);
  EXPECT_EQ(Crc32(b.data(), b.size(), Crc32(a.data(), a.size())), whole);
  EXPECT_EQ(Crc32CombineWith(Crc32(a.data(), a.size()), Crc32(b.data(), b.size()),
                             Crc32CombineOp(b.size())),
            whole);
}

}  // namespace
}  // namespace stele
