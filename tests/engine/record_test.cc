// Golden bytes of the RocketMQ record format. The fixtures were computed from the layout in
// ref/store.md by an independent script (struct + zlib), not by this encoder.
#include "engine/record.h"

#include <gtest/gtest.h>

#include <string>

#include "common/bytes.h"
#include "stele/store.h"

namespace stele::engine {
namespace {

std::string Unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

constexpr std::string_view kGoldenNoCrc =
    "0000008ddaa320a769c865ed0000000300000007000000000000002a0000000000000400000000000000018bcfe568"
    "00c0a801140000cb200000018bcfe5687b0a00000100002a9f00000001000000000000000000000"
    "00e48656c6c6f20526f636b65744d510b476f6c64656e546f7069630019544147530174616741024b455953016b65"
    "7931206b65793202";
constexpr std::string_view kGoldenWithCrc =
    "000000a1daa320a769c865ed0000000300000007000000000000002a0000000000000400000000000000018bcfe568"
    "00c0a801140000cb200000018bcfe5687b0a00000100002a9f00000001000000000000000000000"
    "00e48656c6c6f20526f636b65744d510b476f6c64656e546f706963002d544147530174616741024b455953016b65"
    "7931206b657932025f5f435243333223013436363830303434353002";

Message GoldenMessage() {
  static HostAddress born = *HostAddress::Parse("192.168.1.20:52000");
  return Message{.topic = "GoldenTopic",
                 .queue_id = 3,
                 .body = "Hello RocketMQ",
                 .tags = "tagA",
                 .keys = "key1 key2",
                 .flag = 7,
                 .born_timestamp_ms = 1700000000000,
                 .born_host = born,
                 .reconsume_times = 1};
}

std::string Encode(bool prop_crc) {
  EncodeParams p{.max_body_size = 1024,
                 .prop_crc = prop_crc,
                 .store_host = *HostAddress::Parse("10.0.0.1:10911")};
  PreparedRecord rec;
  EXPECT_TRUE(PrepareRecord(GoldenMessage(), p, 1, &rec).ok());
  FinalizeRecord(&rec, 42, 1024, 1700000000123);
  return rec.buf;
}

TEST(RecordFormat, GoldenBytesV1) { EXPECT_EQ(Encode(false), Unhex(kGoldenNoCrc)); }

TEST(RecordFormat, GoldenBytesWithRecordCrc) { EXPECT_EQ(Encode(true), Unhex(kGoldenWithCrc)); }

TEST(RecordFormat, DecodeGolden) {
  for (auto hex : {kGoldenNoCrc, kGoldenWithCrc}) {
    std::string b = Unhex(hex);
    MessageView v;
    std::string why;
    ASSERT_EQ(DecodeRecord(b.data(), b.size(), true, &v, &why), DecodeResult::kOk) << why;
    EXPECT_EQ(v.total_size, b.size());
    EXPECT_EQ(v.magic, kMagicV1);
    EXPECT_EQ(v.queue_id, 3);
    EXPECT_EQ(v.flag, 7);
    EXPECT_EQ(v.queue_offset, 42);
    EXPECT_EQ(v.physical_offset, 1024);
    EXPECT_EQ(v.born_timestamp, 1700000000000);
    EXPECT_EQ(v.store_timestamp, 1700000000123);
    EXPECT_EQ(v.born_host.ToString(), "192.168.1.20:52000");
    EXPECT_EQ(v.store_host.ToString(), "10.0.0.1:10911");
    EXPECT_EQ(v.reconsume_times, 1);
    EXPECT_EQ(v.body, "Hello RocketMQ");
    EXPECT_EQ(v.topic, "GoldenTopic");
    EXPECT_EQ(v.Property("TAGS"), "tagA");
    EXPECT_EQ(v.Property("KEYS"), "key1 key2");
    EXPECT_EQ(v.OffsetMsgId(), "0A00000100002A9F0000000000000400");
  }
}

TEST(RecordFormat, EveryCorruptedByteIsDetected) {
  // With the whole-record CRC, flipping any bit anywhere makes the record invalid (the body CRC
  // alone would miss the properties tail: RocketMQ issue #7437).
  std::string good = Unhex(kGoldenWithCrc);
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit : {0, 7}) {
      std::string b = good;
      b[i] = static_cast<char>(b[i] ^ (1 << bit));
      MessageView v;
      std::string why;
      EXPECT_NE(DecodeRecord(b.data(), b.size(), true, &v, &why), DecodeResult::kOk)
          << "byte " << i << " bit " << bit;
    }
  }
}

TEST(RecordFormat, TruncationNeverReadsOutOfBounds) {
  std::string good = Unhex(kGoldenWithCrc);
  for (size_t n = 0; n < good.size(); ++n) {
    std::string b = good.substr(0, n);  // exact-size heap copy: ASan catches overreads
    MessageView v;
    std::string why;
    EXPECT_NE(DecodeRecord(b.data(), b.size(), true, &v, &why), DecodeResult::kOk) << n;
  }
}

TEST(RecordFormat, BlankAndEmpty) {
  char blank[16] = {};
  StoreBe32(blank, 16);
  StoreBe32(blank + 4, kBlankMagic);
  MessageView v;
  EXPECT_EQ(DecodeRecord(blank, 16, true, &v, nullptr), DecodeResult::kBlank);
  EXPECT_EQ(v.total_size, 16u);
  char zeros[16] = {};
  EXPECT_EQ(DecodeRecord(zeros, 16, true, &v, nullptr), DecodeResult::kEmpty);
}

TEST(RecordFormat, TopicValidation) {
  EXPECT_TRUE(ValidateTopic("Topic_A-1%x|y").ok());
  EXPECT_FALSE(ValidateTopic("").ok());
  EXPECT_FALSE(ValidateTopic("a/b").ok());
  EXPECT_FALSE(ValidateTopic("..").ok());
  EXPECT_FALSE(ValidateTopic("a b").ok());
  EXPECT_FALSE(ValidateTopic(std::string(128, 'a')).ok());
  EXPECT_TRUE(ValidateTopic(std::string(127, 'a')).ok());
  EXPECT_TRUE(ValidateTopic("%RETRY%" + std::string(248, 'a')).ok());
  EXPECT_FALSE(ValidateTopic("%RETRY%" + std::string(249, 'a')).ok());
}

TEST(RecordFormat, IPv6HostsWidenTheHeader) {
  EncodeParams p{
      .max_body_size = 1024, .prop_crc = true, .store_host = *HostAddress::Parse("[::1]:10911")};
  Message m = GoldenMessage();
  m.born_host = *HostAddress::Parse("[fe80::1]:1234");
  PreparedRecord rec;
  ASSERT_TRUE(PrepareRecord(m, p, 1, &rec).ok());
  FinalizeRecord(&rec, 1, 2, 3);
  EXPECT_EQ(rec.size(), LoadBe32(Unhex(kGoldenWithCrc).data()) + 24);
  MessageView v;
  std::string why;
  ASSERT_EQ(DecodeRecord(rec.buf.data(), rec.size(), true, &v, &why), DecodeResult::kOk) << why;
  EXPECT_EQ(v.sys_flag & (sysflag::kBornHostV6 | sysflag::kStoreHostV6),
            sysflag::kBornHostV6 | sysflag::kStoreHostV6);
  EXPECT_EQ(v.born_host.ToString(), "[fe80::1]:1234");
  EXPECT_EQ(v.store_host.ToString(), "[::1]:10911");
  EXPECT_EQ(v.store_timestamp, 3);
}

}  // namespace
}  // namespace stele::engine
