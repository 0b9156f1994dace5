#include "net/namesrv/register_body.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "common/bytes.h"

namespace stele::namesrv {
namespace {

RegisterBrokerBody Sample() {
  RegisterBrokerBody b;
  b.topic_config.data_version =
      DataVersion{.state_version = 1, .timestamp = 1700000000000, .counter = 7};
  for (const char* name : {"TopicA", "%RETRY%group"}) {
    TopicConfig t;
    t.topic_name = name;
    t.read_queue_nums = 4;
    t.write_queue_nums = 2;
    t.perm = 6;
    b.topic_config.topics[name] = t;
  }
  b.filter_servers = {"10.0.0.9:7001"};
  return b;
}

void ExpectSameTopics(const RegisterBrokerBody& got, const RegisterBrokerBody& want) {
  EXPECT_EQ(got.topic_config.data_version, want.topic_config.data_version);
  ASSERT_EQ(got.topic_config.topics.size(), want.topic_config.topics.size());
  for (const auto& [name, t] : want.topic_config.topics) {
    auto it = got.topic_config.topics.find(name);
    ASSERT_NE(it, got.topic_config.topics.end()) << name;
    EXPECT_EQ(it->second.read_queue_nums, t.read_queue_nums);
    EXPECT_EQ(it->second.write_queue_nums, t.write_queue_nums);
    EXPECT_EQ(it->second.perm, t.perm);
  }
  EXPECT_EQ(got.filter_servers, want.filter_servers);
}

std::string Be32(int32_t v) {
  char b[4];
  StoreBe32(b, static_cast<uint32_t>(v));
  return std::string(b, 4);
}

std::string Zlib(const std::string& raw, int level = Z_BEST_COMPRESSION) {
  uLongf n = compressBound(raw.size());
  std::string out(n, '\0');
  EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                      reinterpret_cast<const Bytef*>(raw.data()), raw.size(), level),
            Z_OK);
  out.resize(n);
  return out;
}

TEST(RegisterBodyTest, JsonRoundTrip) {
  RegisterBrokerBody want = Sample();
  auto got = DecodeRegisterBrokerBody(EncodeRegisterBrokerBody(want, false), false);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameTopics(*got, want);
}

TEST(RegisterBodyTest, CompressedRoundTrip) {
  RegisterBrokerBody want = Sample();
  auto got = DecodeRegisterBrokerBody(EncodeRegisterBrokerBody(want, true), true);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameTopics(*got, want);
}

TEST(RegisterBodyTest, JavaJsonBody) {
  // As a Java 5.x broker sends it (fastjson, with fields Stele ignores).
  const std::string body = R"({"filterServerList":[],"topicConfigSerializeWrapper":{
      "dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000123},
      "topicConfigTable":{"T":{"attributes":{},"order":false,"perm":6,"readQueueNums":8,
        "topicFilterType":"SINGLE_TAG","topicName":"T","topicSysFlag":0,"writeQueueNums":8}},
      "topicQueueMappingDetailMap":{},"topicQueueMappingInfoMap":{}}})";
  auto got = DecodeRegisterBrokerBody(body, false);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->topic_config.data_version.counter, 3);
  ASSERT_EQ(got->topic_config.topics.count("T"), 1u);
  EXPECT_EQ(got->topic_config.topics.at("T").read_queue_nums, 8);
}

TEST(RegisterBodyTest, JavaCompressedBody) {
  // Java's layout by hand: TopicConfig entries are TopicConfig.encode() text, not JSON.
  std::string raw;
  std::string dv = R"({"counter":5,"stateVersion":0,"timestamp":1700000000000})";
  raw += Be32(dv.size()) + dv;
  raw += Be32(2);
  for (std::string t : {std::string("T1 8 8 6 SINGLE_TAG {}"), std::string("T2 1 2 4 MULTI_TAG")}) {
    raw += Be32(t.size()) + t;
  }
  raw += Be32(2) + "[]";
  raw += Be32(0);  // 5.x: no static-topic mappings
  auto got = DecodeRegisterBrokerBody(Zlib(raw), true);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->topic_config.data_version.counter, 5);
  ASSERT_EQ(got->topic_config.topics.size(), 2u);
  EXPECT_EQ(got->topic_config.topics.at("T2").read_queue_nums, 1);
  EXPECT_EQ(got->topic_config.topics.at("T2").write_queue_nums, 2);
  EXPECT_EQ(got->topic_config.topics.at("T2").perm, 4);
}

TEST(RegisterBodyTest, EmptyBodyIsAnEmptyTopicSet) {
  auto got = DecodeRegisterBrokerBody("", false);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->topic_config.topics.empty());
  EXPECT_EQ(got->topic_config.data_version, (DataVersion{0, 0, 0}));
}

TEST(RegisterBodyTest, BadBodiesAreErrorsNotCrashes) {
  for (const char* body :
       {"{", "[1,2]", "nul", R"({"topicConfigSerializeWrapper":5})",
        R"({"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"perm":"x"}}}})",
        R"({"topicConfigSerializeWrapper":{"topicConfigTable":[]}})",
        R"({"filterServerList":[1]})"}) {
    EXPECT_FALSE(DecodeRegisterBrokerBody(body, false).ok()) << body;
  }
  EXPECT_FALSE(DecodeRegisterBrokerBody("not zlib at all", true).ok());
  std::string whole = EncodeRegisterBrokerBody(Sample(), true);
  EXPECT_FALSE(DecodeRegisterBrokerBody(whole.substr(0, whole.size() / 2), true).ok());
  // Lengths that point past the end, negative, or absurd topic counts.
  EXPECT_FALSE(DecodeRegisterBrokerBody(Zlib(Be32(1000) + "{}"), true).ok());
  EXPECT_FALSE(DecodeRegisterBrokerBody(Zlib(Be32(-1)), true).ok());
  EXPECT_FALSE(DecodeRegisterBrokerBody(Zlib(Be32(2) + "{}" + Be32(0x7fffffff)), true).ok());
  EXPECT_FALSE(
      DecodeRegisterBrokerBody(Zlib(Be32(2) + "{}" + Be32(1) + Be32(5) + "T 1 x"), true).ok());
  // Deep nesting must not exhaust the stack.
  EXPECT_FALSE(DecodeRegisterBrokerBody(std::string(100000, '['), false).ok());
}

TEST(RegisterBodyTest, InflateIsBounded) {
  // 65 MiB of zeros compresses to ~64 KiB; decoding must stop at the limit, not allocate it all.
  std::string raw = Be32(70 << 20) + std::string(65u << 20, '\0');
  auto got = DecodeRegisterBrokerBody(Zlib(raw, Z_BEST_SPEED), true);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("64 MiB"), std::string::npos) << got.status();
}

TEST(RegisterBodyTest, BodyCrc32IsJavasMaskedCrc) {
  // java.util.zip.CRC32("123456789") = 0xCBF43926; UtilAll.crc32 clears the sign bit.
  EXPECT_EQ(BodyCrc32("123456789"), 0x4BF43926);
  EXPECT_EQ(BodyCrc32(""), 0);
}

}  // namespace
}  // namespace stele::namesrv
