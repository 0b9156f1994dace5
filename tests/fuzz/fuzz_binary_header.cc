// The ROCKETMQ binary header decoder on arbitrary bytes; whatever it accepts must survive a
// re-encode, and a re-encoded header is canonical (encoding it again gives the same bytes).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stele::remoting;
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  RemotingCommand cmd;
  if (!DecodeBinaryHeader(header, &cmd).ok()) return 0;
  STELE_FUZZ_CHECK(cmd.serialize_type == SerializeType::kRocketMq);
  const std::string encoded = EncodeBinaryHeader(cmd);
  STELE_FUZZ_CHECK(encoded.size() <= header.size());  // duplicates and null remark only shrink it
  RemotingCommand again;
  STELE_FUZZ_CHECK(DecodeBinaryHeader(encoded, &again).ok());
  fuzz::CheckSame(cmd, again);
  STELE_FUZZ_CHECK(EncodeBinaryHeader(again) == encoded);
  fuzz::CheckReencode(cmd);
  return 0;
}
