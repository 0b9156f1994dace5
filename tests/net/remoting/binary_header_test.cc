// ROCKETMQ (binary) header golden frames, written byte by byte from the layout in protocol.md
// §1.2 and Java's RocketMQSerializable (rocketMQProtocolEncode / mapSerialize):
//   int16 code, int8 language, int16 version, int32 opaque, int32 flag,
//   int32 remarkLen + UTF-8 (0 = null), int32 extLen + { int16 keyLen, key, int32 valLen, val }*
// No Java client is at hand, so these bytes are the reference; the encoder must produce them
// exactly (it writes extFields sorted by key, Java in HashMap order: decoding must not care).
#include <gtest/gtest.h>

#include <string>

#include "frame_util.h"
#include "net/remoting/codec.h"

namespace stele::remoting {
namespace {

using testing::DecodeWhole;

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

// clang-format off
// A Java client's SEND_MESSAGE_V2 request: code 310, JAVA, version 401 (V4_9_4), opaque 17,
// flag 0, no remark, extFields {a: "G", b: "T"}, body "hi".
const std::string kSendRequest = Bytes({
    0x00, 0x00, 0x00, 0x2B,  // total = 4 + 37 + 2
    0x01, 0x00, 0x00, 0x25,  // serialize type 1 (ROCKETMQ) << 24 | header length 37
    0x01, 0x36,              // code 310
    0x00,                    // language JAVA
    0x01, 0x91,              // version 401
    0x00, 0x00, 0x00, 0x11,  // opaque 17
    0x00, 0x00, 0x00, 0x00,  // flag
    0x00, 0x00, 0x00, 0x00,  // remark length 0: null
    0x00, 0x00, 0x00, 0x10,  // extFields length 16
    0x00, 0x01, 'a', 0x00, 0x00, 0x00, 0x01, 'G',  // "a" -> "G"
    0x00, 0x01, 'b', 0x00, 0x00, 0x00, 0x01, 'T',  // "b" -> "T"
    'h', 'i',                                      // body
});

// A response: code 17 TOPIC_NOT_EXIST, CPP, version 401, opaque 17, flag 1 (RESPONSE),
// remark "No route", no extFields, no body.
const std::string kErrorResponse = Bytes({
    0x00, 0x00, 0x00, 0x21,  // total = 4 + 29
    0x01, 0x00, 0x00, 0x1D,  // type 1, header 29
    0x00, 0x11,              // code 17
    0x01,                    // language CPP
    0x01, 0x91,              // version 401
    0x00, 0x00, 0x00, 0x11,  // opaque 17
    0x00, 0x00, 0x00, 0x01,  // flag RESPONSE
    0x00, 0x00, 0x00, 0x08,  // remark length 8
    'N', 'o', ' ', 'r', 'o', 'u', 't', 'e',
    0x00, 0x00, 0x00, 0x00,  // extFields length 0
});
// clang-format on

TEST(BinaryHeaderGolden, DecodeJavaRequest) {
  auto c = DecodeWhole(kSendRequest);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->code, 310);
  EXPECT_EQ(c->language, LanguageCode::kJava);
  EXPECT_EQ(c->version, 401);
  EXPECT_EQ(c->opaque, 17);
  EXPECT_EQ(c->flag, 0);
  EXPECT_FALSE(c->remark.has_value());
  EXPECT_EQ(c->ext_fields.size(), 2u);
  EXPECT_EQ(*c->Field("a"), "G");
  EXPECT_EQ(*c->Field("b"), "T");
  EXPECT_EQ(c->body, "hi");
  EXPECT_EQ(c->serialize_type, SerializeType::kRocketMq);
}

TEST(BinaryHeaderGolden, EncodeMatchesJavaLayout) {
  RemotingCommand c = RemotingCommand::Request(310);
  c.language = LanguageCode::kJava;
  c.version = 401;
  c.opaque = 17;
  c.serialize_type = SerializeType::kRocketMq;
  c.Set("b", "T");
  c.Set("a", "G");
  c.body = "hi";
  EXPECT_EQ(EncodeFrame(c), kSendRequest);
}

TEST(BinaryHeaderGolden, ErrorResponse) {
  auto c = DecodeWhole(kErrorResponse);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->code, 17);
  EXPECT_EQ(c->language, LanguageCode::kCpp);
  EXPECT_TRUE(c->is_response());
  EXPECT_EQ(c->remark, std::optional<std::string>("No route"));
  EXPECT_TRUE(c->ext_fields.empty());
  EXPECT_TRUE(c->body.empty());

  RemotingCommand req;
  req.opaque = 17;
  req.serialize_type = SerializeType::kRocketMq;
  RemotingCommand resp = RemotingCommand::ResponseTo(req, 17, "No route");
  resp.language = LanguageCode::kCpp;
  resp.version = 401;
  EXPECT_EQ(EncodeFrame(resp), kErrorResponse);
}

// Java writes extFields in HashMap order, and may write a key twice (FastCodesHeader fields plus
// the map): order must not matter and the last value wins, as in Java's map.put.
TEST(BinaryHeaderGolden, ExtFieldOrderAndDuplicates) {
  std::string ext = Bytes({0x00, 0x01, 'b', 0x00, 0x00, 0x00, 0x01, 'T',    // b first
                           0x00, 0x01, 'a', 0x00, 0x00, 0x00, 0x01, 'X',    // a = X
                           0x00, 0x01, 'a', 0x00, 0x00, 0x00, 0x01, 'G'});  // a again = G
  std::string h = kSendRequest.substr(8, 13 + 4);  // fixed part + remark length
  h += testing::Be32(static_cast<uint32_t>(ext.size())) + ext;
  auto c = DecodeWhole(testing::MakeFrame(1, h));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c->Field("a"), "G");
  EXPECT_EQ(*c->Field("b"), "T");
  EXPECT_EQ(c->ext_fields.size(), 2u);
}

// Code and version are int16 on the wire (Java: putShort((short) code)); codes past 32767 wrap,
// exactly as Java's own encoder does. Negative values decode sign-extended like Java's getShort.
TEST(BinaryHeaderGolden, Int16CodeAndVersion) {
  std::string h = kErrorResponse.substr(8);
  h[0] = static_cast<char>(0xFF);
  h[1] = static_cast<char>(0xFE);  // code -2
  h[3] = static_cast<char>(0x80);
  h[4] = 0x00;  // version -32768
  RemotingCommand c;
  ASSERT_TRUE(DecodeBinaryHeader(h, &c).ok());
  EXPECT_EQ(c.code, -2);
  EXPECT_EQ(c.version, -32768);
}

TEST(BinaryHeaderGolden, EmptyValueAndNonUtf8BytesSurvive) {
  // Bytes in a binary header are opaque to the codec; UTF-8 is not checked.
  const std::string ext = Bytes({0x00, 0x01, 'k', 0x00, 0x00, 0x00, 0x00,  // k -> ""
                                 0x00, 0x01, 0xFF, 0x00, 0x00, 0x00, 0x01, 0xC3});
  std::string h = kSendRequest.substr(8, 17);
  h += testing::Be32(static_cast<uint32_t>(ext.size())) + ext;
  RemotingCommand c;
  ASSERT_TRUE(DecodeBinaryHeader(h, &c).ok());
  EXPECT_EQ(*c.Field("k"), "");
  EXPECT_EQ(*c.Field("\xff"), "\xc3");
}

}  // namespace
}  // namespace stele::remoting
