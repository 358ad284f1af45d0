// PNG decoding and encoding: chunk parsing with CRC checks, inflate, scanline (un)filtering,
// Adam7 passes and sample unpacking.
#include "frontend/data/png.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>

#include "graph/error.h"
#include "runtime/file_io.h"

namespace soma::data {

namespace {

constexpr std::array<uint8_t, 8> kSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr int64_t kMaxPixels = int64_t{1} << 28;

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

[[noreturn]] void fail(const std::string& what, const std::string& why) {
  SOMA_THROW(IOError, "cannot read PNG " << what << ": " << why);
}

struct Header {
  uint32_t width = 0, height = 0;
  int depth = 0, color = 0, interlace = 0;
  int samples_per_pixel() const {
    switch (color) {
      case 0:
      case 3:
        return 1;
      case 2:
        return 3;
      case 4:
        return 2;
      default:
        return 4;
    }
  }
  int bits_per_pixel() const { return samples_per_pixel() * depth; }
  // Bytes of one filtered row of `w` pixels (without the filter byte).
  size_t row_bytes(uint64_t w) const { return static_cast<size_t>((w * bits_per_pixel() + 7) / 8); }
};

struct Pass {
  int x0, y0, dx, dy;
};
constexpr std::array<Pass, 7> kAdam7 = {{{0, 0, 8, 8},
                                         {4, 0, 8, 8},
                                         {0, 4, 4, 8},
                                         {2, 0, 4, 4},
                                         {0, 2, 2, 4},
                                         {1, 0, 2, 2},
                                         {0, 1, 1, 2}}};
constexpr Pass kWhole = {0, 0, 1, 1};

uint64_t pass_extent(uint64_t size, int start, int step) {
  return size > static_cast<uint64_t>(start) ? (size - start + step - 1) / step : 0;
}

void check_header(const Header& h, const std::string& what) {
  if (h.width == 0 || h.height == 0 || h.width > 0x7fffffffu || h.height > 0x7fffffffu)
    fail(what, "bad size " + std::to_string(h.width) + "x" + std::to_string(h.height));
  bool ok = false;
  switch (h.color) {
    case 0:
      ok = h.depth == 1 || h.depth == 2 || h.depth == 4 || h.depth == 8 || h.depth == 16;
      break;
    case 3:
      ok = h.depth == 1 || h.depth == 2 || h.depth == 4 || h.depth == 8;
      break;
    case 2:
    case 4:
    case 6:
      ok = h.depth == 8 || h.depth == 16;
      break;
    default:
      fail(what, "unknown color type " + std::to_string(h.color));
  }
  if (!ok)
    fail(what, "bit depth " + std::to_string(h.depth) + " is not allowed for color type " +
                   std::to_string(h.color));
  if (static_cast<int64_t>(h.width) * h.height > kMaxPixels)
    fail(what, std::to_string(h.width) + "x" + std::to_string(h.height) +
                   " pixels are more than soma decodes (2^28)");
}

// Inflates the concatenated IDAT data into exactly `size` bytes.
std::vector<uint8_t> inflate_exact(const std::vector<uint8_t>& in, size_t size,
                                   const std::string& what) {
  // Deflate expands at most 1032:1, so a tiny file that claims a huge image is refused before
  // anything of that size is allocated.
  if (size / 1032 > in.size() + 64)
    fail(what, "the image data ends early (" + std::to_string(in.size()) +
                   " compressed bytes cannot hold a " + std::to_string(size) +
                   "-byte image; truncated file?)");
  std::vector<uint8_t> out(size + 1);
  z_stream z{};
  if (inflateInit(&z) != Z_OK) fail(what, "zlib could not start");
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  int rc = Z_OK;
  while (rc == Z_OK && z.avail_out > 0) rc = inflate(&z, Z_FINISH);
  const size_t produced = out.size() - z.avail_out;
  const std::string msg = z.msg ? z.msg : "";
  inflateEnd(&z);
  if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR)
    fail(what, "corrupt image data (zlib: " + (msg.empty() ? std::to_string(rc) : msg) + ")");
  if (produced > size)
    fail(what, "the image data is longer than a " + std::to_string(size) + "-byte image");
  if (produced < size || rc != Z_STREAM_END)
    fail(what, "the image data ends early (" + std::to_string(produced) + " of " +
                   std::to_string(size) + " bytes; truncated file?)");
  out.resize(size);
  return out;
}

uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  if (pa <= pb && pa <= pc) return static_cast<uint8_t>(a);
  return static_cast<uint8_t>(pb <= pc ? b : c);
}

