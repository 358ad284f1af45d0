// CSV files as arrays: numbers, quoting, headers, column choice by index and name, dtypes, line
// endings, whitespace-separated files, and errors that name the file, line and column.
#include "frontend/data/csv.h"

#include <gtest/gtest.h>

#include <cmath>

#include "nn/nn_test_util.h"

namespace soma::data {
namespace {

using nn::testing::expect_values;

CsvTable parse(const std::string& text, CsvOptions o = {}) {
  return parse_csv(text, o, "t.csv");
}

void expect_error(const std::string& text, CsvOptions o, std::initializer_list<std::string> parts) {
  try {
    parse(text, o);
    ADD_FAILURE() << "no error for: " << text;
  } catch (const IOError& e) {
    std::string m = e.what();
    for (const std::string& p : parts) EXPECT_NE(m.find(p), std::string::npos) << p << " in: " << m;
  }
}

TEST(Csv, HeaderQuotesLineEndingsAndSpecialValues) {
  CsvTable t = parse(
      "\xEF\xBB\xBF"
      "x,\"y, z\",w\r\n1,2,3\r\n\n 4.5 , \"-6e1\" ,nan\n7,8,inf");
  EXPECT_EQ(t.names, (std::vector<std::string>{"x", "y, z", "w"}));
  ASSERT_EQ(t.values.type_str(), "f32[3,3]");
  std::vector<double> want = {1, 2, 3, 4.5, -60, 0, 7, 8, INFINITY};
  for (int64_t i = 0; i < 9; ++i)
    if (i == 5)
      EXPECT_TRUE(std::isnan(t.values.get(i)));
    else
      EXPECT_EQ(t.values.get(i), want[static_cast<size_t>(i)]) << i;
}

TEST(Csv, ColumnsByIndexAndNameInTheOrderAsked) {
  CsvOptions o;
  o.columns = {std::string("w"), int64_t{0}, int64_t{-2}};
  CsvTable t = parse("x,y,w\n1,2,3\n4,5,6\n", o);
  EXPECT_EQ(t.names, (std::vector<std::string>{"w", "x", "y"}));
  expect_values(t.values, {3, 1, 2, 6, 4, 5});
  o.columns = {std::string("v")};
  expect_error("x,y,w\n1,2,3\n", o, {"t.csv:1", "no column named 'v'", "'x', 'y', 'w'"});
  o.columns = {int64_t{3}};
  expect_error("x,y,w\n1,2,3\n", o, {"column index 3", "3 columns"});
  o.header = false;
  o.columns = {std::string("x")};
  EXPECT_THROW(parse("1,2\n", o), ValueError);
}

TEST(Csv, NoHeaderOtherDelimitersAndDtypes) {
  CsvOptions o;
  o.header = false;
  o.delimiter = ';';
  o.dtype = DType::i32;
  CsvTable t = parse("1;2\n-3;4\n", o);
  EXPECT_TRUE(t.names.empty());
  EXPECT_EQ(t.values.type_str(), "i32[2,2]");
  expect_values(t.values, {1, 2, -3, 4});
  o.delimiter = ' ';
  o.dtype = DType::f64;
  t = parse("  1\t 2.25   3\n4 5 6  \n", o);
  EXPECT_EQ(t.values.type_str(), "f64[2,3]");
  expect_values(t.values, {1, 2.25, 3, 4, 5, 6});
  o.delimiter = ',';
  o.dtype = DType::boolean;
  expect_values(parse("0,1\n1,0\n", o).values, {0, 1, 1, 0});
  EXPECT_EQ(parse("a,b\n", CsvOptions{}).values.type_str(), "f32[0,2]");
}

TEST(Csv, ErrorsNameTheFileLineAndColumn) {
  expect_error("a,b\n1,2\n3,x7\n", {}, {"t.csv:3", "column 2 ('b')", "'x7' is not a number"});
  expect_error("a,b\n1,2\n3\n", {}, {"t.csv:3", "1 fields", "header has 2"});
  expect_error("a,b\n1,,\n", {}, {"t.csv:2", "3 fields"});
  expect_error("a,b\n1,\n", {}, {"t.csv:2", "column 2", "an empty field"});
  expect_error("a,b\n1,\"2\n", {}, {"t.csv:2", "unterminated quoted field"});
  expect_error("a;b\n1;2\n", {}, {});  // one field per row and a non-number: either way an error
  CsvOptions o;
  o.dtype = DType::i32;
  expect_error("a\n2.5\n", o, {"t.csv:2", "'2.5' is not an integer that fits in i32"});
  expect_error("a\n3000000000\n", o, {"3000000000"});
  o.dtype = DType::boolean;
  expect_error("a\n2\n", o, {"not 0 or 1"});
  EXPECT_THROW(load_csv("/nonexistent/x.csv"), IOError);
}

TEST(Csv, WrittenFilesReadBackExactly) {
  Array x = Array::from_f64(Shape{2, 2}, std::vector<double>{0.1, -1e-300, 1.0 / 3, 12345678.9});
  std::string text = format_csv(x, {"a", "b,c"});
  EXPECT_EQ(text.substr(0, text.find('\n')), "a,\"b,c\"");
  CsvOptions o;
  o.dtype = DType::f64;
  CsvTable t = parse(text, o);
  EXPECT_EQ(t.names, (std::vector<std::string>{"a", "b,c"}));
  EXPECT_EQ(t.values.to_doubles(), x.to_doubles());
  Array f = Array::from_f32(Shape{3}, std::vector<float>{0.1f, 1e-38f, 3.4e38f});
  o.header = false;
  o.dtype = DType::f32;
  EXPECT_EQ(parse(format_csv(f, {}, ';'), o).values.to_doubles(), f.to_doubles());
  EXPECT_EQ(format_csv(Array::from_i32(Shape{1, 2}, std::vector<int32_t>{-7, 2147483647})),
            "-7,2147483647\n");
  EXPECT_THROW(format_csv(x, {"one"}), ValueError);
  EXPECT_THROW(format_csv(Array(DType::f32, Shape{1, 1, 1})), ShapeError);
}

}  // namespace
}  // namespace soma::data
