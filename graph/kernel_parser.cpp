#include "graph/kernel_parser.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "graph/error.h"
#include "graph/kernel_verify.h"
#include "graph/printer.h"

namespace soma::kir {

namespace {

// ---- tokens ----

struct Token {
  enum Kind : uint8_t { Ident, Int, Float, String, Punct, End } kind = End;
  std::string text;  // identifier, punctuation, literal text, or a string's decoded value
  int line = 0, col = 0;
  bool first_on_line = false;
};

constexpr size_t kMaxTextBytes = size_t{1} << 30;

std::vector<Token> tokenize(std::string_view s) {
  if (s.size() > kMaxTextBytes) throw ParseError("the text is larger than 1 GiB", 1, 1);
  std::vector<Token> out;
  int line = 1;
  size_t line_start = 0, i = 0;
  int last_line = 0;
  auto push = [&](Token::Kind k, std::string text, size_t start) {
    Token t;
    t.kind = k;
    t.text = std::move(text);
    t.line = line;
    t.col = static_cast<int>(start - line_start) + 1;
    t.first_on_line = line != last_line;
    last_line = line;
    out.push_back(std::move(t));
  };
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\n') {
      ++line;
      line_start = ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '#') {  // a comment, to the end of the line
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    const size_t start = i;
    const int col = static_cast<int>(i - line_start) + 1;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' ||
                              s[i] == '.' || s[i] == '/' || s[i] == '-')) {
        // '.', '/' and '-' belong to a name only when a name character follows: `x-1` is not
        // printed (operators have spaces), but `0..4` and `a.b` must both lex.
        if ((s[i] == '.' || s[i] == '/' || s[i] == '-') &&
            (i + 1 >= s.size() ||
             !(std::isalnum(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '_')))
          break;
        if (s[i] == '.' && i + 1 < s.size() && s[i + 1] == '.') break;
        ++i;
      }
      push(Token::Ident, std::string(s.substr(start, i - start)), start);
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      bool is_float = false;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (i + 1 < s.size() && s[i] == '.' && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
        is_float = true;
        ++i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      }
      if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        if (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) {
          is_float = true;
          i = j;
          while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        }
      }
      if (is_float && i < s.size() && s[i] == 'd') ++i;  // f64
      push(is_float ? Token::Float : Token::Int, std::string(s.substr(start, i - start)), start);
      continue;
    }
    if (c == '"') {
      std::string v;
      ++i;
      for (;;) {
        if (i >= s.size() || s[i] == '\n') throw ParseError("unterminated string", line, col);
        char ch = s[i++];
        if (ch == '"') break;
        if (ch != '\\') {
          v += ch;
          continue;
        }
        if (i >= s.size()) throw ParseError("unterminated string", line, col);
        auto esc = decode_escape(s.substr(i));
        if (!esc)
          throw ParseError(
              s[i] == 'x' ? std::string("bad \\x escape") : std::string("unknown escape \\") + s[i],
              line, col);
        v += esc->first;
        i += esc->second;
      }
      push(Token::String, std::move(v), start);
      continue;
    }
    static constexpr std::string_view kLong[] = {
        "...", "//", "<=", ">=", "==", "!=", "&&", "||", "..", "+=", "<-"};
    std::string p(1, c);
    for (std::string_view two : kLong)
      if (p.size() == 1 && s.substr(i, two.size()) == two) p = std::string(two);
    if (p.size() == 1 && std::string_view("()[]{},:?+-*/%<>=@").find(c) == std::string_view::npos)
      throw ParseError(std::string("unexpected character '") + c + "'", line, col);
    i += p.size();
    push(Token::Punct, std::move(p), start);
  }
  Token end;
  end.line = line;
  end.col = static_cast<int>(i - line_start) + 1;
  end.first_on_line = true;
  out.push_back(end);
  return out;
}

// ---- the parser ----

class Parser {
 public:
  explicit Parser(std::string_view text) : toks_(tokenize(text)) {}

