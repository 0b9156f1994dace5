// encode -> decode is the identity, in both header serializations.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "fmt/format.h"
#include "frame_util.h"
#include "net/remoting/codec.h"

namespace stele::remoting {
namespace {

using testing::DecodeWhole;

void ExpectSame(const RemotingCommand& a, const RemotingCommand& b) {
  EXPECT_EQ(a.code, b.code);
  EXPECT_EQ(a.language, b.language);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.opaque, b.opaque);
  EXPECT_EQ(a.flag, b.flag);
  EXPECT_EQ(a.remark, b.remark);
  EXPECT_EQ(a.ext_fields, b.ext_fields);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.serialize_type, b.serialize_type);
}

RemotingCommand RoundTrip(const RemotingCommand& c) {
  const std::string frame = EncodeFrame(c);
  auto back = DecodeWhole(frame);
  EXPECT_TRUE(back.ok()) << back.status();
  return back.ok() ? *std::move(back) : RemotingCommand{};
}

class RoundTripTest : public ::testing::TestWithParam<SerializeType> {
 protected:
  RemotingCommand Base() const {
    RemotingCommand c = RemotingCommand::Request(310);
    c.serialize_type = GetParam();
    c.language = LanguageCode::kJava;
    c.version = 401;
    c.opaque = 123456;
    c.flag = 0;
    return c;
  }
};

TEST_P(RoundTripTest, Full) {
  RemotingCommand c = Base();
  c.remark = "a remark";
  c.Set("topic", "TopicTest");
  c.Set("queueId", 3);
  c.Set("neg", int64_t{-9223372036854775807 - 1});
  c.body = "payload";
  ExpectSame(c, RoundTrip(c));
}

TEST_P(RoundTripTest, AbsentRemarkAndEmptyExtFields) {
  RemotingCommand c = Base();
  const RemotingCommand back = RoundTrip(c);
  ExpectSame(c, back);
  EXPECT_FALSE(back.remark.has_value());
  EXPECT_TRUE(back.ext_fields.empty());
}

// JSON keeps an empty remark; the binary header cannot tell "" from none (Java writes length 0
// for both), so it comes back absent.
TEST_P(RoundTripTest, EmptyRemark) {
  RemotingCommand c = Base();
  c.remark = "";
  const RemotingCommand back = RoundTrip(c);
  if (GetParam() == SerializeType::kJson) {
    EXPECT_EQ(back.remark, std::optional<std::string>(""));
  } else {
    EXPECT_FALSE(back.remark.has_value());
  }
}

TEST_P(RoundTripTest, BinaryBodyWithNulBytes) {
  RemotingCommand c = Base();
  for (int i = 0; i < 256; ++i) c.body.push_back(static_cast<char>(i));
  c.body += std::string(3, '\0');
  ExpectSame(c, RoundTrip(c));
}

TEST_P(RoundTripTest, Utf8KeysAndValues) {
  RemotingCommand c = Base();
  c.Set("clé", "valeur ünïcödé");
  c.Set("键", "值");
  c.Set("emoji🙂", "🚀");
  c.Set("props",
        "UNIQ_KEY\x01"
        "ABC\x02TAGS\x01TagA\x02");
  c.Set("quote\"back\\slash", "line\nbreak\ttab");
  c.Set("empty", "");
  c.remark = "错误: 😀";
  ExpectSame(c, RoundTrip(c));
}

TEST_P(RoundTripTest, ResponseKeepsOpaqueFlagAndType) {
  RemotingCommand req = Base();
  RemotingCommand resp = RemotingCommand::ResponseTo(req, 17, "No topic route info");
  resp.Set("k", "v");
  const RemotingCommand back = RoundTrip(resp);
  ExpectSame(resp, back);
  EXPECT_TRUE(back.is_response());
  EXPECT_EQ(back.opaque, req.opaque);
  EXPECT_EQ(back.serialize_type, GetParam());
}

TEST_P(RoundTripTest, ExtremeIntegers) {
  RemotingCommand c = Base();
  c.opaque = INT32_MIN;
  c.flag = INT32_MAX;
  c.code = GetParam() == SerializeType::kJson ? INT32_MIN : INT16_MIN;  // binary: int16
  c.version = GetParam() == SerializeType::kJson ? INT32_MAX : INT16_MAX;
  ExpectSame(c, RoundTrip(c));
}

