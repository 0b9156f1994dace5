// Java's String.hashCode() over a UTF-8 string, as RocketMQ computes tag codes and index key
// hashes: h = 31*h + c over the UTF-16 code units of the string, with 32-bit wrap-around.
#pragma once

#include <cstdint>
#include <string_view>

namespace stele::index {

// Invalid UTF-8 bytes count as U+FFFD, as Java's decoder replaces them.
inline int32_t JavaStringHash(std::string_view s) {
  uint32_t h = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  auto unit = [&h](uint32_t u) { h = h * 31u + u; };
  while (p < end) {
    uint32_t c = *p;
    if (c < 0x80) {
      unit(c);
      ++p;
      continue;
    }
    int n = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      unit(0xFFFD);
      ++p;
      continue;
    }
    bool ok = end - p > n;
    for (int i = 1; ok && i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80)
        ok = false;
      else
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (!ok || cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      unit(0xFFFD);
      ++p;
      continue;
    }
    p += n + 1;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      unit(0xD800 + (cp >> 10));
      unit(0xDC00 + (cp & 0x3FF));
    } else {
      unit(cp);
    }
  }
  return static_cast<int32_t>(h);
}

// RocketMQ's consume-queue tags code: the hash sign-extended to 64 bits; 0 without tags.
inline int64_t TagsCode(std::string_view tags) {
  return tags.empty() ? 0 : static_cast<int64_t>(JavaStringHash(tags));
}

}  // namespace stele::index
