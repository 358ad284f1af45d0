#include "frontend/script/ast.h"

#include <charconv>

namespace soma::script {

namespace {

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "'";
}

std::string float_text(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // n: inf/nan
  return s;
}

std::string join(const std::vector<ExprPtr>& items, size_t from) {
  std::string out;
  for (size_t i = from; i < items.size(); ++i) {
    if (i > from) out += ", ";
    out += items[i] ? to_string(*items[i]) : "";
  }
  return out;
}

}  // namespace

std::string to_string(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Name:
      return e.text;
    case ExprKind::Int:
      return std::to_string(e.int_value);
    case ExprKind::Float:
      return float_text(e.float_value);
    case ExprKind::String:
      return quote(e.text);
    case ExprKind::Bool:
      return e.int_value ? "True" : "False";
    case ExprKind::None:
      return "None";
    case ExprKind::Ellipsis:
      return "...";
    case ExprKind::List:
      return std::string("[").append(join(e.items, 0)) + "]";
    case ExprKind::Unary:
      return "(" + e.text + (e.text == "not" ? " " : "") + to_string(*e.items[0]) + ")";
    case ExprKind::Binary:
      return std::string("(").append(to_string(*e.items[0])) + " " + e.text + " " +
             to_string(*e.items[1]) + ")";
    case ExprKind::Call: {
      std::string out = to_string(*e.items[0]) + "(" + join(e.items, 1);
      for (size_t i = 0; i < e.keywords.size(); ++i) {
        if (i > 0 || e.items.size() > 1) out += ", ";
        out += e.keywords[i].name + "=" + to_string(*e.keywords[i].value);
      }
      return out + ")";
    }
    case ExprKind::Attr:
      return to_string(*e.items[0]) + "." + e.text;
    case ExprKind::IfElse:
      return "(" + to_string(*e.items[0]) + " if " + to_string(*e.items[1]) + " else " +
             to_string(*e.items[2]) + ")";
    case ExprKind::Index:
      return to_string(*e.items[0]) + "[" + join(e.items, 1) + "]";
    case ExprKind::Slice: {
      std::string out = (e.items[0] ? to_string(*e.items[0]) : "") + ":" +
                        (e.items[1] ? to_string(*e.items[1]) : "");
      if (e.items[2]) out.append(":").append(to_string(*e.items[2]));
      return out;
    }
  }
  return "?";
}

std::string to_string(const Stmt& s) {
  auto targets = [&] {
    std::string out;
    for (size_t i = 0; i < s.targets.size(); ++i)
      out += (i ? ", " : "") +
             (s.targets[i].object ? to_string(*s.targets[i].object) + "." : std::string()) +
             s.targets[i].name;
    return out;
  };
  switch (s.kind) {
    case StmtKind::Expr:
      return to_string(*s.value);
    case StmtKind::Assign:
      return targets() + " = " + to_string(*s.value);
    case StmtKind::AugAssign:
      return targets() + " " + s.text + "= " + to_string(*s.value);
    case StmtKind::Return:
      return s.value ? "return " + to_string(*s.value) : "return";
    case StmtKind::Def: {
      std::string out = "def " + s.def->name + "(";
      for (size_t i = 0; i < s.def->params.size(); ++i) {
        out += (i ? ", " : "") + s.def->params[i].name;
        if (s.def->defaults[i]) out += "=" + to_string(*s.def->defaults[i]);
      }
      out += "):";
      for (const StmtPtr& b : s.def->body) out += " " + to_string(*b) + ";";
      return out;
    }
    case StmtKind::For: {
      std::string out = "for " + targets() + " in " + to_string(*s.value) + ":";
      for (const StmtPtr& b : s.body) out += " { " + to_string(*b) + " }";
      return out;
    }
    case StmtKind::Command:
      return ":" + s.text;
    case StmtKind::If:
    case StmtKind::While: {
      std::string out = (s.kind == StmtKind::If ? "if " : "while ") + to_string(*s.value) + ":";
      for (const StmtPtr& b : s.body) out += " { " + to_string(*b) + " }";
      if (!s.orelse.empty()) {
        out += " else:";
        for (const StmtPtr& b : s.orelse) out += " { " + to_string(*b) + " }";
      }
      return out;
    }
    case StmtKind::Break:
      return "break";
    case StmtKind::Continue:
      return "continue";
  }
  return "?";
}

}  // namespace soma::script
