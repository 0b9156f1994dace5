// CRC-32/IEEE (zlib polynomial), as java.util.zip.CRC32 computes it. RocketMQ stores it masked with
// 0x7FFFFFFF (sign bit cleared); MaskedCrc32 does that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace stele {

// Unmasked CRC-32 of [data, data+n), continuing from `crc` (0 to start).
uint32_t Crc32(const void* data, size_t n, uint32_t crc = 0);
// CRC of A||B from crc(A), crc(B) and |B| (zlib's crc32_combine); lets the append path compute
// the body's CRC outside the lock and only the offset-dependent header inside it.
uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, size_t len_b);
// The same in two steps: the operator depends only on |B| and is the costly part (zlib's
// crc32_combine_gen), so it can be computed ahead of time, outside a lock.
uint32_t Crc32CombineOp(size_t len_b);
uint32_t Crc32CombineWith(uint32_t crc_a, uint32_t crc_b, uint32_t op);

inline uint32_t MaskCrc(uint32_t crc) { return crc & 0x7FFFFFFFu; }
inline uint32_t MaskedCrc32(std::string_view s) { return MaskCrc(Crc32(s.data(), s.size())); }

}  // namespace stele
