// A script session on the llvm backend for tests: runs text as the tool's batch mode does and
// returns what it printed (errors included).
#pragma once

#include <sstream>
#include <string>

#include "frontend/script/batch.h"
#include "frontend/script/session.h"

namespace soma::script::testing {

struct LlvmScript {
  std::ostringstream out;
  Session session;
  LlvmScript() : session(options()) {}
  SessionOptions options() {
    SessionOptions o;
    o.backend = "llvm";
    o.out = &out;
    o.err = &out;
    return o;
  }
  std::string run(const std::string& text) {
    out.str("");
    run_batch(session, "t.soma", text, out);
    return out.str();
  }
  int graph_size() const { return session.context()->graph().size(); }
};

}  // namespace soma::script::testing
