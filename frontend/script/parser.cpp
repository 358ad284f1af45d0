#include "frontend/script/parser.h"

#include <algorithm>
#include <set>

#include "frontend/script/lexer.h"

namespace soma::script {

namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  std::vector<StmtPtr> program() {
    std::vector<StmtPtr> out;
    while (peek().kind != Tok::End) {
      if (peek().kind == Tok::Newline) {
        next();
        continue;
      }
      if (peek().kind == Tok::Indent) fail(peek().loc, "unexpected indent");
      if (peek().kind == Tok::Dedent) {  // only after an indent error; be safe
        next();
        continue;
      }
      statement(out);
    }
    return out;
  }

  ExprPtr expression_only() {
    ExprPtr e = exprlist();
    if (peek().kind != Tok::Newline && peek().kind != Tok::End)
      fail(peek().loc, "unexpected " + describe(peek()) + " after the expression");
    return e;
  }

 private:
  const Token& peek(size_t k = 0) const {
    size_t i = std::min(pos_ + k, t_.size() - 1);
    return t_[i];
  }
  const Token& next() {
    const Token& t = t_[pos_];
    if (pos_ + 1 < t_.size()) ++pos_;
    return t;
  }
  bool is_op(const char* op, size_t k = 0) const {
    return peek(k).kind == Tok::Op && peek(k).text == op;
  }
  bool is_name(const char* name) const { return peek().kind == Tok::Name && peek().text == name; }
  bool accept(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(const Location& loc, const std::string& msg) {
    throw ScriptError(loc, msg);
  }
  const Token& expect(const char* op, const std::string& what) {
    if (!is_op(op))
      fail(peek().loc, "expected '" + std::string(op) + "' " + what + ", got " + describe(peek()));
    return next();
  }

  // ---- statements -------------------------------------------------------------------------

  // Blocks nest by recursion here, in the evaluator and in the tree's destructor: capped.
  struct Nesting {
    Parser& p;
    Nesting(Parser& parser, const Location& loc) : p(parser) {
      if (++p.blocks_ > kMaxBlockDepth)
        p.fail(loc, "blocks (for, while, if) nested too deeply (over " +
                        std::to_string(kMaxBlockDepth) + " levels)");
    }
    ~Nesting() { --p.blocks_; }
  };

  void statement(std::vector<StmtPtr>& out) {
    if (peek().kind == Tok::Command) {
      auto s = std::make_unique<Stmt>();
      s->kind = StmtKind::Command;
      s->loc = peek().loc;
      s->text = next().text;
      end_of_line();
      out.push_back(std::move(s));
      return;
    }
    if (is_name("for")) {
      out.push_back(for_statement());
      return;
    }
    if (is_name("def")) {
      out.push_back(def_statement());
      return;
    }
    if (is_name("if")) {
      out.push_back(if_statement());
      return;
    }
    if (is_name("while")) {
      Nesting nesting(*this, peek().loc);
      auto s = std::make_unique<Stmt>();
      s->kind = StmtKind::While;
      s->loc = next().loc;
      s->value = expr();
      expect(":", "at the end of the while statement");
      ++loops_;
      block(s->body, "while statement");
      --loops_;
      out.push_back(std::move(s));
      return;
    }
    simple_line(out);
  }

  // if/elif: the condition, the block, then an elif (an If alone in orelse) or an else block.
  StmtPtr if_statement() {
    Nesting nesting(*this, peek().loc);
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::If;
    s->loc = next().loc;  // 'if' or 'elif'
    s->value = expr();
    expect(":", "at the end of the if statement");
    block(s->body, "if statement");
    while (peek().kind == Tok::Newline) next();
    if (is_name("elif")) {
      s->orelse.push_back(if_statement());
    } else if (is_name("else")) {
      next();
      expect(":", "after 'else'");
      block(s->orelse, "else");
    }
    return s;
  }

  // The body of a for or def: an indented block on the next lines, or simple statements after
  // the ':' on the same line.
  void block(std::vector<StmtPtr>& body, const std::string& what) {
    if (peek().kind == Tok::Newline) {
      next();
      if (peek().kind != Tok::Indent)
        fail(peek().loc, "expected an indented block after the " + what);
      next();
      while (peek().kind != Tok::Dedent && peek().kind != Tok::End) {
        if (peek().kind == Tok::Newline) {
          next();
          continue;
        }
        if (peek().kind == Tok::Indent) fail(peek().loc, "unexpected indent");
        statement(body);
      }
      if (peek().kind == Tok::Dedent) next();
    } else {
      if (peek().kind == Tok::Command) fail(peek().loc, "a ':' command must be on its own line");
      simple_line(body);
    }
  }

  // def NAME '(' [NAME ['=' expr] (',' NAME ['=' expr])* [',']] ')' ':' block
  StmtPtr def_statement() {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::Def;
    s->loc = next().loc;  // 'def'
    if (in_def_)
      fail(s->loc, "a def inside a function is not supported (define it at the top level)");
    auto d = std::make_shared<FunctionDef>();
    if (peek().kind != Tok::Name || is_keyword(peek().text))
      fail(peek().loc, "expected a function name after 'def', got " + describe(peek()));
    d->name = peek().text;
    d->loc = next().loc;
    expect("(", "after the function name");
    while (!is_op(")")) {
      if (peek().kind != Tok::Name || is_keyword(peek().text))
        fail(peek().loc, "expected a parameter name, got " + describe(peek()));
      Target p{peek().text, peek().loc, nullptr};
      for (const Target& q : d->params)
        if (q.name == p.name) fail(p.loc, "duplicate parameter '" + p.name + "'");
      next();
      ExprPtr def;
      if (accept("=")) {
        def = expr();
      } else if (!d->defaults.empty() && d->defaults.back()) {
        fail(p.loc, "parameter '" + p.name + "' without a default follows one with a default");
      }
      d->params.push_back(std::move(p));
      d->defaults.push_back(std::move(def));
      if (!accept(",")) break;
    }
    expect(")", "to close the parameter list");
    expect(":", "at the end of the def line");
    in_def_ = true;
    int outer_loops = loops_;
    loops_ = 0;  // a loop around the def is not the function's: no break out of it
    struct Leave {
      bool& flag;
      int& loops;
      int saved;
      ~Leave() {
        flag = false;
        loops = saved;
      }
    } leave{in_def_, loops_, outer_loops};
    block(d->body, "def line");
    s->def = std::move(d);
    return s;
  }

  void end_of_line() {
    if (peek().kind == Tok::Newline) {
      next();
      return;
    }
    if (peek().kind == Tok::End || peek().kind == Tok::Dedent) return;
    if (peek().kind == Tok::Op && peek().text == "=")
      fail(peek().loc, "chained assignment (a = b = ...) is not supported");
    fail(peek().loc, "unexpected " + describe(peek()) + " (expected the end of the statement)");
  }

  // simple (';' simple)* [';'] NEWLINE
  void simple_line(std::vector<StmtPtr>& out) {
    while (true) {
      out.push_back(simple());
      if (!accept(";")) break;
      if (peek().kind == Tok::Newline || peek().kind == Tok::End) break;
    }
    end_of_line();
  }

  StmtPtr for_statement() {
    Nesting nesting(*this, peek().loc);
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::For;
    s->loc = next().loc;  // 'for'
    do {
      if (peek().kind != Tok::Name || is_keyword(peek().text))
        fail(peek().loc, "expected a loop variable name after 'for', got " + describe(peek()));
      s->targets.push_back({peek().text, peek().loc, nullptr});
      next();
    } while (accept(","));
    if (!is_name("in"))
      fail(peek().loc, "expected 'in' in the for statement, got " + describe(peek()));
    next();
    s->value = expr();
    expect(":", "at the end of the for statement");
    ++loops_;
    block(s->body, "for statement");
    --loops_;
    return s;
  }

  StmtPtr simple() {
    const Token& first = peek();
    if (first.kind == Tok::Name && (first.text == "break" || first.text == "continue")) {
      if (loops_ == 0) fail(first.loc, "'" + first.text + "' outside a loop");
      auto s = std::make_unique<Stmt>();
      s->kind = first.text == "break" ? StmtKind::Break : StmtKind::Continue;
      s->loc = next().loc;
      return s;
    }
    if (first.kind == Tok::Name && first.text == "return") {
      if (!in_def_) fail(first.loc, "'return' outside a function");
      auto s = std::make_unique<Stmt>();
      s->kind = StmtKind::Return;
      s->loc = next().loc;
      if (peek().kind != Tok::Newline && peek().kind != Tok::End && !is_op(";") &&
          peek().kind != Tok::Dedent)
        s->value = exprlist();
      return s;
    }
    if (first.kind == Tok::Name && is_keyword(first.text) && first.text != "True" &&
        first.text != "False" && first.text != "None" && first.text != "not") {
      if (first.text == "for") fail(first.loc, "a for statement must start its own line");
      if (first.text == "def") fail(first.loc, "a def statement must start its own line");
      if (first.text == "if" || first.text == "while")
        fail(first.loc, "an " + first.text + " statement must start its own line");
      if (first.text == "in" || first.text == "and" || first.text == "or" || first.text == "is" ||
          first.text == "else" || first.text == "elif" || first.text == "as")
        fail(first.loc, "invalid syntax: unexpected '" + first.text + "'");
      fail(first.loc, "'" + first.text +
                          "' is not supported in soma scripts (statements are assignments, "
                          "expressions, if, for, while, def and ':' commands; see :help)");
    }
    auto s = std::make_unique<Stmt>();
    s->loc = first.loc;
    ExprPtr lhs = exprlist();
    if (is_op("=")) {
      Location eq = next().loc;
      s->kind = StmtKind::Assign;
      s->targets = targets_of(lhs, eq);
      if (peek().kind == Tok::Newline || peek().kind == Tok::End || is_op(";"))
        fail(peek().loc, "expected an expression after '='");
      s->value = exprlist();
      return s;
    }
    static const std::set<std::string> aug = {"+=", "-=", "*=", "/=", "@="};
    if (peek().kind == Tok::Op && aug.count(peek().text)) {
      Location op = peek().loc;
      s->kind = StmtKind::AugAssign;
      s->text = next().text.substr(0, 1);
      if (lhs->kind != ExprKind::Name && lhs->kind != ExprKind::Attr)
        fail(lhs->loc, "'" + s->text + "=' needs a variable name or an attribute on its left");
      s->targets = targets_of(lhs, op);
      if (peek().kind == Tok::Newline || peek().kind == Tok::End)
        fail(peek().loc, "expected an expression after '" + s->text + "='");
      s->value = exprlist();
      return s;
    }
    s->kind = StmtKind::Expr;
    s->value = std::move(lhs);
    return s;
  }

  std::vector<Target> targets_of(ExprPtr& lhs, const Location& eq) {
    const Expr& e = *lhs;
    std::vector<Target> out;
    if (e.kind == ExprKind::Name) {
      out.push_back({e.text, e.loc, nullptr});
      return out;
    }
    if (e.kind == ExprKind::Attr) {
      Location loc = e.loc;
      std::string name = e.text;
      out.push_back({name, loc, std::shared_ptr<const Expr>(std::move(lhs->items[0]))});
      return out;
    }
    if (e.kind == ExprKind::List && !e.items.empty()) {
      for (const ExprPtr& item : e.items) {
        if (item->kind != ExprKind::Name)
          fail(item->loc, "cannot assign to " + what_is(*item) + " (unpacking needs names)");
        out.push_back({item->text, item->loc, nullptr});
      }
      return out;
    }
    (void)eq;
    if (e.kind == ExprKind::Call)
      fail(e.loc, "cannot assign to a function call (did you mean '==' ?)");
    fail(e.loc, "cannot assign to " + what_is(e));
  }

  static std::string what_is(const Expr& e) {
    switch (e.kind) {
      case ExprKind::Int:
      case ExprKind::Float:
      case ExprKind::String:
      case ExprKind::Bool:
      case ExprKind::None:
      case ExprKind::Ellipsis:
        return "a literal";
      case ExprKind::Call:
        return "a function call";
      case ExprKind::Attr:
        return "an attribute";
      case ExprKind::Index:
        return "an indexed element (tensors are immutable values)";
      case ExprKind::List:
        return "an empty list";
      default:
        return "an expression";
    }
  }

  // ---- expressions --------------------------------------------------------------------------

  // expr (',' expr)* [','] -> a List when there is a comma (a tuple).
  ExprPtr exprlist() {
    ExprPtr first = expr();
    if (!is_op(",")) return first;
    auto list = node(ExprKind::List, first->loc);
    list->items.push_back(std::move(first));
    while (accept(",")) {
      if (!starts_expression()) break;
      list->items.push_back(expr());
    }
    return sealed(std::move(list));
  }

  bool starts_expression() const {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::Name:
        return !is_keyword(t.text) || t.text == "True" || t.text == "False" || t.text == "None" ||
               t.text == "not";
      case Tok::Int:
      case Tok::Float:
      case Tok::String:
        return true;
      case Tok::Op:
        return t.text == "(" || t.text == "[" || t.text == "-" || t.text == "+" || t.text == "~" ||
               t.text == "...";
      default:
        return false;
    }
  }

