#include "frontend/script/parser.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace soma::script {
namespace {

std::string parse1(const std::string& text) {
  auto stmts = parse_program(std::make_shared<const Source>("t.soma", text));
  std::string out;
  for (const StmtPtr& s : stmts) out += (out.empty() ? "" : " ; ") + to_string(*s);
  return out;
}

ScriptError parse_error(const std::string& text) {
  try {
    parse1(text);
  } catch (const ScriptError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for: " << text;
  return ScriptError({}, "");
}

TEST(Parser, PythonPrecedence) {
  EXPECT_EQ(parse1("a + b * c"), "(a + (b * c))");
  EXPECT_EQ(parse1("x @ w + b"), "((x @ w) + b)");
  EXPECT_EQ(parse1("-x ** 2"), "(-(x ** 2))");
  EXPECT_EQ(parse1("2 ** -1"), "(2 ** (-1))");
  EXPECT_EQ(parse1("a ** b ** c"), "(a ** (b ** c))");
  EXPECT_EQ(parse1("a - b - c"), "((a - b) - c)");
  EXPECT_EQ(parse1("a < b + 1"), "(a < (b + 1))");
  EXPECT_EQ(parse1("(a > 0) & (b < 1) | c"), "(((a > 0) & (b < 1)) | c)");
  EXPECT_EQ(parse1("not a == b and c or d"), "(((not (a == b)) and c) or d)");
  EXPECT_EQ(parse1("a // b % c"), "((a // b) % c)");
}

TEST(Parser, CallsAttributesIndexing) {
  EXPECT_EQ(parse1("sum(x, axis=1, keepdims=True)"), "sum(x, axis=1, keepdims=True)");
  EXPECT_EQ(parse1("model.fit(x, y, epochs=5)"), "model.fit(x, y, epochs=5)");
  EXPECT_EQ(parse1("x[:, 1:3]"), "x[:, 1:3]");
  EXPECT_EQ(parse1("x[..., -1]"), "x[..., (-1)]");
  EXPECT_EQ(parse1("x[::-1, None]"), "x[::(-1), None]");
  EXPECT_EQ(parse1("x.T.shape[0]"), "x.T.shape[0]");
  EXPECT_EQ(parse1("f(a,)(b)"), "f(a)(b)");
  EXPECT_EQ(parse1("[1, [2.5, 'a'], []]"), "[1, [2.5, 'a'], []]");
  EXPECT_EQ(parse1("(1, 2)"), "[1, 2]");
  EXPECT_EQ(parse1("'a' \"b\""), "'ab'");
}

TEST(Parser, Statements) {
  EXPECT_EQ(parse1("gw, gb = grad(loss, [w, b])"), "gw, gb = grad(loss, [w, b])");
  EXPECT_EQ(parse1("w -= 0.5 * g"), "w -= (0.5 * g)");
  EXPECT_EQ(parse1("a = 1; b = 2;"), "a = 1 ; b = 2");
  EXPECT_EQ(parse1("for i in range(3): a = i; b = i"), "for i in range(3): { a = i } { b = i }");
  EXPECT_EQ(parse1("for i in range(3):\n    a = i\n\n    b = i\nc"),
            "for i in range(3): { a = i } { b = i } ; c");
  EXPECT_EQ(parse1(":emit graph y\nx"), ":emit graph y ; x");
  EXPECT_EQ(parse1("a, b = b, a"), "a, b = [b, a]");
  EXPECT_EQ(parse1("m.optimizer.lr = 0.1"), "m.optimizer.lr = 0.1");
  EXPECT_EQ(parse1("m.optimizer.lr *= 0.5"), "m.optimizer.lr *= 0.5");
}

TEST(Parser, FunctionDefinitions) {
  EXPECT_EQ(parse1("def f(x, y=2): return x + y"), "def f(x, y=2): return (x + y);");
  EXPECT_EQ(parse1("def f():\n    a = 1\n    for i in range(2): a = a + i\n    return\nf()"),
            "def f(): a = 1; for i in range(2): { a = (a + i) }; return; ; f()");
  EXPECT_EQ(parse1("def f(a,): return a, a"), "def f(a): return [a, a];");
  for (const char* bad : {"return 1", "def f(a, a): return a", "def f(a=1, b): return a",
                          "def (x): return x", "def f(x) return x", "def f(x):\nreturn x",
                          "def f():\n    def g(): return 1", "x = 1; def f(): return 1"})
    EXPECT_FALSE(parse_error(bad).message().empty()) << bad;
}

TEST(Parser, IfWhileBreakContinueAndConditionalExpressions) {
  EXPECT_EQ(parse1("a if c else b"), "(a if c else b)");
  EXPECT_EQ(parse1("a if c else b if d else e"), "(a if c else (b if d else e))");
  EXPECT_EQ(parse1("x = 1 + 2 if c or d else 3"), "x = ((1 + 2) if (c or d) else 3)");
  EXPECT_EQ(parse1("if a: b\nelif c: d\nelse: e"), "if a: { b } else: { if c: { d } else: { e } }");
  EXPECT_EQ(parse1("if a:\n    b\n\nelse:\n    c\nd"), "if a: { b } else: { c } ; d");
  EXPECT_EQ(parse1("while x < 3:\n    x += 1\n    if x: continue\n    break"),
            "while (x < 3): { x += 1 } { if x: { continue } } { break }");
  for (const char* bad : {"a if c", "break", "continue", "if a: b\nelse c", "while x",
                          "for i in r:\n    def f(): break", "x = 1; if a: b"})
    EXPECT_FALSE(parse_error(bad).message().empty()) << bad;
  auto chunks = split_statements("if a:\n    b\nelse:\n    c\nelif_x = 1\nelse_ = 2\n");
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].text, "if a:\n    b\nelse:\n    c");
}

