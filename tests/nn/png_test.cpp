// PNG decoding against fixtures written by an independent encoder (tests/data/png/
// make_fixtures.py: every color type and bit depth, all filter types, Adam7, split IDAT, tRNS),
// encode/decode round trips, and damaged files that must be clear errors, never crashes.
#include "frontend/data/png.h"

#include <gtest/gtest.h>

#include <zlib.h>

#include <random>

#include "graph/error.h"
#include "runtime/file_io.h"

namespace soma::data {
namespace {

std::string fixture(const std::string& name) {
  return std::string(SOMA_TEST_DATA_DIR) + "/png/" + name;
}

// The fixtures' formulas (see make_fixtures.py).
uint16_t sample(int64_t x, int64_t y, int k, int depth) {
  if (depth == 16) return static_cast<uint16_t>((7919 * x + 104729 * y + 3331 * k) % 65536);
  return static_cast<uint16_t>((7 * x + 13 * y + 29 * k + 3) % (1 << depth));
}

struct Fixture {
  const char* file;
  int64_t width, height;
  int depth, color;
  int palette_entries = 0, trns_entries = 0;  // palette images
  int64_t key_x = -1, key_y = -1;             // gray/RGB tRNS: the pixel whose color is the key
};

// What a decoder must give for `f`, computed from the formulas and the PNG rules.
Image expected(const Fixture& f) {
  Image img;
  img.width = f.width;
  img.height = f.height;
  img.bit_depth = f.depth == 16 ? 16 : 8;
  const int in_c = f.color == 0 ? 1 : f.color == 2 ? 3 : f.color == 4 ? 2 : f.color == 6 ? 4 : 1;
  const bool keyed = f.key_x >= 0;
  img.channels = f.color == 3 ? (f.trns_entries ? 4 : 3) : in_c + (keyed ? 1 : 0);
  const uint16_t opaque = f.depth == 16 ? 65535 : 255;
  for (int64_t y = 0; y < f.height; ++y)
    for (int64_t x = 0; x < f.width; ++x) {
      if (f.color == 3) {
        const int i = static_cast<int>((3 * x + 5 * y) % f.palette_entries);
        for (int v : {(37 * i) % 256, (91 * i) % 256, (53 * i) % 256})
          img.samples.push_back(static_cast<uint16_t>(v));
        if (f.trns_entries)
          img.samples.push_back(static_cast<uint16_t>(i < f.trns_entries ? (71 * i) % 256 : 255));
        continue;
      }
      bool is_key = keyed;
      for (int k = 0; k < in_c; ++k) {
        const uint16_t v = sample(x, y, k, f.depth);
        if (keyed) is_key = is_key && v == sample(f.key_x, f.key_y, k, f.depth);
        img.samples.push_back(f.depth < 8 ? static_cast<uint16_t>(v * (255 / ((1 << f.depth) - 1)))
                                          : v);
      }
      if (keyed) img.samples.push_back(is_key ? 0 : opaque);
    }
  return img;
}

const Fixture kFixtures[] = {
    {"gray1.png", 13, 5, 1, 0},
    {"gray2_adam7.png", 9, 7, 2, 0},
    {"gray4_trns.png", 6, 4, 4, 0, 0, 0, 1, 1},
    {"gray16_adam7.png", 10, 9, 16, 0},
    {"rgb8.png", 11, 10, 8, 2},
    {"rgb16_trns.png", 5, 6, 16, 2, 0, 0, 2, 3},
    {"palette4_trns_adam7.png", 10, 6, 4, 3, 12, 10},
    {"palette8.png", 7, 3, 8, 3, 200, 0},
    {"gray_alpha8_adam7.png", 12, 11, 8, 4},
    {"rgba16.png", 4, 7, 16, 6},
    {"one_pixel_adam7.png", 1, 1, 8, 2},
};

TEST(Png, DecodesEveryColorTypeBitDepthFilterAndInterlacing) {
  for (const Fixture& f : kFixtures) {
    SCOPED_TRACE(f.file);
    Image got = read_png(fixture(f.file)), want = expected(f);
    EXPECT_EQ(got.width, want.width);
    EXPECT_EQ(got.height, want.height);
    EXPECT_EQ(got.channels, want.channels);
    EXPECT_EQ(got.bit_depth, want.bit_depth);
    ASSERT_EQ(got.samples.size(), want.samples.size());
    size_t wrong = 0, first = 0;
    for (size_t i = 0; i < got.samples.size(); ++i)
      if (got.samples[i] != want.samples[i] && wrong++ == 0) first = i;
    EXPECT_EQ(wrong, 0u) << "first wrong sample " << first << ": " << got.samples[first]
                         << " instead of " << want.samples[first];
  }
  // The transparent key occurs: some pixels are transparent, the rest opaque.
  Image g = read_png(fixture("gray4_trns.png"));
  int transparent = 0;
  for (int64_t i = 0; i < g.width * g.height; ++i) transparent += g.samples[2 * i + 1] == 0;
  EXPECT_GT(transparent, 0);
  EXPECT_LT(transparent, g.width * g.height);
}

Image random_image(int64_t w, int64_t h, int channels, int depth, uint64_t seed) {
  Image img{h, w, channels, depth, {}};
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < w * h * channels; ++i) {
    // Smooth areas and noise, so that every filter type wins somewhere.
    const uint16_t v =
        (i / 7) % 3 == 0 ? static_cast<uint16_t>(rng()) : static_cast<uint16_t>(i * 5);
    img.samples.push_back(depth == 8 ? static_cast<uint16_t>(v & 255) : v);
  }
  return img;
}

TEST(Png, EncodesWhatItDecodes) {
  for (int depth : {8, 16})
    for (int channels = 1; channels <= 4; ++channels)
      for (auto [w, h] : {std::pair<int64_t, int64_t>{1, 1}, {37, 5}, {3, 64}}) {
        SCOPED_TRACE(std::to_string(depth) + " bits, " + std::to_string(channels) + " channels, " +
                     std::to_string(w) + "x" + std::to_string(h));
        Image img = random_image(w, h, channels, depth, static_cast<uint64_t>(w * 31 + channels));
        std::vector<uint8_t> bytes = encode_png(img);
        Image back = decode_png(bytes, "round trip");
        EXPECT_EQ(back.width, w);
        EXPECT_EQ(back.height, h);
        EXPECT_EQ(back.channels, channels);
        EXPECT_EQ(back.bit_depth, depth);
        EXPECT_EQ(back.samples, img.samples);
      }
  EXPECT_THROW(encode_png(Image{2, 2, 5, 8, std::vector<uint16_t>(20)}), ValueError);
  EXPECT_THROW(encode_png(Image{2, 2, 1, 8, std::vector<uint16_t>(3)}), ValueError);
}

std::vector<uint8_t> bytes_of(const std::string& path) {
  const std::string s = read_file(path, "fixture");
  return {s.begin(), s.end()};
}

void expect_error(const std::vector<uint8_t>& bytes, const std::string& part) {
  try {
    decode_png(bytes, "'x.png'");
    ADD_FAILURE() << "no error; expected one with: " << part;
  } catch (const IOError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'x.png'"), std::string::npos) << m;
    EXPECT_NE(m.find(part), std::string::npos) << part << " in: " << m;
  }
}

// Recomputes every chunk's CRC, so that a damaged field reaches the decoder's later checks.
void fix_crcs(std::vector<uint8_t>& b) {
  for (size_t pos = 8; pos + 12 <= b.size();) {
    const uint32_t len =
        (uint32_t{b[pos]} << 24) | (b[pos + 1] << 16) | (b[pos + 2] << 8) | b[pos + 3];
    if (len > b.size() - pos - 12) return;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, &b[pos + 4], len + 4));
    for (int k = 0; k < 4; ++k) b[pos + 8 + len + k] = static_cast<uint8_t>(crc >> (24 - 8 * k));
    pos += 12 + len;
  }
}

