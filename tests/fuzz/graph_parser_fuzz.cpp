// libFuzzer target: the graph IR's text form. Any input either parses or throws a soma::Error;
// what parses verifies, prints and parses back to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "graph/error.h"
#include "graph/parser.h"
#include "graph/printer.h"
#include "graph/verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace soma;
  std::string text(reinterpret_cast<const char*>(data), size);
  ParsedGraph p;
  try {
    p = parse_graph(text);
  } catch (const Error&) {
    return 0;
  }
  verify(p.graph);  // a parsed graph is valid (an invalid one aborts: a bug)
  std::string printed = print_graph(p.graph, p.outputs);
  ParsedGraph q = parse_graph(printed);
  if (print_graph(q.graph, q.outputs) != printed) {
    std::fprintf(stderr, "the printed graph does not round-trip:\n%s", printed.c_str());
    std::abort();
  }
  return 0;
}