  ExprPtr node(ExprKind k, const Location& loc) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->loc = loc;
    return e;
  }

  // Sets a composite node's height from its children's; an expression taller than
  // kMaxExprHeight is an error here, while building it (the evaluator and the tree's destructor
  // recurse over its height).
  ExprPtr sealed(ExprPtr e) {
    int h = 0;
    for (const ExprPtr& c : e->items)
      if (c) h = std::max(h, c->height);
    for (const Keyword& k : e->keywords)
      if (k.value) h = std::max(h, k.value->height);
    e->height = h + 1;
    if (e->height > kMaxExprHeight)
      fail(e->loc, "expression too deep (more than " + std::to_string(kMaxExprHeight) +
                       " nested operations); split it into several statements");
    return e;
  }

  ExprPtr binary(const Token& op, ExprPtr a, ExprPtr b) {
    auto e = node(ExprKind::Binary, op.loc);
    e->text = op.text;
    e->items.push_back(std::move(a));
    e->items.push_back(std::move(b));
    return sealed(std::move(e));
  }

  // Guards against stack overflow on deeply nested input ("((((((...").
  struct Depth {
    Parser& p;
    explicit Depth(Parser& parser, const Location& loc) : p(parser) {
      if (++p.depth_ > 200) p.fail(loc, "expression nested too deeply (over 200 levels)");
    }
    ~Depth() { --p.depth_; }
  };

  // or_test ['if' or_test 'else' expr]
  ExprPtr expr() {
    Depth d(*this, peek().loc);
    ExprPtr e = or_test();
    if (is_name("if")) {
      auto c = std::make_unique<Expr>();
      c->kind = ExprKind::IfElse;
      c->loc = next().loc;
      ExprPtr cond = or_test();
      if (!is_name("else"))
        fail(peek().loc, "expected 'else' in the conditional expression, got " + describe(peek()));
      next();
      ExprPtr other = expr();
      c->height = 1 + std::max({e->height, cond->height, other->height});
      c->items.push_back(std::move(e));
      c->items.push_back(std::move(cond));
      c->items.push_back(std::move(other));
      return c;
    }
    return e;
  }

  ExprPtr or_test() {
    ExprPtr e = and_test();
    while (is_name("or")) {
      Token op = next();
      e = binary(op, std::move(e), and_test());
    }
    return e;
  }

  ExprPtr and_test() {
    ExprPtr e = not_test();
    while (is_name("and")) {
      Token op = next();
      e = binary(op, std::move(e), not_test());
    }
    return e;
  }

  ExprPtr not_test() {
    if (is_name("not")) {
      Depth d(*this, peek().loc);
      auto e = node(ExprKind::Unary, next().loc);
      e->text = "not";
      e->items.push_back(not_test());
      return sealed(std::move(e));
    }
    return comparison();
  }

  static bool is_compare(const Token& t) {
    static const std::set<std::string> ops = {"<", "<=", ">", ">=", "==", "!="};
    return t.kind == Tok::Op && ops.count(t.text);
  }

  ExprPtr comparison() {
    ExprPtr e = bor();
    if (is_compare(peek())) {
      Token op = next();
      e = binary(op, std::move(e), bor());
      if (is_compare(peek()))
        fail(peek().loc,
             "chained comparisons (a < b < c) are not supported; write "
             "(a < b) & (b < c)");
    }
    if (is_name("in") || is_name("is"))
      fail(peek().loc, "'" + peek().text + "' is not supported in expressions");
    return e;
  }

  ExprPtr bor() {
    ExprPtr e = band();
    while (is_op("|")) {
      Token op = next();
      e = binary(op, std::move(e), band());
    }
    return e;
  }

  ExprPtr band() {
    ExprPtr e = arith();
    while (is_op("&")) {
      Token op = next();
      e = binary(op, std::move(e), arith());
    }
    if (is_op("^"))
      fail(peek().loc,
           "'^' is not supported (for a power write **; for exclusive or of bool "
           "tensors, a != b)");
    if (is_op("<<") || is_op(">>")) fail(peek().loc, "shift operators are not supported");
    return e;
  }

  ExprPtr arith() {
    ExprPtr e = term();
    while (is_op("+") || is_op("-")) {
      Token op = next();
      e = binary(op, std::move(e), term());
    }
    return e;
  }

  ExprPtr term() {
    ExprPtr e = factor();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%") || is_op("@")) {
      Token op = next();
      e = binary(op, std::move(e), factor());
    }
    return e;
  }

  ExprPtr factor() {
    if (is_op("-") || is_op("+") || is_op("~")) {
      Depth d(*this, peek().loc);
      const Token& op = next();
      auto e = node(ExprKind::Unary, op.loc);
      e->text = op.text;
      e->items.push_back(factor());
      return sealed(std::move(e));
    }
    return power();
  }

  ExprPtr power() {
    ExprPtr e = postfix();
    if (is_op("**")) {
      Depth d(*this, peek().loc);
      Token op = next();
      e = binary(op, std::move(e), factor());
    }
    return e;
  }

  ExprPtr postfix() {
    ExprPtr e = atom();
    while (true) {
      if (is_op("(")) {
        e = call(std::move(e));
      } else if (is_op("[")) {
        e = subscript(std::move(e));
      } else if (is_op(".")) {
        next();
        if (peek().kind != Tok::Name)
          fail(peek().loc, "expected an attribute name after '.', got " + describe(peek()));
        auto a = node(ExprKind::Attr, peek().loc);
        a->text = next().text;
        a->items.push_back(std::move(e));
        e = sealed(std::move(a));
      } else {
        return e;
      }
    }
  }

  ExprPtr call(ExprPtr callee) {
    Depth d(*this, peek().loc);
    auto e = node(ExprKind::Call, callee->loc);
    const Token& open = next();
    (void)open;
    e->items.push_back(std::move(callee));
    std::set<std::string> seen;
    while (!is_op(")")) {
      if (peek().kind == Tok::Name && !is_keyword(peek().text) && is_op("=", 1)) {
        Keyword k;
        k.name = peek().text;
        k.loc = next().loc;
        next();  // '='
        if (!seen.insert(k.name).second) fail(k.loc, "keyword argument '" + k.name + "' repeated");
        k.value = arg_expr();
        e->keywords.push_back(std::move(k));
      } else {
        if (is_op("*") || is_op("**")) fail(peek().loc, "argument unpacking is not supported");
        Location at = peek().loc;
        ExprPtr a = arg_expr();
        if (!e->keywords.empty()) fail(at, "positional argument follows keyword argument");
        e->items.push_back(std::move(a));
      }
      if (!accept(",")) break;
    }
    expect(")", "to close the call's arguments");
    return sealed(std::move(e));
  }

  ExprPtr arg_expr() {
    if (!starts_expression()) fail(peek().loc, "expected an argument, got " + describe(peek()));
    return expr();
  }

  ExprPtr subscript(ExprPtr base) {
    Depth d(*this, peek().loc);
    auto e = node(ExprKind::Index, next().loc);  // '['
    e->items.push_back(std::move(base));
    if (is_op("]")) fail(peek().loc, "expected an index inside '[]'");
    while (!is_op("]")) {
      e->items.push_back(subscript_item());
      if (!accept(",")) break;
    }
    expect("]", "to close the index");
    return sealed(std::move(e));
  }

  ExprPtr subscript_item() {
    Location loc = peek().loc;
    ExprPtr start;
    if (!is_op(":")) {
      start = expr();
      if (!is_op(":")) return start;
    }
    auto s = node(ExprKind::Slice, loc);
    next();  // ':'
    ExprPtr stop, step;
    if (!is_op(":") && !is_op(",") && !is_op("]")) stop = expr();
    if (accept(":")) {
      if (!is_op(",") && !is_op("]")) step = expr();
    }
    s->items.push_back(std::move(start));
    s->items.push_back(std::move(stop));
    s->items.push_back(std::move(step));
    return sealed(std::move(s));
  }

  ExprPtr atom() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::Name: {
        if (t.text == "True" || t.text == "False") {
          auto e = node(ExprKind::Bool, t.loc);
          e->int_value = t.text == "True";
          next();
          return e;
        }
        if (t.text == "None") {
          next();
          return node(ExprKind::None, t.loc);
        }
        if (is_keyword(t.text))
          fail(t.loc, "'" + t.text + "' is a reserved word and cannot be used here");
        auto e = node(ExprKind::Name, t.loc);
        e->text = t.text;
        next();
        return e;
      }
      case Tok::Int: {
        auto e = node(ExprKind::Int, t.loc);
        e->int_value = t.int_value;
        next();
        return e;
      }
      case Tok::Float: {
        auto e = node(ExprKind::Float, t.loc);
        e->float_value = t.float_value;
        next();
        return e;
      }
      case Tok::String: {
        auto e = node(ExprKind::String, t.loc);
        while (peek().kind == Tok::String) e->text += next().text;  // "a" "b" -> "ab"
        return e;
      }
      case Tok::Op:
        break;
      case Tok::Newline:
      case Tok::End:
        fail(t.loc, "expected an expression, got " + describe(t));
      default:
        fail(t.loc, "expected an expression, got " + describe(t));
    }
    if (t.text == "...") {
      next();
      return node(ExprKind::Ellipsis, t.loc);
    }
    if (t.text == "(") {
      Depth d(*this, t.loc);
      Location loc = next().loc;
      if (accept(")")) return node(ExprKind::List, loc);  // () -> an empty list
      ExprPtr first = expr();
      if (is_op(",")) {
        auto list = node(ExprKind::List, loc);
        list->items.push_back(std::move(first));
        while (accept(",")) {
          if (is_op(")")) break;
          list->items.push_back(expr());
        }
        expect(")",
               "to close the '(' at " + std::to_string(loc.line) + ":" + std::to_string(loc.col));
        return sealed(std::move(list));
      }
      expect(")",
             "to close the '(' at " + std::to_string(loc.line) + ":" + std::to_string(loc.col));
      return first;
    }
    if (t.text == "[") {
      Depth d(*this, t.loc);
      auto list = node(ExprKind::List, next().loc);
      while (!is_op("]")) {
        if (!starts_expression())
          fail(peek().loc, "expected a list element, got " + describe(peek()));
        list->items.push_back(expr());
        if (is_name("for"))
          fail(peek().loc,
               "list comprehensions are not supported; build the list with a for "
               "loop, or use a tensor operation");
        if (!accept(",")) break;
      }
      expect("]", "to close the list");
      return sealed(std::move(list));
    }
    if (t.text == "{") fail(t.loc, "dictionaries and sets ({...}) are not supported");
    if (t.text == "*" || t.text == "/" || t.text == "@" || t.text == "**" || t.text == "%" ||
        t.text == "//" || t.text == "==" || t.text == "<" || t.text == ">")
      fail(t.loc, "expected an expression before '" + t.text + "'");
    fail(t.loc, "expected an expression, got " + describe(t));
  }

  static constexpr int kMaxBlockDepth = 100;

  std::vector<Token> t_;
  size_t pos_ = 0;
  int depth_ = 0;
  int blocks_ = 0;
  bool in_def_ = false;
  int loops_ = 0;  // for/while bodies being parsed (break and continue need one)
};

}  // namespace

