#include "frontend/repl/subcommands.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "backends/backend.h"
#include "frontend/repl/repl.h"
#include "frontend/script/batch.h"
#include "frontend/script/bench.h"
#include "frontend/script/session.h"
#include "frontend/script/stages.h"
#include "graph/kernel_parser.h"
#include "runtime/file_io.h"
#include "runtime/npy.h"

#ifndef SOMA_VERSION
#define SOMA_VERSION "0.0.0"
#endif

namespace soma::tool {

namespace {

// Output that goes nowhere (bench and emit run the script quietly).
class NullBuffer : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

// A backend named on the command line: a documented one that is not built is a user error (1),
// any other unknown name a usage error (2).
int check_backend(const std::string& name, const std::string& flag) {
  for (const std::string& n : backend_names())
    if (n == name) return 0;
  std::string list;
  for (const std::string& n : backend_names()) list += (list.empty() ? "" : ", ") + n;
  if (name == "llvm" || name == "vulkan") {
    std::cerr << "soma: error: " << flag << " " << name << ": the " << name
              << " backend is not built yet (available: " << list << ")\n";
    return 1;
  }
  std::cerr << "soma: error: " << flag << ": unknown backend '" << name << "' (available: " << list
            << ")\n";
  return 2;
}

// A session for the options, with the --feed files loaded; nullopt (and a message) on error.
std::unique_ptr<script::Session> make_session(const Options& o, bool quiet, int& status,
                                              std::ostream* out = nullptr) {
  if (!o.backend.empty())
    if ((status = check_backend(o.backend, "--backend")) != 0) return nullptr;
  script::SessionOptions so;
  so.backend = o.backend;
  so.out = out;
  so.tty = !quiet && isatty(STDOUT_FILENO);
  auto s = std::make_unique<script::Session>(so);
  for (const auto& [name, path] : o.feeds) {
    try {
      s->set_feed(name, load_npy(path), path);
    } catch (const Error& e) {
      std::cerr << "soma: error: --feed " << name << "=" << path << ": " << e.what() << "\n";
      status = 1;
      return nullptr;
    }
  }
  return s;
}

bool read_script(const std::string& path, std::string& text) {
  try {
    text = read_file(path, "script", script::kMaxScriptBytes);
  } catch (const IOError& e) {
    std::cerr << "soma: error: " << e.what() << "\n";
    return false;
  }
  return true;
}

// Runs the whole file; false (after reporting) on an error.
bool run_script(script::Session& s, const std::string& path) {
  std::string text;
  if (!read_script(path, text)) return false;
  try {
    s.run(std::make_shared<const script::Source>(path, text));
  } catch (const script::QuitRequest& q) {
    s.set_exit_status(q.status);
  } catch (...) {
    s.out().flush();
    script::report_exception(std::cerr);
    return false;
  }
  s.out().flush();
  return true;
}

void warn_unused_feeds(script::Session& s, const std::string& file) {
  for (const std::string& n : s.unused_feeds())
    std::cerr << file << ": warning: --feed " << n << ": the script declares no input(\"" << n
              << "\", ...)\n";
}

// The tensor a bench/emit NAME refers to (default: the last assigned variable).
bool target(script::Session& s, const Options& o, Tensor& t, std::string& name) {
  name = o.name.empty() ? s.last_assigned() : o.name;
  if (name.empty()) {
    std::cerr << o.file << ": error: the script assigns no variable to "
              << (o.mode == Mode::Bench ? "bench" : "emit") << "\n";
    return false;
  }
  std::optional<script::Value> v;
  for (const std::string& n : s.var_names())
    if (n == name) v = s.lookup(n);
  if (!v) {
    std::string vars;
    for (const std::string& n : s.var_names()) vars += (vars.empty() ? "" : ", ") + n;
    std::cerr << o.file << ": error: no variable '" << name << "' in the script"
              << (vars.empty() ? "" : " (its variables: " + vars + ")") << "\n";
    return false;
  }
  try {
    if (!v->is_tensor() && !v->is_array() && !v->is_number() && !v->is_list()) {
      std::cerr << o.file << ": error: '" << name << "' is a " << v->type_name()
                << ", not a tensor\n";
      return false;
    }
    t = s.to_tensor(*v, {}, name);
  } catch (...) {
    script::report_exception(std::cerr);
    return false;
  }
  return true;
}

}  // namespace

int cmd_run(const Options& o) {
  if (o.file.size() > 5 && o.file.compare(o.file.size() - 5, 5, ".onnx") == 0) {
    std::cerr << "soma: error: " << o.file << ": ONNX import is not built yet\n";
    return 1;
  }
  int status = 0;
  auto s = make_session(o, false, status);
  if (!s) return status;
  if (!run_script(*s, o.file)) return 1;
  warn_unused_feeds(*s, o.file);
  for (const auto& [name, path] : o.fetches) {
    bool is_var = false;
    for (const std::string& n : s->var_names()) is_var = is_var || n == name;
    if (!is_var) {
      std::string vars;
      for (const std::string& n : s->var_names()) vars += (vars.empty() ? "" : ", ") + n;
      std::cerr << o.file << ": error: --fetch " << name << ": the script has no variable '" << name
                << "'" << (vars.empty() ? "" : " (its variables: " + vars + ")") << "\n";
      return 1;
    }
    try {
      Array a = s->to_array(*s->lookup(name), {}, "--fetch " + name);
      save_npy(path, a);
    } catch (const script::ScriptError& e) {
      std::cerr << o.file << ": error: --fetch " << name << ": " << e.message() << "\n";
      for (const auto& n : e.notes()) std::cerr << script::format_diagnostic(n);
      return 1;
    } catch (const Error& e) {
      std::cerr << o.file << ": error: --fetch " << name << ": " << e.what() << "\n";
      return 1;
    }
  }
  return s->exit_status();
}

int cmd_bench(const Options& o) {
  for (const std::string& b : o.backends)
    if (int st = check_backend(b, "--backends")) return st;
  NullBuffer null;
  std::ostream quiet(&null);
  int status = 0;
  auto s = make_session(o, true, status, &quiet);
  if (!s) return status;
  if (!run_script(*s, o.file)) return 1;
  Tensor t;
  std::string name;
  if (!target(*s, o, t, name)) return 1;
  script::BenchOptions bo;
  bo.backends = o.backends;
  bo.runs = o.runs;
  bo.warmup = o.warmup;
  std::vector<script::BenchResult> results;
  try {
    results = script::bench(*s, t, name, bo, {});
  } catch (...) {
    script::report_exception(std::cerr);
    return 1;
  }
  bool failed = false;
  if (o.json) {
    for (const auto& r : results) std::cout << script::bench_json(r) << "\n";
  } else {
    std::cout << script::bench_table(results, bo);
  }
  for (const auto& r : results)
    if (!r.error.empty()) {
      std::cerr << o.file << ": error: bench " << name << " on " << r.backend << ": " << r.error
                << "\n";
      failed = true;
    }
  std::cout.flush();
  return failed ? 1 : 0;
}

// `soma emit STAGE FILE.kir`: a kernel program (a SOMA_DUMP_DIR dump) replayed through the
// stages after lowering.
int emit_kernel_file(const Options& o) {
  try {
    kir::Program p = kir::parse_program(read_file(o.file, "kernel program"));
    CompileOptions co;
    co.backend = o.backend;
    std::string text = script::emit_program_stage(o.stage, p, co);
    std::cout << text;
    if (!text.empty() && text.back() != '\n') std::cout << "\n";
  } catch (const ParseError& e) {
    std::cerr << o.file << ":" << e.line() << ":" << e.col() << ": error: " << e.bare_message()
              << "\n";
    return 1;
  } catch (const Error& e) {
    std::cerr << o.file << ": error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

int cmd_emit(const Options& o) {
  if (o.file.size() > 4 && o.file.compare(o.file.size() - 4, 4, ".kir") == 0)
    return emit_kernel_file(o);
  NullBuffer null;
  std::ostream quiet(&null);
  int status = 0;
  auto s = make_session(o, true, status, &quiet);
  if (!s) return status;
  if (!run_script(*s, o.file)) return 1;
  Tensor t;
  std::string name;
  if (!target(*s, o, t, name)) return 1;
  try {
    CompileOptions co;
    co.backend = s->backend();
    std::string text = script::emit_stage(o.stage, t, co);
    std::cout << text;
    if (!text.empty() && text.back() != '\n') std::cout << "\n";
  } catch (const Error& e) {
    std::cerr << o.file << ": error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

int cmd_repl(const Options& o) {
  int status = 0;
  bool interactive = isatty(STDIN_FILENO) != 0;
  auto s = make_session(o, !interactive, status);
  if (!s) return status;
  if (interactive) {
    std::string banner = std::string("soma ") + SOMA_VERSION + " (backend " + s->backend() +
                         "). :help for help, :quit or Ctrl-D to leave.\n";
    return run_interactive(*s, banner);
  }
  std::stringstream ss;
  ss << std::cin.rdbuf();
  return script::run_batch(*s, "<stdin>", ss.str(), std::cerr);
}

}  // namespace soma::tool
