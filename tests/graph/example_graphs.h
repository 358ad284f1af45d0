// Graphs shared by the graph-layer tests: one that uses every op with realistic attributes.
#pragma once

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace soma::graph_test {

inline TensorType f32(Shape s) {
  return TensorType{DType::f32, std::move(s)};
}
inline TensorType i32(Shape s) {
  return TensorType{DType::i32, std::move(s)};
}

struct ExampleGraph {
  Graph graph;
  std::vector<NodeId> outputs;
};

// Every op of ops.def, each checked by Graph::add. Elementwise ops are added generically, so a new
// elementwise op is covered without touching this; any other new op needs a line here (the
// coverage test in printer_test.cpp says which).
inline ExampleGraph all_ops_graph() {
  Graph g;
  NodeId x = g.add(Op::Input, {}, {{"name", std::string("x")}}, f32({2, 3}));
  NodeId w = g.add(Op::Param, {}, {{"name", std::string("layer.w")}}, f32({3, 4}));
  NodeId c = g.add(Op::Const, {}, {{"value", std::vector<double>{1.0, 2.5, -0.0}}}, f32({3}));
  g.add(Op::Const, {}, {{"value", std::vector<double>{0.1}}}, f32({2, 3}));
  g.add(Op::Iota, {}, {{"axis", int64_t{1}}}, i32({2, 3}));
  NodeId offset = g.add(Op::Input, {}, {{"name", std::string("offset")}}, i32({}));
  NodeId r = g.add(Op::RandUniform, {offset}, {{"seed", int64_t{42}}}, f32({2, 3}));
  NodeId b = g.add(Op::Lt, {x, r});

  for (int k = 0; k < kNumOps; ++k) {
    Op op = static_cast<Op>(k);
    if (!has_trait(op, Ew)) continue;
    int arity = op_info(op).arity;
    if (op == Op::Cast) {
      g.add(op, {x}, {}, TensorType{DType::f64, Shape{2, 3}});
      g.add(op, {b}, {}, f32({2, 3}));
    } else if (arity == 1) {
      g.add(op, {op == Op::Not ? b : x});
    } else if (arity == 2) {
      bool logical = op == Op::And || op == Op::Or;
      g.add(op, logical ? std::vector<NodeId>{b, b} : std::vector<NodeId>{x, r});
    } else {
      g.add(op, {b, x, r});  // select
    }
  }

  g.add(Op::ReduceSum, {x}, {{"axes", std::vector<int64_t>{1}}});
  g.add(Op::ReduceMax, {x}, {{"axes", std::vector<int64_t>{0, 1}}});
  g.add(Op::ReduceSum, {x}, {{"axes", std::vector<int64_t>{}}});
  NodeId c13 = g.add(Op::Reshape, {c}, {}, f32({1, 3}));
  g.add(Op::Broadcast, {c13}, {}, f32({2, 3}));
  g.add(Op::Permute, {x}, {{"perm", std::vector<int64_t>{1, 0}}});
  g.add(Op::Slice, {x},
        {{"start", std::vector<int64_t>{0, 1}},
         {"stop", std::vector<int64_t>{2, 3}},
         {"step", std::vector<int64_t>{1, 2}}});
  g.add(Op::Pad, {x},
        {{"lo", std::vector<int64_t>{1, 0}},
         {"hi", std::vector<int64_t>{0, 2}},
         {"interior", std::vector<int64_t>{1, 0}},
         {"value", 0.5}});
  g.add(Op::Concat, {x, r, x}, {{"axis", int64_t{0}}});
  g.add(Op::Flip, {x}, {{"axes", std::vector<int64_t>{0, 1}}});
  NodeId mm = g.add(Op::MatMul, {x, w});

  NodeId img = g.add(Op::Input, {}, {{"name", std::string("image")}}, f32({1, 2, 5, 5}));
  Attrs win_attrs{{"kernel", std::vector<int64_t>{3, 3}},
                  {"stride", std::vector<int64_t>{2, 1}},
                  {"dilation", std::vector<int64_t>{1, 2}},
                  {"pad_lo", std::vector<int64_t>{1, 2}},
                  {"pad_hi", std::vector<int64_t>{1, 2}},
                  {"value", -std::numeric_limits<double>::infinity()}};
  NodeId win = g.add(Op::Window, {img}, win_attrs);
  NodeId unwin = g.add(Op::Unwindow, {win}, win_attrs, f32({1, 2, 5, 5}));

  NodeId table = g.add(Op::Param, {}, {{"name", std::string("embedding")}}, f32({10, 4}));
  NodeId ids = g.add(Op::Input, {}, {{"name", std::string("ids")}}, i32({2, 3}));
  NodeId gathered = g.add(Op::Gather, {table, ids});
  NodeId scattered = g.add(Op::ScatterAdd, {ids, gathered}, {}, f32({10, 4}));

  return ExampleGraph{std::move(g), {mm, scattered, unwin}};
}

// The op-by-op structure of two graphs is the same (floats compared by value).
inline void expect_same_graph(const Graph& a, const Graph& b) {
  ASSERT_EQ(a.size(), b.size());
  for (NodeId i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("node %" + std::to_string(i));
    EXPECT_EQ(a[i].op, b[i].op);
    EXPECT_EQ(a[i].inputs, b[i].inputs);
    EXPECT_EQ(a[i].type, b[i].type);
    EXPECT_TRUE(a[i].attrs == b[i].attrs);
  }
}

}  // namespace soma::graph_test
