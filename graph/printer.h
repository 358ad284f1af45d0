// The canonical text form of a graph: one node per line, parsed back by graph/parser.h.
//
//   %0 = input() {name="x"} : f32[2,3]
//   %1 = const() {value=[1.0,2.5,3.0]} : f32[3]
//   %2 = broadcast(%1) : f32[2,3]
//   %3 = add(%0, %2) : f32[2,3]
//   %4 = reduce_sum(%3) {axes=[1]} : f32[2,1]
//   return %4, %3
//
// Floats print as the shortest text that reads back to the same double and always look like
// floats (`1.0`, `1e-30`, `-0.0`, `inf`, `-inf`, `nan`); ints print without a point.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "graph/attrs.h"
#include "graph/graph.h"

namespace soma {

// The whole graph, one line per node, then `return ...` when `outputs` is non-empty.
std::string print_graph(const Graph& g, const std::vector<NodeId>& outputs = {});

// One node as its line in the text form (without a newline), e.g. `%3 = add(%0, %2) : f32[2,3]`.
// Never fails: a malformed node (from add_unchecked) prints as well as it can.
std::string print_node(const Graph& g, NodeId id);

// The pieces of the text form, for other printers and error messages.
std::string format_float(double v);            // 2.5, 1.0, 1e-30, -0.0, inf, nan
std::string quote_string(std::string_view s);  // "a\"b\n" with \" \\ \n \t \xHH escapes
// The reverse of one of quote_string's escapes, for the parsers of both text forms: `s` starts
// just after the backslash. The character and the length of the escape in `s`; nullopt for an
// escape quote_string does not write or a \x without two hex digits (the caller reports it).
std::optional<std::pair<char, size_t>> decode_escape(std::string_view s);
std::string format_attr_value(const AttrValue& v);  // 3, 2.5, [1,2], [1.0,2.5], "s"
std::string format_attrs(const Attrs& a);           // {k=v, k2=v2}; "" when empty

}  // namespace soma
