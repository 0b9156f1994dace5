// Bounds JSON nesting before a document reaches a DOM parser. nlohmann parses deep nesting
// iteratively but serializes and compares it recursively, so a 100k-deep array sent over the wire
// could exhaust the stack later; refusing it up front keeps every consumer safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace stele {

// Nesting limit for JSON received from the network or read from config files; real RocketMQ
// documents nest fewer than 10 levels.
inline constexpr int kMaxJsonDepth = 64;

// The deepest [ / { nesting of `text`, ignoring brackets inside strings. Stops counting (and
// returns a value > limit) as soon as `limit` is exceeded.
inline int JsonNestingDepth(std::string_view text, int limit = kMaxJsonDepth) {
  int depth = 0, max = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max) max = depth;
      if (max > limit) return max;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max;
}

}  // namespace stele
