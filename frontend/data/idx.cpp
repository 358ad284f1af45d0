#include "frontend/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "graph/error.h"
#include "runtime/file_io.h"

namespace soma::data {

namespace {

size_t type_size(IdxType t) {
  switch (t) {
    case IdxType::u8:
    case IdxType::i8:
      return 1;
    case IdxType::i16:
      return 2;
    case IdxType::i32:
    case IdxType::f32:
      return 4;
    case IdxType::f64:
      return 8;
  }
  return 0;
}

uint64_t be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

int64_t IdxFile::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::string read_maybe_gzip(const std::string& path, int64_t max_bytes) {
  const std::string raw = read_file(path, "data file");
  const size_t limit = max_bytes < 0 ? std::string::npos : static_cast<size_t>(max_bytes);
  if (raw.size() < 2 || static_cast<uint8_t>(raw[0]) != 0x1f ||
      static_cast<uint8_t>(raw[1]) != 0x8b)
    return raw.substr(0, limit);
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
    SOMA_THROW(IOError, "cannot read '" << path << "': zlib cannot start");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(std::min<size_t>(raw.size(), UINT32_MAX));
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (out.size() < limit) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK) break;
    if (z.avail_in == 0 && z.avail_out != 0) {  // all input used before the stream ended
      rc = Z_BUF_ERROR;
      break;
    }
  }
  inflateEnd(&z);
  if (out.size() >= limit) return out.substr(0, limit);
  if (rc == Z_BUF_ERROR)
    SOMA_THROW(IOError, "cannot read '" << path << "': the gzip stream is truncated");
  if (rc != Z_STREAM_END) SOMA_THROW(IOError, "cannot read '" << path << "': corrupt gzip data");
  return out;
}

IdxFile parse_idx(std::string_view bytes, const std::string& what) {
  auto fail = [&](const std::string& why) {
    SOMA_THROW(IOError, "'" << what << "' is not a valid IDX file: " << why);
  };
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() < 4) fail("shorter than the 4-byte magic");
  if (p[0] != 0 || p[1] != 0) fail("the magic must start with two zero bytes");
  IdxFile f;
  uint8_t code = p[2];
  if (code != 0x08 && code != 0x09 && code != 0x0B && code != 0x0C && code != 0x0D &&
      code != 0x0E) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", code);
    fail(std::string("unknown element type code ") + hex);
  }
  f.type = static_cast<IdxType>(code);
  int rank = p[3];
  if (rank < 1 || rank > kMaxRank) fail("rank " + std::to_string(rank) + " (1..6 supported)");
  size_t header = 4 + 4 * static_cast<size_t>(rank);
  if (bytes.size() < header) fail("truncated header");
  uint64_t n = 1;
  for (int i = 0; i < rank; ++i) {
    uint64_t d = be(p + 4 + 4 * i, 4);
    f.dims.push_back(static_cast<int64_t>(d));
    if (d != 0 && n > (uint64_t{1} << 40) / d) fail("sizes too large");
    n *= d;
  }
  uint64_t body = n * type_size(f.type);
  uint64_t have = bytes.size() - header;
  if (have < body)
    fail("truncated: " + std::to_string(have) + " bytes of data, the header needs " +
         std::to_string(body));
  if (have > body) fail(std::to_string(have - body) + " unexpected bytes after the data");
  f.bytes.assign(p + header, p + header + body);
  return f;
}

IdxFile read_idx(const std::string& path, int64_t max_rows) {
  if (max_rows < 0) return parse_idx(read_maybe_gzip(path), path);
  // Read the header, then only the rows wanted, and parse them as a file of that many rows.
  std::string head = read_maybe_gzip(path, 4);
  if (head.size() < 4) return parse_idx(head, path);  // reports the short file
  size_t rank = static_cast<uint8_t>(head[3]);
  head = read_maybe_gzip(path, static_cast<int64_t>(4 + 4 * rank));
  if (rank < 1 || head.size() < 4 + 4 * rank) return parse_idx(head, path);
  const auto* p = reinterpret_cast<const uint8_t*>(head.data());
  uint64_t rows = be(p + 4, 4), row = type_size(static_cast<IdxType>(p[2]));
  for (size_t i = 1; i < rank; ++i) row *= be(p + 4 + 4 * i, 4);
  if (row == 0 || rows <= static_cast<uint64_t>(max_rows) || row > (uint64_t{1} << 40))
    return parse_idx(read_maybe_gzip(path), path);
  uint64_t want = 4 + 4 * rank + static_cast<uint64_t>(max_rows) * row;
  std::string bytes = read_maybe_gzip(path, static_cast<int64_t>(want));
  if (bytes.size() < 8) return parse_idx(bytes, path);
  for (int k = 0; k < 4; ++k)
    bytes[4 + static_cast<size_t>(k)] =
        static_cast<char>((static_cast<uint64_t>(max_rows) >> (8 * (3 - k))) & 0xFF);
  return parse_idx(bytes, path);
}

Array idx_to_array(const IdxFile& file, DType dtype, double scale) {
  Array a(dtype, Shape(file.dims));
  int64_t n = file.numel();
  const uint8_t* p = file.bytes.data();
  size_t sz = type_size(file.type);
  auto value = [&](int64_t i) -> double {
    const uint8_t* q = p + static_cast<size_t>(i) * sz;
    switch (file.type) {
      case IdxType::u8:
        return q[0];
      case IdxType::i8:
        return static_cast<int8_t>(q[0]);
      case IdxType::i16:
        return static_cast<int16_t>(static_cast<uint16_t>(be(q, 2)));
      case IdxType::i32:
        return static_cast<int32_t>(static_cast<uint32_t>(be(q, 4)));
      case IdxType::f32: {
        uint32_t u = static_cast<uint32_t>(be(q, 4));
        float v;
        std::memcpy(&v, &u, 4);
        return v;
      }
      case IdxType::f64: {
        uint64_t u = be(q, 8);
        double v;
        std::memcpy(&v, &u, 8);
        return v;
      }
    }
    return 0;
  };
  if (dtype == DType::f32 && file.type == IdxType::u8) {  // the common case, fast
    float* out = a.data<float>();
    float s = static_cast<float>(scale);
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(p[i]) * s;
    return a;
  }
  bool fl = is_float(dtype);
  for (int64_t i = 0; i < n; ++i) a.set(i, fl ? value(i) * scale : value(i));
  return a;
}

}  // namespace soma::data
