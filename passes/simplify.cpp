#include "passes/simplify.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "graph/error.h"

namespace soma {

namespace {

constexpr int64_t kMaxFoldElements = 4096;          // largest folded (non-splat) result
constexpr int64_t kMaxFoldInputElements = 1 << 20;  // largest input a fold expands
constexpr int kMaxSweeps = 32;                      // a safety net; two sweeps are typical

bool same_bits(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

// The value an element of `dtype` holds when a const node says `raw` (as Array::set converts), or
// nullopt where that conversion is not exact enough to reason about (an i32 const of 1.5, an f32
// const beyond the f32 range).
std::optional<double> effective(DType dtype, double raw) {
  switch (dtype) {
    case DType::f32:
      if (std::isfinite(raw) && std::fabs(raw) > std::numeric_limits<float>::max())
        return std::nullopt;
      return static_cast<double>(static_cast<float>(raw));
    case DType::f64:
      return raw;
    case DType::i32:
      if (!std::isfinite(raw) || std::trunc(raw) != raw || raw < -2147483648.0 ||
          raw > 2147483647.0)
        return std::nullopt;
      return raw;
    case DType::boolean:
      return raw != 0.0 ? 1.0 : 0.0;
  }
  return std::nullopt;
}

// Whether casting from `from` to `to` keeps every value, so that a later cast can start from the
// original: cast(cast(x, to), c) == cast(x, c).
bool cast_keeps_values(DType from, DType to) {
  return from == to || from == DType::boolean ||
         (to == DType::f64 && (from == DType::f32 || from == DType::i32));
}

bool same_nodes(const Graph& a, const Graph& b) {
  if (a.size() != b.size()) return false;
  for (NodeId i = 0; i < a.size(); ++i) {
    const Node &x = a.node(i), &y = b.node(i);
    if (x.op != y.op || x.type != y.type || x.inputs != y.inputs || !(x.attrs == y.attrs))
      return false;
  }
  return true;
}

class Simplifier {
 public:
  explicit Simplifier(const FoldFn& fold) : fold_(fold) {}

  // One rebuild of the nodes `m` needs, rewriting each as it is added.
  Module sweep(const Module& m) {
    const Graph& old = m.graph;
    std::vector<NodeId> map(static_cast<size_t>(old.size()), -1);
    for (NodeId id : reachable(old, m.roots())) {
      const Node& n = old.node(id);
      std::vector<NodeId> in;
      for (NodeId i : n.inputs) in.push_back(map[static_cast<size_t>(i)]);
      map[static_cast<size_t>(id)] = emit(n.op, std::move(in), n.attrs, n.type);
    }
    Module out;
    out.graph = std::move(g_);
    for (NodeId o : m.outputs) out.outputs.push_back(map[static_cast<size_t>(o)]);
    for (auto& [p, v] : m.updates) {
      NodeId np = map[static_cast<size_t>(p)];
      SOMA_CHECK(out.graph.node(np).op == Op::Param)
          << "simplify replaced the update target %" << p << " (a param must stay a param)";
      out.updates.emplace_back(np, map[static_cast<size_t>(v)]);
    }
    return out;
  }

  bool fired() const { return fired_; }

 private:
  const Node& at(NodeId id) const { return g_.node(id); }
  Op op_of(NodeId id) const { return g_.node(id).op; }
  NodeId first_input(NodeId id) const { return g_.node(id).inputs[0]; }

  // Adds the node `op(in) {attrs} : type` in its simplest form; returns the node that holds it.
  NodeId emit(Op op, std::vector<NodeId> in, Attrs attrs, const TensorType& type) {
    if (std::optional<NodeId> r = rewrite(op, in, attrs, type)) {
      SOMA_CHECK(at(*r).type == type) << "simplify: a rewrite of " << op_name(op) << " : "
                                      << type.str() << " gave " << at(*r).type.str();
      fired_ = true;
      return *r;
    }
    return g_.add(op, std::move(in), std::move(attrs), type);
  }

  // A const whose value the passes may use (not a run-time scalar: Builder::runtime_scalar).
  bool known_const(NodeId id) const {
    return at(id).op == Op::Const && !at(id).attrs.has("runtime");
  }

  // A const node; one value when all are equal.
  NodeId make_const(std::vector<double> values, const TensorType& type) {
    bool all_equal = !values.empty();
    for (double v : values) all_equal = all_equal && same_bits(v, values[0]);
    if (all_equal) values.resize(1);
    return g_.add(Op::Const, {}, {{"value", std::move(values)}}, type);
  }

  // The const value of a splat (as written in its attribute), seen through reshapes and
  // broadcasts; nullopt when `id` is not one.
  std::optional<double> splat_raw(NodeId id) const {
    const Node& n = at(id);
    if (n.op == Op::Reshape || n.op == Op::Broadcast) return splat_raw(n.inputs[0]);
    if (!known_const(id)) return std::nullopt;
    const auto& v = n.attrs.get_floats("value");
    if (v.size() != 1) return std::nullopt;
    return v[0];
  }

  // The value every element of a splat holds.
  std::optional<double> splat_value(NodeId id) const {
    std::optional<double> raw = splat_raw(id);
    if (!raw) return std::nullopt;
    return effective(at(id).type.dtype, *raw);
  }

  bool is_splat(NodeId id, double value) const {
    std::optional<double> v = splat_value(id);
    return v && *v == value;
  }

  NodeId splat(double raw, const TensorType& type) { return make_const({raw}, type); }

  std::optional<NodeId> fold(Op op, const std::vector<NodeId>& in, const Attrs& attrs,
                             const TensorType& type) {
    if (!fold_ || in.empty()) return std::nullopt;
    for (NodeId i : in)
      if (!known_const(i)) return std::nullopt;
    // Elementwise on splats: evaluate once, on scalars, for a result of any size.
    bool all_splats = has_trait(op, Ew);
    for (NodeId i : in) all_splats = all_splats && at(i).attrs.get_floats("value").size() == 1;
    if (all_splats) {
      Node scalar{op, TensorType{type.dtype, Shape{}}, in, attrs};
      std::vector<std::vector<double>> values;
      std::vector<TensorType> types;
      for (NodeId i : in) {
        values.push_back(at(i).attrs.get_floats("value"));
        types.push_back(TensorType{at(i).type.dtype, Shape{}});
      }
      if (auto r = fold_(scalar, values, types)) {
        SOMA_CHECK(r->size() == 1)
            << "the fold function gave " << r->size() << " values for a scalar " << op_name(op);
        return splat((*r)[0], type);
      }
    }
    if (type.shape.numel() > kMaxFoldElements) return std::nullopt;
    std::vector<std::vector<double>> values;
    std::vector<TensorType> types;
    for (NodeId i : in) {
      if (at(i).type.shape.numel() > kMaxFoldInputElements) return std::nullopt;
      values.push_back(at(i).attrs.get_floats("value"));
      types.push_back(at(i).type);
    }
    std::optional<std::vector<double>> r = fold_(Node{op, type, in, attrs}, values, types);
    if (!r) return std::nullopt;
    SOMA_CHECK(static_cast<int64_t>(r->size()) == type.shape.numel() || r->size() == 1)
        << "the fold function gave " << r->size() << " values for " << op_name(op) << " : "
        << type.str();
    return make_const(std::move(*r), type);
  }

  std::optional<NodeId> rewrite(Op op, const std::vector<NodeId>& in, const Attrs& attrs,
                                const TensorType& type) {
    if (op == Op::Const) {  // all values equal -> a splat
      const auto& v = attrs.get_floats("value");
      if (v.size() < 2) return std::nullopt;
      std::optional<double> first = effective(type.dtype, v[0]);
      for (double x : v) {
        std::optional<double> e = effective(type.dtype, x);
        if (!first || !e || !same_bits(*e, *first)) return std::nullopt;
      }
      return splat(v[0], type);
    }
    if (has_trait(op, Src)) return std::nullopt;  // inputs, params, iota, rand_uniform stay
    if (std::optional<NodeId> r = fold(op, in, attrs, type)) return r;

    const bool is_int = type.dtype == DType::i32;
    const TensorType& in0 = at(in[0]).type;
    switch (op) {
      case Op::StopGradient:
        return in[0];
      case Op::Neg:
      case Op::Not:
        if (op_of(in[0]) == op) return first_input(in[0]);
        break;
      case Op::Cast: {
        if (in0.dtype == type.dtype) return in[0];
        if (op_of(in[0]) != Op::Cast) break;
        NodeId src = first_input(in[0]);
        if (cast_keeps_values(at(src).type.dtype, in0.dtype))
          return emit(Op::Cast, {src}, {}, type);
        break;
      }
      case Op::Add:
        if (is_splat(in[1], 0)) return in[0];
        if (is_splat(in[0], 0)) return in[1];
        if (op_of(in[1]) == Op::Neg) return emit(Op::Sub, {in[0], first_input(in[1])}, {}, type);
        if (op_of(in[0]) == Op::Neg) return emit(Op::Sub, {in[1], first_input(in[0])}, {}, type);
        break;
      case Op::Sub:
        if (is_splat(in[1], 0)) return in[0];
        if (is_int && in[0] == in[1]) return splat(0, type);
        if (op_of(in[1]) == Op::Neg) return emit(Op::Add, {in[0], first_input(in[1])}, {}, type);
        break;
      case Op::Mul:
        for (int i : {0, 1}) {
          NodeId c = in[static_cast<size_t>(i)], other = in[static_cast<size_t>(1 - i)];
          if (is_splat(c, 1)) return other;
          if (is_splat(c, -1)) return emit(Op::Neg, {other}, {}, type);
          if (is_int && is_splat(c, 0)) return splat(0, type);  // never for floats: inf*0 = nan
        }
        break;
      case Op::Div:
        if (is_splat(in[1], 1)) return in[0];
        if (is_splat(in[1], -1)) return emit(Op::Neg, {in[0]}, {}, type);
        break;
      case Op::Max:
      case Op::Min:
        if (in[0] == in[1]) return in[0];
        break;
      case Op::And:
      case Op::Or: {
        if (in[0] == in[1]) return in[0];
        const double absorbing = op == Op::Or ? 1.0 : 0.0;  // x or true, x and false
        for (int i : {0, 1}) {
          std::optional<double> v = splat_value(in[static_cast<size_t>(i)]);
          if (!v) continue;
          if (*v == absorbing) return splat(absorbing, type);
          return in[static_cast<size_t>(1 - i)];
        }
        break;
      }
      case Op::Select:
        if (in[1] == in[2]) return in[1];
        if (std::optional<double> c = splat_value(in[0])) return *c != 0 ? in[1] : in[2];
        if (op_of(in[0]) == Op::Not)
          return emit(Op::Select, {first_input(in[0]), in[2], in[1]}, {}, type);
        break;
      case Op::ReduceSum:
        if (in0 == type) return in[0];  // over size-1 axes only
        break;
      case Op::ReduceMax:
        if (in0 == type) return in[0];
        if (std::optional<double> r = splat_raw(in[0])) return splat(*r, type);
        break;
      case Op::Reshape:
      case Op::Broadcast:
        if (in0 == type) return in[0];
        if (std::optional<double> r = splat_raw(in[0])) return splat(*r, type);
        if (op_of(in[0]) == op) return emit(op, {first_input(in[0])}, {}, type);
        break;
      case Op::Permute: {
        const auto& q = attrs.get_ints("perm");
        bool identity = true;
        for (size_t i = 0; i < q.size(); ++i)
          identity = identity && q[i] == static_cast<int64_t>(i);
        if (identity) return in[0];
        if (std::optional<double> r = splat_raw(in[0])) return splat(*r, type);
        if (op_of(in[0]) != Op::Permute) break;
        // permute(permute(x, p), q): axis i is axis q[i] of the inner result, axis p[q[i]] of x.
        std::vector<int64_t> p = at(in[0]).attrs.get_ints("perm"), composed;
        for (int64_t qi : q) composed.push_back(p[static_cast<size_t>(qi)]);
        return emit(Op::Permute, {first_input(in[0])}, {{"perm", std::move(composed)}}, type);
      }
      case Op::Slice:
        // Equal shapes imply start 0 on every axis of size > 1: the slice selects everything.
        if (in0 == type) return in[0];
        if (std::optional<double> r = splat_raw(in[0])) return splat(*r, type);
        break;
      case Op::Pad: {
        if (in0 == type) return in[0];  // equal shapes: no padding
        std::optional<double> r = splat_raw(in[0]);
        std::optional<double> v = splat_value(in[0]);
        std::optional<double> pad = effective(type.dtype, attrs.get_float("value"));
        if (r && v && pad && same_bits(*v, *pad)) return splat(*r, type);
        break;
      }
      case Op::Flip: {
        bool noop = true;
        for (int64_t a : attrs.get_ints("axes")) noop = noop && in0.shape[static_cast<int>(a)] <= 1;
        if (noop) return in[0];
        if (std::optional<double> r = splat_raw(in[0])) return splat(*r, type);
        break;
      }
      case Op::Concat: {
        if (in.size() == 1) return in[0];
        std::optional<double> first = splat_value(in[0]);
        bool equal = first.has_value();
        for (NodeId i : in) {
          std::optional<double> v = splat_value(i);
          equal = equal && v && same_bits(*v, *first);
        }
        if (equal) return splat(*splat_raw(in[0]), type);
        break;
      }
      default:
        break;
    }
    return std::nullopt;
  }

  Graph g_;
  const FoldFn& fold_;
  bool fired_ = false;
};

}  // namespace

bool simplify(Module& m, const FoldFn& fold) {
  Module cur;
  bool fired = false;
  const Module* src = &m;
  for (int sweep = 0; sweep < kMaxSweeps; ++sweep) {
    Simplifier s(fold);
    Module next = s.sweep(*src);
    cur = std::move(next);
    src = &cur;
    fired = fired || s.fired();
    if (!s.fired()) break;
  }
  bool changed = fired || !same_nodes(m.graph, cur.graph);
  m = std::move(cur);
  return changed;
}

}  // namespace soma
