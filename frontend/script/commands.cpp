#include "frontend/script/commands.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include "backends/backend.h"
#include "frontend/script/bench.h"
#include "frontend/script/builtins.h"
#include "frontend/script/parser.h"
#include "frontend/script/session.h"
#include "frontend/script/stages.h"
#include "graph/dot.h"
#include "runtime/file_io.h"

extern char** environ;

namespace soma::script {

namespace {

// A command's argument text with its position in the source, so that an expression in it is
// parsed with the source's locations.
struct Args {
  Session& session;
  Location loc;      // the ':' of the command
  std::string text;  // everything after the command name, trimmed
  size_t offset;     // text's offset in loc.source->text()

  bool empty() const { return text.empty(); }
  Location at(size_t i) const {
    return Location{loc.source, loc.line, loc.col + static_cast<int>(i - base())};
  }
  size_t base() const { return loc.source->offset(loc.line, loc.col); }
  // The first word and the rest.
  std::pair<std::string, Args> split() const {
    size_t e = text.find_first_of(" \t");
    std::string word = text.substr(0, e);
    if (e == std::string::npos) return {word, Args{session, loc, "", offset + text.size()}};
    size_t b = text.find_first_not_of(" \t", e);
    return {word, Args{session, loc, text.substr(b), offset + b}};
  }
  // The text minus its last word (for ":dot EXPR FILE"), and that word.
  std::pair<Args, std::string> split_last() const {
    size_t e = text.find_last_of(" \t");
    if (e == std::string::npos) return {Args{session, loc, "", offset}, text};
    size_t end = text.find_last_not_of(" \t", e);
    return {Args{session, loc, text.substr(0, end + 1), offset}, text.substr(e + 1)};
  }
  Value eval() const {
    ExprPtr e = parse_expression(loc.source, offset, offset + text.size());
    return session.eval(*e);
  }
  // The tensor named by the argument (default: the last assigned variable).
  std::pair<Tensor, std::string> tensor(const std::string& command) const {
    std::string name = text;
    Value v;
    Location where = empty() ? loc : at(offset);
    if (empty()) {
      name = session.last_assigned();
      if (name.empty())
        throw ScriptError(loc, ":" + command + " needs a name (no variable is assigned yet)");
      v = session.lookup_or_fail(name, loc);
    } else {
      v = eval();
    }
    if (v.is_tensor()) return {v.as_tensor(), name};
    if (v.is_array() || v.is_number() || v.is_list())
      return {session.to_tensor(v, where, ":" + command), name};
    throw ScriptError(
        where, ":" + command + " needs a tensor expression; '" + name + "' is a " + v.type_name());
  }
};

void help(Args& a);

std::string stage_names() {
  std::string s;
  for (const EmitStage& st : emit_stages()) s += (s.empty() ? "" : ", ") + st.name;
  return s;
}

void cmd_backend(Args& a) {
  Session& s = a.session;
  if (a.empty()) {
    std::string list;
    for (const std::string& n : backend_names()) list += (list.empty() ? "" : ", ") + n;
    s.out() << "backend: " << s.backend() << " (available: " << list << ")\n";
    return;
  }
  try {
    s.set_backend(a.text);
  } catch (const Error& e) {
    throw ScriptError(a.at(a.offset), e.what());
  }
}

void cmd_emit(Args& a) {
  auto [stage, rest] = a.split();
  if (stage.empty())
    throw ScriptError(a.loc, "usage: :emit STAGE [NAME]; the stages are: " + stage_names());
  bool known = false;
  for (const EmitStage& st : emit_stages()) known = known || st.name == stage;
  if (!known)
    throw ScriptError(a.at(a.offset),
                      "unknown stage '" + stage + "'; the stages are: " + stage_names());
  auto [t, name] = rest.tensor("emit");
  CompileOptions o;
  o.backend = a.session.backend();
  std::string text;
  try {
    text = emit_stage(stage, t, o);
  } catch (const Error& e) {
    throw ScriptError(a.at(a.offset), e.what());
  }
  a.session.out() << text;
  if (!text.empty() && text.back() != '\n') a.session.out() << "\n";
}

std::string fmt_ms(double ms) {
  char buf[64];
  if (ms >= 1000)
    std::snprintf(buf, sizeof buf, "%.3f s", ms / 1000);
  else
    std::snprintf(buf, sizeof buf, "%.3f ms", ms);
  return buf;
}

void cmd_time(Args& a) {
  Session& s = a.session;
  if (a.empty()) throw ScriptError(a.loc, "usage: :time EXPR (e.g. :time loss)");
  auto t0 = std::chrono::steady_clock::now();
  Value v = a.eval();
  double eval_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!v.is_tensor()) {
    s.out() << "evaluated in " << fmt_ms(eval_ms) << "\n";
    std::string r = s.repr(v, a.at(a.offset));
    if (!r.empty()) s.out() << r << "\n";
    return;
  }
  Location at = a.at(a.offset);
  Session::CompileStats st;
  const Compiled& c = s.compiled({v.as_tensor()}, {}, at, "", &st);
  Feeds feeds = s.feeds_for(c, at);
  auto r0 = std::chrono::steady_clock::now();
  try {
    c.run(feeds);
  } catch (const Error& e) {
    throw ScriptError(at, e.what());
  }
  double run_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - r0).count();
  s.out() << "backend  " << c.backend() << "\n";
  s.out() << "compile  "
          << (st.cached ? "cached (took " + fmt_ms(st.compile_ms) + ")" : fmt_ms(st.compile_ms))
          << "\n";
  s.out() << "run      " << fmt_ms(run_ms) << "\n";
}

