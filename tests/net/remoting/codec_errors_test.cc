// Every malformed input is an InvalidArgument error: never a crash, a throw or a silent success.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fmt/format.h"
#include "frame_util.h"
#include "net/remoting/codec.h"

namespace stele::remoting {
namespace {

using testing::Be32;
using testing::DecodeWhole;
using testing::MakeFrame;

std::string Be16(uint16_t v) {
  std::string s(2, '\0');
  StoreBe16(s.data(), v);
  return s;
}

void ExpectRejected(std::string_view frame, std::string_view what) {
  absl::StatusOr<RemotingCommand> r;
  EXPECT_NO_THROW(r = DecodeWhole(frame)) << what;
  EXPECT_FALSE(r.ok()) << what;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << what << ": " << r.status();
}

void ExpectJsonRejected(std::string_view header) {
  ExpectRejected(MakeFrame(0, header), header);
  RemotingCommand c;
  absl::Status s;
  EXPECT_NO_THROW(s = DecodeJsonHeader(header, &c));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << header;
}

// ---- frame ----

TEST(CodecErrors, FrameLengthBounds) {
  for (uint32_t len : {0u, 1u, 2u, 3u, kMaxFrameSize + 1, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu}) {
    EXPECT_FALSE(DecodeFrameLength(Be32(len).data()).ok()) << len;
  }
  for (uint32_t len : {4u, 5u, 1000u, kMaxFrameSize}) {
    auto r = DecodeFrameLength(Be32(len).data());
    ASSERT_TRUE(r.ok()) << len;
    EXPECT_EQ(*r, len);
  }
}

TEST(CodecErrors, BodyShorterThanHeaderLengthWord) {
  for (size_t n = 0; n < 4; ++n) {
    EXPECT_FALSE(DecodeFrameBody(std::string(n, '\0')).ok()) << n;
  }
}

TEST(CodecErrors, HeaderLengthBeyondFrame) {
  const std::string h = R"({"code":1})";
  std::string body = Be32(static_cast<uint32_t>(h.size() + 1)) + h;
  EXPECT_FALSE(DecodeFrameBody(body).ok());
  body = Be32(0x00FFFFFF) + h;
  EXPECT_FALSE(DecodeFrameBody(body).ok());
  body = Be32(0x01FFFFFF) + h;
  EXPECT_FALSE(DecodeFrameBody(body).ok());
}

TEST(CodecErrors, UnknownSerializeType) {
  for (uint32_t type : {2u, 3u, 0x7Fu, 0x80u, 0xFFu}) {
    ExpectRejected(MakeFrame(type, R"({"code":1})"), fmt::format("type {}", type));
  }
}

TEST(CodecErrors, EmptyHeader) {
  ExpectRejected(MakeFrame(0, ""), "empty JSON header");
  ExpectRejected(MakeFrame(1, ""), "empty binary header");
  ExpectRejected(MakeFrame(0, "", "body"), "empty JSON header with a body");
}

// ---- binary header ----

std::string ValidBinaryHeader() {
  RemotingCommand c = RemotingCommand::Request(310);
  c.remark = "rm";
  c.Set("ab", "xyz");
  c.Set("k", "");
  return EncodeBinaryHeader(c);
}

TEST(CodecErrors, BinaryHeaderTruncatedAtEveryByte) {
  const std::string h = ValidBinaryHeader();
  ASSERT_TRUE(DecodeWhole(MakeFrame(1, h)).ok());
  for (size_t n = 0; n < h.size(); ++n) {
    const std::string prefix = h.substr(0, n);
    RemotingCommand c;
    absl::Status s;
    EXPECT_NO_THROW(s = DecodeBinaryHeader(prefix, &c));
    EXPECT_FALSE(s.ok()) << "prefix of " << n << " bytes";
    // The same, framed: the header-length word says n and the rest is body.
    ExpectRejected(MakeFrame(1, prefix), fmt::format("framed prefix of {} bytes", n));
  }
}

TEST(CodecErrors, BinaryHeaderTrailingBytes) {
  ExpectRejected(MakeFrame(1, ValidBinaryHeader() + "x"), "trailing byte");
}

// code(2) lang(1) version(2) opaque(4) flag(4)
std::string Fixed() { return Be16(310) + std::string(1, '\0') + Be16(401) + Be32(1) + Be32(0); }

TEST(CodecErrors, BinaryRemarkLengths) {
  for (uint32_t len : {0x80000000u, 0xFFFFFFFFu, 0x7FFFFFFFu, 5u, 1u}) {
    // remarkLen, then 4 bytes that are not enough for len > 4 and no ext length after them
    ExpectRejected(MakeFrame(1, Fixed() + Be32(len) + "abcd"), fmt::format("remark {}", len));
  }
}

TEST(CodecErrors, BinaryExtLengths) {
  for (uint32_t len : {0x80000000u, 0xFFFFFFFFu, 0x7FFFFFFFu, 7u}) {
    ExpectRejected(MakeFrame(1, Fixed() + Be32(0) + Be32(len) + "abcdef"),
                   fmt::format("ext {}", len));
  }
}

TEST(CodecErrors, BinaryExtEntries) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"negative key length", Be16(0x8000) + "k" + Be32(0)},
      {"key length -1", Be16(0xFFFF) + Be32(0)},
      {"key beyond ext", Be16(9) + "k" + Be32(0)},
      {"no value length", Be16(1) + "k"},
      {"short value length", Be16(1) + "k" + std::string(2, '\0')},
      {"negative value length", Be16(1) + "k" + Be32(0x80000000u) + "v"},
      {"value length -1", Be16(1) + "k" + Be32(0xFFFFFFFFu) + "v"},
      {"value beyond ext", Be16(1) + "k" + Be32(2) + "v"},
      {"half a key length", std::string("\0", 1)},
  };
  for (const auto& [what, ext] : cases) {
    ExpectRejected(MakeFrame(1, Fixed() + Be32(0) + Be32(static_cast<uint32_t>(ext.size())) + ext),
                   what);
  }
}