  Program program() {
    expect_word("program");
    expect("{");
    expect_word("buffers");
    expect(":");
    while (at_buffer_decl()) buffer_decl();
    const int outputs_line = peek().line;
    expect_word("outputs");
    expect(":");
    while (peek().line == outputs_line && peek().kind != Token::End)
      p_.outputs.push_back(buffer_ref());
    while (at_word("update")) {
      next();
      BufferId param = buffer_ref();
      expect("<-");
      BufferId value = buffer_ref();
      if (at("(")) {
        next();
        expect_word("in");
        expect_word("place");
        expect(")");
        if (param != value) fail(prev(), "an update `(in place)` must name one buffer twice");
      }
      p_.updates.emplace_back(param, value);
    }
    expect_word("arena");
    expect(":");
    p_.arena_bytes = integer("the arena size");
    expect_word("bytes");
    expect("(");
    p_.unplanned_bytes = integer("the unplanned size");
    expect_word("without");
    expect_word("reuse");
    expect(")");
    expect("}");
    while (peek().kind != Token::End) kernel();
    try {
      verify(p_);
    } catch (const VerifyError& e) {
      throw ParseError(e.what(), 1, 1);
    }
    return std::move(p_);
  }

 private:
  std::vector<Token> toks_;
  size_t pos_ = 0;
  Program p_;
  std::map<std::string, BufferId> buffers_;
  Kernel* k_ = nullptr;
  std::map<std::string, VarId> vars_;
  // The kernel's where section (after its body): %label -> the token its expression starts
  // at, found before the body is read (the body refers to it); each read once, when first used.
  std::map<int64_t, size_t> where_;
  std::map<int64_t, ExprId> bound_;
  std::set<int64_t> reading_;  // bindings being read (one that refers to itself is an error)
  size_t where_at_ = 0, kernel_end_ = 0;

  // ---- token helpers ----

