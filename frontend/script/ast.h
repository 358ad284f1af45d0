// The syntax tree of the script language. Every node keeps the Location that errors about it
// point at: the operator of a binary expression, the '(' of a call, the '[' of an index, the
// first token otherwise.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "frontend/script/source.h"

namespace soma::script {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  Name,      // text
  Int,       // int_value
  Float,     // float_value
  String,    // text
  Bool,      // int_value 0/1
  None,      //
  Ellipsis,  // `...` (in an index)
  List,      // items; `(a, b)` tuples are lists too
  Unary,     // text: "-", "+", "~", "not"; items[0]
  Binary,    // text: operator ("+", "@", "<", "and", ...); items[0], items[1]
  Call,      // items[0] the callee, then positional args; keywords
  Attr,      // items[0] . text
  Index,     // items[0] [ items[1..] ]
  Slice,     // inside an Index: items[0..2] start, stop, step (each may be null)
  IfElse,    // items[0] if items[1] else items[2]
};

struct Keyword {
  std::string name;
  Location loc;
  ExprPtr value;
};

struct Expr {
  ExprKind kind;
  Location loc;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
  std::vector<ExprPtr> items;  // children; null entries only in Slice
  std::vector<Keyword> keywords;
  int height = 1;  // of the tree under this node (the parser caps it: kMaxExprHeight)
};

// The tallest expression tree a statement may hold (a 20,000-term sum, or x[:] ten thousand times
// in one expression, is an error, not a stack overflow in the evaluator).
constexpr int kMaxExprHeight = 1000;

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;

enum class StmtKind {
  Expr,       // a bare expression (the REPL prints its value)
  Assign,     // targets = value  (one target, or several to unpack a list)
  AugAssign,  // targets[0] op= value  (text: "+", "-", "*", "/", "@")
  For,        // for targets[0] in value: body
  Command,    // :text
  Def,        // def: a function (see FunctionDef)
  Return,     // return [value]
  If,         // if value: body else: orelse (an elif is an If alone in orelse)
  While,      // while value: body
  Break,      // break
  Continue,   // continue
};

// A name, or an object's attribute (`model.optimizer.learning_rate`: object is
// `model.optimizer`, name "learning_rate").
struct Target {
  std::string name;
  Location loc;
  std::shared_ptr<const Expr> object;  // null for a plain name
};

// def name(params...): body. Shared: the function value it makes outlives the statement.
struct FunctionDef {
  std::string name;
  Location loc;
  std::vector<Target> params;
  std::vector<ExprPtr> defaults;  // per parameter; null for none (required)
  std::vector<StmtPtr> body;
};

struct Stmt {
  StmtKind kind;
  Location loc;
  std::vector<Target> targets;
  ExprPtr value;  // null for a bare `return`
  std::string text;
  std::vector<StmtPtr> body;
  std::vector<StmtPtr> orelse;
  std::shared_ptr<const FunctionDef> def;
};

// Canonical text of the tree, for tests: fully parenthesized, e.g. `(x @ w) + b`,
// `sum(x, axis=1)`, `x[:, 1:3]`.
std::string to_string(const Expr& e);
std::string to_string(const Stmt& s);

}  // namespace soma::script
