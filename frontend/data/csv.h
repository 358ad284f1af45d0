// Comma-separated values as a 2-D array [rows, columns]: what np.loadtxt / pandas.read_csv give a
// Keras user for tabular data.
//
// Fields are numbers (as strtod reads them: 1, -2.5e3, nan, inf) separated by one delimiter
// character; a field may be double-quoted ("1.5", with "" for a quote inside); spaces around a
// field are ignored; lines end in \n or \r\n; empty lines are skipped. With a header, the first
// line names the columns, and columns may be chosen by name. Every error is an IOError naming
// the file, the line and the column: a field that is not a number, a row with another number of
// fields than the first, an unknown column, an integer that does not fit in i32.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/array.h"

namespace soma::data {

struct CsvOptions {
  char delimiter = ',';
  bool header = true;  // the first line names the columns
  // The columns to read, in this order, by index (negative from the end) or, with a header, by
  // name; empty = all.
  std::vector<std::variant<int64_t, std::string>> columns;
  DType dtype = DType::f32;  // i32 needs every value to be an integer in range; bool 0 or 1
};

struct CsvTable {
  std::vector<std::string> names;  // the chosen columns' names (empty without a header)
  Array values;                    // [rows, chosen columns]
};

CsvTable parse_csv(std::string_view text, const CsvOptions& options, const std::string& what);
CsvTable load_csv(const std::string& path, const CsvOptions& options = {});

// A 2-D array (a 1-D one as one column) as CSV text: an optional header line (names are quoted
// when they hold the delimiter, a quote or a line break), then one line per row, numbers written
// so that they read back exactly (17 significant digits for f64, 9 for f32).
std::string format_csv(const Array& values, const std::vector<std::string>& header = {},
                       char delimiter = ',');
// Writes format_csv atomically (a temporary file, then rename).
void save_csv(const std::string& path, const Array& values,
              const std::vector<std::string>& header = {}, char delimiter = ',');

}  // namespace soma::data
