#include "runtime/npy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <vector>

#include "graph/error.h"
#include "runtime/file_io.h"
#include "runtime/npy_dtype.h"

namespace soma {

static_assert(std::endian::native == std::endian::little,
              "the .npy reader and writer assume a little-endian host");

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr size_t kAlign = 64;                // numpy aligns the data start to 64 bytes
constexpr size_t kGrowthAxisMaxDigits = 21;  // numpy leaves room to grow the first axis in place
constexpr const char* kSupported =
    "float16/32/64, int8/16/32/64, uint8/16/32/64 and bool, either byte order (integers are read "
    "as i32, float16 as f32)";

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw IOError(what + ": " + msg);
}

// A header excerpt for error messages: printable ASCII kept, everything else escaped.
std::string excerpt(std::string_view s) {
  constexpr size_t kMax = 160;
  // numpy pads the header with spaces and a final newline; do not show them.
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.remove_suffix(1);
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

std::string n_bytes(uint64_t n) {
  return std::to_string(n) + (n == 1 ? " byte" : " bytes");
}

std::string shape_repr(const std::vector<int64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims[i]);
  }
  if (dims.size() == 1) s += ",";
  return s + ")";
}

// ---- Header dict parsing ------------------------------------------------------------------------
// The header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// We accept any key order, any whitespace, single or double quotes and trailing commas, and
// reject everything else (unknown or duplicate keys, non-literal values).

struct Header {
  std::optional<std::string> descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<int64_t>> shape;
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& what) : s_(text), what_(what) {}

  Header parse() {
    Header h;
    skip_ws();
    expect('{', "the header must be a dict starting with '{'");
    for (;;) {
      skip_ws();
      if (peek() == '}') break;
      std::string key = parse_string("a quoted key");
      skip_ws();
      expect(':', "expected ':' after key '" + key + "'");
      skip_ws();
      if (key == "descr") {
        if (h.descr) malformed("duplicate key 'descr'");
        if (peek() == '[')
          fail(what_,
               "structured dtypes (a list of fields in 'descr') are not supported; supported "
               "dtypes: " +
                   std::string(kSupported));
        h.descr = parse_string("a quoted dtype string for 'descr'");
      } else if (key == "fortran_order") {
        if (h.fortran_order) malformed("duplicate key 'fortran_order'");
        h.fortran_order = parse_bool();
      } else if (key == "shape") {
        if (h.shape) malformed("duplicate key 'shape'");
        h.shape = parse_shape();
      } else {
        malformed("unexpected key '" + excerpt(key) +
                  "' (a .npy header has exactly 'descr', 'fortran_order' and 'shape')");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') malformed("expected ',' or '}' after the value of '" + key + "'");
    }
    ++pos_;  // '}'
    skip_ws();
    if (pos_ != s_.size()) malformed("unexpected text after the closing '}'");
    if (!h.descr) malformed("missing key 'descr'");
    if (!h.fortran_order) malformed("missing key 'fortran_order'");
    if (!h.shape) malformed("missing key 'shape'");
    return h;
  }

 private:
  [[noreturn]] void malformed(const std::string& msg) {
    fail(what_, "malformed .npy header: " + msg + " (at offset " + std::to_string(pos_) +
                    " of header \"" + excerpt(s_) + "\")");
  }

  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= s_.size(); }

  void skip_ws() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                         s_[pos_] == '\r' || s_[pos_] == '\f' || s_[pos_] == '\v'))
      ++pos_;
  }

  void expect(char c, const std::string& msg) {
    if (at_end() || s_[pos_] != c) malformed(msg);
    ++pos_;
  }

  std::string parse_string(const char* expected) {
    char q = peek();
    if (at_end() || (q != '\'' && q != '"')) malformed(std::string("expected ") + expected);
    ++pos_;
    std::string out;
    for (;;) {
      if (at_end()) malformed("unterminated string");
      char c = s_[pos_];
      if (c == q) break;
      if (c == '\\') malformed("escape sequences in strings are not supported");
      if (c == '\n') malformed("unterminated string");
      out += c;
      ++pos_;
    }
    ++pos_;  // closing quote
    return out;
  }

  bool parse_bool() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    malformed("expected True or False for 'fortran_order'");
  }

  int64_t parse_int() {
    bool negative = false;
    if (peek() == '-' || peek() == '+') {
      negative = peek() == '-';
      ++pos_;
      skip_ws();
    }
    if (at_end() || s_[pos_] < '0' || s_[pos_] > '9') malformed("expected an integer in 'shape'");
    int64_t v = 0;
    bool overflow = false;
    while (!at_end() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      int d = s_[pos_] - '0';
      if (v > (std::numeric_limits<int64_t>::max() - d) / 10) overflow = true;
      if (!overflow) v = v * 10 + d;
      ++pos_;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2's long suffix, written by old numpy
    if (overflow)
      fail(what_, "invalid shape in .npy header: a dimension does not fit in a 64-bit integer");
    return negative ? -v : v;
  }

  std::vector<int64_t> parse_shape() {
    expect('(', "expected a tuple such as (2, 3) for 'shape'");
    std::vector<int64_t> dims;
    bool comma = false;
    for (;;) {
      skip_ws();
      if (peek() == ')') break;
      dims.push_back(parse_int());
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        comma = true;
        continue;
      }
      if (peek() != ')') malformed("expected ',' or ')' in 'shape'");
    }
    if (dims.size() == 1 && !comma)
      malformed("'shape' must be a tuple: write (" + std::to_string(dims[0]) + ",) not (" +
                std::to_string(dims[0]) + ")");
    ++pos_;  // ')'
    return dims;
  }

  std::string_view s_;
  const std::string& what_;
  size_t pos_ = 0;
};