  const Token& peek(size_t ahead = 0) const {
    return toks_[std::min(pos_ + ahead, toks_.size() - 1)];
  }
  const Token& prev() const { return toks_[pos_ ? pos_ - 1 : 0]; }
  const Token& next() {
    const Token& t = peek();
    if (pos_ < toks_.size() - 1) ++pos_;
    return t;
  }
  bool at(std::string_view punct) const {
    return peek().kind == Token::Punct && peek().text == punct;
  }
  bool at_word(std::string_view w) const { return peek().kind == Token::Ident && peek().text == w; }
  [[noreturn]] static void fail(const Token& t, const std::string& msg) {
    throw ParseError(msg, t.line, t.col);
  }
  static std::string shown(const Token& t) {
    if (t.kind == Token::End) return "the end of the text";
    if (t.kind == Token::String) return "a string";
    return "'" + t.text + "'";
  }
  void expect(std::string_view punct) {
    if (!at(punct)) fail(peek(), "expected '" + std::string(punct) + "', found " + shown(peek()));
    next();
  }
  void expect_word(std::string_view w) {
    if (!at_word(w)) fail(peek(), "expected '" + std::string(w) + "', found " + shown(peek()));
    next();
  }
  std::string ident(const char* what) {
    if (peek().kind != Token::Ident)
      fail(peek(), std::string("expected ") + what + ", found " + shown(peek()));
    return next().text;
  }
  std::string name(const char* what) {
    if (peek().kind != Token::Ident && peek().kind != Token::String)
      fail(peek(), std::string("expected ") + what + ", found " + shown(peek()));
    return next().text;
  }
  int64_t integer(const char* what) {
    bool neg = false;
    if (at("-")) {
      neg = true;
      next();
    }
    const Token& t = peek();
    if (t.kind != Token::Int) fail(t, std::string("expected ") + what + ", found " + shown(t));
    uint64_t v = 0;  // read unsigned: -9223372036854775808 is an int64
    auto [ptr, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    const uint64_t limit = uint64_t{1} << 63;
    if (ec != std::errc() || ptr != t.text.data() + t.text.size() || v > limit ||
        (v == limit && !neg))
      fail(t, std::string(what) + " " + (neg ? "-" : "") + t.text + " is out of range");
    next();
    return neg ? static_cast<int64_t>(uint64_t{0} - v) : static_cast<int64_t>(v);
  }
  DType dtype() {
    const Token& t = peek();
    auto d = t.kind == Token::Ident ? parse_dtype(t.text) : std::nullopt;
    if (!d || (t.text != dtype_name(*d)))
      fail(t, "expected a dtype (f32, f64, i32, bool), found " + shown(t));
    next();
    return *d;
  }
  Shape shape() {
    expect("[");
    std::vector<int64_t> dims;
    if (!at("]")) {
      for (;;) {
        int64_t d = integer("a dimension");
        if (d < 0) fail(prev(), "negative dimension");
        dims.push_back(d);
        if (!at(",")) break;
        next();
      }
    }
    expect("]");
    if (dims.size() > static_cast<size_t>(kMaxRank)) fail(prev(), "rank above soma's maximum");
    Shape s(dims);
    int64_t n = 1;
    for (int64_t d : dims)
      if (__builtin_mul_overflow(n, d, &n)) fail(prev(), "more elements than fit in 64 bits");
    return s;
  }

  // A literal and the dtype its text says (3 i32, 3.0 f32, 3.0d f64, true bool).
  std::pair<double, DType> literal() {
    const Token& start = peek();
    bool neg = false;
    if (at("-")) {
      neg = true;
      next();
    }
    const Token& t = peek();
    double v = 0;
    DType d = DType::f32;
    if (t.kind == Token::Int) {
      int64_t x = 0;
      auto [ptr, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), x);
      if (ec != std::errc() || x > (int64_t{1} << 31))
        fail(t, "integer " + t.text + " is not an i32");
      v = static_cast<double>(x);
      d = DType::i32;
    } else if (t.kind == Token::Float) {
      std::string text = t.text;
      if (text.back() == 'd') {
        d = DType::f64;
        text.pop_back();
      }
      v = std::strtod(text.c_str(), nullptr);
    } else if (t.kind == Token::Ident &&
               (t.text == "inf" || t.text == "nan" || t.text == "infd" || t.text == "nand")) {
      v = t.text[0] == 'i' ? std::numeric_limits<double>::infinity()
                           : std::numeric_limits<double>::quiet_NaN();
      d = t.text.size() == 4 ? DType::f64 : DType::f32;
    } else if (!neg && t.kind == Token::Ident && (t.text == "true" || t.text == "false")) {
      v = t.text == "true" ? 1 : 0;
      d = DType::boolean;
    } else {
      fail(start, "expected a literal, found " + shown(t));
    }
    next();
    if (neg) v = -v;
    if (d == DType::i32 && v == 0) v = 0;  // an integer has no -0 (its text prints as 0)
    if (d == DType::i32 && (v < -2147483648.0 || v > 2147483647.0))
      fail(start, "integer out of the i32 range");
    return {v, d};
  }

  // ---- buffers ----

  // `name: kind dtype[`, which tells a buffer named `outputs` from the outputs line.
  bool at_buffer_decl() const {
    return (peek().kind == Token::Ident || peek().kind == Token::String) &&
           peek(1).kind == Token::Punct && peek(1).text == ":" && peek(2).kind == Token::Ident &&
           parse_kind(peek(2).text) && peek(3).kind == Token::Ident &&
           peek(4).kind == Token::Punct && peek(4).text == "[";
  }

  static std::optional<Buffer::Kind> parse_kind(std::string_view w) {
    for (Buffer::Kind k : {Buffer::Kind::Input, Buffer::Kind::Param, Buffer::Kind::Output,
                           Buffer::Kind::Temp, Buffer::Kind::Constant})
      if (w == kind_name(k)) return k;
    return std::nullopt;
  }