// Undoes the filter of each row in place; `data` holds rows of 1 + row_bytes bytes.
void unfilter(uint8_t* data, uint64_t rows, size_t row_bytes, int bpp, const std::string& what) {
  const uint8_t* prev = nullptr;
  for (uint64_t r = 0; r < rows; ++r) {
    uint8_t* row = data + r * (row_bytes + 1);
    const int type = row[0];
    uint8_t* x = row + 1;
    for (size_t i = 0; i < row_bytes; ++i) {
      const int a = i >= static_cast<size_t>(bpp) ? x[i - bpp] : 0;
      const int b = prev ? prev[i] : 0;
      const int c = prev && i >= static_cast<size_t>(bpp) ? prev[i - bpp] : 0;
      switch (type) {
        case 0:
          break;
        case 1:
          x[i] = static_cast<uint8_t>(x[i] + a);
          break;
        case 2:
          x[i] = static_cast<uint8_t>(x[i] + b);
          break;
        case 3:
          x[i] = static_cast<uint8_t>(x[i] + ((a + b) >> 1));
          break;
        case 4:
          x[i] = static_cast<uint8_t>(x[i] + paeth(a, b, c));
          break;
        default:
          fail(what,
               "row " + std::to_string(r) + " has unknown filter type " + std::to_string(type));
      }
    }
    prev = x;
  }
}

// Sample `i` of an unfiltered row.
uint16_t sample(const uint8_t* row, uint64_t i, int depth) {
  switch (depth) {
    case 16:
      return static_cast<uint16_t>((row[2 * i] << 8) | row[2 * i + 1]);
    case 8:
      return row[i];
    default: {
      const uint64_t bit = i * depth;
      const int shift = 8 - depth - static_cast<int>(bit % 8);
      return static_cast<uint16_t>((row[bit / 8] >> shift) & ((1 << depth) - 1));
    }
  }
}

}  // namespace

