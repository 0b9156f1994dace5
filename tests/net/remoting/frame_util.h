// Helpers for the remoting codec tests: golden fixtures and hand-built frames.
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/bytes.h"
#include "net/remoting/codec.h"

namespace stele::remoting::testing {

// The bytes of tests/net/remoting/golden/<name> (empty if missing; callers ASSERT on size).
inline std::string ReadGolden(const std::string& name) {
  std::ifstream in(std::string(STELE_GOLDEN_DIR) + "/" + name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string Be32(uint32_t v) {
  std::string s(4, '\0');
  StoreBe32(s.data(), v);
  return s;
}

// A frame with an explicit header-length word: serialize type `type`, header, body.
inline std::string MakeFrame(uint32_t type, std::string_view header, std::string_view body = {}) {
  std::string f = Be32(static_cast<uint32_t>(4 + header.size() + body.size()));
  f += Be32((type << 24) | static_cast<uint32_t>(header.size()));
  f.append(header);
  f.append(body);
  return f;
}

// Decodes a whole frame (length prefix included) the way the transport does; also checks that
// the prefix matches the frame's size.
inline absl::StatusOr<RemotingCommand> DecodeWhole(std::string_view frame) {
  if (frame.size() < 4) return absl::InvalidArgumentError("shorter than the length prefix");
  auto len = DecodeFrameLength(frame.data());
  if (!len.ok()) return len.status();
  if (*len != frame.size() - 4) return absl::InvalidArgumentError("length prefix != frame size");
  return DecodeFrameBody(frame.substr(4));
}

}  // namespace stele::remoting::testing