  void buffer_decl() {
    const Token& at_name = peek();
    Buffer b;
    b.name = name("a buffer name or 'outputs:'");
    if (buffers_.count(b.name)) fail(at_name, "buffer " + b.name + " is declared twice");
    expect(":");
    const Token& kt = peek();
    auto kind = kt.kind == Token::Ident ? parse_kind(kt.text) : std::nullopt;
    if (!kind)
      fail(kt, "expected a buffer kind (input, param, output, temp, const), found " + shown(kt));
    next();
    b.kind = *kind;
    b.dtype = dtype();
    b.shape = shape();
    if (at("@")) {
      next();
      if (b.kind != Buffer::Kind::Temp) fail(prev(), "only temps have an arena offset");
      b.offset = integer("an arena offset");
    }
    if (at("=")) {
      next();
      if (b.kind != Buffer::Kind::Constant) fail(prev(), "only constants have values");
      if (at("[")) {
        next();
        while (!at("]")) {
          if (!b.data.empty()) expect(",");
          if (at("..."))
            fail(peek(), "constant " + b.name +
                             " has elided values: print the program with all its data "
                             "(print_program(p, true), as SOMA_DUMP_DIR writes it)");
          b.data.push_back(typed_literal(b.dtype, "a value of constant " + b.name));
        }
        expect("]");
      } else {
        b.data.push_back(typed_literal(b.dtype, "the value of constant " + b.name));
      }
    } else if (b.kind == Buffer::Kind::Constant) {
      fail(peek(), "constant " + b.name + " has no value");
    }
    buffers_[b.name] = static_cast<BufferId>(p_.buffers.size());
    p_.buffers.push_back(std::move(b));
  }

  double typed_literal(DType want, const std::string& what) {
    const Token& t = peek();
    auto [v, d] = literal();
    if (d != want)
      fail(t, what + " must be a " + dtype_name(want) + " literal, not a " + dtype_name(d));
    return v;
  }

  BufferId buffer_ref() {
    const Token& t = peek();
    std::string n = name("a buffer name");
    auto it = buffers_.find(n);
    if (it == buffers_.end()) fail(t, "unknown buffer " + n);
    return it->second;
  }

  // ---- kernels ----

  void kernel() {
    const Token& kw = peek();
    if (!kw.first_on_line) fail(kw, "a kernel starts on a line of its own");
    expect_word("kernel");
    p_.kernels.emplace_back();
    k_ = &p_.kernels.back();
    vars_.clear();
    k_->name = name("a kernel name");
    expect("(");
    while (!at(")")) {
      if (!k_->reads.empty() || !k_->writes.empty()) expect(",");
      bool out = false, in = true;
      if (at_word("out") || at_word("inout")) {
        // `out` or `inout` before a name: a mode; `out: ...` is a buffer named out.
        if (peek(1).kind == Token::Ident || peek(1).kind == Token::String) {
          out = true;
          in = next().text == "inout";
        }
      }
      const Token& t = peek();
      BufferId b = buffer_ref();
      expect(":");
      DType d = dtype();
      Shape s = shape();
      const Buffer& buf = p_.buffers[static_cast<size_t>(b)];
      if (d != buf.dtype || !(s == buf.shape))
        fail(t, "kernel " + k_->name + " declares " + buf.name + " as " + dtype_name(d) + s.str() +
                    ", the program as " + dtype_name(buf.dtype) + buf.shape.str());
      if (in) k_->reads.push_back(b);
      if (out) k_->writes.push_back(b);
    }
    expect(")");
    expect("{");
    scan_where(kw.col);
    const Token& head = peek();
    if (at_word("contract")) {
      next();
      std::vector<Axis> all = axes(true);
      if (all.size() < 3) fail(head, "a contraction has at least the axes i, j and k");
      Contraction& c = k_->contraction;
      k_->is_contraction = true;
      c.k = all.back();
      all.pop_back();
      k_->parallel = all;
      c.batch.assign(all.begin(), all.end() - 2);
      expect(":");
      const Token& acc = peek();
      std::string acc_name = ident("the accumulator");
      expect("+=");
      ExprId product = expr();
      const Expr& e = k_->expr(product);
      if (e.kind != ExprKind::Binary || e.op != Op::Mul)
        fail(acc, "a contraction accumulates a product a * b");
      c.a = e.a[0];
      c.b = e.a[1];
      c.acc = declare(acc, acc_name, k_->expr(c.a).dtype, 0);
      expect_word("epilogue");
      expect(":");
    } else if (at_word("parallel") || at_word("sequential")) {
      k_->sequential = next().text == "sequential";
      if (at("(")) {
        next();
        expect_word("one");
        expect_word("point");
        expect(")");
      } else {
        k_->parallel = axes(true);
      }
    } else {
      fail(head, "expected 'parallel', 'sequential' or 'contract', found " + shown(head));
    }
    if (!at("}") && !(where_at_ && pos_ == where_at_)) {
      if (!peek().first_on_line) fail(peek(), "a statement starts on a line of its own");
      k_->body = stmts(peek().col, head.col);
    }
    if (where_at_) {
      if (pos_ != where_at_) fail(peek(), "expected the kernel's where section or its end");
      pos_ = kernel_end_;  // each binding was read where it was first used
    }
    expect("}");
    k_ = nullptr;
  }