// ---- dtype descriptors --------------------------------------------------------------------------

[[noreturn]] void reject_descr(const std::string& what, const std::string& descr) {
  std::string shown = excerpt(descr);
  std::string code = descr.size() >= 1 && (descr[0] == '<' || descr[0] == '>' || descr[0] == '=' ||
                                           descr[0] == '|')
                         ? descr.substr(1)
                         : descr;
  std::string name = npy::numpy_type_name(code);
  fail(what, "unsupported dtype '" + shown + "'" + (name.empty() ? "" : " (" + name + ")") +
                 "; supported dtypes: " + kSupported);
}

const char* descr_for(DType t) {
  switch (t) {
    case DType::f32:
      return "<f4";
    case DType::f64:
      return "<f8";
    case DType::i32:
      return "<i4";
    case DType::boolean:
      return "|b1";
  }
  return "?";
}

uint32_t read_le(std::string_view b, size_t off, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(b[off + i])) << (8 * i);
  return v;
}

// ---- File helpers -------------------------------------------------------------------------------

}  // namespace

namespace {

// What a .npy header says, checked against the bytes that follow it.
struct Layout {
  npy::SourceType source;
  DType dtype;
  std::vector<int64_t> dims;
  size_t data_offset = 0;
};

Layout parse_layout(std::string_view bytes, const std::string& what) {
  if (bytes.size() < kMagic.size() || bytes.substr(0, kMagic.size()) != kMagic) {
    std::string msg = "not a .npy file: it does not start with the magic bytes \\x93NUMPY";
    if (bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4))
      msg += " (it looks like a zip archive, e.g. an .npz file; extract its arrays first)";
    else if (bytes.size() < kMagic.size())
      msg += " (the file is only " + std::to_string(bytes.size()) + " bytes long)";
    fail(what, msg);
  }
  if (bytes.size() < 8)
    fail(what, "truncated .npy header: the file ends after " + std::to_string(bytes.size()) +
                   " bytes, before the format version");
  unsigned major = static_cast<unsigned char>(bytes[6]);
  unsigned minor = static_cast<unsigned char>(bytes[7]);
  if (minor != 0 || major < 1 || major > 3)
    fail(what, "unsupported .npy format version " + std::to_string(major) + "." +
                   std::to_string(minor) + " (soma reads versions 1.0, 2.0 and 3.0)");
  size_t len_size = major == 1 ? 2 : 4;
  size_t prefix = 8 + len_size;
  if (bytes.size() < prefix)
    fail(what, "truncated .npy header: the file ends after " + std::to_string(bytes.size()) +
                   " bytes, before the header length");
  size_t header_len = read_le(bytes, 8, len_size);
  if (bytes.size() - prefix < header_len)
    fail(what, "truncated .npy header: the header should be " + std::to_string(header_len) +
                   " bytes long, but the file ends after " + std::to_string(bytes.size() - prefix) +
                   " of them");
  std::string_view header_text = bytes.substr(prefix, header_len);
  Header h = HeaderParser(header_text, what).parse();

