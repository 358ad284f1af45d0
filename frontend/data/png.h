// PNG images in and out (ISO/IEC 15948), decoded and encoded by soma on top of zlib's inflate and
// deflate: every color type (gray, RGB, palette, gray+alpha, RGBA), every bit depth (1, 2, 4, 8,
// 16), Adam7 interlacing and transparency (tRNS). Each chunk's CRC is checked; a file that is
// truncated, corrupt or not a PNG is an IOError naming the file and what is wrong, never a crash.
// Ancillary chunks other than tRNS (gamma, color profiles, text) are skipped, as Keras's loaders
// do.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace soma::data {

// A decoded image: samples row-major [height, width, channels].
struct Image {
  int64_t height = 0, width = 0;
  int channels = 0;   // 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA
  int bit_depth = 8;  // 8 or 16: samples lie in [0, 2^bit_depth - 1]
  std::vector<uint16_t> samples;
};

// Decodes PNG bytes. Palette images become RGB (RGBA when they have transparency); gray of 1, 2
// or 4 bits is scaled to 8 bits (1 -> 255); tRNS on gray or RGB images adds an alpha channel
// (0 where the pixel equals the transparent color). 16-bit images stay 16-bit. `what` names the
// source in errors. Images of more than 2^28 pixels are refused.
Image decode_png(std::span<const uint8_t> bytes, const std::string& what);
Image read_png(const std::string& path);

// Encodes 8- or 16-bit images with 1 to 4 channels (no interlacing; each row's filter chosen by
// the usual minimum-sum-of-differences rule; deflate level 6).
std::vector<uint8_t> encode_png(const Image& image);
// Writes encode_png atomically (a temporary file, then rename).
void write_png(const std::string& path, const Image& image);

}  // namespace soma::data