  // Finds the kernel's where section: `where` at the kernel's header column, then lines
  // `%N = expression`, up to the kernel's closing brace.
  void scan_where(int kernel_col) {
    where_.clear();
    bound_.clear();
    reading_.clear();
    where_at_ = 0;
    kernel_end_ = toks_.size() - 1;
    for (size_t i = pos_; i < toks_.size(); ++i) {
      const Token& t = toks_[i];
      if (t.kind == Token::End) break;
      if (!t.first_on_line) continue;
      if (t.kind == Token::Punct && t.text == "}" && t.col == kernel_col) {
        kernel_end_ = i;
        break;
      }
      if (!where_at_) {
        if (t.kind == Token::Ident && t.text == "where" && t.col == kernel_col + 2) where_at_ = i;
        continue;
      }
      if (t.kind != Token::Punct || t.text != "%" || i + 2 >= toks_.size() ||
          toks_[i + 1].kind != Token::Int || toks_[i + 2].text != "=")
        fail(t, "expected a binding `%N = expression` in the where section");
      const int64_t label = label_of(toks_[i + 1]);
      if (!where_.emplace(label, i + 3).second)
        fail(t, "%" + toks_[i + 1].text + " is bound twice");
    }
  }

  int64_t label_of(const Token& t) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (ec != std::errc() || end != t.text.data() + t.text.size()) fail(t, "a bad binding label");
    return v;
  }

  // %N: the expression its binding names, read the first time it is used.
  ExprId binding(const Token& t) {
    const int64_t label = label_of(t);
    if (auto it = bound_.find(label); it != bound_.end()) return it->second;
    auto it = where_.find(label);
    if (it == where_.end()) fail(t, "%" + t.text + " is not bound in this kernel's where section");
    if (!reading_.insert(label).second) fail(t, "%" + t.text + " refers to itself");
    const size_t resume = pos_;
    pos_ = it->second;
    ExprId e = expr();
    if (!peek().first_on_line && peek().kind != Token::End)
      fail(peek(), "expected the end of binding %" + t.text + ", found " + shown(peek()));
    pos_ = resume;
    reading_.erase(label);
    bound_[label] = e;
    return e;
  }

  VarId declare(const Token& at_tok, const std::string& n, DType t, int64_t extent) {
    if (n == "true" || n == "false" || n == "inf" || n == "nan" || n == "infd" || n == "nand")
      fail(at_tok, "'" + n + "' is a literal, not a var name");
    auto it = vars_.find(n);
    if (it != vars_.end()) {
      // A var bound again in another scope (the verifier checks the scopes).
      Var& v = k_->vars[static_cast<size_t>(it->second)];
      if (v.dtype != t)
        fail(at_tok, "var " + n + " was " + dtype_name(v.dtype) + ", now " + dtype_name(t));
      return it->second;
    }
    VarId id = static_cast<VarId>(k_->vars.size());
    k_->vars.push_back(Var{t, n, extent});
    vars_[n] = id;
    return id;
  }

  // `v in 0..n, w in 0..m`; none when the list is empty (`reduce sum of x`).
  std::vector<Axis> axes(bool required) {
    std::vector<Axis> out;
    if (!required && peek().kind != Token::Ident) return out;
    if (!required && (at_word("of"))) return out;
    for (;;) {
      const Token& t = peek();
      std::string n = ident("a loop variable");
      expect_word("in");
      const Token& zero = peek();
      if (integer("0") != 0) fail(zero, "axes start at 0");
      expect("..");
      int64_t extent = integer("an extent");
      if (extent < 0) fail(prev(), "negative extent");
      out.push_back({declare(t, n, DType::i32, extent), extent});
      if (!at(",")) break;
      next();
    }
    return out;
  }

  // The statements of a block whose lines start at column `col` (deeper than `outer`).
  std::vector<Stmt> stmts(int col, int outer) {
    if (col <= outer) fail(peek(), "expected an indented statement");
    std::vector<Stmt> out;
    while (peek().kind != Token::End && !at("}") && !at_word("yield") && !at_word("epilogue")) {
      const Token& t = peek();
      if (!t.first_on_line) fail(t, "a statement starts on a line of its own");
      if (t.col < col) break;
      if (t.col > col) fail(t, "unexpected indentation");
      out.push_back(stmt(col));
    }
    return out;
  }

  Stmt stmt(int col) {
    const Token& t = peek();
    Stmt s;
    if (at_word("for") && peek(1).kind == Token::Ident && peek(2).kind == Token::Ident &&
        peek(2).text == "in") {
      next();
      s.kind = Stmt::Kind::Loop;
      s.axes = axes(true);
      expect(":");
      if (peek().first_on_line && peek().col > col && !at("}")) s.body = stmts(peek().col, col);
      return s;
    }
    if (at_word("store") && (peek(1).kind == Token::Ident || peek(1).kind == Token::String) &&
        peek(2).kind == Token::Punct && peek(2).text == "[") {
      next();
      s.kind = Stmt::Kind::Store;
      s.buffer = buffer_ref();
      expect("[");
      s.index = expr();
      expect("]");
      expect("=");
      s.value = expr();
      return s;
    }
    std::string n = ident("a statement (a let, a reduce, for or store)");
    expect("=");
    if (at_word("reduce") && peek(1).kind == Token::Ident &&
        (peek(1).text == "sum" || peek(1).text == "max")) {
      next();
      s.kind = Stmt::Kind::Reduce;
      s.reduce_op = next().text == "sum" ? Op::ReduceSum : Op::ReduceMax;
      s.axes = axes(false);
      if (at("{")) {
        next();
        if (!at_word("yield")) {
          if (!peek().first_on_line) fail(peek(), "a statement starts on a line of its own");
          s.body = stmts(peek().col, col);
        }
        expect_word("yield");
        s.value = expr();
        expect("}");
      } else {
        expect_word("of");
        s.value = expr();
      }
    } else {
      s.kind = Stmt::Kind::Let;
      s.value = expr();
    }
    s.var = declare(t, n, k_->expr(s.value).dtype, 0);
    return s;
  }

  // ---- expressions (the printer's precedence: ?: < || < && < comparisons < + - < * / // %) ----

  ExprId add(Expr e) { return k_->add(e); }
  DType type(ExprId e) const { return k_->expr(e).dtype; }

  ExprId binary(const Token& at_tok, Op op, ExprId x, ExprId y) {
    if (type(x) != type(y))
      fail(at_tok,
           std::string(op_name(op)) + " of " + dtype_name(type(x)) + " and " + dtype_name(type(y)));
    Expr e;
    e.kind = ExprKind::Binary;
    e.op = op;
    e.dtype = has_trait(op, Cmp) || has_trait(op, Logic) ? DType::boolean : type(x);
    e.a[0] = x;
    e.a[1] = y;
    return add(e);
  }

  ExprId expr() {
    ExprId c = or_expr();
    if (!at("?")) return c;
    const Token& q = next();
    ExprId x = or_expr();
    expect(":");
    ExprId y = expr();
    if (type(c) != DType::boolean) fail(q, "a select's condition must be bool");
    if (type(x) != type(y)) fail(q, "a select's arms have different dtypes");
    Expr e;
    e.kind = ExprKind::Select;
    e.dtype = type(x);
    e.a[0] = c;
    e.a[1] = x;
    e.a[2] = y;
    return add(e);
  }

  ExprId or_expr() {
    ExprId x = and_expr();
    while (at("||")) {
      const Token& t = next();
      x = binary(t, Op::Or, x, and_expr());
    }
    return x;
  }

  ExprId and_expr() {
    ExprId x = cmp_expr();
    while (at("&&")) {
      const Token& t = next();
      x = binary(t, Op::And, x, cmp_expr());
    }
    return x;
  }

  ExprId cmp_expr() {
    ExprId x = add_expr();
    static constexpr std::pair<std::string_view, Op> kCmp[] = {{"<", Op::Lt},  {"<=", Op::Le},
                                                               {">", Op::Gt},  {">=", Op::Ge},
                                                               {"==", Op::Eq}, {"!=", Op::Ne}};
    for (auto [sym, op] : kCmp)
      if (at(sym)) {
        const Token& t = next();
        return binary(t, op, x, add_expr());
      }
    return x;
  }

  ExprId add_expr() {
    ExprId x = mul_expr();
    while (at("+") || at("-")) {
      const Token& t = next();
      x = binary(t, t.text == "+" ? Op::Add : Op::Sub, x, mul_expr());
    }
    return x;
  }

  ExprId mul_expr() {
    ExprId x = atom();
    // (A `%` that starts a line is the next binding of a where section, not a modulo.)
    while (at("*") || at("/") || at("//") || (at("%") && !peek().first_on_line)) {
      const Token& t = next();
      ExprId y = atom();
      if (t.text == "*" || t.text == "/") {
        x = binary(t, t.text == "*" ? Op::Mul : Op::Div, x, y);
        continue;
      }
      Expr e;
      e.kind = t.text == "//" ? ExprKind::IDiv : ExprKind::IMod;
      e.dtype = DType::i32;
      e.a[0] = x;
      e.a[1] = y;
      x = add(e);
    }
    return x;
  }

  ExprId atom() {
    const Token& t = peek();
    if (at("%") && peek(1).kind == Token::Int) {
      next();
      return binding(next());
    }
    if (at("(")) {
      next();
      ExprId inner = expr();
      if (at_word("if")) {  // (load b[i] if mask else other): a masked load
        const Token& kw = next();
        Expr e = k_->expr(inner);
        if (e.kind != ExprKind::Load || e.a[1] >= 0)
          fail(kw, "only a load can be masked: (load b[i] if mask else other)");
        e.a[1] = expr();
        if (type(e.a[1]) != DType::boolean) fail(kw, "a load's mask must be bool");
        expect_word("else");
        e.value = typed_literal(e.dtype, "the value of a masked-off load");
        expect(")");
        return add(e);
      }
      expect(")");
      return inner;
    }
    if (t.kind == Token::Int || t.kind == Token::Float || at("-") ||
        (t.kind == Token::Ident && !at_call() &&
         (t.text == "true" || t.text == "false" || t.text == "inf" || t.text == "nan" ||
          t.text == "infd" || t.text == "nand"))) {
      auto [v, d] = literal();
      Expr e;
      e.kind = ExprKind::Const;
      e.dtype = d;
      e.value = v;
      return add(e);
    }
    if (t.kind != Token::Ident) fail(t, "expected an expression, found " + shown(t));
    if (t.text == "load" && !at_call()) {
      next();
      BufferId b = buffer_ref();
      expect("[");
      Expr e;
      e.kind = ExprKind::Load;
      e.buffer = b;
      e.dtype = p_.buffers[static_cast<size_t>(b)].dtype;
      e.a[0] = expr();
      expect("]");
      return add(e);
    }
    if (at_call()) return call();
    next();
    auto it = vars_.find(t.text);
    if (it == vars_.end()) fail(t, "unknown var " + t.text);
    Expr e;
    e.kind = ExprKind::Var;
    e.var = it->second;
    e.dtype = k_->vars[static_cast<size_t>(it->second)].dtype;
    return add(e);
  }

  bool at_call() const {
    return peek().kind == Token::Ident && peek(1).kind == Token::Punct && peek(1).text == "(";
  }

  // f(x): a unary op or a cast; f(x, y): a binary op; rand(seed, counter, offset[, dtype]);
  // u32_<op>(x, y): a word op; seed_lo(seed, draw), seed_hi(seed, draw): a seed word.
  ExprId call() {
    const Token& f = next();
    expect("(");
    Expr e;
    if (f.text == "seed_lo" || f.text == "seed_hi") {
      e.kind = ExprKind::Seed;
      e.dtype = DType::i32;
      e.value = f.text == "seed_hi";
      e.seed = integer("a seed");
      expect(",");
      int64_t draw = integer("a draw number");
      if (draw < 0 || draw > std::numeric_limits<int32_t>::max())
        fail(f, "a draw number must be in [0, 2^31)");
      e.var = static_cast<VarId>(draw);
      expect(")");
      return add(e);
    }
    for (WordOp w : {WordOp::Add, WordOp::Mul, WordOp::MulHi, WordOp::Xor, WordOp::Shr}) {
      if (f.text != word_op_name(w)) continue;
      e.kind = ExprKind::Word;
      e.dtype = DType::i32;
      e.word = w;
      e.a[0] = expr();
      expect(",");
      e.a[1] = expr();
      expect(")");
      if (type(e.a[0]) != DType::i32 || type(e.a[1]) != DType::i32)
        fail(f, std::string(word_op_name(w)) + " takes i32 operands");
      return add(e);
    }
    if (f.text == "rand") {
      e.kind = ExprKind::Rand;
      e.seed = integer("a rand seed");
      expect(",");
      e.a[0] = expr();
      expect(",");
      e.a[1] = expr();
      e.dtype = DType::f32;
      if (at(",")) {
        next();
        e.dtype = dtype();
      }
      expect(")");
      return add(e);
    }
    std::vector<ExprId> args = {expr()};
    while (at(",")) {
      next();
      args.push_back(expr());
    }
    expect(")");
    if (auto d = parse_dtype(f.text); d && f.text == dtype_name(*d)) {
      if (args.size() != 1) fail(f, "a cast takes one operand");
      e.kind = ExprKind::Cast;
      e.dtype = *d;
      e.a[0] = args[0];
      return add(e);
    }
    auto op = parse_op(f.text);
    if (!op) fail(f, "unknown function " + f.text);
    if (args.size() == 2 && op_info(*op).arity == 2) return binary(f, *op, args[0], args[1]);
    if (args.size() != 1 || op_info(*op).arity != 1)
      fail(f, std::string(op_name(*op)) + " takes " + std::to_string(op_info(*op).arity) +
                  " operands, not " + std::to_string(args.size()));
    e.kind = ExprKind::Unary;
    e.op = *op;
    e.dtype = *op == Op::Not ? DType::boolean : type(args[0]);
    e.a[0] = args[0];
    return add(e);
  }
};

}  // namespace

Program parse_program(std::string_view text) {
  return Parser(text).program();
}

}  // namespace soma::kir
