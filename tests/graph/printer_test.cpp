#include "graph/printer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "tests/graph/example_graphs.h"

namespace soma {
namespace {

using graph_test::f32;

TEST(Printer, PrintsTheCanonicalForm) {
  Graph g;
  NodeId x = g.add(Op::Input, {}, {{"name", std::string("x")}}, f32({2, 3}));
  NodeId c = g.add(Op::Const, {}, {{"value", std::vector<double>{1.0, 2.5, 3.0}}}, f32({3}));
  NodeId c13 = g.add(Op::Reshape, {c}, {}, f32({1, 3}));
  NodeId b = g.add(Op::Broadcast, {c13}, {}, f32({2, 3}));
  NodeId s = g.add(Op::Add, {x, b});
  NodeId r = g.add(Op::ReduceSum, {s}, {{"axes", std::vector<int64_t>{1}}});
  EXPECT_EQ(print_graph(g, {r, s}),
            "%0 = input() {name=\"x\"} : f32[2,3]\n"
            "%1 = const() {value=[1.0,2.5,3.0]} : f32[3]\n"
            "%2 = reshape(%1) : f32[1,3]\n"
            "%3 = broadcast(%2) : f32[2,3]\n"
            "%4 = add(%0, %3) : f32[2,3]\n"
            "%5 = reduce_sum(%4) {axes=[1]} : f32[2,1]\n"
            "return %5, %4\n");
}

TEST(Printer, ReturnLineOnlyWithOutputs) {
  Graph g;
  g.add(Op::Input, {}, {{"name", std::string("s")}}, f32({}));
  EXPECT_EQ(print_graph(g), "%0 = input() {name=\"s\"} : f32[]\n");
  EXPECT_EQ(print_graph(Graph{}), "");
}

TEST(Printer, BoolAndScalarTypesAndNoAttrs) {
  Graph g;
  NodeId x = g.add(Op::Input, {}, {{"name", std::string("x")}}, f32({}));
  NodeId y = g.add(Op::Input, {}, {{"name", std::string("y")}}, f32({}));
  g.add(Op::Lt, {x, y});
  EXPECT_EQ(print_node(g, 2), "%2 = lt(%0, %1) : bool[]");
}

TEST(Printer, AttributesAreSortedByKey) {
  Graph g;
  NodeId x = g.add(Op::Input, {}, {{"name", std::string("x")}}, f32({4}));
  g.add(Op::Pad, {x},
        {{"value", 0.0},
         {"lo", std::vector<int64_t>{1}},
         {"interior", std::vector<int64_t>{0}},
         {"hi", std::vector<int64_t>{2}}});
  EXPECT_EQ(print_node(g, 1), "%1 = pad(%0) {hi=[2], interior=[0], lo=[1], value=0.0} : f32[7]");
}

TEST(Printer, PrintNodeKeepsGraphIdsAndNeverFails) {
  Graph g;
  g.add_unchecked(Node{Op::Add, f32({2}), {7, -1}, {}});
  g.add_unchecked(Node{static_cast<Op>(200), f32({2}), {}, {}});
  EXPECT_EQ(print_node(g, 0), "%0 = add(%7, %-1) : f32[2]");
  EXPECT_EQ(print_node(g, 1), "%1 = <op 200>() : f32[2]");
  EXPECT_EQ(print_node(g, 5), "%5 = <no such node>");
}

TEST(Printer, FloatsAreShortestAndLookLikeFloats) {
  EXPECT_EQ(format_float(0.1), "0.1");
  EXPECT_EQ(format_float(1.0), "1.0");
  EXPECT_EQ(format_float(100.0), "100.0");
  EXPECT_EQ(format_float(-2.5), "-2.5");
  EXPECT_EQ(format_float(0.0), "0.0");
  EXPECT_EQ(format_float(-0.0), "-0.0");
  EXPECT_EQ(format_float(1e-30), "1e-30");
  EXPECT_EQ(format_float(1e20), "1e+20");
  EXPECT_EQ(format_float(3.4028234663852886e+38), "3.4028234663852886e+38");
  EXPECT_EQ(format_float(123456789012345680.0), "123456789012345680.0");
  EXPECT_EQ(format_float(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(format_float(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(format_float(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(format_float(std::numeric_limits<double>::denorm_min()), "5e-324");
}

TEST(Printer, AttributeValues) {
  EXPECT_EQ(format_attr_value(int64_t{3}), "3");
  EXPECT_EQ(format_attr_value(int64_t{-2}), "-2");
  EXPECT_EQ(format_attr_value(std::numeric_limits<int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(format_attr_value(2.0), "2.0");
  EXPECT_EQ(format_attr_value(std::vector<int64_t>{1, 2}), "[1,2]");
  EXPECT_EQ(format_attr_value(std::vector<int64_t>{}), "[]");
  EXPECT_EQ(format_attr_value(std::vector<double>{}), "[]");
  EXPECT_EQ(format_attr_value(std::vector<double>{1, 2.5, -0.0, 1e-7}), "[1.0,2.5,-0.0,1e-07]");
  EXPECT_EQ(format_attr_value(std::string("hi")), "\"hi\"");
  EXPECT_EQ(format_attrs(Attrs{}), "");
  EXPECT_EQ(format_attrs(Attrs{{"b", int64_t{1}}, {"a", std::string("x")}}), "{a=\"x\", b=1}");
}

TEST(Printer, StringEscapes) {
  EXPECT_EQ(quote_string(""), "\"\"");
  EXPECT_EQ(quote_string("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(quote_string("back\\slash"), "\"back\\\\slash\"");
  EXPECT_EQ(quote_string("line\nbreak\ttab"), "\"line\\nbreak\\ttab\"");
  EXPECT_EQ(quote_string(std::string("\x01\x1f\x7f", 3)), "\"\\x01\\x1F\\x7F\"");
  EXPECT_EQ(quote_string(std::string("nul\0!", 5)), "\"nul\\x00!\"");
  EXPECT_EQ(quote_string("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // UTF-8 passes through
}

TEST(Printer, ExampleGraphCoversEveryOp) {
  graph_test::ExampleGraph ex = graph_test::all_ops_graph();
  std::set<int> used;
  for (const Node& n : ex.graph.nodes()) used.insert(static_cast<int>(n.op));
  for (int k = 0; k < kNumOps; ++k)
    EXPECT_TRUE(used.count(k)) << "add op '" << op_name(static_cast<Op>(k))
                               << "' to tests/graph/example_graphs.h";
}

TEST(Printer, PrintsEveryOp) {
  graph_test::ExampleGraph ex = graph_test::all_ops_graph();
  std::string text = print_graph(ex.graph, ex.outputs);
  EXPECT_NE(text.find("= rand_uniform(%5) {seed=42} : f32[2,3]\n"), std::string::npos) << text;
  EXPECT_NE(text.find("= const() {value=[0.1]} : f32[2,3]\n"), std::string::npos);
  EXPECT_NE(text.find("= window(%"), std::string::npos);
  EXPECT_NE(text.find("{dilation=[1,2], kernel=[3,3], pad_hi=[1,2], pad_lo=[1,2], "
                      "stride=[2,1], value=-inf} : f32[1,2,3,5,3,3]\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("= cast(%0) : f64[2,3]\n"), std::string::npos);
  EXPECT_NE(text.find("= concat(%0, %6, %0) {axis=0} : f32[6,3]\n"), std::string::npos);
  EXPECT_NE(text.find("= pad(%0) {hi=[0,2], interior=[1,0], lo=[1,0], value=0.5} : f32[4,5]\n"),
            std::string::npos);
  EXPECT_EQ(text.substr(text.rfind("return")), "return %" + std::to_string(ex.outputs[0]) + ", %" +
                                                   std::to_string(ex.outputs[1]) + ", %" +
                                                   std::to_string(ex.outputs[2]) + "\n");
  // One line per node plus the return line.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), ex.graph.size() + 1);
}

TEST(QuoteString, EveryByteRoundTripsThroughDecodeEscape) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  const std::string q = quote_string(all);
  std::string back;
  for (size_t i = 1; i + 1 < q.size();) {
    if (q[i] != '\\') {
      back += q[i++];
      continue;
    }
    auto e = decode_escape(std::string_view(q).substr(i + 1));
    ASSERT_TRUE(e.has_value()) << i;
    back += e->first;
    i += 1 + e->second;
  }
  EXPECT_EQ(back, all);
  for (const char* bad : {"", "q", "x1", "xg0", "r", "0"})
    EXPECT_FALSE(decode_escape(bad).has_value()) << bad;
  EXPECT_EQ(decode_escape("x7fz"), (std::pair<char, size_t>{'\x7f', 3}));
}

}  // namespace
}  // namespace soma
