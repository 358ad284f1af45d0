#include "graph/printer.h"

#include <charconv>
#include <cmath>
#include <type_traits>

namespace soma {

namespace {

// The mnemonic of `op`, or a placeholder for an op code outside the table (a malformed node).
std::string safe_op_name(Op op) {
  int code = static_cast<int>(op);
  if (code < 0 || code >= kNumOps) return "<op " + std::to_string(code) + ">";
  return op_name(op);
}

void append_node(std::string& out, const Node& n, NodeId id) {
  out += '%';
  out += std::to_string(id);
  out += " = ";
  out += safe_op_name(n.op);
  out += '(';
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (i) out += ", ";
    out += '%';
    out += std::to_string(n.inputs[i]);
  }
  out += ')';
  if (!n.attrs.empty()) {
    out += ' ';
    out += format_attrs(n.attrs);
  }
  out += " : ";
  out += n.type.str();
}

}  // namespace

std::string format_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);  // shortest text that round-trips
  std::string s(buf, res.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::optional<std::pair<char, size_t>> decode_escape(std::string_view s) {
  if (s.empty()) return std::nullopt;
  switch (s[0]) {
    case '"':
    case '\\':
      return std::pair{s[0], size_t{1}};
    case 'n':
      return std::pair{'\n', size_t{1}};
    case 't':
      return std::pair{'\t', size_t{1}};
    case 'x': {
      auto hex = [](char h) {
        return h >= '0' && h <= '9'   ? h - '0'
               : h >= 'a' && h <= 'f' ? h - 'a' + 10
               : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                      : -1;
      };
      if (s.size() < 3 || hex(s[1]) < 0 || hex(s[2]) < 0) return std::nullopt;
      return std::pair{static_cast<char>(hex(s[1]) * 16 + hex(s[2])), size_t{3}};
    }
    default:
      return std::nullopt;
  }
}

std::string quote_string(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

std::string format_attr_value(const AttrValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          return std::to_string(x);
        } else if constexpr (std::is_same_v<T, double>) {
          return format_float(x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return quote_string(x);
        } else {
          std::string s = "[";
          for (size_t i = 0; i < x.size(); ++i) {
            if (i) s += ',';
            if constexpr (std::is_same_v<T, std::vector<double>>)
              s += format_float(x[i]);
            else
              s += std::to_string(x[i]);
          }
          return s + "]";
        }
      },
      v);
}

std::string format_attrs(const Attrs& a) {
  if (a.empty()) return "";
  std::string s = "{";
  bool first = true;
  for (const auto& [key, value] : a.items()) {
    if (!first) s += ", ";
    first = false;
    s += key;
    s += '=';
    s += format_attr_value(value);
  }
  return s + "}";
}

std::string print_node(const Graph& g, NodeId id) {
  if (!g.valid(id)) return "%" + std::to_string(id) + " = <no such node>";
  std::string out;
  append_node(out, g.nodes()[static_cast<size_t>(id)], id);
  return out;
}

std::string print_graph(const Graph& g, const std::vector<NodeId>& outputs) {
  // A graph's ids are dense and in order already, so they print as they are.
  std::string out;
  for (NodeId id = 0; id < g.size(); ++id) {
    append_node(out, g.nodes()[static_cast<size_t>(id)], id);
    out += '\n';
  }
  if (!outputs.empty()) {
    out += "return ";
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (i) out += ", ";
      out += '%';
      out += std::to_string(outputs[i]);
    }
    out += '\n';
  }
  return out;
}

}  // namespace soma
