#include "graph/parser.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_map>

#include "graph/error.h"
#include "graph/printer.h"

namespace soma {

namespace {

bool is_name_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}
bool is_ident_char(int c) {
  return is_name_char(c) && c != '.';
}
bool is_digit(int c) {
  return c >= '0' && c <= '9';
}

// Parses one line at a time; a statement never spans lines.
class Parser {
 public:
  ParsedGraph run(std::string_view text) {
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      cur_ = text.substr(start, end - start);
      pos_ = 0;
      parse_line();
      ++line_;
      start = end + 1;
    }
    return std::move(result_);
  }

 private:
  struct Definition {
    NodeId id;
    int line;
  };

  std::string_view cur_;  // the current line, without its '\n'
  size_t pos_ = 0;
  int line_ = 1;
  bool seen_return_ = false;
  int return_line_ = 0;
  std::unordered_map<std::string, Definition> names_;
  ParsedGraph result_;

  int col() const { return static_cast<int>(pos_) + 1; }

  [[noreturn]] void fail(const std::string& msg, int col) const {
    throw ParseError(msg, line_, col);
  }
  [[noreturn]] void fail(const std::string& msg) const { fail(msg, col()); }

  // Skips blanks; a '#' starts a comment that runs to the end of the line.
  void skip_ws() {
    while (pos_ < cur_.size() && (cur_[pos_] == ' ' || cur_[pos_] == '\t' || cur_[pos_] == '\r'))
      ++pos_;
  }
  bool at_end() const { return pos_ >= cur_.size() || cur_[pos_] == '#'; }
  int peek() const { return at_end() ? -1 : static_cast<unsigned char>(cur_[pos_]); }

  // What stands at the current position, for "expected X, got Y" messages.
  std::string describe_here() const {
    if (at_end()) return "the end of the line";
    size_t n = 0;
    while (pos_ + n < cur_.size() && n < 20 &&
           is_name_char(static_cast<unsigned char>(cur_[pos_ + n])))
      ++n;
    if (n == 0) n = 1;
    std::string tok(cur_.substr(pos_, n));
    if (n == 1 && static_cast<unsigned char>(tok[0]) >= 0x80) return "a non-ASCII byte";
    std::string quoted = quote_string(tok);
    quoted.front() = '\'';
    quoted.back() = '\'';
    return quoted;
  }

  [[noreturn]] void fail_expected(const std::string& what) const {
    std::string got = describe_here();
    fail("expected " + what + ", got " + got);
  }

  void expect(char c, const char* what) {
    skip_ws();
    if (peek() != static_cast<unsigned char>(c)) fail_expected(what);
    ++pos_;
  }

  bool accept(char c) {
    skip_ws();
    if (peek() != static_cast<unsigned char>(c)) return false;
    ++pos_;
    return true;
  }

  std::string_view read_while(bool (*pred)(int)) {
    size_t start = pos_;
    while (pos_ < cur_.size() && pred(static_cast<unsigned char>(cur_[pos_]))) ++pos_;
    return cur_.substr(start, pos_ - start);
  }

  // %name: returns the name without its '%'.
  std::string read_name() {
    skip_ws();
    if (peek() != '%') fail_expected("a node name such as '%0' or '%x'");
    ++pos_;
    std::string_view name = read_while(is_name_char);
    if (name.empty()) fail_expected("a name after '%' (letters, digits, '_' or '.')");
    return std::string(name);
  }

  NodeId lookup(const std::string& name, int name_col) const {
    auto it = names_.find(name);
    if (it == names_.end())
      fail("'%" + name + "' is not defined (a node must be defined before it is used)", name_col);
    return it->second.id;
  }

  void parse_line() {
    skip_ws();
    if (at_end()) return;
    if (seen_return_)
      fail("nothing may follow the return line (line " + std::to_string(return_line_) + ")");
    if (peek() == '%') return parse_node();
    size_t save = pos_;
    std::string_view word = read_while(is_ident_char);
    if (word == "return") return parse_return();
    pos_ = save;
    fail_expected("a node '%name = op(...) : type' or 'return'");
  }

