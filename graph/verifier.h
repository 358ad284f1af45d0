// The verifier: checks a graph built without checks (Graph::add_unchecked, or a pass that edits
// nodes) against the rules Graph::add enforces: each node has its op's arity, refers only to
// earlier nodes, and has the type its op's rule gives for its inputs and attributes.
#pragma once

#include <string>
#include <vector>

#include "graph/error.h"
#include "graph/graph.h"

namespace soma {

// A graph that breaks the IR's rules. The message names the node, e.g.
// `verifier: %5 = add(%1, %7) : f32[2]: input %7 is not defined before %5 (...)`.
class VerifyError : public Error {
 public:
  using Error::Error;
};

// Throws VerifyError for the first problem found (in node order).
void verify(const Graph& g);

// Every problem found, one message each (the format of VerifyError's); empty for a valid graph.
std::vector<std::string> verify_all(const Graph& g);

}  // namespace soma