  std::optional<npy::SourceType> source = npy::parse_descr(*h.descr);
  if (!source) reject_descr(what, *h.descr);
  std::optional<DType> dtype = npy::soma_dtype(*source);
  if (*h.fortran_order)
    fail(what, "Fortran-ordered arrays are not supported; save with np.ascontiguousarray(a) first");
  const std::vector<int64_t>& dims = *h.shape;
  std::string shape_text = shape_repr(dims);
  if (shape_text.size() > 200) shape_text = shape_text.substr(0, 200) + "...)";
  for (int64_t d : dims)
    if (d < 0) fail(what, "invalid shape " + shape_text + " in .npy header: negative dimension");
  if (dims.size() > static_cast<size_t>(kMaxRank))
    fail(what, "shape " + shape_text + " has rank " + std::to_string(dims.size()) +
                   "; soma supports at most rank " + std::to_string(kMaxRank));
  // Every dimension (zeros counted as one) times the element size must fit, so strides do too.
  size_t itemsize = static_cast<size_t>(source->size);
  uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t span = itemsize;
  bool empty = false;
  for (int64_t d : dims) {
    uint64_t u = static_cast<uint64_t>(d);
    if (u == 0) {
      empty = true;
      continue;
    }
    if (span > limit / u)
      fail(what, "invalid shape " + shape_text + " in .npy header: the array size overflows");
    span *= u;
  }
  uint64_t expected = empty ? 0 : span;
  uint64_t actual = bytes.size() - prefix - header_len;
  bool stored_as_is = dtype_size(*dtype) == itemsize && source->kind != 'u';
  std::string type_text =
      (stored_as_is
           ? std::string(dtype_name(*dtype))
           : npy::numpy_type_name(std::string(1, source->kind) + std::to_string(itemsize))) +
      " array of shape " + shape_text;
  if (actual < expected)
    fail(what, "truncated data: the " + type_text + " needs " + n_bytes(expected) +
                   " after the header, but the file has only " + n_bytes(actual) + " of data");
  if (actual > expected)
    fail(what, n_bytes(actual - expected) + " of unexpected trailing data after the array (the " +
                   type_text + " needs " + n_bytes(expected) + ", the file has " +
                   std::to_string(actual) + ")");

  return Layout{*source, *dtype, dims, prefix + header_len};
}

}  // namespace

Array parse_npy(std::string_view bytes, const std::string& what) {
  Layout l = parse_layout(bytes, what);
  Array a(l.dtype, Shape(l.dims));
  npy::convert(l.source, bytes.substr(l.data_offset), a, what);
  return a;
}

namespace {

// The whole file mapped copy-on-write (reads come from the page cache; writes stay private).
struct Mapping {
  std::shared_ptr<std::byte[]> base;
  size_t size = 0;
  std::string_view bytes() const { return {reinterpret_cast<const char*>(base.get()), size}; }
};

Mapping map_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open the .npy file: ") + std::strerror(errno));
  struct stat st = {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  size_t size = static_cast<size_t>(st.st_size);
  void* base = size ? ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) : nullptr;
  ::close(fd);  // the mapping stays
  if (size && base == MAP_FAILED)
    fail(path, std::string("cannot map the file: ") + std::strerror(errno));
  if (size) ::madvise(base, size, MADV_SEQUENTIAL);
  return {std::shared_ptr<std::byte[]>(static_cast<std::byte*>(base),
                                       [size](std::byte* p) {
                                         if (p) ::munmap(p, size);
                                       }),
          size};
}

bool stored_as_is(const Layout& l) {
  return !l.source.big_endian && dtype_size(l.dtype) == static_cast<size_t>(l.source.size) &&
         l.source.kind != 'u';
}

}  // namespace

Array load_npy(const std::string& path) {
  // Read from the file's pages straight into the array, never through a copy of the whole file.
  // Types stored as they are go over in blocks, each block's file pages released once copied,
  // so the peak memory is the array's (plus one block), not twice that.
  Mapping m = map_file(path);
  const std::string_view bytes = m.bytes();
  Layout l = parse_layout(bytes, path);
  if (!stored_as_is(l) || l.dtype == DType::boolean) {
    Array a(l.dtype, Shape(l.dims));
    npy::convert(l.source, bytes.substr(l.data_offset), a, path);
    return a;
  }
  Array a(l.dtype, Shape(l.dims));
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  constexpr size_t kBlock = size_t{64} << 20;
  auto* dst = static_cast<char*>(a.raw());
  const size_t n = a.nbytes();
  for (size_t done = 0; done < n;) {
    const size_t len = std::min(kBlock, n - done);
    std::memcpy(dst + done, bytes.data() + l.data_offset + done, len);
    done += len;
    // The whole pages of the source behind this point are not needed again.
    const size_t end = (l.data_offset + done) / page * page;
    if (end > 0) ::madvise(m.base.get(), end, MADV_DONTNEED);
  }
  return a;
}