// ---- JSON header ----

TEST(CodecErrors, JsonNotAnObject) {
  for (const char* h : {"[]", "[1,2]", "1", "\"s\"", "null", "true", " ", "{", "{\"code\":1",
                        "{\"code\":1}}", "{\"code\":1} x", "{'code':1}", "{code:1}"}) {
    ExpectJsonRejected(h);
  }
}

TEST(CodecErrors, JsonCodeMissingOrNotAnInteger) {
  for (const char* h : {
           R"({})",
           R"({"opaque":1})",
           R"({"code":null})",
           R"({"code":1.5})",
           R"({"code":1e3})",
           R"({"code":"abc"})",
           R"({"code":"12x"})",
           R"({"code":""})",
           R"({"code":true})",
           R"({"code":{}})",
           R"({"code":[1]})",
           R"({"code":2147483648})",
           R"({"code":-2147483649})",
           R"({"code":"99999999999999999999"})",
           R"({"code":9223372036854775808})",
           R"({"code":18446744073709551615})",
           R"({"code":18446744073709551616})",
       }) {
    ExpectJsonRejected(h);
  }
}

TEST(CodecErrors, JsonOtherIntegersMalformed) {
  for (const char* h : {
           R"({"code":1,"opaque":"x"})",
           R"({"code":1,"opaque":1.25})",
           R"({"code":1,"flag":[]})",
           R"({"code":1,"version":"1e2"})",
           R"({"code":1,"opaque":4294967296})",
           R"({"code":1,"flag":18446744073709551615})",
       }) {
    ExpectJsonRejected(h);
  }
}

TEST(CodecErrors, JsonExtFieldsNotAnObject) {
  for (const char* h : {R"({"code":1,"extFields":[]})", R"({"code":1,"extFields":[["a","b"]]})",
                        R"({"code":1,"extFields":"a=b"})", R"({"code":1,"extFields":3})",
                        R"({"code":1,"extFields":true})"}) {
    ExpectJsonRejected(h);
  }
}

