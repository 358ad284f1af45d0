#include "frontend/script/source.h"

#include <algorithm>

namespace soma::script {

Source::Source(std::string name, std::string text, int first_line)
    : name_(std::move(name)), text_(std::move(text)), first_line_(first_line) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
}

std::string_view Source::line_text(int line) const {
  int k = line - first_line_;
  if (k < 0 || static_cast<size_t>(k) >= line_starts_.size()) return {};
  size_t b = line_starts_[static_cast<size_t>(k)];
  size_t e = text_.find('\n', b);
  if (e == std::string::npos) e = text_.size();
  std::string_view s(text_.data() + b, e - b);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

size_t Source::offset(int line, int col) const {
  int k = line - first_line_;
  if (k < 0 || static_cast<size_t>(k) >= line_starts_.size()) return text_.size();
  return std::min(text_.size(),
                  line_starts_[static_cast<size_t>(k)] + static_cast<size_t>(std::max(col - 1, 0)));
}

std::string Location::str() const {
  if (!source) return "";
  if (line <= 0) return source->name();
  return source->name() + ":" + std::to_string(line) + ":" + std::to_string(col);
}

namespace {

// The caret line: the source line's prefix up to the column with every character but tabs
// replaced by a space (so tabs line up), counting a UTF-8 sequence as one character.
std::string caret_prefix(std::string_view line, int col) {
  std::string out;
  size_t n = std::min(line.size(), static_cast<size_t>(std::max(col - 1, 0)));
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (c == '\t')
      out += '\t';
    else if ((c & 0xC0) != 0x80)  // not a UTF-8 continuation byte
      out += ' ';
  }
  if (col - 1 > static_cast<int>(line.size()))  // past the end (an error at the end of a line)
    out.append(static_cast<size_t>(col - 1) - line.size(), ' ');
  return out;
}

// Control characters other than tabs would garble the terminal; show them as '?'.
std::string printable(std::string_view line) {
  std::string out(line);
  for (char& c : out)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) c = '?';
  return out;
}

}  // namespace

std::string format_diagnostic(const Diagnostic& d) {
  std::string out;
  std::string where = d.loc.str();
  if (!where.empty()) out += where + ": ";
  out += d.severity + ": " + d.message + "\n";
  if (d.loc.valid() && d.loc.col > 0) {
    std::string_view text = d.loc.source->line_text(d.loc.line);
    std::string num = std::to_string(d.loc.line);
    std::string gutter(std::max<size_t>(num.size(), 4), ' ');
    std::string numbered = gutter.substr(num.size()) + num;
    out += " " + numbered + " | " + printable(text) + "\n";
    out += " " + gutter + " | " + caret_prefix(text, d.loc.col) + "^\n";
  }
  return out;
}

ScriptError::ScriptError(Location loc, std::string message, std::vector<Diagnostic> notes)
    : Error(format_diagnostic({loc, "error", message})),
      loc_(std::move(loc)),
      message_(std::move(message)),
      notes_(std::move(notes)) {}

std::string ScriptError::report() const {
  std::string out = format_diagnostic({loc_, "error", message_});
  for (const Diagnostic& n : notes_) out += format_diagnostic(n);
  return out;
}

}  // namespace soma::script