TEST_P(RoundTripTest, EveryLanguage) {
  for (int l = 0; l <= static_cast<int>(LanguageCode::kNodeJs); ++l) {
    RemotingCommand c = Base();
    c.language = static_cast<LanguageCode>(l);
    EXPECT_EQ(RoundTrip(c).language, c.language) << l;
  }
}

TEST_P(RoundTripTest, ManyFieldsAndALargeBody) {
  RemotingCommand c = Base();
  for (int i = 0; i < 1000; ++i) c.Set(fmt::format("key{}", i), std::string(i % 50, 'v'));
  c.body.assign(4u << 20, 'x');
  ExpectSame(c, RoundTrip(c));
}

INSTANTIATE_TEST_SUITE_P(Both, RoundTripTest,
                         ::testing::Values(SerializeType::kJson, SerializeType::kRocketMq),
                         [](const auto& info) {
                           return info.param == SerializeType::kJson ? "Json" : "RocketMq";
                         });

TEST(CodecHeader, FrameTypeByte) {
  RemotingCommand c = RemotingCommand::Request(34);
  EXPECT_EQ(static_cast<uint8_t>(EncodeFrame(c)[4]), 0);
  c.serialize_type = SerializeType::kRocketMq;
  EXPECT_EQ(static_cast<uint8_t>(EncodeFrame(c)[4]), 1);
}

TEST(CodecHeader, JsonHeaderHasJavaFieldNames) {
  RemotingCommand c = RemotingCommand::Request(105);
  c.opaque = 5;
  c.Set("topic", "T");
  const std::string h = EncodeJsonHeader(c);
  auto j = nlohmann::json::parse(h);
  EXPECT_EQ(j["code"], 105);
  EXPECT_EQ(j["language"], "CPP");
  EXPECT_EQ(j["version"], kSteleVersion);
  EXPECT_EQ(j["opaque"], 5);
  EXPECT_EQ(j["flag"], 0);
  EXPECT_EQ(j["extFields"]["topic"], "T");
  EXPECT_FALSE(j.contains("remark"));
}

// Values that came in a binary header need not be UTF-8; a JSON reply replaces such bytes
// instead of failing.
TEST(CodecHeader, JsonEncodeReplacesInvalidUtf8) {
  RemotingCommand c = RemotingCommand::Request(1);
  c.Set("k", std::string("a\xff"
                         "b",
                         3));
  c.remark = std::string("\xc3", 1);
  RemotingCommand back;
  ASSERT_TRUE(DecodeJsonHeader(EncodeJsonHeader(c), &back).ok());
  EXPECT_EQ(back.ext_fields.at("k"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(*back.remark, "\xef\xbf\xbd");
}

TEST(CodecHeader, JsonDecodeIsLenient) {
  RemotingCommand c;
  // Quoted integers, unknown keys, null values, nested values kept as JSON text, float text.
  ASSERT_TRUE(
      DecodeJsonHeader(R"({"code":"12","opaque":"-3","flag":null,"x":[1],)"
                       R"("serializeTypeCurrentRPC":"JSON","language":"NODE_JS",)"
                       R"("extFields":{"n":null,"o":{"a":1},"f":1.5,"u":18446744073709551615}})",
                       &c)
          .ok());
  EXPECT_EQ(c.code, 12);
  EXPECT_EQ(c.opaque, -3);
  EXPECT_EQ(c.language, LanguageCode::kNodeJs);
  EXPECT_EQ(c.Field("n"), nullptr);
  EXPECT_EQ(*c.Field("o"), R"({"a":1})");
  EXPECT_EQ(*c.Field("f"), "1.5");
  EXPECT_EQ(*c.Field("u"), "18446744073709551615");
}

TEST(CodecHeader, UnknownLanguageIsOther) {
  RemotingCommand c;
  ASSERT_TRUE(DecodeJsonHeader(R"({"code":1,"language":"COBOL"})", &c).ok());
  EXPECT_EQ(c.language, LanguageCode::kOther);
  std::string h = EncodeBinaryHeader(c);
  h[2] = 99;  // language byte
  ASSERT_TRUE(DecodeBinaryHeader(h, &c).ok());
  EXPECT_EQ(c.language, LanguageCode::kOther);
}

}  // namespace
}  // namespace stele::remoting