std::vector<StmtPtr> parse_program(const SourcePtr& source) {
  return Parser(lex(source)).program();
}

ExprPtr parse_expression(const SourcePtr& source, size_t begin, size_t end) {
  std::vector<Token> toks = lex(source, begin, end);
  if (toks.empty() || toks[0].kind == Tok::Newline || toks[0].kind == Tok::End)
    throw ScriptError(toks.empty() ? Location{} : toks[0].loc, "expected an expression");
  return Parser(std::move(toks)).expression_only();
}

InputStatus input_status(const std::string& text) {
  auto src = std::make_shared<const Source>("<input>", text);
  std::vector<Token> toks;
  try {
    toks = lex(src);
  } catch (const ScriptError& e) {
    return e.incomplete ? InputStatus::Incomplete : InputStatus::Error;
  }
  // An if may be followed by elif/else lines, even after a one-line body (as in Python).
  bool block = !toks.empty() && toks[0].kind == Tok::Name && toks[0].text == "if";
  for (size_t i = 0; i < toks.size(); ++i) {
    if (toks[i].kind == Tok::Indent) block = true;
    if (toks[i].kind == Tok::Newline && i > 0 && toks[i - 1].kind == Tok::Op &&
        toks[i - 1].text == ":")
      block = true;
  }
  if (!block) return InputStatus::Complete;
  // A block ends with an empty line.
  size_t last_nl = text.find_last_of('\n');
  if (last_nl == std::string::npos) return InputStatus::Incomplete;
  std::string_view tail(text.data() + last_nl + 1, text.size() - last_nl - 1);
  bool blank = tail.find_first_not_of(" \t\r") == std::string_view::npos;
  return blank ? InputStatus::Complete : InputStatus::Incomplete;
}

