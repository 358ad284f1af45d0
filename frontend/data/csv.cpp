#include "frontend/data/csv.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "graph/error.h"
#include "runtime/file_io.h"

namespace soma::data {

namespace {

struct Field {
  std::string text;
  int64_t column = 0;  // 1-based character column where it starts, for messages
};

[[noreturn]] void fail(const std::string& what, int64_t line, const std::string& msg) {
  throw IOError(what + ":" + std::to_string(line) + ": " + msg);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One line's fields.
std::vector<Field> split(std::string_view line, char delim, const std::string& what,
                         int64_t lineno) {
  std::vector<Field> out;
  if (delim == ' ' || delim == '\t') {
    // Whitespace-separated (np.loadtxt's default): runs of spaces and tabs are one separator.
    size_t i = 0;
    while (true) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i >= line.size()) break;
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
      out.push_back(Field{std::string(line.substr(i, j - i)), static_cast<int64_t>(i) + 1});
      i = j;
    }
    return out;
  }
  size_t i = 0;
  while (true) {
    Field f;
    f.column = static_cast<int64_t>(i) + 1;
    size_t j = i;
    while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
    if (j < line.size() && line[j] == '"') {
      ++j;
      while (true) {
        if (j >= line.size())
          fail(what, lineno, "column " + std::to_string(f.column) + ": unterminated quoted field");
        if (line[j] == '"') {
          if (j + 1 < line.size() && line[j + 1] == '"') {
            f.text += '"';
            j += 2;
            continue;
          }
          ++j;
          break;
        }
        f.text += line[j++];
      }
      while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
      if (j < line.size() && line[j] != delim)
        fail(what, lineno,
             "column " + std::to_string(j + 1) + ": text after a quoted field's closing quote");
      i = j;
    } else {
      size_t end = line.find(delim, i);
      if (end == std::string_view::npos) end = line.size();
      f.text = std::string(trim(line.substr(i, end - i)));
      i = end;
    }
    out.push_back(std::move(f));
    if (i >= line.size()) break;
    ++i;  // the delimiter
  }
  return out;
}

std::string describe_column(const std::vector<std::string>& names, size_t col) {
  std::string s = "column " + std::to_string(col + 1);
  if (col < names.size() && !names[col].empty()) s += " ('" + names[col] + "')";
  return s;
}

}  // namespace

