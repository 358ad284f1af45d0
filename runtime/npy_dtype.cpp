#include "runtime/npy_dtype.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "graph/error.h"

namespace soma::npy {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw IOError(what + ": " + msg);
}

// Element i's `size` bytes as an unsigned integer in host order.
uint64_t raw_word(std::string_view data, int64_t i, int size, bool big_endian) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data()) + i * size;
  uint64_t v = 0;
  for (int b = 0; b < size; ++b) {
    unsigned shift = big_endian ? 8 * (size - 1 - b) : 8 * b;
    v |= static_cast<uint64_t>(p[b]) << shift;
  }
  return v;
}

// IEEE binary16 -> float, exactly (subnormals, infinities and NaN included).
float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h >> 15) << 31;
  int exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | (static_cast<uint32_t>(exp - 15 + 127) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal: mant * 2^-24, exact in f32.
    float f = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -f : f;
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::string type_name(const SourceType& t) {
  std::string code(1, t.kind);
  code += std::to_string(t.size);
  return numpy_type_name(code);
}

}  // namespace

std::optional<SourceType> parse_descr(std::string_view d) {
  if (d.size() != 3) return std::nullopt;
  char order = d[0], kind = d[1];
  int size = d[2] - '0';
  bool known =
      (kind == 'f' && (size == 2 || size == 4 || size == 8)) ||
      ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
      (kind == 'b' && size == 1);
  if (!known) return std::nullopt;
  // '|' (not applicable) is numpy's mark for one-byte types; any mark is harmless there.
  if (order == '|' && size != 1) return std::nullopt;
  if (order != '<' && order != '>' && order != '=' && order != '|') return std::nullopt;
  return SourceType{kind, size, order == '>' && size > 1};
}

DType soma_dtype(const SourceType& t) {
  if (t.kind == 'b') return DType::boolean;
  if (t.kind == 'f') return t.size == 8 ? DType::f64 : DType::f32;
  return DType::i32;
}

std::string numpy_type_name(std::string_view code) {
  struct Entry {
    std::string_view code, name;
  };
  static constexpr Entry kNames[] = {
      {"b1", "bool"},      {"i1", "int8"},      {"i2", "int16"},       {"i4", "int32"},
      {"i8", "int64"},     {"u1", "uint8"},     {"u2", "uint16"},      {"u4", "uint32"},
      {"u8", "uint64"},    {"f2", "float16"},   {"f4", "float32"},     {"f8", "float64"},
      {"f16", "float128"}, {"c8", "complex64"}, {"c16", "complex128"}, {"O", "object"},
  };
  for (const Entry& e : kNames)
    if (e.code == code) return std::string(e.name);
  if (!code.empty() && code[0] == 'U') return "unicode string";
  if (!code.empty() && code[0] == 'S') return "byte string";
  if (!code.empty() && code[0] == 'V') return "void/raw bytes";
  if (code.starts_with("M8")) return "datetime64";
  if (code.starts_with("m8")) return "timedelta64";
  return "";
}

void convert(const SourceType& t, std::string_view data, Array& out, const std::string& what) {
  int64_t n = out.numel();
  if (t.kind == 'b') {
    auto* dst = static_cast<unsigned char*>(out.raw());
    for (int64_t i = 0; i < n; ++i) {
      auto c = static_cast<unsigned char>(data[static_cast<size_t>(i)]);
      if (c > 1)
        fail(what, "invalid bool value " + std::to_string(c) + " at element " + std::to_string(i) +
                       "; bool data must be bytes 0 or 1");
      dst[i] = c;
    }
    return;
  }
  if (!t.big_endian && dtype_size(out.dtype()) == static_cast<size_t>(t.size) &&
      !(t.kind == 'u' && t.size == 4)) {
    if (n > 0) std::memcpy(out.raw(), data.data(), data.size());  // the type soma stores
    return;
  }
  if (t.kind == 'f') {
    for (int64_t i = 0; i < n; ++i) {
      uint64_t w = raw_word(data, i, t.size, t.big_endian);
      if (t.size == 2) {
        static_cast<float*>(out.raw())[i] = half_to_float(static_cast<uint16_t>(w));
      } else if (t.size == 4) {
        auto u = static_cast<uint32_t>(w);
        std::memcpy(static_cast<float*>(out.raw()) + i, &u, 4);
      } else {
        std::memcpy(static_cast<double*>(out.raw()) + i, &w, 8);
      }
    }
    return;
  }
  auto* dst = static_cast<int32_t*>(out.raw());
  constexpr int64_t kLo = std::numeric_limits<int32_t>::min();
  constexpr int64_t kHi = std::numeric_limits<int32_t>::max();
  for (int64_t i = 0; i < n; ++i) {
    uint64_t w = raw_word(data, i, t.size, t.big_endian);
    bool too_big = false;
    int64_t v = 0;
    if (t.kind == 'u') {
      too_big = w > static_cast<uint64_t>(kHi);
      v = static_cast<int64_t>(w & 0x7fffffffffffffffull);
    } else {
      unsigned bits = 8u * static_cast<unsigned>(t.size);
      // Sign-extend the size-byte two's complement value.
      v = bits == 64 ? static_cast<int64_t>(w)
                     : static_cast<int64_t>(w << (64 - bits)) >> (64 - bits);
      too_big = v < kLo || v > kHi;
    }
    if (too_big)
      fail(what, "element " + std::to_string(i) + " of the " + type_name(t) + " array (" +
                     (t.kind == 'u' ? std::to_string(w) : std::to_string(v)) +
                     ") does not fit in i32, soma's integer type [" + std::to_string(kLo) + ", " +
                     std::to_string(kHi) +
                     "]; convert it first (a.astype('<f8') keeps values "
                     "up to 2**53 exactly)");
    dst[i] = static_cast<int32_t>(v);
  }
}

}  // namespace soma::npy
