// The parser never crashes, aborts or hangs: random bytes and random edits of valid text either
// parse (and then print, re-parse and verify cleanly) or throw a soma::Error.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "graph/parser.h"
#include "graph/printer.h"
#include "graph/verifier.h"
#include "tests/graph/example_graphs.h"

namespace soma {
namespace {

const std::vector<std::string> kTokens = {"%",
                                          "%0",
                                          "%1",
                                          "%x",
                                          " = ",
                                          "(",
                                          ")",
                                          "{",
                                          "}",
                                          "[",
                                          "]",
                                          ",",
                                          ":",
                                          "=",
                                          "\"",
                                          "\\",
                                          "#",
                                          "\n",
                                          " ",
                                          "\t",
                                          "-",
                                          ".",
                                          "e",
                                          "e+",
                                          "0",
                                          "1",
                                          "2",
                                          "7",
                                          "-1",
                                          "2.5",
                                          "1e-30",
                                          "inf",
                                          "-inf",
                                          "nan",
                                          "add",
                                          "neg",
                                          "input",
                                          "const",
                                          "pad",
                                          "window",
                                          "f32",
                                          "bool",
                                          "i32",
                                          "return",
                                          "name",
                                          "value",
                                          "axes",
                                          "9223372036854775807",
                                          "99999999999999999999",
                                          "1e999",
                                          "4294967296",
                                          "\\x",
                                          "\\n",
                                          "\xff",
                                          "\x01",
                                          "\r"};

// Parses `text`; on success checks that the result prints, re-parses and verifies cleanly.
// Returns whether it parsed.
bool check_one(const std::string& text) {
  ParsedGraph p;
  try {
    p = parse_graph(text);
  } catch (const Error&) {
    return false;
  }
  std::string printed = print_graph(p.graph, p.outputs);
  ParsedGraph again = parse_graph(printed);  // must not throw
  EXPECT_EQ(print_graph(again.graph, again.outputs), printed) << text;
  EXPECT_TRUE(verify_all(p.graph).empty()) << text;
  for (NodeId o : p.outputs) EXPECT_TRUE(p.graph.valid(o));
  return true;
}

TEST(ParserFuzz, RandomBytesAndTokens) {
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string text;
    int len = static_cast<int>(rng() % 40);
    for (int i = 0; i < len; ++i) {
      if (rng() % 2)
        text += kTokens[rng() % kTokens.size()];
      else
        text += static_cast<char>(rng() % 256);
    }
    check_one(text);
  }
}

TEST(ParserFuzz, MutationsOfValidText) {
  graph_test::ExampleGraph ex = graph_test::all_ops_graph();
  const std::string valid = print_graph(ex.graph, ex.outputs);
  ASSERT_TRUE(check_one(valid));
  std::mt19937 rng(6789);
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  int parsed = 0;
  const int kIters = 1500;
  for (int iter = 0; iter < kIters; ++iter) {
    std::string text = valid;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t at = pick(text.size() + 1);
      switch (rng() % 6) {
        case 0:  // delete a short range
          text.erase(at, 1 + pick(8));
          break;
        case 1:  // insert a token
          text.insert(at, kTokens[pick(kTokens.size())]);
          break;
        case 2:  // overwrite a byte
          if (at < text.size()) text[at] = static_cast<char>(rng() % 256);
          break;
        case 3: {  // replace a digit run with another number
          size_t d = text.find_first_of("0123456789", at);
          if (d == std::string::npos) break;
          size_t end = text.find_first_not_of("0123456789", d);
          const char* nums[] = {
              "0", "1", "3", "6", "64", "-1", "4611686018427387904", "9223372036854775807"};
          text.replace(d, end - d, nums[pick(std::size(nums))]);
          break;
        }
        case 4: {  // duplicate a line
          size_t start = text.rfind('\n', at == 0 ? 0 : at - 1);
          start = start == std::string::npos ? 0 : start + 1;
          size_t end = text.find('\n', start);
          if (end == std::string::npos) break;
          text.insert(start, text.substr(start, end - start + 1));
          break;
        }
        default: {  // cut the text short
          text.resize(at);
          break;
        }
      }
    }
    parsed += check_one(text) ? 1 : 0;
  }
  // Some edits keep the text valid (a changed dim that every rule accepts, a cut after a line).
  EXPECT_GT(parsed, 0);
  EXPECT_LT(parsed, kIters);
}

}  // namespace
}  // namespace soma
