// libFuzzer target: the .npy reader. Any input either parses or throws an IOError; what parses
// is written back byte-exactly equal to what the writer makes of it, and parses again to the
// same array.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "graph/error.h"
#include "runtime/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace soma;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Array a;
  try {
    a = parse_npy(bytes, "fuzz.npy");
  } catch (const Error&) {
    return 0;
  }
  std::string again = serialize_npy(a);
  Array b = parse_npy(again, "round trip");
  bool same = b.type_str() == a.type_str();
  if (same && a.dtype() == DType::boolean) {
    for (int64_t i = 0; i < a.numel(); ++i) same = same && a.get(i) == b.get(i);
  } else if (same && a.nbytes()) {
    same = std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;  // bit-exact, NaN payloads included
  }
  if (!same) {
    std::fprintf(stderr, "an .npy array does not round-trip (%s)\n", a.type_str().c_str());
    std::abort();
  }
  return 0;
}
