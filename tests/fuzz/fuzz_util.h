// Shared checks for the remoting fuzz targets: a mismatch aborts, which libFuzzer reports as a
// crash with the input that caused it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "net/remoting/codec.h"

namespace stele::remoting::fuzz {

[[noreturn]] inline void Fail(const char* what) {
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

#define STELE_FUZZ_CHECK(cond)                         \
  do {                                                 \
    if (!(cond)) ::stele::remoting::fuzz::Fail(#cond); \
  } while (0)

// Every field that survives an encode/decode in the same serialization.
inline void CheckSame(const RemotingCommand& a, const RemotingCommand& b) {
  STELE_FUZZ_CHECK(a.code == b.code);
  STELE_FUZZ_CHECK(a.language == b.language);
  STELE_FUZZ_CHECK(a.version == b.version);
  STELE_FUZZ_CHECK(a.opaque == b.opaque);
  STELE_FUZZ_CHECK(a.flag == b.flag);
  STELE_FUZZ_CHECK(a.remark == b.remark);
  STELE_FUZZ_CHECK(a.ext_fields == b.ext_fields);
  STELE_FUZZ_CHECK(a.body == b.body);
  STELE_FUZZ_CHECK(a.serialize_type == b.serialize_type);
}

// Re-encodes a decoded command as a whole frame and decodes it again: it must come back equal.
// Then encodes it in the other serialization, which must decode too; fields that the other
// serialization can carry must survive.
inline void CheckReencode(const RemotingCommand& cmd) {
  const std::string frame = EncodeFrame(cmd);
  STELE_FUZZ_CHECK(frame.size() >= 8);
  auto len = DecodeFrameLength(frame.data());
  STELE_FUZZ_CHECK(len.ok() && *len == frame.size() - 4);
  auto again = DecodeFrameBody(std::string_view(frame).substr(4));
  STELE_FUZZ_CHECK(again.ok());
  CheckSame(cmd, *again);

  RemotingCommand other = cmd;
  if (cmd.serialize_type == SerializeType::kRocketMq) {
    // Binary -> JSON: always decodable (bytes that are not UTF-8 are replaced), so only the
    // integers are compared.
    other.serialize_type = SerializeType::kJson;
    auto j = DecodeFrameBody(std::string_view(EncodeFrame(other)).substr(4));
    STELE_FUZZ_CHECK(j.ok());
    STELE_FUZZ_CHECK(j->code == cmd.code && j->opaque == cmd.opaque && j->flag == cmd.flag &&
                     j->version == cmd.version && j->language == cmd.language);
    STELE_FUZZ_CHECK(j->body == cmd.body);
    STELE_FUZZ_CHECK(j->ext_fields.size() <= cmd.ext_fields.size());
  } else {
    // JSON -> binary: code and version are int16 there, keys at most 32767 bytes.
    for (const auto& [k, v] : cmd.ext_fields) {
      if (k.size() > 32767) return;
    }
    other.serialize_type = SerializeType::kRocketMq;
    auto b = DecodeFrameBody(std::string_view(EncodeFrame(other)).substr(4));
    STELE_FUZZ_CHECK(b.ok());
    STELE_FUZZ_CHECK(b->code == static_cast<int16_t>(cmd.code));
    STELE_FUZZ_CHECK(b->version == static_cast<int16_t>(cmd.version));
    STELE_FUZZ_CHECK(b->opaque == cmd.opaque && b->flag == cmd.flag);
    STELE_FUZZ_CHECK(b->language == cmd.language);
    STELE_FUZZ_CHECK(b->ext_fields == cmd.ext_fields);
    STELE_FUZZ_CHECK(b->body == cmd.body);
    if (cmd.remark && !cmd.remark->empty()) STELE_FUZZ_CHECK(b->remark == cmd.remark);
    if (!cmd.remark || cmd.remark->empty()) STELE_FUZZ_CHECK(!b->remark.has_value());
  }
}

}  // namespace stele::remoting::fuzz
