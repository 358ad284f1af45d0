// Helpers of the pass tests: IR text in -> pass -> IR text out, random feeds and parameters for a
// graph, and the check that a pass keeps every value (interp(before) == interp(after)).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/interp/interp.h"
#include "frontend/fold.h"
#include "graph/module.h"
#include "graph/parser.h"
#include "graph/printer.h"
#include "graph/verifier.h"

namespace soma::pass_test {

using PassFn = std::function<bool(Module&)>;

inline Module parse_module(const std::string& text) {
  ParsedGraph p = parse_graph(text);
  Module m;
  m.graph = std::move(p.graph);
  m.outputs = std::move(p.outputs);
  return m;
}

// Random values for every input and param of `g`. Floats are uniform in [-3, 3]; with
// `specials`, about one element in eight is 0, -0, 1, -1, inf, -inf or nan instead. i32 values
// are in [-4, 4]; i32 scalars (rand_uniform offsets, step counters) in [0, 4].
inline Array random_array(const TensorType& t, std::mt19937& rng, bool specials) {
  static const double kSpecials[] = {0.0, -0.0, 1.0, -1.0, INFINITY, -INFINITY, NAN};
  std::vector<double> v(static_cast<size_t>(t.shape.numel()));
  std::uniform_real_distribution<double> real(-3, 3);
  std::uniform_int_distribution<int> integer(t.shape.rank() == 0 ? 0 : -4, 4), coin(0, 7),
      pick(0, 6);
  for (double& x : v) {
    switch (t.dtype) {
      case DType::f32:
      case DType::f64:
        x = specials && coin(rng) == 0 ? kSpecials[pick(rng)] : real(rng);
        break;
      case DType::i32:
        x = integer(rng);
        break;
      case DType::boolean:
        x = coin(rng) < 4;
        break;
    }
  }
  return Array::from_doubles(t.dtype, t.shape, v);
}

struct Env {
  Feeds feeds;
  std::shared_ptr<ParamStore> params = std::make_shared<ParamStore>();  // not copyable
};

inline Env random_env(const Graph& g, std::mt19937& rng, bool specials) {
  Env e;
  for (const Node& n : g.nodes()) {
    if (n.op != Op::Input && n.op != Op::Param) continue;
    const std::string& name = n.attrs.get_str("name");
    if (n.op == Op::Input && !e.feeds.count(name))
      e.feeds[name] = random_array(n.type, rng, specials);
    if (n.op == Op::Param && !e.params->has(name))
      e.params->set(name, random_array(n.type, rng, specials));
  }
  return e;
}

// The outputs, then the new value of each update.
inline std::vector<Array> run_module(const Module& m, const Env& env) {
  std::vector<NodeId> roots = m.outputs;
  for (auto& [p, v] : m.updates) roots.push_back(v);
  return interpret(m.graph, roots, env.feeds, *env.params);
}

// Equal values: NaN matches NaN, and 0 matches -0 (the documented sign-of-zero freedom of x + 0).
inline bool same_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

inline void expect_same_arrays(const std::vector<Array>& want, const std::vector<Array>& got,
                               const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(want[k].type_str(), got[k].type_str()) << what << ", result " << k;
    int shown = 0;
    for (int64_t i = 0; i < want[k].numel(); ++i)
      if (!same_value(want[k].get(i), got[k].get(i)) && shown++ < 5)
        ADD_FAILURE() << what << ", result " << k << " element " << i << ": before "
                      << want[k].get(i) << ", after " << got[k].get(i);
  }
}

// Runs `before` and `after` on `trials` random environments (the first without special values)
// and expects equal results.
inline void expect_equivalent(const Module& before, const Module& after, const std::string& what,
                              int trials = 3, unsigned seed = 1, bool specials = true) {
  std::mt19937 rng(seed);
  for (int t = 0; t < trials; ++t) {
    Env env = random_env(before.graph, rng, specials && t > 0);
    expect_same_arrays(run_module(before, env), run_module(after, env),
                       what + " (trial " + std::to_string(t) + ")");
  }
}

// Parses `text`, runs `pass`, verifies the result and checks it against the input on random
// values; returns the printed result (and whether the pass reported a change).
inline std::string run_on_text(const std::string& text, const PassFn& pass,
                               bool* changed = nullptr) {
  Module before = parse_module(text);
  Module after = before;
  bool c = pass(after);
  if (changed) *changed = c;
  EXPECT_NO_THROW(verify(after.graph)) << print_graph(after.graph, after.outputs);
  expect_equivalent(before, after, "pass on\n" + text);
  return print_graph(after.graph, after.outputs);
}

}  // namespace soma::pass_test
