// SHA-256 (FIPS 180-4): the digest of cache keys and cache contents. Not for security: for
// telling entries apart and noticing corruption with certainty.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace soma {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  void update(const void* data, size_t n);
  std::array<uint8_t, 32> final();  // the object is spent after this

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t used_ = 0;
  uint64_t bytes_ = 0;
};

// The digest of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);
std::string to_hex(const uint8_t* bytes, size_t n);

}  // namespace soma
