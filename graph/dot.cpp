#include "graph/dot.h"

#include <algorithm>

#include "graph/printer.h"

namespace soma {

namespace {

// Escapes text for a double-quoted dot string; newlines become dot's centred line break.
std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += {'\\', c};
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

struct Style {
  const char* shape;
  const char* fill;
};

Style style_of(Op op) {
  switch (op) {
    case Op::Input:
      return {"invhouse", "#cfe2ff"};
    case Op::Param:
      return {"cylinder", "#ffe3b3"};
    case Op::Const:
    case Op::Iota:
    case Op::RandUniform:
      return {"note", "#e6e6e6"};
    default:
      return {"box", "#ffffff"};
  }
}

bool known_op(Op op) {
  int code = static_cast<int>(op);
  return code >= 0 && code < kNumOps;
}

}  // namespace

std::string to_dot(const Graph& g, const std::vector<NodeId>& outputs) {
  std::string out =
      "digraph soma {\n"
      "  rankdir=TB;\n"
      "  node [fontname=\"monospace\", fontsize=10, style=filled];\n"
      "  edge [fontname=\"monospace\", fontsize=8];\n";
  for (NodeId id = 0; id < g.size(); ++id) {
    const Node& n = g.nodes()[static_cast<size_t>(id)];
    bool known = known_op(n.op);
    std::string label = "%" + std::to_string(id) + " " +
                        (known ? op_name(n.op) : "<op " + std::to_string(int(n.op)) + ">");
    if (known && (n.op == Op::Input || n.op == Op::Param))
      if (const auto* name = n.attrs.find("name"))
        if (const auto* s = std::get_if<std::string>(name)) label += " " + quote_string(*s);
    label += "\n" + n.type.str();
    Style st = known ? style_of(n.op) : Style{"box", "#ff9999"};
    bool is_output = std::find(outputs.begin(), outputs.end(), id) != outputs.end();
    out += "  n" + std::to_string(id) + " [label=\"" + dot_escape(label) + "\", shape=" + st.shape +
           ", fillcolor=\"" + st.fill + "\"";
    if (is_output) out += ", style=\"filled,bold\", penwidth=2";
    out += "];\n";
  }
  for (NodeId id = 0; id < g.size(); ++id) {
    const Node& n = g.nodes()[static_cast<size_t>(id)];
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      out += "  n" + std::to_string(n.inputs[k]) + " -> n" + std::to_string(id);
      if (n.inputs.size() > 1) out += " [label=\"" + std::to_string(k) + "\"]";
      out += ";\n";
    }
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    std::string sink = "out" + std::to_string(k);
    out += "  " + sink + " [label=\"out " + std::to_string(k) +
           "\", shape=doubleoctagon, fillcolor=\"#d4f7d4\"];\n";
    out += "  n" + std::to_string(outputs[k]) + " -> " + sink + " [style=bold];\n";
  }
  out += "}\n";
  return out;
}

}  // namespace soma
