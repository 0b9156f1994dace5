// Benchmark message bodies: incompressible (so compression or dedup cannot flatter a result) and
// reproducible (the same bytes in every run). Shared by stele_bench and stele_e2e_bench.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace stele::bench {

inline std::string RandomBody(size_t size) {
  std::string b(size, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull;  // xorshift64
  for (char& c : b) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return b;
}

}  // namespace stele::bench
