// Parses the canonical text form written by graph/printer.h back into a graph.
//
//   %x = input() {name="x"} : f32[2,3]     # a comment
//   %1 = neg(%x) : f32[2,3]
//   return %1
//
// Node names are `%` followed by letters, digits, `_` or `.`; each is defined once, before its
// uses, and maps to the next dense id. Every node goes through Graph::add with its `: type` as the
// declared type, so every shape rule is checked. An attribute list `[]` is an empty int list; a
// list with any float in it is a float list. For every printed graph,
// print_graph(parse_graph(s).graph, outputs) == s.
#pragma once

#include <string_view>
#include <vector>

#include "graph/graph.h"

namespace soma {

struct ParsedGraph {
  Graph graph;
  std::vector<NodeId> outputs;  // from the `return` line; empty when there is none
};

// Throws ParseError (line and column of the offending token) for any problem: bad syntax, an
// unknown op or dtype, an undefined or redefined name, a number out of range, or a node its op's
// rule rejects (that error's message is kept; the column is the op mnemonic's).
ParsedGraph parse_graph(std::string_view text);

}  // namespace soma