TEST(Parser, ErrorsPointAtTheProblem) {
  ScriptError e = parse_error("y = ");
  EXPECT_EQ(e.message(), "expected an expression after '='");
  e = parse_error("f(1,,2)");
  EXPECT_EQ(e.message(), "expected an argument, got ','");
  EXPECT_EQ(e.loc().col, 5);
  e = parse_error("f(a=1, 2)");
  EXPECT_EQ(e.message(), "positional argument follows keyword argument");
  e = parse_error("f(a=1, a=2)");
  EXPECT_EQ(e.message(), "keyword argument 'a' repeated");
  e = parse_error("1 = x");
  EXPECT_EQ(e.message(), "cannot assign to a literal");
  e = parse_error("f(x) = 1");
  EXPECT_NE(e.message().find("function call"), std::string::npos);
  e = parse_error("a < b < c");
  EXPECT_NE(e.message().find("chained comparisons"), std::string::npos);
  e = parse_error("import numpy");
  EXPECT_NE(e.message().find("'import' is not supported"), std::string::npos);
  e = parse_error("x = {}");
  EXPECT_NE(e.message().find("dictionaries"), std::string::npos);
  e = parse_error("a ^ b");
  EXPECT_NE(e.message().find("**"), std::string::npos);
  e = parse_error("for i in r:\nx");
  EXPECT_EQ(e.message(), "expected an indented block after the for statement");
  e = parse_error("  x = 1");
  EXPECT_EQ(e.message(), "unexpected indent");
  e = parse_error("x y");
  EXPECT_NE(e.message().find("unexpected 'y'"), std::string::npos);
  EXPECT_EQ(e.loc().col, 3);
  e = parse_error("a = b = 1");
  EXPECT_NE(e.message().find("chained assignment"), std::string::npos);
}

TEST(Parser, DeepNestingIsAnErrorNotACrash) {
  std::string deep(5000, '(');
  ScriptError e = parse_error(deep + "1" + std::string(5000, ')'));
  EXPECT_NE(e.message().find("nested too deeply"), std::string::npos);
  e = parse_error(std::string(5000, '-') + "1");
  EXPECT_NE(e.message().find("nested too deeply"), std::string::npos);
}

