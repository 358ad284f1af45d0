#include "graph/verifier.h"

#include <functional>
#include <optional>

#include "graph/infer.h"
#include "graph/printer.h"

namespace soma {

namespace {

constexpr size_t kMaxNodeText = 200;  // a node's text in a message is cut after this many bytes

std::string describe(const Graph& g, NodeId id) {
  std::string s = print_node(g, id);
  if (s.size() > kMaxNodeText) s = s.substr(0, kMaxNodeText) + "...";
  return s;
}

// What is wrong with a type itself, or "" when nothing is.
std::string type_problem(const TensorType& t) {
  int d = static_cast<int>(t.dtype);
  if (d < 0 || d > static_cast<int>(DType::boolean))
    return "its dtype code " + std::to_string(d) + " is not a dtype";
  if (t.shape.rank() > kMaxRank)
    return "its type " + t.str() + " has rank " + std::to_string(t.shape.rank()) +
           ", above soma's maximum " + std::to_string(kMaxRank);
  int64_t n = 1;
  for (int64_t dim : t.shape.dims()) {
    if (dim < 0) return "its type " + t.str() + " has a negative dimension";
    if (__builtin_mul_overflow(n, dim, &n))
      return "its type " + t.str() + " has more elements than fit in 64 bits";
  }
  return "";
}

// Calls report(id, problem) for each problem; stops early when report returns false.
void check_graph(const Graph& g, const std::function<bool(NodeId, const std::string&)>& report) {
  for (NodeId id = 0; id < g.size(); ++id) {
    const Node& n = g.nodes()[static_cast<size_t>(id)];
    int code = static_cast<int>(n.op);
    if (code < 0 || code >= kNumOps) {
      if (!report(id, "op code " + std::to_string(code) + " is not an op")) return;
      continue;
    }
    bool ok = true;
    auto problem = [&](const std::string& what) {
      ok = false;
      return report(id, what);
    };

    if (std::string p = type_problem(n.type); !p.empty())
      if (!problem(p)) return;

    const OpInfo& info = op_info(n.op);
    int count = static_cast<int>(n.inputs.size());
    if (info.arity >= 0 && count != info.arity) {
      if (!problem(std::string(info.mnemonic) + " takes " + std::to_string(info.arity) +
                   " input(s), got " + std::to_string(count)))
        return;
    } else if (info.arity < 0 && count == 0) {
      if (!problem(std::string(info.mnemonic) + " takes at least one input")) return;
    }

    for (NodeId in : n.inputs) {
      if (in < 0 || in >= g.size()) {
        if (!problem("input %" + std::to_string(in) + " does not exist (the graph has " +
                     std::to_string(g.size()) + " nodes)"))
          return;
      } else if (in >= id) {
        if (!problem("input %" + std::to_string(in) + " is not defined before %" +
                     std::to_string(id) + " (a cycle or a forward reference)"))
          return;
      } else if (!type_problem(g.nodes()[static_cast<size_t>(in)].type).empty()) {
        ok = false;  // reported at that input; its users cannot be checked
      }
    }
    if (!ok) continue;

    std::vector<const TensorType*> in_types;
    for (NodeId in : n.inputs) in_types.push_back(&g.nodes()[static_cast<size_t>(in)].type);
    std::optional<TensorType> declared;
    if (has_trait(n.op, Decl)) declared = n.type;
    try {
      TensorType t = infer_type(n.op, in_types, n.attrs, declared);
      if (t != n.type)
        if (!problem("its type is " + n.type.str() + " but its inputs and attributes give " +
                     t.str()))
          return;
    } catch (const Error& e) {
      if (!problem(e.what())) return;
    }
  }
}

std::string message(const Graph& g, NodeId id, const std::string& what) {
  return "verifier: " + describe(g, id) + ": " + what;
}

}  // namespace

std::vector<std::string> verify_all(const Graph& g) {
  std::vector<std::string> out;
  check_graph(g, [&](NodeId id, const std::string& what) {
    out.push_back(message(g, id, what));
    return true;
  });
  return out;
}

void verify(const Graph& g) {
  std::optional<std::string> first;
  check_graph(g, [&](NodeId id, const std::string& what) {
    first = message(g, id, what);
    return false;
  });
  if (first) throw VerifyError(*first);
}

}  // namespace soma
