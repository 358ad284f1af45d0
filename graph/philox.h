// Philox-4x32-10, a counter-based random bit generator (Salmon et al., SC'11). soma's random op
// draws element i of a tensor from counter (i, offset) under key seed, so every backend produces
// the same stream for a given seed, element by element, with no state.
#pragma once

#include <cstdint>

namespace soma {

constexpr uint32_t philox_bits(uint64_t seed, uint64_t index, uint32_t offset) {
  uint32_t c0 = static_cast<uint32_t>(index), c1 = static_cast<uint32_t>(index >> 32);
  uint32_t c2 = offset, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t{0xD2511F53u} * c0;
    uint64_t p1 = uint64_t{0xCD9E8D57u} * c2;
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return c0;
}

// A uniform number in [0, 1) from the top 24 bits (exact in f32 and f64 alike).
constexpr double philox_uniform(uint64_t seed, uint64_t index, uint32_t offset) {
  return static_cast<double>(philox_bits(seed, index, offset) >> 8) * (1.0 / 16777216.0);
}

}  // namespace soma