TEST(Parser, TallExpressionsAreAnErrorNotACrash) {
  // Chains that the parser builds in loops: a 20,000-term sum, 10,000 indexings, 30,000 .T.
  std::string sum = "x = a";
  for (int i = 0; i < 20000; ++i) sum += " + a";
  ScriptError e = parse_error(sum);
  EXPECT_NE(e.message().find("expression too deep"), std::string::npos) << e.message();
  std::string idx = "x = a";
  for (int i = 0; i < 10000; ++i) idx += "[:]";
  EXPECT_NE(parse_error(idx).message().find("expression too deep"), std::string::npos);
  std::string t = "x = a";
  for (int i = 0; i < 30000; ++i) t += ".T";
  EXPECT_NE(parse_error(t).message().find("expression too deep"), std::string::npos);
  // Just under the limit: fine.
  std::string ok = "x = a";
  for (int i = 1; i < kMaxExprHeight - 1; ++i) ok += " + a";
  EXPECT_NO_THROW(parse1(ok));
}

TEST(Parser, DeeplyNestedLoopsAreAnError) {
  std::string text;
  for (int i = 0; i < 150; ++i) text += std::string(static_cast<size_t>(i), ' ') + "for i in r:\n";
  text += std::string(150, ' ') + "x = 1\n";
  EXPECT_NE(parse_error(text).message().find("nested too deeply"), std::string::npos);
}

TEST(Parser, ExpressionOfACommand) {
  auto src = std::make_shared<const Source>("t", ":time x @ w");
  ExprPtr e = parse_expression(src, 6, src->text().size());
  EXPECT_EQ(to_string(*e), "(x @ w)");
  EXPECT_EQ(e->loc.col, 9);  // the '@' of the original line
}

TEST(InputStatus, UnfinishedInputAsksForMore) {
  EXPECT_EQ(input_status("x = 1"), InputStatus::Complete);
  EXPECT_EQ(input_status("x = f(1,"), InputStatus::Incomplete);
  EXPECT_EQ(input_status("x = [1,\n 2"), InputStatus::Incomplete);
  EXPECT_EQ(input_status("x = [1,\n 2]"), InputStatus::Complete);
  EXPECT_EQ(input_status("x = 1 + \\"), InputStatus::Incomplete);
  EXPECT_EQ(input_status("for i in r:"), InputStatus::Incomplete);
  EXPECT_EQ(input_status("for i in r:\n    a = i"), InputStatus::Incomplete);
  EXPECT_EQ(input_status("for i in r:\n    a = i\n"), InputStatus::Complete);
  EXPECT_EQ(input_status("for i in r: a = i"), InputStatus::Complete);
  EXPECT_EQ(input_status("x = 'abc"), InputStatus::Error);
}

TEST(SplitStatements, TopLevelStatementsWithTheirBlocks) {
  auto chunks = split_statements("a = 1\n\n# c\nb = f(1,\n  2)\nfor i in r:\n  x\n\n  y\nz\n");
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[0].first_line, 1);
  EXPECT_EQ(chunks[1].first_line, 4);
  EXPECT_EQ(chunks[1].text, "b = f(1,\n  2)");
  EXPECT_EQ(chunks[2].first_line, 6);
  EXPECT_EQ(chunks[2].text, "for i in r:\n  x\n\n  y");
  EXPECT_EQ(chunks[3].text, "z");
}

TEST(Examples, EveryExampleScriptParses) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(SOMA_TEST_DATA_DIR) / ".." / ".." / "examples";
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".soma") continue;
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_NO_THROW(parse_program(std::make_shared<const Source>(e.path().string(), ss.str())))
        << e.path();
    ++n;
  }
  EXPECT_GE(n, 3);
}

}  // namespace
}  // namespace soma::script