void cmd_bench(Args& a) {
  auto [t, name] = a.tensor("bench");
  BenchOptions o;
  std::vector<BenchResult> r = bench(a.session, t, name, o, a.empty() ? a.loc : a.at(a.offset));
  a.session.out() << bench_table(r, o);
}

bool program_on_path(const std::string& prog) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) dir = ".";
    if (access((dir + "/" + prog).c_str(), X_OK) == 0) return true;
  }
  return false;
}

void cmd_dot(Args& a) {
  Session& s = a.session;
  if (a.empty()) throw ScriptError(a.loc, "usage: :dot NAME [FILE.dot|FILE.svg|FILE.png]");
  auto [expr_args, last] = a.split_last();
  std::string file;
  for (const char* ext : {".dot", ".gv", ".svg", ".png", ".pdf"}) {
    size_t n = std::strlen(ext);
    if (!expr_args.empty() && last.size() > n && last.compare(last.size() - n, n, ext) == 0)
      file = last;
  }
  auto [t, name] = (file.empty() ? a : expr_args).tensor("dot");
  std::vector<NodeId> map;
  Graph g = extract(t.context().graph(), {t.id()}, &map);
  std::string text = to_dot(g, {map[static_cast<size_t>(t.id())]});
  if (file.empty()) {
    s.out() << text;
    return;
  }
  Location at = a.at(a.offset + a.text.size() - file.size());
  std::string ext = file.substr(file.rfind('.') + 1);
  if (ext == "dot" || ext == "gv") {
    try {
      write_file_atomic(file, text, "graph");
    } catch (const IOError& e) {
      throw ScriptError(at, e.what());
    }
    s.out() << "wrote " << file << "\n";
    return;
  }
  if (!program_on_path("dot"))
    throw ScriptError(at, "rendering ." + ext +
                              " needs Graphviz's `dot` program, which is not installed (apt-get "
                              "install graphviz); or write a .dot file");
  std::string tmp = file + ".tmp.dot";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    if (!out) throw ScriptError(at, "cannot write '" + tmp + "': " + std::strerror(errno));
  }
  std::string fmt = "-T" + ext, outflag = "-o" + file;
  std::vector<char*> argv = {const_cast<char*>("dot"), fmt.data(), tmp.data(), outflag.data(),
                             nullptr};
  pid_t pid;
  int rc = posix_spawnp(&pid, "dot", nullptr, nullptr, argv.data(), environ);
  int status = 0;
  if (rc == 0) waitpid(pid, &status, 0);
  std::remove(tmp.c_str());
  if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw ScriptError(at, "dot failed to render '" + file + "'");
  s.out() << "wrote " << file << "\n";
}

