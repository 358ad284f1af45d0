#include "frontend/script/lexer.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>

namespace soma::script {

bool is_keyword(const std::string& name) {
  static const std::set<std::string> kw = {
      "True",   "False", "None",   "for",   "in",       "and",    "or",      "not",
      "if",     "else",  "elif",   "while", "def",      "class",  "return",  "import",
      "from",   "as",    "lambda", "with",  "try",      "except", "finally", "raise",
      "global", "del",   "pass",   "break", "continue", "yield",  "assert",  "is"};
  return kw.count(name) != 0;
}

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::Name:
    case Tok::Op:
      return "'" + t.text + "'";
    case Tok::Int:
    case Tok::Float:
      return "the number " + t.text;
    case Tok::String:
      return "a string";
    case Tok::Newline:
      return "end of line";
    case Tok::Indent:
      return "an indented block";
    case Tok::Dedent:
      return "the end of the block";
    case Tok::Command:
      return "a ':' command";
    case Tok::End:
      return "end of input";
  }
  return "?";
}

namespace {

// Operators, longest first.
constexpr std::array<const char*, 39> kOps = {
    "...", "<<", ">>", "**", "//", "==", "!=", "<=", ">=", "+=", "-=", "*=", "/=",
    "@=",  "->", "+",  "-",  "*",  "/",  "@",  "%",  "<",  ">",  "=",  "(",  ")",
    "[",   "]",  "{",  "}",  ",",  ":",  ".",  ";",  "&",  "|",  "~",  "^",  "!"};

class Lexer {
 public:
  Lexer(const SourcePtr& src, size_t begin, size_t end)
      : src_(src),
        s_(src->text().substr(0, std::min(end, src->text().size()))),
        pos_(std::min(begin, s_.size())),
        line_(src->first_line()) {
    for (size_t i = 0; i < pos_; ++i)
      if (s_[i] == '\n') {
        ++line_;
        line_pos_ = i + 1;
      }
  }