CsvTable parse_csv(std::string_view text, const CsvOptions& o, const std::string& what) {
  if (o.delimiter == '"' || o.delimiter == '\n' || o.delimiter == '\r')
    SOMA_THROW(ValueError, "load_csv: the delimiter cannot be a quote or a line break");
  std::vector<std::string> all_names;
  std::vector<size_t> chosen;  // source column of each output column
  std::vector<double> values;
  size_t width = 0;  // fields per row, from the first row
  int64_t rows = 0;
  bool have_layout = false;
  int64_t lineno = 0;
  size_t pos = 0;
  if (text.starts_with("\xEF\xBB\xBF")) pos = 3;  // a UTF-8 byte-order mark

  auto choose = [&](size_t n, int64_t line) {
    width = n;
    if (o.columns.empty()) {
      for (size_t c = 0; c < n; ++c) chosen.push_back(c);
      return;
    }
    for (const auto& col : o.columns) {
      if (const auto* idx = std::get_if<int64_t>(&col)) {
        int64_t k = *idx < 0 ? *idx + static_cast<int64_t>(n) : *idx;
        if (k < 0 || k >= static_cast<int64_t>(n))
          fail(what, line,
               "column index " + std::to_string(*idx) + " is out of range for " +
                   std::to_string(n) + " columns");
        chosen.push_back(static_cast<size_t>(k));
      } else {
        const std::string& name = std::get<std::string>(col);
        if (!o.header)
          SOMA_THROW(ValueError, "load_csv: column '" << name
                                                      << "' is chosen by name, but the file is "
                                                         "read without a header");
        size_t k = 0;
        while (k < all_names.size() && all_names[k] != name) ++k;
        if (k == all_names.size()) {
          std::string list;
          for (const std::string& a : all_names) list += (list.empty() ? "'" : ", '") + a + "'";
          fail(what, line, "no column named '" + name + "'; the header has " + list);
        }
        chosen.push_back(k);
      }
    }
  };

  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    std::vector<Field> fields = split(line, o.delimiter, what, lineno);
    if (!have_layout && o.header && all_names.empty()) {
      for (Field& f : fields) all_names.push_back(f.text);
      choose(fields.size(), lineno);
      have_layout = true;
      continue;
    }
    if (!have_layout) {
      choose(fields.size(), lineno);
      have_layout = true;
    }
    if (fields.size() != width)
      fail(what, lineno,
           "this row has " + std::to_string(fields.size()) + " fields, the " +
               (o.header ? "header has " : "first row has ") + std::to_string(width) +
               (o.delimiter != ',' || fields.size() != 1
                    ? ""
                    : std::string(" (is the delimiter another character than ','?)")));
    for (size_t c : chosen) {
      const Field& f = fields[c];
      const char* s = f.text.c_str();
      char* end = nullptr;
      errno = 0;
      double v = f.text.empty() ? 0 : std::strtod(s, &end);
      if (f.text.empty() || end != s + f.text.size())
        fail(what, lineno,
             describe_column(all_names, c) + ": " +
                 (f.text.empty() ? std::string("an empty field")
                                 : "'" + f.text.substr(0, 40) + "' is not a number") +
                 " (character " + std::to_string(f.column) + ")");
      if (o.dtype == DType::i32 && (v != std::floor(v) || v < std::numeric_limits<int32_t>::min() ||
                                    v > std::numeric_limits<int32_t>::max()))
        fail(what, lineno,
             describe_column(all_names, c) + ": '" + f.text +
                 "' is not an integer that fits in i32 (dtype='i32'; use 'f32' or 'f64')");
      if (o.dtype == DType::boolean && v != 0 && v != 1)
        fail(what, lineno,
             describe_column(all_names, c) + ": '" + f.text + "' is not 0 or 1 (dtype='bool')");
      values.push_back(v);
    }
    ++rows;
  }
  CsvTable t;
  for (size_t c : chosen) t.names.push_back(c < all_names.size() ? all_names[c] : std::string());
  if (!o.header) t.names.clear();
  int64_t cols = static_cast<int64_t>(chosen.size());
  t.values = Array::from_doubles(o.dtype, Shape{rows, cols}, values);
  return t;
}

CsvTable load_csv(const std::string& path, const CsvOptions& options) {
  return parse_csv(read_file(path, "CSV file"), options, path);
}

std::string format_csv(const Array& values, const std::vector<std::string>& header,
                       char delimiter) {
  int rank = values.shape().rank();
  if (rank != 1 && rank != 2)
    SOMA_THROW(ShapeError, "save_csv: needs a 1-D or 2-D array, got " << values.type_str());
  int64_t rows = values.shape()[0], cols = rank == 2 ? values.shape()[1] : 1;
  if (!header.empty() && static_cast<int64_t>(header.size()) != cols)
    SOMA_THROW(ValueError,
               "save_csv: " << header.size() << " header names for " << cols << " columns");
  std::string out;
  for (size_t c = 0; c < header.size(); ++c) {
    const std::string& h = header[c];
    if (c) out += delimiter;
    if (h.find_first_of(std::string("\"\r\n") + delimiter) != std::string::npos) {
      out += '"';
      for (char ch : h) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      out += '"';
    } else {
      out += h;
    }
  }
  if (!header.empty()) out += '\n';
  int digits = values.dtype() == DType::f64 ? 17 : 9;
  char buf[64];
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      if (c) out += delimiter;
      double v = values.get(r * cols + c);
      if (values.dtype() == DType::i32 || values.dtype() == DType::boolean)
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
      else
        std::snprintf(buf, sizeof buf, "%.*g", digits, v);
      out += buf;
    }
    out += '\n';
  }
  return out;
}

void save_csv(const std::string& path, const Array& values, const std::vector<std::string>& header,
              char delimiter) {
  write_file_atomic(path, format_csv(values, header, delimiter), "CSV file");
}

}  // namespace soma::data