TEST(Png, DamagedFilesAreErrorsThatSayWhat) {
  const std::vector<uint8_t> good = bytes_of(fixture("rgb8.png"));
  expect_error({good.begin(), good.begin() + 5}, "not a PNG");
  std::vector<uint8_t> jpeg = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0};
  expect_error(jpeg, "not a PNG");
  // Cut anywhere: an error, never a crash or a partial image.
  for (size_t n = 8; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(decode_png(cut, "cut"), IOError) << n << " bytes";
  }
  std::vector<uint8_t> flipped = good;
  flipped[good.size() - 20] ^= 0x40;  // inside the last IDAT
  expect_error(flipped, "bad CRC");
  // IHDR's fields: a bit depth that the color type does not allow, then zero width.
  std::vector<uint8_t> bad = good;
  bad[8 + 8 + 8] = 4;  // RGB of 4 bits
  fix_crcs(bad);
  expect_error(bad, "bit depth 4 is not allowed for color type 2");
  bad = good;
  for (int k = 0; k < 4; ++k) bad[16 + k] = 0;
  fix_crcs(bad);
  expect_error(bad, "bad size 0x10");
  // Every single-byte change, CRCs made right again: an error or an image, never a crash.
  std::mt19937_64 rng(5);
  int errors = 0;
  for (size_t i = 8; i < good.size(); ++i) {
    std::vector<uint8_t> m = good;
    m[i] = static_cast<uint8_t>(m[i] ^ (1 + rng() % 255));
    fix_crcs(m);
    try {
      Image img = decode_png(m, "mutated");
      EXPECT_EQ(img.samples.size(), static_cast<size_t>(img.width * img.height * img.channels));
    } catch (const IOError&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
}

TEST(Png, BadFilterTypeAndPaletteIndexAreNamed) {
  // A 2x1 gray image whose one row uses filter type 7.
  auto make = [](int color, std::vector<uint8_t> row, std::vector<uint8_t> plte) {
    std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    auto chunk = [&](const char* t, const std::vector<uint8_t>& d) {
      for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(d.size() >> s));
      const size_t start = out.size();
      out.insert(out.end(), t, t + 4);
      out.insert(out.end(), d.begin(), d.end());
      const uint32_t crc = static_cast<uint32_t>(crc32(0, &out[start], d.size() + 4));
      for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(crc >> s));
    };
    chunk("IHDR", {0, 0, 0, 2, 0, 0, 0, 1, 8, static_cast<uint8_t>(color), 0, 0, 0});
    if (!plte.empty()) chunk("PLTE", plte);
    uLongf zlen = compressBound(static_cast<uLong>(row.size()));
    std::vector<uint8_t> z(zlen);
    compress(z.data(), &zlen, row.data(), static_cast<uLong>(row.size()));
    z.resize(zlen);
    chunk("IDAT", z);
    chunk("IEND", {});
    return out;
  };
  EXPECT_EQ(decode_png(make(0, {0, 10, 20}, {}), "ok").samples, (std::vector<uint16_t>{10, 20}));
  expect_error(make(0, {7, 10, 20}, {}), "unknown filter type 7");
  expect_error(make(0, {0, 10, 20, 30}, {}), "longer than");
  expect_error(make(0, {0, 10}, {}), "ends early");
  expect_error(make(3, {0, 0, 2}, {1, 2, 3, 4, 5, 6}), "palette entry 2 of 2");
  expect_error(make(3, {0, 0, 1}, {}), "without a PLTE");
}

}  // namespace
}  // namespace soma::data
