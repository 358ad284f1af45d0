#include "frontend/nn/checkpoint.h"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <sstream>

#include "graph/error.h"
#include "runtime/file_io.h"
#include "runtime/sha256.h"

namespace soma::nn {

namespace {

constexpr const char* kMagic = "soma-checkpoint 2";
constexpr const char* kMagicV1 = "soma-checkpoint 1";  // read: no whole-file checksum

uint32_t crc_of(const void* data, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (n > 0) {
    uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

bool plain_token(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') return false;
  return true;
}

[[noreturn]] void bad(const std::string& path, const std::string& why) {
  SOMA_THROW(IOError, "cannot load checkpoint '" << path << "': " << why);
}

bool parse_u64(const std::string& s, uint64_t* v) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t r = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    r = r * 10 + static_cast<uint64_t>(c - '0');
  }
  *v = r;
  return true;
}

bool parse_shape(const std::string& s, Shape* out) {
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') return false;
  std::vector<int64_t> dims;
  std::string body = s.substr(1, s.size() - 2);
  if (!body.empty()) {
    std::stringstream ss(body);
    std::string item;
    while (std::getline(ss, item, ',')) {
      uint64_t v;
      if (!parse_u64(item, &v) || v > (1ull << 40)) return false;
      dims.push_back(static_cast<int64_t>(v));
    }
    if (body.back() == ',') return false;
  }
  if (dims.size() > static_cast<size_t>(kMaxRank)) return false;
  *out = Shape(dims);
  return true;
}

}  // namespace

void write_checkpoint(const std::string& path, const Checkpoint& ck) {
  std::ostringstream head;
  head << kMagic << "\n";
  for (const auto& [k, v] : ck.meta) {
    if (!plain_token(k) || v.find('\n') != std::string::npos)
      SOMA_THROW(ValueError, "checkpoint: metadata key '" << k << "' or its value is not one line");
    head << "meta " << k << " " << v << "\n";
  }
  if (!ck.architecture.empty()) head << "architecture " << ck.architecture.size() << "\n";
  size_t payload = ck.architecture.size();
  for (const auto& [name, a] : ck.tensors) {
    if (!plain_token(name))
      SOMA_THROW(ValueError, "checkpoint: tensor name '" << name << "' has spaces");
    char crc[16];
    std::snprintf(crc, sizeof crc, "%08x", crc_of(a.raw(), a.nbytes()));
    head << "tensor " << name << " " << dtype_name(a.dtype()) << " " << a.shape().str() << " "
         << a.nbytes() << " " << crc << "\n";
    payload += a.nbytes();
  }
  std::string h = head.str();
  std::string bytes;
  bytes.reserve(h.size() + 70 + payload);
  bytes += h;
  std::string body = ck.architecture;
  body.reserve(payload);
  for (const auto& [name, a] : ck.tensors)
    body.append(static_cast<const char*>(a.raw()), a.nbytes());
  // The end line carries the digest of every other byte of the file.
  Sha256 digest;
  digest.update(h);
  digest.update(body);
  auto d = digest.final();
  bytes += "end " + to_hex(d.data(), d.size()) + "\n";
  bytes += body;
  write_file_atomic(path, bytes, "checkpoint");
}

Checkpoint read_checkpoint(const std::string& path) {
  return parse_checkpoint(read_file(path, "checkpoint"), path);
}

Checkpoint parse_checkpoint(std::string_view bytes, const std::string& path) {
  size_t pos = 0;
  int line_no = 0;
  auto next_line = [&](std::string* line) {
    size_t nl = bytes.find('\n', pos);
    if (nl == std::string::npos) return false;
    *line = std::string(bytes.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    return true;
  };
  std::string line;
  if (!next_line(&line) || (line != kMagic && line != kMagicV1)) {
    if (bytes.rfind("soma-checkpoint ", 0) == 0)
      bad(path, "unsupported format version (this soma reads \"" + std::string(kMagic) +
                    "\" and \"" + kMagicV1 + "\")");
    bad(path, "not a soma checkpoint (bad magic line)");
  }
  const bool v1 = line == kMagicV1;
  size_t end_line = 0;     // where the end line starts
  std::string digest_hex;  // v2: the digest on the end line
  Checkpoint ck;
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t nbytes;
    uint32_t crc;
  };
  std::vector<Entry> entries;
  uint64_t arch_bytes = 0;
  bool ended = false;
  while (true) {
    const size_t line_start = pos;
    if (!next_line(&line)) break;
    std::string where = "header line " + std::to_string(line_no) + ": ";
    if ((v1 && line == "end") || (!v1 && line.rfind("end ", 0) == 0)) {
      ended = true;
      end_line = line_start;
      digest_hex = v1 ? "" : line.substr(4);
      break;
    }
    std::istringstream ls(line);
    std::string kind;
    ls >> kind;
    if (kind == "meta") {
      std::string key;
      ls >> key;
      if (key.empty()) bad(path, where + "meta without a key");
      size_t at = 5 + key.size();
      ck.meta[key] = at < line.size() ? line.substr(at + 1) : "";
    } else if (kind == "architecture") {
      std::string n, extra;
      ls >> n >> extra;
      if (!parse_u64(n, &arch_bytes) || !extra.empty()) bad(path, where + "bad architecture size");
    } else if (kind == "tensor") {
      std::string name, dt, shape, nb, crc, extra;
      ls >> name >> dt >> shape >> nb >> crc >> extra;
      Entry e;
      e.name = name;
      auto d = parse_dtype(dt);
      if (crc.empty() || !extra.empty()) bad(path, where + "malformed tensor entry '" + line + "'");
      if (!d) bad(path, where + "unknown dtype '" + dt + "' of tensor '" + name + "'");
      e.dtype = *d;
      if (!parse_shape(shape, &e.shape))
        bad(path, where + "bad shape '" + shape + "' of tensor '" + name + "'");
      if (!parse_u64(nb, &e.nbytes) ||
          e.nbytes != static_cast<uint64_t>(e.shape.numel()) * dtype_size(e.dtype))
        bad(path, where + "tensor '" + name + "' has " + nb + " bytes, but " + dt + shape +
                      " needs " +
                      std::to_string(static_cast<uint64_t>(e.shape.numel()) * dtype_size(e.dtype)));
      char* endp = nullptr;
      unsigned long c = std::strtoul(crc.c_str(), &endp, 16);
      if (crc.size() != 8 || *endp != '\0') bad(path, where + "bad CRC-32 '" + crc + "'");
      e.crc = static_cast<uint32_t>(c);
      for (const Entry& o : entries)
        if (o.name == name) bad(path, where + "tensor '" + name + "' appears twice");
      entries.push_back(e);
    } else {
      bad(path, where + "unknown entry '" + kind + "'");
    }
  }
  if (!ended) bad(path, "the header has no \"end\" line (truncated file?)");
  uint64_t need = arch_bytes;
  for (const Entry& e : entries) need += e.nbytes;
  uint64_t have = bytes.size() - pos;
  if (have < need)
    bad(path, "truncated: the payload has " + std::to_string(have) + " bytes, the header lists " +
                  std::to_string(need));
  if (have > need)
    bad(path, std::to_string(have - need) + " unexpected bytes after the last tensor");
  const size_t payload_start = pos;
  ck.architecture = std::string(bytes.substr(pos, arch_bytes));
  pos += arch_bytes;
  for (const Entry& e : entries) {
    Array a(e.dtype, e.shape);
    if (e.nbytes) std::memcpy(a.raw(), bytes.data() + pos, e.nbytes);
    pos += e.nbytes;
    if (crc_of(a.raw(), a.nbytes()) != e.crc)
      bad(path, "tensor '" + e.name + "' is corrupt (CRC-32 mismatch)");
    ck.tensors.emplace_back(e.name, a);
  }
  if (!v1) {
    // Every byte but the end line's digest is covered: the header (metadata, architecture size,
    // tensor entries) and the payload (architecture text, tensors).
    Sha256 digest;
    digest.update(std::string_view(bytes).substr(0, end_line));
    digest.update(std::string_view(bytes).substr(payload_start));
    auto d = digest.final();
    if (to_hex(d.data(), d.size()) != digest_hex)
      bad(path,
          "corrupt: the SHA-256 checksum on its end line does not match its content (the file "
          "was damaged or edited)");
  }
  return ck;
}

}  // namespace soma::nn