std::vector<Chunk> split_statements(const std::string& text) {
  std::vector<std::string> lines;
  size_t b = 0;
  while (b <= text.size()) {
    size_t e = text.find('\n', b);
    if (e == std::string::npos) e = text.size();
    lines.push_back(text.substr(b, e - b));
    b = e + 1;
  }
  if (!text.empty() && text.back() == '\n') lines.pop_back();
  auto blank = [](const std::string& l) {
    size_t f = l.find_first_not_of(" \t\r\f");
    return f == std::string::npos || l[f] == '#';
  };
  auto indented = [](const std::string& l) { return !l.empty() && (l[0] == ' ' || l[0] == '\t'); };
  auto unfinished = [](const std::string& t) {
    try {
      lex(std::make_shared<const Source>("<chunk>", t));
      return false;
    } catch (const ScriptError& e) {
      return e.incomplete;
    }
  };
  std::vector<Chunk> out;
  size_t i = 0;
  while (i < lines.size()) {
    if (blank(lines[i])) {
      ++i;
      continue;
    }
    Chunk c{static_cast<int>(i) + 1, lines[i]};
    ++i;
    while (i < lines.size()) {
      if (unfinished(c.text)) {
        c.text += "\n" + lines[i++];
        continue;
      }
      size_t j = i;
      while (j < lines.size() && blank(lines[j])) ++j;
      // An indented line, or the elif/else of an if, belongs to the statement.
      auto continues_if = [](const std::string& l) {
        for (const char* kw : {"elif", "else"}) {
          size_t n = std::string(kw).size();
          if (l.rfind(kw, 0) == 0 && l.size() > n && (l[n] == ' ' || l[n] == ':' || l[n] == '\t'))
            return true;
        }
        return false;
      };
      if (j < lines.size() && (indented(lines[j]) || continues_if(lines[j]))) {
        while (i <= j) c.text += "\n" + lines[i++];
        continue;
      }
      break;
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace soma::script