  void parse_return() {
    int ret_col = static_cast<int>(pos_) - 5;
    std::vector<NodeId> outs;
    skip_ws();
    if (at_end()) fail("return needs at least one node name", ret_col);
    while (true) {
      skip_ws();
      int name_col = col();
      std::string name = read_name();
      outs.push_back(lookup(name, name_col));
      skip_ws();
      if (at_end()) break;
      if (!accept(',')) fail_expected("',' or the end of the line");
    }
    result_.outputs = std::move(outs);
    seen_return_ = true;
    return_line_ = line_;
  }

  void parse_node() {
    int name_col = col();
    std::string name = read_name();
    if (auto it = names_.find(name); it != names_.end())
      fail("'%" + name + "' is already defined on line " + std::to_string(it->second.line),
           name_col);
    expect('=', "'='");
    skip_ws();
    int op_col = col();
    std::string_view mnemonic = read_while(is_ident_char);
    if (mnemonic.empty()) fail_expected("an op mnemonic such as 'add'");
    std::optional<Op> op = parse_op(mnemonic);
    if (!op)
      fail("unknown op '" + std::string(mnemonic) + "' (the ops are listed in graph/ops.def)",
           op_col);

    expect('(', "'('");
    std::vector<NodeId> inputs;
    if (!accept(')')) {
      while (true) {
        skip_ws();
        int in_col = col();
        std::string in = read_name();
        inputs.push_back(lookup(in, in_col));
        if (accept(')')) break;
        if (!accept(',')) fail_expected("',' or ')'");
      }
    }

    Attrs attrs;
    skip_ws();
    if (peek() == '{') parse_attrs(attrs);
    expect(':', "':' and the node's type");
    TensorType type = parse_type();
    skip_ws();
    if (!at_end()) fail_expected("the end of the line after the type");

    NodeId id;
    try {
      id = result_.graph.add(*op, std::move(inputs), std::move(attrs), type);
    } catch (const Error& e) {
      fail(e.what(), op_col);
    }
    names_.emplace(std::move(name), Definition{id, line_});
  }

  void parse_attrs(Attrs& attrs) {
    expect('{', "'{'");
    if (accept('}')) return;
    while (true) {
      skip_ws();
      int key_col = col();
      std::string key(read_while(is_ident_char));
      if (key.empty()) fail_expected("an attribute name");
      if (attrs.has(key)) fail("attribute '" + key + "' is given twice", key_col);
      expect('=', "'=' after the attribute name");
      attrs.set(key, parse_value());
      if (accept('}')) break;
      if (!accept(',')) fail_expected("',' or '}'");
    }
  }

  AttrValue parse_value() {
    skip_ws();
    int c = peek();
    if (c == '"') return parse_string();
    if (c == '[') {
      ++pos_;
      std::vector<AttrValue> elems;
      bool any_float = false;
      if (!accept(']')) {
        while (true) {
          skip_ws();
          AttrValue v = parse_number();
          any_float = any_float || std::holds_alternative<double>(v);
          elems.push_back(v);
          if (accept(']')) break;
          if (!accept(',')) fail_expected("',' or ']'");
        }
      }
      if (any_float) {
        std::vector<double> out;
        out.reserve(elems.size());
        for (const AttrValue& v : elems)
          out.push_back(std::holds_alternative<double>(v)
                            ? std::get<double>(v)
                            : static_cast<double>(std::get<int64_t>(v)));
        return out;
      }
      std::vector<int64_t> out;
      out.reserve(elems.size());
      for (const AttrValue& v : elems) out.push_back(std::get<int64_t>(v));
      return out;
    }
    if (c == '-' || is_digit(c) || c == 'i' || c == 'n') return parse_number();
    fail_expected("an attribute value (a number, a list '[...]' or a string \"...\")");
  }

