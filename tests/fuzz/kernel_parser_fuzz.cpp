// libFuzzer target: the kernel IR's text form. Any input either parses (and then verifies) or
// throws a soma::Error; what parses prints with all its data and parses back to the same program
// and the same text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "graph/error.h"
#include "graph/kernel_parser.h"
#include "graph/kernel_verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace soma;
  std::string text(reinterpret_cast<const char*>(data), size);
  kir::Program p;
  try {
    p = kir::parse_program(text);
  } catch (const Error&) {
    return 0;
  }
  kir::verify(p);  // a parsed program is valid (a VerifyError escaping here is a bug)
  std::string printed = kir::print_program(p, true);
  kir::Program q = kir::parse_program(printed);
  if (auto diff = kir::difference(q, p)) {
    std::fprintf(stderr, "the printed program reads back differently (%s):\n%s", diff->c_str(),
                 printed.c_str());
    std::abort();
  }
  if (kir::print_program(q, true) != printed) {
    std::fprintf(stderr, "the printed program does not print back the same:\n%s", printed.c_str());
    std::abort();
  }
  return 0;
}
