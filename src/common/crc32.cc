#include "common/crc32.h"

#include <zlib.h>

#include <climits>

namespace stele {

uint32_t Crc32(const void* data, size_t n, uint32_t crc) {
  auto* p = static_cast<const Bytef*>(data);
  // zlib takes uInt lengths; feed very large buffers in pieces.
  while (n > 0) {
    uInt chunk = n > UINT_MAX / 2 ? UINT_MAX / 2 : static_cast<uInt>(n);
    crc = static_cast<uint32_t>(crc32(crc, p, chunk));
    p += chunk;
    n -= chunk;
  }
  return crc;
}

uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, size_t len_b) {
  return static_cast<uint32_t>(crc32_combine(crc_a, crc_b, static_cast<z_off_t>(len_b)));
}

uint32_t Crc32CombineOp(size_t len_b) {
  return static_cast<uint32_t>(crc32_combine_gen(static_cast<z_off_t>(len_b)));
}

uint32_t Crc32CombineWith(uint32_t crc_a, uint32_t crc_b, uint32_t op) {
  return static_cast<uint32_t>(crc32_combine_op(crc_a, crc_b, op));
}

}  // namespace stele
