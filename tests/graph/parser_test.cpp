#include "graph/parser.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "graph/printer.h"
#include "graph/verifier.h"
#include "tests/graph/example_graphs.h"

namespace soma {
namespace {

using graph_test::f32;

// Parses `text`, expecting a ParseError at line:col whose message contains `needle`.
void expect_parse_error(const std::string& text, int line, int col, const std::string& needle) {
  SCOPED_TRACE(text);
  try {
    parse_graph(text);
    ADD_FAILURE() << "parsed without error";
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_EQ(e.col(), col) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message '" << e.what() << "' lacks '" << needle << "'";
  }
}

// The 1-based column of the first `token` in `line`.
int col_of(const std::string& line, const std::string& token) {
  size_t p = line.find(token);
  EXPECT_NE(p, std::string::npos) << token;
  return static_cast<int>(p) + 1;
}

const std::string kInputX = "%x = input() {name=\"x\"} : f32[2]\n";

TEST(Parser, RoundTripsTheCanonicalExample) {
  const std::string text =
      "%0 = input() {name=\"x\"} : f32[2,3]\n"
      "%1 = const() {value=[1.0,2.5,3.0]} : f32[3]\n"
      "%2 = reshape(%1) : f32[1,3]\n"
      "%3 = broadcast(%2) : f32[2,3]\n"
      "%4 = add(%0, %3) : f32[2,3]\n"
      "%5 = reduce_sum(%4) {axes=[1]} : f32[2,1]\n"
      "return %5, %4\n";
  ParsedGraph p = parse_graph(text);
  EXPECT_EQ(p.graph.size(), 6);
  EXPECT_EQ(p.outputs, (std::vector<NodeId>{5, 4}));
  EXPECT_EQ(p.graph[4].op, Op::Add);
  EXPECT_EQ(p.graph[4].inputs, (std::vector<NodeId>{0, 3}));
  EXPECT_EQ(p.graph[1].attrs.get_floats("value"), (std::vector<double>{1.0, 2.5, 3.0}));
  EXPECT_EQ(print_graph(p.graph, p.outputs), text);
}

TEST(Parser, RoundTripsEveryOp) {
  graph_test::ExampleGraph ex = graph_test::all_ops_graph();
  std::string text = print_graph(ex.graph, ex.outputs);
  ParsedGraph p = parse_graph(text);
  EXPECT_EQ(p.outputs, ex.outputs);
  graph_test::expect_same_graph(p.graph, ex.graph);
  EXPECT_EQ(print_graph(p.graph, p.outputs), text);
  EXPECT_TRUE(verify_all(p.graph).empty());
}

TEST(Parser, FloatsRoundTripBitForBit) {
  const std::vector<double> values = {0.1,
                                      1e-30,
                                      -0.0,
                                      0.0,
                                      std::numeric_limits<double>::infinity(),
                                      -std::numeric_limits<double>::infinity(),
                                      std::numeric_limits<double>::quiet_NaN(),
                                      3.4028234663852886e+38,
                                      std::numeric_limits<double>::max(),
                                      std::numeric_limits<double>::lowest(),
                                      std::numeric_limits<double>::min(),
                                      std::numeric_limits<double>::denorm_min(),
                                      1.0 / 3.0,
                                      123456789012345680.0,
                                      1e16,
                                      -2.5,
                                      static_cast<double>(1.1f)};
  Graph g;
  NodeId x = g.add(Op::Input, {}, {{"name", std::string("x")}}, f32({4}));
  g.add(Op::Const, {}, {{"value", values}}, f32({static_cast<int64_t>(values.size())}));
  for (double v : values)
    g.add(Op::Pad, {x},
          {{"lo", std::vector<int64_t>{0}},
           {"hi", std::vector<int64_t>{1}},
           {"interior", std::vector<int64_t>{0}},
           {"value", v}});
  std::string text = print_graph(g);
  ParsedGraph p = parse_graph(text);
  EXPECT_EQ(print_graph(p.graph), text);
  auto same = [](double a, double b) {
    return std::isnan(a) ? std::isnan(b) : std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
  };
  const auto& parsed = p.graph[1].attrs.get_floats("value");
  ASSERT_EQ(parsed.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_TRUE(same(parsed[i], values[i])) << "list element " << format_float(values[i]);
    double scalar = p.graph[static_cast<NodeId>(2 + i)].attrs.get_float("value");
    EXPECT_TRUE(same(scalar, values[i])) << "scalar " << format_float(values[i]);
  }
}

TEST(Parser, StringsRoundTrip) {
  const std::string names[] = {
      "plain",           "with \"quotes\"",        "back\\slash\\", "line\nbreak",
      "tab\there",       std::string("nul\0x", 5), "\x01\x1f\x7f",  "caf\xc3\xa9 \xe2\x9c\x93",
      "# not a comment", "{a=1, b=[2]} : f32[]"};
  Graph g;
  for (const std::string& n : names) g.add(Op::Input, {}, {{"name", n}}, f32({1}));
  std::string text = print_graph(g);
  ParsedGraph p = parse_graph(text);
  ASSERT_EQ(p.graph.size(), static_cast<int>(std::size(names)));
  for (NodeId i = 0; i < p.graph.size(); ++i) EXPECT_EQ(p.graph.name_of(i), names[i]);
  EXPECT_EQ(print_graph(p.graph), text);
}

TEST(Parser, NamesCommentsAndBlankLines) {
  const std::string text =
      "# a comment line\n"
      "\n"
      "   %input.x_1 = input() {name=\"x\"} : f32[2]   # trailing comment\n"
      "\t%7=neg( %input.x_1 ):f32[ 2 ]\r\n"
      "%sum = add(%7, %input.x_1) : f32[2]\n"
      "\n"
      "return %sum ,%7  # done\n"
      "# end\n";
  ParsedGraph p = parse_graph(text);
  ASSERT_EQ(p.graph.size(), 3);
  EXPECT_EQ(p.graph[1].inputs, std::vector<NodeId>{0});
  EXPECT_EQ(p.graph[2].inputs, (std::vector<NodeId>{1, 0}));
  EXPECT_EQ(p.outputs, (std::vector<NodeId>{2, 1}));
  EXPECT_EQ(print_graph(p.graph, p.outputs),
            "%0 = input() {name=\"x\"} : f32[2]\n"
            "%1 = neg(%0) : f32[2]\n"
            "%2 = add(%1, %0) : f32[2]\n"
            "return %2, %1\n");
}

TEST(Parser, EmptyTextIsAnEmptyGraph) {
  EXPECT_EQ(parse_graph("").graph.size(), 0);
  EXPECT_EQ(parse_graph("\n\n# nothing\n").graph.size(), 0);
}

TEST(Parser, AttributeValueKinds) {
  ParsedGraph p = parse_graph(
      "%x = input() {name=\"x\"} : f32[3]\n"
      "%c = const() {value=[1, 2.0, -3]} : f32[3]\n"
      "%d = const() {value=[-inf]} : f32[3]\n"
      "%r = reduce_sum(%x) {axes=[]} : f32[3]\n"
      "%p = pad(%x) {hi=[0], interior=[0], lo=[0], value=-1} : f32[3]\n");
  EXPECT_EQ(p.graph[1].attrs.get_floats("value"), (std::vector<double>{1.0, 2.0, -3.0}));
  EXPECT_EQ(p.graph[2].attrs.get_floats("value")[0], -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::holds_alternative<std::vector<int64_t>>(*p.graph[3].attrs.find("axes")));
  EXPECT_TRUE(std::holds_alternative<int64_t>(*p.graph[4].attrs.find("value")));
  EXPECT_EQ(p.graph[4].attrs.get_float("value"), -1.0);
}

TEST(Parser, EmptyFloatListRoundTripsAsText) {
  Graph g;
  g.add(Op::Const, {}, {{"value", std::vector<double>{}}}, f32({0, 3}));
  std::string text = print_graph(g, {0});
  EXPECT_EQ(text, "%0 = const() {value=[]} : f32[0,3]\nreturn %0\n");
  EXPECT_EQ(print_graph(parse_graph(text).graph, {0}), text);
}

TEST(Parser, ExtremeIntegers) {
  ParsedGraph p = parse_graph(
      "%o = input() {name=\"o\"} : i32[]\n"
      "%r = rand_uniform(%o) {seed=-9223372036854775808} : f32[2]\n"
      "%s = rand_uniform(%o) {seed=9223372036854775807} : f32[2]\n");
  EXPECT_EQ(p.graph[1].attrs.get_int("seed"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(p.graph[2].attrs.get_int("seed"), std::numeric_limits<int64_t>::max());
}

TEST(ParserErrors, UnknownOp) {
  expect_parse_error("%0 = frobnicate(%1) : f32[]\n", 1, 6, "unknown op 'frobnicate'");
}

TEST(ParserErrors, UndefinedName) {
  const std::string line2 = "%y = add(%x, %nope) : f32[2]";
  expect_parse_error(kInputX + line2 + "\n", 2, col_of(line2, "%nope"), "'%nope' is not defined");
  expect_parse_error(kInputX + "return %x, %z\n", 2, 12, "'%z' is not defined");
}

TEST(ParserErrors, UseBeforeDefinition) {
  expect_parse_error("%a = neg(%b) : f32[2]\n%b = input() {name=\"b\"} : f32[2]\n", 1, 10,
                     "'%b' is not defined");
}

TEST(ParserErrors, RedefinedName) {
  expect_parse_error(kInputX + "\n  %x = neg(%x) : f32[2]\n", 3, 3,
                     "'%x' is already defined on line 1");
}

TEST(ParserErrors, BadType) {
  const std::string line = "%x = input() {name=\"x\"} : g32[2]";
  expect_parse_error(line, 1, col_of(line, "g32"), "unknown dtype 'g32'");
  const std::string neg = "%x = input() {name=\"x\"} : f32[2,-1]";
  expect_parse_error(neg, 1, col_of(neg, "-1"), "dimensions must be >= 0");
  const std::string flt = "%x = input() {name=\"x\"} : f32[2.5]";
  expect_parse_error(flt, 1, col_of(flt, "2.5"), "dimensions must be integers");
  const std::string huge = "%x = input() {name=\"x\"} : f32[4294967296,4294967296]";
  expect_parse_error(huge, 1, col_of(huge, "f32"), "too many elements");
  const std::string nobr = "%x = input() {name=\"x\"} : f32";
  expect_parse_error(nobr, 1, static_cast<int>(nobr.size()) + 1, "expected '[' and the shape");
  const std::string rank = "%x = input() {name=\"x\"} : f32[1,1,1,1,1,1,1]";
  expect_parse_error(rank, 1, col_of(rank, "input"), "exceeds soma's maximum rank");
}

TEST(ParserErrors, ShapeRuleViolationKeepsTheMessage) {
  const std::string line3 = "%z = add(%x, %y) : f32[2]";
  std::string text = kInputX + "%y = input() {name=\"y\"} : f32[3]\n" + line3 + "\n";
  expect_parse_error(text, 3, col_of(line3, "add"), "f32[2] and f32[3]");
  // The message is Graph::add's, unchanged.
  Graph g;
  NodeId x = g.add(Op::Input, {}, {{"name", std::string("x")}}, f32({2}));
  NodeId y = g.add(Op::Input, {}, {{"name", std::string("y")}}, f32({3}));
  std::string original;
  try {
    g.add(Op::Add, {x, y}, {}, f32({2}));
  } catch (const Error& e) {
    original = e.what();
  }
  try {
    parse_graph(text);
  } catch (const ParseError& e) {
    EXPECT_EQ(e.bare_message(), original);
  }
}

TEST(ParserErrors, DeclaredTypeDiffersFromInferred) {
  expect_parse_error(kInputX + "%n = neg(%x) : f32[3]\n", 2, 6, "declared type f32[3]");
  expect_parse_error(kInputX + "%n = lt(%x, %x) : f32[2]\n", 2, 6, "bool[2]");
}

TEST(ParserErrors, RuleErrorsFromAttributesAndArity) {
  expect_parse_error(kInputX + "%r = reduce_sum(%x) : f32[1]\n", 2, 6, "missing attribute 'axes'");
  expect_parse_error(kInputX + "%r = reduce_sum(%x) {axes=[1.5]} : f32[1]\n", 2, 6,
                     "attribute 'axes' must be a list of integers");
  expect_parse_error(kInputX + "%n = neg(%x, %x) : f32[2]\n", 2, 6, "takes 1 input(s), got 2");
  expect_parse_error("%x = input() : f32[2]\n", 1, 6, "missing attribute 'name'");
}

TEST(ParserErrors, Numbers) {
  const std::string big = "%o = iota() {axis=99999999999999999999} : i32[2]";
  expect_parse_error(big, 1, col_of(big, "999"), "does not fit in 64 bits");
  const std::string bigdim = "%x = input() {name=\"x\"} : f32[9223372036854775808]";
  expect_parse_error(bigdim, 1, col_of(bigdim, "922"), "does not fit in 64 bits");
  const std::string far = "%x = input() {name=\"x\"} : f32[2]\n%p = pad(%x) {value=1e999} : f32[2]";
  expect_parse_error(far, 2, col_of("%p = pad(%x) {value=1e999}", "1e999"),
                     "out of the range of a double");
  const std::string bad = "%o = iota() {axis=1.2.3} : i32[2]";
  expect_parse_error(bad, 1, col_of(bad, "1.2.3"), "malformed number '1.2.3'");
  const std::string word = "%o = iota() {axis=infinity} : i32[2]";
  expect_parse_error(word, 1, col_of(word, "infinity"), "malformed number 'infinity'");
}

TEST(ParserErrors, HugeSizesAreErrorsNotOverflows) {
  const std::string pad =
      "%p = pad(%x) {hi=[9223372036854775807], interior=[0], lo=[1], value=0.0} : f32[2]\n";
  expect_parse_error(kInputX + pad, 2, 6, "pad: sizes overflow 64-bit integers");
  const std::string win =
      "%i = input() {name=\"i\"} : f32[1,5]\n"
      "%w = window(%i) {dilation=[4611686018427387904], kernel=[3], pad_hi=[0], pad_lo=[0], "
      "stride=[1], value=0.0} : f32[1,1,3]\n";
  expect_parse_error(win, 2, 6, "does not fit axis 1 of size 5");
  const std::string mm =
      "%a = input() {name=\"a\"} : f32[4294967296,1]\n"
      "%b = input() {name=\"b\"} : f32[1,4294967296]\n"
      "%c = matmul(%a, %b) : f32[4294967296,4294967296]\n";
  expect_parse_error(mm, 3, 23, "type f32[4294967296,4294967296] has too many elements");
  const std::string cat =
      "%a = input() {name=\"a\"} : f32[4611686018427387904]\n"
      "%c = concat(%a, %a, %a) {axis=0} : f32[0]\n";
  expect_parse_error(cat, 2, 6, "sizes overflow 64-bit integers");
  // A huge step is fine: it takes one element.
  ParsedGraph p = parse_graph(
      "%x = input() {name=\"x\"} : f32[5]\n"
      "%s = slice(%x) {start=[0], step=[9223372036854775807], stop=[5]} : f32[1]\n");
  EXPECT_EQ(p.graph[1].type, f32({1}));
}

TEST(ParserErrors, Strings) {
  const std::string open = "%x = input() {name=\"abc} : f32[2]";
  expect_parse_error(open, 1, col_of(open, "\""), "unterminated string");
  const std::string esc = "%x = input() {name=\"a\\qb\"} : f32[2]";
  expect_parse_error(esc, 1, col_of(esc, "\\q"), "unknown escape");
  const std::string hex = "%x = input() {name=\"a\\x4\"} : f32[2]";
  expect_parse_error(hex, 1, col_of(hex, "\\x"), "two hex digits");
  const std::string ctl = "%x = input() {name=\"a\tb\"} : f32[2]";
  expect_parse_error(ctl, 1, col_of(ctl, "\t"), "control character");
}

TEST(ParserErrors, Syntax) {
  const std::string nocolon = "%x = input() {name=\"x\"} f32[2]";
  expect_parse_error(nocolon, 1, col_of(nocolon, "f32"), "expected ':'");
  const std::string noeq = "%x input() : f32[2]";
  expect_parse_error(noeq, 1, 4, "expected '=', got 'input'");
  expect_parse_error("x = input() : f32[2]", 1, 1, "expected a node");
  expect_parse_error("%x = input( : f32[2]", 1, 13, "expected a node name");
  expect_parse_error("% = input() : f32[2]", 1, 2, "expected a name after '%'");
  const std::string trailing = "%x = input() {name=\"x\"} : f32[2] extra";
  expect_parse_error(trailing, 1, col_of(trailing, "extra"), "got 'extra'");
  const std::string dup = "%x = input() {name=\"x\", name=\"y\"} : f32[2]";
  expect_parse_error(dup, 1, col_of(dup, "name=\"y"), "attribute 'name' is given twice");
  const std::string noval = "%x = input() {name=} : f32[2]";
  expect_parse_error(noval, 1, col_of(noval, "}"), "expected an attribute value");
  expect_parse_error("%x = input() {name=\"x\" : f32[2]", 1, 24, "expected ',' or '}'");
  expect_parse_error("%x = input() {name=\"x\"} : f32[2]  \x01", 1, 35, "'\\x01'");
  expect_parse_error("%x = \xff() : f32[2]", 1, 6, "a non-ASCII byte");
}

TEST(ParserErrors, ReturnLine) {
  expect_parse_error(kInputX + "return\n", 2, 1, "return needs at least one node name");
  expect_parse_error(kInputX + "return %x\n%y = neg(%x) : f32[2]\n", 3, 1,
                     "nothing may follow the return line (line 2)");
  expect_parse_error(kInputX + "return %x %x\n", 2, 11, "expected ',' or the end of the line");
  expect_parse_error(kInputX + "returns %x\n", 2, 1, "expected a node");
}

TEST(ParserErrors, ParseErrorIsASomaError) {
  EXPECT_THROW(parse_graph("%0 = nope() : f32[]"), Error);
  try {
    parse_graph("\n\n   %0 = nope() : f32[]");
  } catch (const ParseError& e) {
    EXPECT_EQ(std::string(e.what()).substr(0, 5), "3:9: ");
  }
}

}  // namespace
}  // namespace soma
