// Wall-clock time as RocketMQ stores it (milliseconds since the epoch).
#pragma once

#include <chrono>
#include <cstdint>

namespace stele {

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace stele
