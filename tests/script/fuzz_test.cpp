// Random input for the lexer and parser: whatever the text, they either succeed or throw
// ScriptError (with a location inside the text); never another exception, a crash or an abort.
// Errors are also formatted, so the diagnostic printer sees the same garbage.
#include <gtest/gtest.h>

#include <random>

#include "frontend/script/parser.h"

namespace soma::script {
namespace {

void check(const std::string& text) {
  auto src = std::make_shared<const Source>("fuzz.soma", text);
  try {
    std::vector<StmtPtr> stmts = parse_program(src);
    for (const StmtPtr& s : stmts) (void)to_string(*s);
  } catch (const ScriptError& e) {
    std::string report = e.report();
    EXPECT_FALSE(report.empty());
    if (e.loc().valid()) {
      EXPECT_GE(e.loc().line, 1);
      EXPECT_GE(e.loc().col, 1);
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected exception " << e.what() << " for input:\n" << text;
  }
  (void)input_status(text);
  (void)split_statements(text);
}

TEST(Fuzz, RandomBytes) {
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 64, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    check(s);
  }
}

TEST(Fuzz, RandomTokenSoup) {
  const std::vector<std::string> pieces = {"x",     "w",
                                           "sum",   "(",
                                           ")",     "[",
                                           "]",     ",",
                                           ":",     "=",
                                           "+=",    "-",
                                           "**",    "@",
                                           "*",     "/",
                                           "//",    "%",
                                           "<",     "==",
                                           "&",     "|",
                                           "~",     "not",
                                           "and",   "or",
                                           "for",   "in",
                                           "if",    "True",
                                           "None",  "...",
                                           ".",     "T",
                                           "1",     "2.5",
                                           "1e3",   "'s'",
                                           "\"t\"", "\n",
                                           "\n  ",  "\n    ",
                                           "\t",    " ",
                                           "#c",    ":emit graph x\n",
                                           "\\\n",  ";",
                                           "axis=", "{",
                                           "}",     "import",
                                           "'",     "0x",
                                           "_",     "1_0",
                                           "é",     "\xff",
                                           "\r\n",  "lambda",
                                           "->",    "!",
                                           "^",     "$"};
  std::mt19937 rng(2);
  for (int i = 0; i < 4000; ++i) {
    std::string s;
    int n = static_cast<int>(rng() % 30);
    for (int k = 0; k < n; ++k) s += pieces[rng() % pieces.size()];
    check(s);
  }
}

TEST(Fuzz, MutatedPrograms) {
  const std::string program =
      "x = input(\"x\", [4, 2])\n"
      "w = param(\"w\", [2, 1], init=\"glorot_uniform\", seed=7)\n"
      "y = sigmoid(x @ w + b)[:, 0:1]\n"
      "gw, gb = grad(mean(y ** 2), [w, b])\n"
      "for i in range(10):\n"
      "    w -= 0.1 * gw\n"
      ":emit graph y\n"
      "print(y, sum(y, axis=[0, 1], keepdims=True))\n";
  std::mt19937 rng(3);
  const std::string alphabet = "()[]{},:=+-*/@.'\"\n #\\\t0123456789abcxyz_";
  for (int i = 0; i < 4000; ++i) {
    std::string s = program;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits && !s.empty(); ++k) {
      size_t pos = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s.erase(pos, 1 + rng() % 3);
          break;
        case 1:
          s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        default:
          s[pos] = alphabet[rng() % alphabet.size()];
      }
    }
    check(s);
  }
}

}  // namespace
}  // namespace soma::script