  // An int (`-12`) or a float (`2.5`, `1e-30`, `-0.0`, `inf`, `-inf`, `nan`).
  AttrValue parse_number() {
    int num_col = col();
    size_t start = pos_;
    if (peek() == '-') ++pos_;
    while (pos_ < cur_.size()) {
      char ch = cur_[pos_];
      bool sign_after_exp = (ch == '+' || ch == '-') && pos_ > start &&
                            (cur_[pos_ - 1] == 'e' || cur_[pos_ - 1] == 'E');
      if (!is_ident_char(static_cast<unsigned char>(ch)) && ch != '.' && !sign_after_exp) break;
      ++pos_;
    }
    std::string_view tok = cur_.substr(start, pos_ - start);
    if (tok.empty() || tok == "-") {
      pos_ = start;
      fail_expected("a number");
    }
    std::string tok_s(tok);
    bool neg = tok[0] == '-';
    std::string_view body = neg ? tok.substr(1) : tok;
    if (body == "inf")
      return neg ? -std::numeric_limits<double>::infinity()
                 : std::numeric_limits<double>::infinity();
    if (tok == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (body.empty() || !is_digit(static_cast<unsigned char>(body[0])))
      fail("malformed number '" + tok_s + "'", num_col);
    bool all_digits = true;
    for (char ch : body) all_digits = all_digits && is_digit(static_cast<unsigned char>(ch));
    const char* first = tok.data();
    const char* last = tok.data() + tok.size();
    if (all_digits) {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(first, last, v);
      if (ec == std::errc::result_out_of_range)
        fail("integer " + tok_s + " does not fit in 64 bits", num_col);
      if (ec != std::errc() || ptr != last) fail("malformed number '" + tok_s + "'", num_col);
      return v;
    }
    double d = 0;
    auto [ptr, ec] = std::from_chars(first, last, d, std::chars_format::general);
    if (ec == std::errc::result_out_of_range)
      fail("number " + tok_s + " is out of the range of a double", num_col);
    if (ec != std::errc() || ptr != last) fail("malformed number '" + tok_s + "'", num_col);
    return d;
  }

  std::string parse_string() {
    int str_col = col();
    ++pos_;  // the opening quote
    std::string out;
    while (true) {
      if (pos_ >= cur_.size()) fail("unterminated string (a string ends on its line)", str_col);
      auto c = static_cast<unsigned char>(cur_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '\\') {
        int esc_col = col();
        ++pos_;
        if (pos_ >= cur_.size()) fail("unterminated string (a string ends on its line)", str_col);
        auto esc = decode_escape(std::string_view(cur_).substr(pos_));
        if (!esc) {
          if (cur_[pos_] == 'x') fail("'\\x' needs two hex digits", esc_col);
          fail("unknown escape in a string (use \\\", \\\\, \\n, \\t or \\xHH)", esc_col);
        }
        out += esc->first;
        pos_ += esc->second;
        continue;
      }
      if (c < 0x20 || c == 0x7f) fail("control character in a string (write it as \\xHH)");
      out += static_cast<char>(c);
      ++pos_;
    }
  }

  TensorType parse_type() {
    skip_ws();
    int type_col = col();
    std::string_view name = read_while(is_ident_char);
    if (name.empty()) fail_expected("a type such as f32[2,3]");
    std::optional<DType> dt = parse_dtype(name);
    if (!dt)
      fail("unknown dtype '" + std::string(name) + "' (the dtypes are f32, f64, i32 and bool)",
           type_col);
    expect('[', "'[' and the shape");
    std::vector<int64_t> dims;
    if (!accept(']')) {
      while (true) {
        skip_ws();
        int dim_col = col();
        if (!is_digit(peek())) {
          if (peek() == '-') fail("dimensions must be >= 0", dim_col);
          fail_expected("a dimension (an integer >= 0)");
        }
        AttrValue v = parse_number();
        if (!std::holds_alternative<int64_t>(v)) fail("dimensions must be integers", dim_col);
        dims.push_back(std::get<int64_t>(v));
        if (accept(']')) break;
        if (!accept(',')) fail_expected("',' or ']'");
      }
    }
    int64_t n = 1;
    for (int64_t d : dims)
      if (__builtin_mul_overflow(n, d, &n))
        fail("type " + std::string(name) + Shape(dims).str() + " has too many elements", type_col);
    return TensorType{*dt, Shape(std::move(dims))};
  }
};

}  // namespace

ParsedGraph parse_graph(std::string_view text) {
  return Parser().run(text);
}

}  // namespace soma