void cmd_vars(Args& a) {
  Session& s = a.session;
  std::vector<std::array<std::string, 3>> rows;
  for (const std::string& name : s.var_names()) {
    Value v = *s.lookup(name);
    std::string kind = v.type_name(), what;
    if (v.is_tensor()) {
      const Tensor& t = v.as_tensor();
      if (t.context_ptr() != s.context()) continue;
      Op op = t.node().op;
      kind = op == Op::Input ? "input" : op == Op::Param ? "param" : "tensor";
      what = t.type().str();
      if (op == Op::Input || op == Op::Param) what += "  '" + t.node().attrs.get_str("name") + "'";
    } else if (v.is_array()) {
      what = v.as_array().type_str();
    } else if (v.is_list()) {
      what = std::to_string(v.as_list().size()) + " items";
    } else {
      what = s.repr(v, a.loc);
      if (what.size() > 60) what = what.substr(0, 57) + "...";
    }
    rows.push_back({name, kind, what});
  }
  if (rows.empty()) {
    s.out() << "(no variables)\n";
    return;
  }
  size_t w0 = 0, w1 = 0;
  for (auto& r : rows) {
    w0 = std::max(w0, r[0].size());
    w1 = std::max(w1, r[1].size());
  }
  for (auto& r : rows)
    s.out() << r[0] << std::string(w0 - r[0].size() + 2, ' ') << r[1]
            << std::string(w1 - r[1].size() + 2, ' ') << r[2] << "\n";
}

void cmd_load(Args& a) {
  if (a.empty()) throw ScriptError(a.loc, "usage: :load FILE.soma");
  std::string path = a.text;
  if (path.size() >= 2 && (path[0] == '"' || path[0] == '\'') && path.back() == path[0])
    path = path.substr(1, path.size() - 2);
  a.session.run_file(path, a.at(a.offset));
}

void cmd_reset(Args& a) {
  a.session.reset();
  a.session.out() << "session reset\n";
}

void cmd_quit(Args&) {
  throw QuitRequest();
}

struct Command {
  CommandInfo info;
  std::vector<std::string> aliases;
  std::function<void(Args&)> run;
};

const std::vector<Command>& commands() {
  static const std::vector<Command> c = {
      {{"help", ":help [NAME]", "this help, or the help of a built-in, command or stage"},
       {"h", "?"},
       help},
      {{"backend", ":backend [NAME]", "show or set the backend tensors are computed on"},
       {},
       cmd_backend},
      {{"emit", ":emit STAGE [NAME]", "print a compilation stage of a tensor: " + stage_names()},
       {},
       cmd_emit},
      {{"time", ":time EXPR", "compile and run times of a tensor (or how long EXPR takes)"},
       {},
       cmd_time},
      {{"bench", ":bench [NAME]", "compile and run times on every backend, side by side"},
       {},
       cmd_bench},
      {{"dot", ":dot NAME [FILE]", "the graph as Graphviz (.dot; .svg/.png/.pdf need `dot`)"},
       {},
       cmd_dot},
      {{"vars", ":vars", "the variables and their types"}, {}, cmd_vars},
      {{"load", ":load FILE", "run a script file in this session"}, {}, cmd_load},
      {{"reset", ":reset", "forget every variable, tensor and parameter"}, {}, cmd_reset},
      {{"quit", ":quit", "leave (also Ctrl-D)"}, {"q", "exit"}, cmd_quit},
  };
  return c;
}

// The help of method `name` of the objects the session's variables hold, else of a model's and
// a layer's (made in a scratch session, so that nothing of the user's changes): "" if none.
std::string method_help(Session& s, const std::string& name) {
  auto of = [&](const Value& v, const std::string& shown) -> std::string {
    if (!v.is_object()) return "";
    auto m = v.as_object()->attr(name);
    if (!m || !m->is_function()) return "";
    return shown + "." + m->as_function()->signature + "\n    " + m->as_function()->doc + "\n";
  };
  for (const std::string& var : s.var_names())
    if (auto v = s.lookup(var))
      if (std::string h = of(*v, var); !h.empty()) return h;
  SessionOptions o;
  std::ostringstream sink;
  o.out = o.err = &sink;
  o.backend = "interp";
  Session scratch(o);
  for (const char* proto : {"Sequential()", "Dense(1)"}) {
    try {
      auto source = std::make_shared<const Source>("<help>", std::string("p = ") + proto);
      scratch.run(source);
      if (auto v = scratch.lookup("p"))
        if (std::string h = of(*v, std::string(proto).substr(0, std::string(proto).find('(')));
            !h.empty())
          return h;
    } catch (...) {
    }
  }
  return "";
}