TEST(CodecErrors, JsonRemarkNotAString) {
  ExpectJsonRejected(R"({"code":1,"remark":{}})");
  ExpectJsonRejected(R"({"code":1,"remark":[]})");
}

TEST(CodecErrors, JsonInvalidUtf8) {
  const std::vector<std::string> bad = {
      "\xff",              // never valid
      "\xc3",              // truncated 2-byte sequence
      "\xc0\xaf",          // overlong '/'
      "\xed\xa0\x80",      // UTF-16 surrogate encoded in UTF-8
      "\xf4\x90\x80\x80",  // above U+10FFFF
      "\xe2\x82",          // truncated 3-byte sequence
  };
  for (const std::string& b : bad) {
    ExpectJsonRejected(R"({"code":1,"remark":")" + b + R"("})");
    ExpectJsonRejected(R"({"code":1,"extFields":{")" + b + R"(":"v"}})");
    ExpectJsonRejected(R"({"code":1,"extFields":{"k":")" + b + R"("}})");
  }
  ExpectJsonRejected(R"({"code":1,"remark":"\ud800"})");        // lone surrogate escape
  ExpectJsonRejected(R"({"code":1,"remark":"\udc00\ud800"})");  // reversed pair
}

TEST(CodecErrors, JsonControlCharactersAndBadEscapes) {
  ExpectJsonRejected(std::string("{\"code\":1,\"remark\":\"a\nb\"}"));
  ExpectJsonRejected(std::string("{\"code\":1,\"remark\":\"a\0b\"}", 25));
  ExpectJsonRejected(R"({"code":1,"remark":"\x41"})");
  ExpectJsonRejected(R"({"code":1,"remark":"\u12"})");
}

std::string NestedHeader(size_t depth) {
  std::string h = R"({"code":1,"extFields":{"a":)";
  h.append(depth, '[');
  h.append(depth, ']');
  return h + "}}";
}

// A header is two levels deep. Far deeper nesting is refused before parsing: nlohmann's dump()
// recurses per level (a ~200 KB header of '[' overflowed the stack) and its DOM costs ~75 bytes
// per level. Moderate nesting in an extFields value is still accepted (kept as JSON text).
TEST(CodecErrors, JsonDeepNesting) {
  for (size_t depth : {size_t{1000}, size_t{100000}, size_t{2000000}}) {
    ExpectRejected(MakeFrame(0, NestedHeader(depth)), fmt::format("depth {}", depth));
  }
  ExpectRejected(MakeFrame(0, std::string(1u << 20, '[')), "1 MiB of '['");
  ExpectRejected(MakeFrame(0, std::string(1u << 20, '{')), "1 MiB of '{'");
  auto ok = DecodeWhole(MakeFrame(0, NestedHeader(8)));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok->Field("a"), "[[[[[[[[]]]]]]]]");
  // Brackets inside strings do not count.
  const std::string in_string = R"({"code":1,"remark":")" + std::string(100000, '[') + R"("})";
  EXPECT_TRUE(DecodeWhole(MakeFrame(0, in_string)).ok());
  // ... nor after escaped quotes and backslashes inside a string.
  const std::string escaped =
      R"({"code":1,"remark":"\")" + std::string(100000, '[') + R"(\\","extFields":{}})";
  auto e = DecodeWhole(MakeFrame(0, escaped));
  ASSERT_TRUE(e.ok()) << e.status().message().substr(0, 200);
  EXPECT_EQ(e->remark->size(), 100002u);
}

TEST(CodecErrors, HugeNumbersInExtFieldsAreKeptAsText) {
  RemotingCommand c;
  ASSERT_TRUE(
      DecodeJsonHeader(R"({"code":1,"extFields":{"big":123456789012345678901234567890}})", &c)
          .ok());
  EXPECT_FALSE(c.RequireInt("big").ok());
  ExpectJsonRejected(R"({"code":1,"extFields":{"inf":1e999}})");
}

}  // namespace
}  // namespace stele::remoting
