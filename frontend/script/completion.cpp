#include "frontend/script/completion.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "backends/backend.h"
#include "frontend/script/builtins.h"
#include "frontend/script/commands.h"
#include "frontend/script/lexer.h"
#include "frontend/script/session.h"
#include "frontend/script/stages.h"

namespace soma::script {

namespace {

bool ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

void add_matching(std::set<std::string>& out, const std::string& prefix,
                  const std::vector<std::string>& names) {
  for (const std::string& n : names)
    if (n.compare(0, prefix.size(), prefix) == 0) out.insert(n);
}

// File names starting with `prefix` (a path); folders get a trailing '/'.
std::vector<std::string> files(const std::string& prefix) {
  size_t slash = prefix.rfind('/');
  std::string dir = slash == std::string::npos ? "." : prefix.substr(0, slash + 1);
  std::string head = slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? prefix : prefix.substr(slash + 1);
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (n.compare(0, base.size(), base) != 0) continue;
    if (n[0] == '.' && (base.empty() || base[0] != '.')) continue;
    struct stat st;
    bool is_dir = stat((dir + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    out.push_back(head + n + (is_dir ? "/" : ""));
  }
  closedir(d);
  return out;
}

// Whether position `end` of the line is inside a string literal (and where it starts).
bool in_string(const std::string& line, size_t& start) {
  char q = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (q) {
      if (c == '\\') {
        ++i;
        continue;
      }
      if (c == q) q = 0;
    } else if (c == '"' || c == '\'') {
      q = c;
      start = i + 1;
    } else if (c == '#') {
      return false;
    }
  }
  return q != 0;
}

}  // namespace

std::string common_prefix(const std::vector<std::string>& items) {
  if (items.empty()) return "";
  std::string p = items[0];
  for (const std::string& s : items) {
    size_t n = 0;
    while (n < p.size() && n < s.size() && p[n] == s[n]) ++n;
    p.resize(n);
  }
  return p;
}

Completion complete(const Session& session, const std::string& line) {
  Completion c;
  std::set<std::string> items;
  size_t first = line.find_first_not_of(" \t");
  // ':' commands and their arguments.
  if (first != std::string::npos && line[first] == ':') {
    std::string rest = line.substr(first + 1);
    size_t sp = rest.find_first_of(" \t");
    if (sp == std::string::npos) {
      c.start = first + 1;
      std::vector<std::string> names;
      for (const CommandInfo& ci : command_infos()) names.push_back(ci.name);
      add_matching(items, rest, names);
      c.items.assign(items.begin(), items.end());
      return c;
    }
    std::string cmd = rest.substr(0, sp);
    size_t arg0 = line.find_first_not_of(" \t", first + 1 + sp);
    if (arg0 == std::string::npos) arg0 = line.size();
    std::string args = line.substr(arg0);
    bool first_arg = args.find_first_of(" \t") == std::string::npos;
    if (cmd == "emit" && first_arg) {
      c.start = arg0;
      std::vector<std::string> names;
      for (const EmitStage& st : emit_stages()) names.push_back(st.name);
      add_matching(items, args, names);
      c.items.assign(items.begin(), items.end());
      return c;
    }
    if (cmd == "backend" && first_arg) {
      c.start = arg0;
      add_matching(items, args, backend_names());
      c.items.assign(items.begin(), items.end());
      return c;
    }
    if (cmd == "load") {
      c.start = arg0;
      c.items = files(args);
      std::sort(c.items.begin(), c.items.end());
      return c;
    }
    if (cmd == "help" && first_arg) {
      c.start = arg0;
      std::vector<std::string> names;
      for (const CommandInfo& ci : command_infos()) names.push_back(ci.name);
      for (const auto& [n, f] : builtins()) names.push_back(n);
      add_matching(items, args, names);
      c.items.assign(items.begin(), items.end());
      return c;
    }
    if (cmd == "dot" && !first_arg) {
      size_t sp2 = line.find_last_of(" \t");
      c.start = sp2 + 1;
      c.items = files(line.substr(c.start));
      std::sort(c.items.begin(), c.items.end());
      return c;
    }
    // Otherwise an expression: complete names below.
  }
  size_t sstart = 0;
  if (in_string(line, sstart)) {
    c.start = sstart;
    c.items = files(line.substr(sstart));
    std::sort(c.items.begin(), c.items.end());
    return c;
  }
  size_t b = line.size();
  while (b > 0 && ident_char(line[b - 1])) --b;
  std::string prefix = line.substr(b);
  c.start = b;
  if (b > 0 && line[b - 1] == '.') {
    // name.attr: the attributes of a variable (never evaluated: only its kind is looked at).
    size_t nb = b - 1;
    while (nb > 0 && ident_char(line[nb - 1])) --nb;
    std::string base = line.substr(nb, b - 1 - nb);
    if (base.empty() || std::isdigit(static_cast<unsigned char>(base[0]))) return c;
    auto v = session.lookup(base);
    if (!v) return c;
    std::vector<std::string> names;
    if (v->is_object()) {
      names = v->as_object()->attr_names();
    } else if (v->is_tensor() || v->is_array()) {
      names = {"shape",   "dtype",     "ndim",    "size",    "T",           "item",   "numpy",
               "astype",  "sum",       "mean",    "max",     "min",         "argmax", "argmin",
               "reshape", "transpose", "flatten", "squeeze", "unsqueeze",   "clip",   "exp",
               "log",     "sqrt",      "abs",     "softmax", "log_softmax", "var",    "std"};
    } else if (v->is_function()) {
      for (const auto& [n, f] : v->as_function()->attrs) names.push_back(n);
    }
    add_matching(items, prefix, names);
    c.items.assign(items.begin(), items.end());
    return c;
  }
  if (prefix.empty() || std::isdigit(static_cast<unsigned char>(prefix[0]))) return c;
  add_matching(items, prefix, session.var_names());
  std::vector<std::string> names;
  for (const auto& [n, f] : builtins()) names.push_back(n);
  for (const char* kw : {"True", "False", "None", "for", "in", "and", "or", "not"})
    names.push_back(kw);
  add_matching(items, prefix, names);
  c.items.assign(items.begin(), items.end());
  return c;
}

}  // namespace soma::script