Array map_npy(const std::string& path) {
  Mapping m = map_file(path);
  std::shared_ptr<std::byte[]> mapping = m.base;
  std::string_view bytes = m.bytes();
  Layout l = parse_layout(bytes, path);
  if (!stored_as_is(l))
    fail(path,
         "only float32, float64, int32 and bool little-endian files can be mapped (this one "
         "needs converting): load it with load_npy, or save it as one of those types");
  if (l.data_offset % 64 != 0)
    fail(path,
         "the data does not start at a multiple of 64 bytes (numpy 1.x aligns it so), so "
         "it cannot be mapped; load it with load_npy");
  Shape shape(l.dims);
  if (l.dtype == DType::boolean) {  // one pass over the pages, so that every bool is 0 or 1
    const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + l.data_offset);
    for (int64_t i = 0; i < shape.numel(); ++i)
      if (b[i] > 1)
        fail(path, "invalid bool value " + std::to_string(b[i]) + " at element " +
                       std::to_string(i) + "; bool data must be bytes 0 or 1");
  }
  // Copies of the Array keep the mapping alive (the aliasing pointer shares its ownership).
  std::shared_ptr<std::byte[]> data(mapping, mapping.get() + l.data_offset);
  return Array::from_storage(l.dtype, shape, std::move(data));
}

namespace {

// The magic, version, header length and header dict of `a`, padded so that the data that follows
// starts at a multiple of kAlign.
std::string npy_header(const Array& a) {
  const std::vector<int64_t>& dims = a.shape().dims();
  std::string dict = "{'descr': '";
  dict += descr_for(a.dtype());
  dict += "', 'fortran_order': False, 'shape': " + shape_repr(dims) + ", }";
  // Like numpy: spare room so the first axis can grow in place.
  if (!dims.empty()) {
    size_t digits = std::to_string(dims[0]).size();
    if (digits < kGrowthAxisMaxDigits) dict.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  // Pad with spaces and a final '\n' so the data starts at a multiple of kAlign. numpy adds a
  // full kAlign of padding when already aligned; we match it byte for byte.
  int major = 1;
  size_t prefix = kMagic.size() + 2 + 2;
  size_t body = dict.size() + 1;  // + '\n'
  size_t pad = kAlign - (prefix + body) % kAlign;
  if (body + pad > 0xffff) {
    major = 2;
    prefix = kMagic.size() + 2 + 4;
    pad = kAlign - (prefix + body) % kAlign;
  }
  size_t header_len = body + pad;
  size_t len_size = major == 1 ? 2 : 4;

  std::string out;
  out.reserve(prefix + header_len + a.nbytes());
  out += kMagic;
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < len_size; ++i) out += static_cast<char>((header_len >> (8 * i)) & 0xff);
  out += dict;
  out.append(pad, ' ');
  out += '\n';
  return out;
}

}  // namespace

std::string serialize_npy(const Array& a) {
  std::string out = npy_header(a);
  out.reserve(out.size() + a.nbytes());
  size_t start = out.size();
  out.append(static_cast<const char*>(a.raw()), a.nbytes());
  if (a.dtype() == DType::boolean)
    for (size_t i = start; i < out.size(); ++i) out[i] = out[i] != 0 ? 1 : 0;
  return out;
}

void save_npy(const std::string& path, const Array& a) {
  // The header, then the array's own bytes (no copy of the array into one buffer), unless bool
  // values other than 0 and 1 need normalizing.
  const std::string header = npy_header(a);
  const std::string_view data(static_cast<const char*>(a.raw()), a.nbytes());
  if (a.dtype() == DType::boolean &&
      std::any_of(data.begin(), data.end(), [](char c) { return c != 0 && c != 1; })) {
    write_file_atomic(path, serialize_npy(a), ".npy file");
    return;
  }
  const std::string_view pieces[] = {header, data};
  write_file_atomic(path, std::span<const std::string_view>(pieces), ".npy file");
}

}  // namespace soma