  std::vector<Token> run() {
    indents_.push_back(0);
    // Lexing from the middle of a line (a command's argument) starts without indentation.
    bool at_line_start = pos_ == 0 || s_[pos_ - 1] == '\n';
    while (true) {
      if (at_line_start && depth_.empty()) {
        if (!line_start()) break;  // end of text
        at_line_start = false;
        continue;
      }
      skip_spaces();
      if (pos_ >= s_.size()) break;
      char c = s_[pos_];
      if (c == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
        continue;
      }
      if (c == '\\' && pos_ + 1 < s_.size() && (s_[pos_ + 1] == '\n' || s_[pos_ + 1] == '\r')) {
        ++pos_;
        if (s_[pos_] == '\r') ++pos_;
        if (pos_ < s_.size() && s_[pos_] == '\n') {
          ++pos_;
          newline();
        }
        continue;
      }
      if (c == '\\' && pos_ + 1 >= s_.size()) {  // a backslash at the very end: unfinished
        ScriptError e(here(), "the line continues (backslash) but the input ends");
        e.incomplete = true;
        throw e;
      }
      if (c == '\r') {  // "\r\n" ends a line at its '\n'; a lone '\r' is a space
        ++pos_;
        continue;
      }
      if (c == '\n') {
        if (depth_.empty()) {
          emit(Tok::Newline, "", here());
          at_line_start = true;
        }
        ++pos_;
        newline();
        continue;
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        name();
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 (c == '.' && pos_ + 1 < s_.size() &&
                  std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])))) {
        number();
      } else if (c == '"' || c == '\'') {
        string();
      } else {
        op();
      }
    }
    if (!depth_.empty()) {
      const Token& open = depth_.back();
      ScriptError e(open.loc, "'" + open.text + "' was never closed");
      e.incomplete = true;
      throw e;
    }
    if (!out_.empty() && out_.back().kind != Tok::Newline && out_.back().kind != Tok::Dedent)
      emit(Tok::Newline, "", here());
    while (indents_.size() > 1) {
      indents_.pop_back();
      emit(Tok::Dedent, "", here());
    }
    emit(Tok::End, "", here());
    return std::move(out_);
  }

 private:
  Location here() const { return Location{src_, line_, static_cast<int>(pos_ - line_pos_) + 1}; }
  Location at(size_t p) const { return Location{src_, line_, static_cast<int>(p - line_pos_) + 1}; }

  void newline() {
    ++line_;
    line_pos_ = pos_;
  }

  [[noreturn]] void fail(const Location& loc, const std::string& msg) {
    throw ScriptError(loc, msg);
  }

  void emit(Tok kind, std::string text, Location loc) {
    Token t;
    t.kind = kind;
    t.text = std::move(text);
    t.loc = std::move(loc);
    out_.push_back(std::move(t));
  }

  void skip_spaces() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\f' || s_[pos_] == '\r'))
      ++pos_;
  }

  // At the start of a logical line: measures the indentation, skips blank and comment lines,
  // lexes a ':' command line. Returns false at the end of the text.
  bool line_start() {
    while (true) {
      size_t p = pos_;
      int width = 0;
      while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t' || s_[p] == '\f' || s_[p] == '\r')) {
        width = s_[p] == '\t' ? (width / 8 + 1) * 8 : width + 1;
        ++p;
      }
      if (p >= s_.size()) {
        pos_ = p;
        return false;
      }
      char c = s_[p];
      if (c == '#') {
        while (p < s_.size() && s_[p] != '\n') ++p;
      }
      if (p >= s_.size()) {
        pos_ = p;
        return false;
      }
      if (s_[p] == '\n') {  // a blank line
        pos_ = p + 1;
        newline();
        continue;
      }
      pos_ = p;
      indent_to(width);
      if (s_[p] == ':') {
        command();
        return true;
      }
      return true;
    }
  }

  void indent_to(int width) {
    if (width > indents_.back()) {
      indents_.push_back(width);
      emit(Tok::Indent, "", here());
      return;
    }
    while (width < indents_.back()) {
      indents_.pop_back();
      emit(Tok::Dedent, "", here());
    }
    if (width != indents_.back())
      fail(here(), "unindent does not match any outer indentation level");
  }

  void command() {
    Location loc = here();
    size_t b = pos_ + 1, e = b;
    while (e < s_.size() && s_[e] != '\n') ++e;
    std::string text = s_.substr(b, e - b);
    if (!text.empty() && text.back() == '\r') text.pop_back();
    // A trailing comment: '#' after whitespace.
    for (size_t i = 1; i < text.size(); ++i)
      if (text[i] == '#' && (text[i - 1] == ' ' || text[i - 1] == '\t')) {
        text.resize(i);
        break;
      }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
    emit(Tok::Command, text, loc);
    pos_ = e;  // the newline (if any) ends the logical line as usual
  }

  void name() {
    size_t b = pos_;
    while (pos_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
      ++pos_;
    emit(Tok::Name, s_.substr(b, pos_ - b), at(b));
  }

  void number() {
    size_t b = pos_;
    Location loc = here();
    bool is_float = false;
    std::string digits;
    auto take_digits = [&] {
      bool any = false;
      while (pos_ < s_.size() &&
             (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
        if (s_[pos_] == '_') {
          if (!any || pos_ + 1 >= s_.size() ||
              !std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])))
            fail(here(), "invalid number: '_' must separate digits");
        } else {
          digits += s_[pos_];
          any = true;
        }
        ++pos_;
      }
      return any;
    };
    take_digits();
    if (pos_ < s_.size() && s_[pos_] == '.' &&
        !(pos_ + 1 < s_.size() && s_[pos_ + 1] == '.')) {  // not the start of '...'
      is_float = true;
      digits += '.';
      ++pos_;
      take_digits();
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      size_t save = pos_;
      std::string save_digits = digits;
      digits += 'e';
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) digits += s_[pos_++];
      if (!take_digits()) {
        pos_ = save;
        digits = save_digits;
        fail(here(), "invalid number: the exponent has no digits");
      }
      is_float = true;
    }
    if (pos_ < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
      fail(here(),
           "invalid number '" + s_.substr(b, pos_ - b + 1) + "': a name cannot start with a digit");
    Token t;
    t.loc = loc;
    t.text = s_.substr(b, pos_ - b);
    if (is_float) {
      t.kind = Tok::Float;
      std::string d = digits;
      if (!d.empty() && d[0] == '.') d = "0" + d;
      double v = 0;
      auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), v);
      if (ec == std::errc::result_out_of_range) {
        // Overflow is inf and underflow 0, as in Python.
        v = d.find("e-") != std::string::npos ? 0.0 : HUGE_VAL;
      } else if (ec != std::errc() || p != d.data() + d.size()) {
        fail(loc, "invalid number '" + t.text + "'");
      }
      t.float_value = v;
    } else {
      t.kind = Tok::Int;
      int64_t v = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      if (ec != std::errc() || p != digits.data() + digits.size())
        fail(loc, "integer " + t.text + " is too large (the limit is 9223372036854775807)");
      t.int_value = v;
    }
    out_.push_back(std::move(t));
  }

  void string() {
    Location loc = here();
    char q = s_[pos_++];
    std::string v;
    while (true) {
      if (pos_ >= s_.size() || s_[pos_] == '\n' || s_[pos_] == '\r')
        fail(loc, "unterminated string (a string must end on the line where it starts)");
      char c = s_[pos_++];
      if (c == q) break;
      if (c != '\\') {
        v += c;
        continue;
      }
      if (pos_ >= s_.size()) fail(loc, "unterminated string");
      char e = s_[pos_++];
      switch (e) {
        case 'n':
          v += '\n';
          break;
        case 't':
          v += '\t';
          break;
        case 'r':
          v += '\r';
          break;
        case '0':
          v += '\0';
          break;
        case '\\':
        case '\'':
        case '"':
          v += e;
          break;
        case 'x': {
          auto hex = [](char h) {
            return std::isxdigit(static_cast<unsigned char>(h))
                       ? (std::isdigit(static_cast<unsigned char>(h))
                              ? h - '0'
                              : (std::tolower(h) - 'a' + 10))
                       : -1;
          };
          int h1 = pos_ < s_.size() ? hex(s_[pos_]) : -1;
          int h2 = pos_ + 1 < s_.size() ? hex(s_[pos_ + 1]) : -1;
          if (h1 < 0 || h2 < 0) fail(at(pos_ - 2), "invalid \\x escape: needs two hex digits");
          v += static_cast<char>(h1 * 16 + h2);
          pos_ += 2;
          break;
        }
        default:  // Python keeps unknown escapes as they are
          v += '\\';
          v += e;
      }
    }
    Token t;
    t.kind = Tok::String;
    t.text = std::move(v);
    t.loc = loc;
    out_.push_back(std::move(t));
  }

  void op() {
    Location loc = here();
    for (const char* o : kOps) {
      std::string_view ov(o);
      if (s_.compare(pos_, ov.size(), ov) == 0) {
        pos_ += ov.size();
        std::string text(ov);
        if (text == "(" || text == "[" || text == "{") {
          emit(Tok::Op, text, loc);
          depth_.push_back(out_.back());
          return;
        }
        if (text == ")" || text == "]" || text == "}") {
          if (depth_.empty()) fail(loc, "unmatched '" + text + "'");
          char open = depth_.back().text[0];
          char want = open == '(' ? ')' : open == '[' ? ']' : '}';
          if (text[0] != want)
            fail(loc, "closing '" + text + "' does not match '" + depth_.back().text + "' at " +
                          std::to_string(depth_.back().loc.line) + ":" +
                          std::to_string(depth_.back().loc.col));
          depth_.pop_back();
        }
        emit(Tok::Op, text, loc);
        return;
      }
    }
    unsigned char c = static_cast<unsigned char>(s_[pos_]);
    if (c >= 0x80) {
      // Decode one UTF-8 character for the message.
      int n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      uint32_t cp = n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
      bool ok = n > 0 && pos_ + static_cast<size_t>(n) <= s_.size();
      for (int i = 1; ok && i < n; ++i) {
        unsigned char d = static_cast<unsigned char>(s_[pos_ + static_cast<size_t>(i)]);
        if ((d & 0xC0) != 0x80) ok = false;
        cp = (cp << 6) | (d & 0x3F);
      }
      char buf[64];
      if (ok) {
        std::snprintf(buf, sizeof buf, "U+%04X", cp);
        fail(loc, "unexpected character '" + s_.substr(pos_, static_cast<size_t>(n)) + "' (" + buf +
                      ")");
      }
      std::snprintf(buf, sizeof buf, "0x%02X", c);
      fail(loc, std::string("invalid byte ") + buf + " (the text is not valid UTF-8)");
    }
    char buf[32];
    if (std::isprint(c))
      std::snprintf(buf, sizeof buf, "'%c'", c);
    else
      std::snprintf(buf, sizeof buf, "0x%02X", c);
    fail(loc, std::string("unexpected character ") + buf);
  }

  SourcePtr src_;
  const std::string s_;
  size_t pos_ = 0, line_pos_ = 0;
  int line_;
  std::vector<int> indents_;
  std::vector<Token> depth_;  // open brackets
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex(const SourcePtr& source, size_t begin, size_t end) {
  return Lexer(source, begin, end).run();
}

}  // namespace soma::script
