// libFuzzer target: the PNG decoder. Any input either decodes or throws an IOError; what decodes
// is a consistent image that soma's encoder writes and the decoder reads back unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "frontend/data/png.h"
#include "graph/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace soma;
  data::Image img;
  try {
    img = data::decode_png(std::span(data, size), "fuzz.png");
  } catch (const IOError&) {
    return 0;
  }
  if (img.samples.size() != static_cast<size_t>(img.width * img.height * img.channels)) {
    std::fprintf(stderr, "a decoded image's size does not match its samples\n");
    std::abort();
  }
  data::Image back = data::decode_png(data::encode_png(img), "round trip");
  if (back.samples != img.samples || back.channels != img.channels ||
      back.bit_depth != img.bit_depth) {
    std::fprintf(stderr, "a PNG image does not round-trip\n");
    std::abort();
  }
  return 0;
}
