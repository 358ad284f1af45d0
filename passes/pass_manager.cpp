#include "passes/pass_manager.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "graph/error.h"
#include "graph/printer.h"
#include "graph/verifier.h"

namespace soma {

namespace {

// Dump files are numbered across the whole process, so that the stages of a second compile in
// one program follow the first's instead of overwriting them.
std::atomic<int> next_dump_stage{0};

// The module-level rules on top of the graph's: outputs exist, and each update writes a param
// node with a value of its type. Throws VerifyError.
void verify_module(const Module& m) {
  verify(m.graph);
  for (NodeId o : m.outputs)
    if (!m.graph.valid(o)) SOMA_THROW(VerifyError, "verifier: output %" << o << " does not exist");
  for (auto& [p, v] : m.updates) {
    if (!m.graph.valid(p) || !m.graph.valid(v))
      SOMA_THROW(VerifyError, "verifier: update %" << p << " <- %" << v << " refers to no node");
    if (m.graph.node(p).op != Op::Param)
      SOMA_THROW(VerifyError,
                 "verifier: update target " << print_node(m.graph, p) << " is not a param node");
    if (m.graph.node(p).type != m.graph.node(v).type)
      SOMA_THROW(VerifyError, "verifier: update of " << print_node(m.graph, p)
                                                     << " with a value of type "
                                                     << m.graph.node(v).type.str());
  }
}

void write_dump(const std::string& dir, const std::string& stage, const Module& m) {
  write_stage_dump(dir, stage, print_module(m), ".soma-ir");
}

}  // namespace

void write_stage_dump(const std::string& dir, const std::string& stage, const std::string& text,
                      const std::string& extension) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    SOMA_THROW(IOError,
               "SOMA_DUMP_DIR: cannot create the directory '" << dir << "': " << ec.message());
  char num[16];
  std::snprintf(num, sizeof(num), "%02d", next_dump_stage++);
  fs::path path = fs::path(dir) / (std::string(num) + "-" + stage + extension);
  std::ofstream f(path);
  if (f) f << text;
  if (f) f.close();
  if (!f) SOMA_THROW(IOError, "SOMA_DUMP_DIR: cannot write the file '" << path.string() << "'");
}

void check_pass_names(const std::set<std::string>& disabled,
                      const std::vector<std::string>& known) {
  for (const std::string& name : disabled) {
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::vector<std::string> unique;  // in pipeline order, each name once
    for (const std::string& k : known)
      if (std::find(unique.begin(), unique.end(), k) == unique.end()) unique.push_back(k);
    std::string list;
    for (const std::string& k : unique) list += (list.empty() ? "" : ", ") + k;
    SOMA_THROW(NameError,
               "SOMA_DISABLE_PASSES: no pass is named '" << name << "'; the passes are: " << list);
  }
}

std::string print_module(const Module& m) {
  std::string s = print_graph(m.graph, m.outputs);
  for (auto& [p, v] : m.updates)
    s += "# update %" + std::to_string(p) + " <- %" + std::to_string(v) + "\n";
  return s;
}

void run_passes(Module& m, const std::vector<GraphPass>& passes, const PipelineOptions& options) {
  std::ostream& log = options.log ? *options.log : std::cerr;
  auto check = [&](const std::string& when) {
    if (!options.verify) return;
    try {
      verify_module(m);
    } catch (const VerifyError& e) {
      SOMA_CHECK(false) << "the IR is invalid " << when << ": " << e.what() << "\n"
                        << print_module(m);
    }
  };
  check("before the first pass");
  if (options.debug_level >= 2) log << "--- input ---\n" << print_module(m);
  if (!options.dump_dir.empty()) write_dump(options.dump_dir, "input", m);
  for (const GraphPass& pass : passes) {
    if (options.disabled.count(pass.name)) {
      if (options.debug_level >= 1) log << "soma: pass " << pass.name << ": disabled\n";
      continue;
    }
    int before = m.graph.size();
    auto start = std::chrono::steady_clock::now();
    bool changed = pass.run(m);
    std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - start;
    check("after pass '" + pass.name + "'");
    if (options.debug_level >= 1)
      log << "soma: pass " << pass.name << ": " << ms.count() << " ms, " << before << " -> "
          << m.graph.size() << " nodes" << (changed ? "" : " (unchanged)") << "\n";
    if (options.debug_level >= 2 && changed)
      log << "--- after " << pass.name << " ---\n" << print_module(m);
    if (!options.dump_dir.empty()) write_dump(options.dump_dir, pass.name, m);
  }
}

}  // namespace soma
