// The transport's view: a byte stream split into frames by their length prefixes, each decoded
// (either header serialization). A decoded frame must re-encode to an equal command.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stele::remoting;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Frames back to back, as ChannelImpl::ParseFrames sees them; the first bad one ends the stream
  // (the connection would be closed).
  while (in.size() >= 4) {
    auto len = DecodeFrameLength(in.data());
    if (!len.ok()) break;
    STELE_FUZZ_CHECK(*len >= 4 && *len <= kMaxFrameSize);
    if (in.size() - 4 < *len) break;  // incomplete: would wait for more bytes
    auto cmd = DecodeFrameBody(in.substr(4, *len));
    if (!cmd.ok()) break;
    fuzz::CheckReencode(*cmd);
    in.remove_prefix(4 + *len);
  }
  // The body decoder on its own, whatever the prefix said.
  if (size >= 4) {
    auto cmd = DecodeFrameBody(std::string_view(reinterpret_cast<const char*>(data), size));
    if (cmd.ok()) fuzz::CheckReencode(*cmd);
  }
  return 0;
}