Image decode_png(std::span<const uint8_t> bytes, const std::string& what) {
  if (bytes.size() < 8 || !std::equal(kSignature.begin(), kSignature.end(), bytes.begin()))
    fail(what, "not a PNG file (its first bytes are not the PNG signature)");
  Header h;
  bool have_header = false, have_end = false, have_trns = false;
  std::vector<uint8_t> idat, palette, trns;
  size_t pos = 8;
  while (!have_end) {
    if (bytes.size() - pos < 12)
      fail(what, "the file ends before its IEND chunk (truncated?) at byte " + std::to_string(pos));
    const uint32_t len = be32(&bytes[pos]);
    const uint8_t* type = &bytes[pos + 4];
    const std::string name(reinterpret_cast<const char*>(type), 4);
    if (len > 0x7fffffffu || bytes.size() - pos - 12 < len)
      fail(what, "chunk '" + name + "' at byte " + std::to_string(pos) +
                     " runs past the end of the file (truncated?)");
    const uint8_t* data = type + 4;
    const uint32_t crc = static_cast<uint32_t>(crc32(crc32(0, nullptr, 0), type, len + 4));
    if (crc != be32(data + len))
      fail(what, "chunk '" + name + "' at byte " + std::to_string(pos) + " is corrupt (bad CRC)");
    if (!have_header && name != "IHDR") fail(what, "the first chunk is '" + name + "', not IHDR");
    if (name == "IHDR") {
      if (have_header) fail(what, "two IHDR chunks");
      if (len != 13) fail(what, "IHDR has " + std::to_string(len) + " bytes, not 13");
      h.width = be32(data);
      h.height = be32(data + 4);
      h.depth = data[8];
      h.color = data[9];
      if (data[10] != 0) fail(what, "unknown compression method " + std::to_string(data[10]));
      if (data[11] != 0) fail(what, "unknown filter method " + std::to_string(data[11]));
      if (data[12] > 1) fail(what, "unknown interlace method " + std::to_string(data[12]));
      h.interlace = data[12];
      check_header(h, what);
      have_header = true;
    } else if (name == "PLTE") {
      if (len == 0 || len % 3 != 0 || len / 3 > 256)
        fail(what, "PLTE has " + std::to_string(len) + " bytes, not 3 per entry (1 to 256)");
      palette.assign(data, data + len);
    } else if (name == "tRNS") {
      trns.assign(data, data + len);
      have_trns = true;
    } else if (name == "IDAT") {
      idat.insert(idat.end(), data, data + len);
    } else if (name == "IEND") {
      have_end = true;
    } else if (!(type[0] & 0x20)) {
      fail(what, "unknown critical chunk '" + name + "'");
    }
    pos += 12 + static_cast<size_t>(len);
  }
  if (idat.empty()) fail(what, "no image data (IDAT chunk)");
  if (h.color == 3 && palette.empty()) fail(what, "a palette image without a PLTE chunk");
  if (have_trns) {
    const size_t need = h.color == 0 ? 2 : h.color == 2 ? 6 : 0;
    if (h.color == 4 || h.color == 6) fail(what, "tRNS on an image that has an alpha channel");
    if ((need && trns.size() != need) || (h.color == 3 && trns.size() > palette.size() / 3))
      fail(what,
           "tRNS has " + std::to_string(trns.size()) + " bytes, which does not fit the image");
  }

  // The inflated data: each pass's rows, each a filter byte and row_bytes bytes.
  const std::span<const Pass> passes =
      h.interlace ? std::span<const Pass>(kAdam7) : std::span<const Pass>(&kWhole, 1);
  size_t total = 0;
  for (const Pass& p : passes) {
    const uint64_t pw = pass_extent(h.width, p.x0, p.dx), ph = pass_extent(h.height, p.y0, p.dy);
    if (pw && ph) total += ph * (1 + h.row_bytes(pw));
  }
  std::vector<uint8_t> raw = inflate_exact(idat, total, what);

  const int in_ch = h.samples_per_pixel();
  Image img;
  img.width = h.width;
  img.height = h.height;
  img.bit_depth = h.depth == 16 ? 16 : 8;
  img.channels = h.color == 3 ? (have_trns ? 4 : 3) : in_ch + ((have_trns && in_ch != 2) ? 1 : 0);
  img.samples.resize(static_cast<size_t>(img.width * img.height * img.channels));
  const uint16_t opaque = h.depth == 16 ? 65535 : 255;
  const int scale = h.depth < 8 && h.color == 0 ? 255 / ((1 << h.depth) - 1) : 1;
  const uint16_t mask = static_cast<uint16_t>((1u << h.depth) - 1);
  uint16_t key[3] = {0, 0, 0};  // the transparent gray or RGB value
  if (have_trns && (h.color == 0 || h.color == 2))
    for (int k = 0; k < (h.color == 0 ? 1 : 3); ++k)
      key[k] = static_cast<uint16_t>(((trns[2 * k] << 8) | trns[2 * k + 1]) & mask);
  const int bpp = std::max(1, h.bits_per_pixel() / 8);

  size_t off = 0;
  for (const Pass& p : passes) {
    const uint64_t pw = pass_extent(h.width, p.x0, p.dx), ph = pass_extent(h.height, p.y0, p.dy);
    if (!pw || !ph) continue;
    const size_t rb = h.row_bytes(pw);
    unfilter(raw.data() + off, ph, rb, bpp, what);
    for (uint64_t r = 0; r < ph; ++r) {
      const uint8_t* row = raw.data() + off + r * (rb + 1) + 1;
      const uint64_t y = p.y0 + r * p.dy;
      for (uint64_t c = 0; c < pw; ++c) {
        uint16_t* out = &img.samples[((y * img.width) + p.x0 + c * p.dx) * img.channels];
        if (h.color == 3) {
          const uint16_t idx = sample(row, c, h.depth);
          if (3u * idx >= palette.size())
            fail(what, "pixel (" + std::to_string(p.x0 + c * p.dx) + ", " + std::to_string(y) +
                           ") uses palette entry " + std::to_string(idx) + " of " +
                           std::to_string(palette.size() / 3));
          for (int k = 0; k < 3; ++k) out[k] = palette[3 * idx + k];
          if (have_trns) out[3] = idx < trns.size() ? trns[idx] : 255;
          continue;
        }
        bool is_key = have_trns;
        for (int k = 0; k < in_ch; ++k) {
          const uint16_t v = sample(row, c * in_ch + k, h.depth);
          if (k < 3) is_key = is_key && v == key[k];
          out[k] = static_cast<uint16_t>(v * scale);
        }
        if (img.channels > in_ch) out[in_ch] = is_key ? 0 : opaque;
      }
    }
    off += ph * (rb + 1);
  }
  return img;
}

