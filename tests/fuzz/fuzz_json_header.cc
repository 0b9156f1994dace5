// The JSON header decoder on arbitrary text; whatever it accepts must survive a re-encode.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stele::remoting;
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  RemotingCommand cmd;
  if (!DecodeJsonHeader(header, &cmd).ok()) return 0;
  STELE_FUZZ_CHECK(cmd.serialize_type == SerializeType::kJson);
  RemotingCommand again;
  STELE_FUZZ_CHECK(DecodeJsonHeader(EncodeJsonHeader(cmd), &again).ok());
  fuzz::CheckSame(cmd, again);
  fuzz::CheckReencode(cmd);
  return 0;
}