void help(Args& a) {
  Session& s = a.session;
  std::ostream& out = s.out();
  if (!a.empty()) {
    std::string name = a.text;
    const bool command_only = !name.empty() && name[0] == ':';
    if (command_only) name = name.substr(1);
    // Every kind of thing the name is: a command, a built-in, a stage, a variable, a method.
    bool found = false;
    for (const Command& c : commands()) {
      bool match = c.info.name == name;
      for (const std::string& alias : c.aliases) match = match || alias == name;
      if (match) {
        out << c.info.usage << "\n    " << c.info.help << "\n";
        found = true;
      }
    }
    if (command_only) {
      if (found) return;
      throw ScriptError(a.at(a.offset), "no command ':" + name + "' (:help lists them)");
    }
    if (FunctionPtr f = find_builtin(name)) {
      out << f->signature << "\n    " << f->doc << "\n";
      for (const auto& [n, m] : f->attrs)
        out << f->name << "." << m->signature << "\n    " << m->doc << "\n";
      found = true;
    }
    for (const EmitStage& st : emit_stages())
      if (st.name == name) {
        out << "stage " << st.name << " (:emit " << st.name << "): " << st.description << "\n";
        found = true;
      }
    if (auto v = s.lookup(name); v && !(v->is_function() && find_builtin(name))) {
      found = true;
      if (v->is_object()) {
        out << v->as_object()->repr() << "\n";
        std::vector<std::string> settable = v->as_object()->settable_attrs();
        for (const std::string& attr : v->as_object()->attr_names()) {
          auto av = v->as_object()->attr(attr);
          if (av && av->is_function())
            out << "  ." << av->as_function()->signature << "\n      " << av->as_function()->doc
                << "\n";
          else
            out << "  ." << attr
                << (std::count(settable.begin(), settable.end(), attr) ? " (settable)" : "")
                << "\n";
        }
      } else if (v->is_function()) {
        out << v->as_function()->signature << "\n    " << v->as_function()->doc << "\n";
      } else {
        out << name << ": " << v->type_name() << "\n";
      }
    }
    if (!found) {
      if (std::string h = method_help(s, name); !h.empty()) {
        out << h;
        found = true;
      }
    }
    if (found) return;
    throw ScriptError(a.at(a.offset), "no help for '" + name + "'");
  }
  out << "soma script: Python-like expressions over symbolic tensors (numpy/PyTorch names).\n"
         "  x = input(\"x\", [2, 3])      w = param(\"w\", [3, 1], init=\"zeros\")\n"
         "  y = sigmoid(x @ w)           gw = grad(mean(y), w)      print(y)\n"
         "  for i in range(100): w -= 0.1 * gw\n"
         "\ncommands:\n";
  for (const Command& c : commands()) {
    std::string u = c.info.usage;
    out << "  " << u << std::string(u.size() < 22 ? 22 - u.size() : 1, ' ') << c.info.help << "\n";
  }
  out << "\nbuilt-ins (:help NAME for one):\n";
  std::string line = " ";
  for (const auto& [name, f] : builtins()) {
    if (line.size() + name.size() + 1 > 78) {
      out << line << "\n";
      line = " ";
    }
    line += " " + name;
  }
  out << line << "\n";
}

}  // namespace

const std::vector<CommandInfo>& command_infos() {
  static const std::vector<CommandInfo> infos = [] {
    std::vector<CommandInfo> out;
    for (const Command& c : commands()) out.push_back(c.info);
    return out;
  }();
  return infos;
}

void run_command(Session& session, const std::string& text, const Location& loc) {
  size_t base = loc.source->offset(loc.line, loc.col) + 1;  // after ':'
  size_t b = text.find_first_not_of(" \t");
  if (b == std::string::npos) throw ScriptError(loc, "empty command; try :help");
  size_t e = text.find_first_of(" \t", b);
  std::string name = text.substr(b, e == std::string::npos ? std::string::npos : e - b);
  size_t ab = e == std::string::npos ? text.size() : text.find_first_not_of(" \t", e);
  if (ab == std::string::npos) ab = text.size();
  Args args{session, loc, text.substr(ab), base + ab};
  for (const Command& c : commands()) {
    bool match = c.info.name == name;
    for (const std::string& al : c.aliases) match = match || al == name;
    if (!match) continue;
    c.run(args);
    session.out().flush();
    return;
  }
  std::string names;
  for (const Command& c : commands()) names += (names.empty() ? ":" : ", :") + c.info.name;
  throw ScriptError(loc, "unknown command ':" + name + "' (commands: " + names + ")");
}

}  // namespace soma::script