Image read_png(const std::string& path) {
  const std::string bytes = read_file(path, "image", uint64_t{1} << 31);
  return decode_png(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
                    "'" + path + "'");
}

namespace {

void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

void put_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  put32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put32(out, static_cast<uint32_t>(crc32(crc32(0, nullptr, 0), &out[start], data.size() + 4)));
}

}  // namespace

std::vector<uint8_t> encode_png(const Image& image) {
  if (image.channels < 1 || image.channels > 4)
    SOMA_THROW(ValueError, "PNG images have 1 to 4 channels, not " << image.channels);
  if (image.bit_depth != 8 && image.bit_depth != 16)
    SOMA_THROW(ValueError, "PNG images are written with 8 or 16 bits, not " << image.bit_depth);
  if (image.width < 1 || image.height < 1 || image.width > 0x7fffffff ||
      image.height > 0x7fffffff || image.width * image.height > kMaxPixels)
    SOMA_THROW(ValueError, "cannot write a " << image.width << "x" << image.height << " PNG image");
  if (image.samples.size() != static_cast<size_t>(image.width * image.height * image.channels))
    SOMA_THROW(ValueError, "the image has " << image.samples.size() << " samples, not "
                                            << image.width * image.height * image.channels);
  const int bytes_per_sample = image.bit_depth / 8;
  const size_t bpp = static_cast<size_t>(image.channels * bytes_per_sample);
  const size_t rb = static_cast<size_t>(image.width) * bpp;
  std::vector<uint8_t> filtered(static_cast<size_t>(image.height) * (rb + 1));
  std::vector<uint8_t> cur(rb), prev(rb, 0), best(rb), trial(rb);
  for (int64_t y = 0; y < image.height; ++y) {
    const uint16_t* s = &image.samples[static_cast<size_t>(y * image.width * image.channels)];
    for (size_t i = 0; i < rb / bytes_per_sample; ++i) {
      if (bytes_per_sample == 2) {
        cur[2 * i] = static_cast<uint8_t>(s[i] >> 8);
        cur[2 * i + 1] = static_cast<uint8_t>(s[i]);
      } else {
        cur[i] = static_cast<uint8_t>(std::min<uint16_t>(s[i], 255));
      }
    }
    uint64_t best_cost = UINT64_MAX;
    int best_type = 0;
    for (int type = 0; type <= 4; ++type) {
      uint64_t cost = 0;
      for (size_t i = 0; i < rb; ++i) {
        const int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
        const int pred = type == 0   ? 0
                         : type == 1 ? a
                         : type == 2 ? b
                         : type == 3 ? (a + b) >> 1
                                     : paeth(a, b, c);
        trial[i] = static_cast<uint8_t>(cur[i] - pred);
        cost += static_cast<uint64_t>(std::abs(static_cast<int8_t>(trial[i])));
      }
      if (cost < best_cost) {
        best_cost = cost;
        best_type = type;
        best.swap(trial);
      }
    }
    uint8_t* row = &filtered[static_cast<size_t>(y) * (rb + 1)];
    row[0] = static_cast<uint8_t>(best_type);
    std::memcpy(row + 1, best.data(), rb);
    prev.swap(cur);
  }
  uLongf zlen = compressBound(static_cast<uLong>(filtered.size()));
  std::vector<uint8_t> z(zlen);
  if (compress2(z.data(), &zlen, filtered.data(), static_cast<uLong>(filtered.size()), 6) != Z_OK)
    SOMA_THROW(IOError,
               "zlib could not compress a " << image.width << "x" << image.height << " image");
  z.resize(zlen);

  std::vector<uint8_t> out(kSignature.begin(), kSignature.end());
  std::vector<uint8_t> ihdr;
  put32(ihdr, static_cast<uint32_t>(image.width));
  put32(ihdr, static_cast<uint32_t>(image.height));
  static constexpr uint8_t kColorType[5] = {0, 0, 4, 2, 6};
  for (uint8_t b : {static_cast<uint8_t>(image.bit_depth), kColorType[image.channels], uint8_t{0},
                    uint8_t{0}, uint8_t{0}})
    ihdr.push_back(b);
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", z);
  put_chunk(out, "IEND", {});
  return out;
}

void write_png(const std::string& path, const Image& image) {
  const std::vector<uint8_t> bytes = encode_png(image);
  write_file_atomic(
      path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), "image");
}

}  // namespace soma::data
