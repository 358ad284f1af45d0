#include "frontend/script/lexer.h"

#include <gtest/gtest.h>

namespace soma::script {
namespace {

std::vector<Token> lex_text(const std::string& text) {
  return lex(std::make_shared<const Source>("t.soma", text));
}

std::string kinds(const std::vector<Token>& toks) {
  std::string out;
  for (const Token& t : toks) {
    switch (t.kind) {
      case Tok::Name:
        out += "N(" + t.text + ")";
        break;
      case Tok::Int:
        out += "I(" + std::to_string(t.int_value) + ")";
        break;
      case Tok::Float:
        out += "F(" + t.text + ")";
        break;
      case Tok::String:
        out += "S(" + t.text + ")";
        break;
      case Tok::Op:
        out += t.text;
        break;
      case Tok::Newline:
        out += ";";
        break;
      case Tok::Indent:
        out += "{";
        break;
      case Tok::Dedent:
        out += "}";
        break;
      case Tok::Command:
        out += "C(" + t.text + ")";
        break;
      case Tok::End:
        out += "$";
        break;
    }
    out += " ";
  }
  return out;
}

ScriptError lex_error(const std::string& text) {
  try {
    lex_text(text);
  } catch (const ScriptError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for: " << text;
  return ScriptError({}, "");
}

TEST(Lexer, TokensAndOperators) {
  EXPECT_EQ(kinds(lex_text("y = x @ w ** 2 // 3 != 4")),
            "N(y) = N(x) @ N(w) ** I(2) // I(3) != I(4) ; $ ");
  EXPECT_EQ(kinds(lex_text("x[..., -1] <= 1.5e3")), "N(x) [ ... , - I(1) ] <= F(1.5e3) ; $ ");
  EXPECT_EQ(kinds(lex_text("w -= .5")), "N(w) -= F(.5) ; $ ");
  EXPECT_EQ(kinds(lex_text("1_000 + 2.")), "I(1000) + F(2.) ; $ ");
}

TEST(Lexer, NumbersHaveValues) {
  auto t = lex_text("12 3.25 1e-3 .5");
  EXPECT_EQ(t[0].int_value, 12);
  EXPECT_DOUBLE_EQ(t[1].float_value, 3.25);
  EXPECT_DOUBLE_EQ(t[2].float_value, 1e-3);
  EXPECT_DOUBLE_EQ(t[3].float_value, 0.5);
}

TEST(Lexer, StringsAndEscapes) {
  auto t = lex_text(R"(s = "a\"b\n\x41" + 'it''s')");
  EXPECT_EQ(t[2].text, "a\"b\nA");
  EXPECT_EQ(t[4].text, "it");
  EXPECT_EQ(t[5].text, "s");
}

TEST(Lexer, LocationsAreLineAndColumn) {
  auto t = lex_text("a = 1\n  # comment\n\nbb = [1,\n  2]\n");
  EXPECT_EQ(t[0].loc.line, 1);
  EXPECT_EQ(t[0].loc.col, 1);
  // "bb" is on line 4.
  auto bb = std::find_if(t.begin(), t.end(), [](const Token& x) { return x.text == "bb"; });
  ASSERT_NE(bb, t.end());
  EXPECT_EQ(bb->loc.line, 4);
  auto two = std::find_if(t.begin(), t.end(), [](const Token& x) { return x.int_value == 2; });
  EXPECT_EQ(two->loc.line, 5);
  EXPECT_EQ(two->loc.col, 3);
}

TEST(Lexer, BracketsJoinLinesAndBackslashContinues) {
  EXPECT_EQ(kinds(lex_text("f(1,\n   2)\nx")), "N(f) ( I(1) , I(2) ) ; N(x) ; $ ");
  EXPECT_EQ(kinds(lex_text("x = 1 + \\\n    2")), "N(x) = I(1) + I(2) ; $ ");
}

TEST(Lexer, IndentationGivesBlocks) {
  EXPECT_EQ(kinds(lex_text("for i in r:\n    a\n    b\nc\n")),
            "N(for) N(i) N(in) N(r) : ; { N(a) ; N(b) ; } N(c) ; $ ");
  EXPECT_EQ(kinds(lex_text("for i in r:\n  a\n")), "N(for) N(i) N(in) N(r) : ; { N(a) ; } $ ");
}

TEST(Lexer, CommandLines) {
  EXPECT_EQ(kinds(lex_text(":emit graph y  # show it\nx")), "C(emit graph y) ; N(x) ; $ ");
  EXPECT_EQ(kinds(lex_text("a[1:2]")), "N(a) [ I(1) : I(2) ] ; $ ");
}

TEST(Lexer, Errors) {
  ScriptError e = lex_error("x = 'abc");
  EXPECT_NE(e.message().find("unterminated string"), std::string::npos);
  EXPECT_EQ(e.loc().col, 5);
  EXPECT_FALSE(e.incomplete);

  e = lex_error("x = $");
  EXPECT_EQ(e.message(), "unexpected character '$'");
  EXPECT_EQ(e.loc().col, 5);

  e = lex_error("x = f(1,\n  2");
  EXPECT_EQ(e.message(), "'(' was never closed");
  EXPECT_TRUE(e.incomplete);
  EXPECT_EQ(e.loc().line, 1);
  EXPECT_EQ(e.loc().col, 6);

  e = lex_error("x = (1]");
  EXPECT_NE(e.message().find("does not match"), std::string::npos);
  e = lex_error("x = 1)");
  EXPECT_EQ(e.message(), "unmatched ')'");
  e = lex_error("x = 2y");
  EXPECT_NE(e.message().find("cannot start with a digit"), std::string::npos);
  e = lex_error("x = 99999999999999999999");
  EXPECT_NE(e.message().find("too large"), std::string::npos);
  e = lex_error("for i in r:\n    a\n  b\n");
  EXPECT_NE(e.message().find("unindent"), std::string::npos);
  e = lex_error("x = \xc3\xa9");
  EXPECT_NE(e.message().find("U+00E9"), std::string::npos);
  e = lex_error("x = \xff");
  EXPECT_NE(e.message().find("not valid UTF-8"), std::string::npos);
  e = lex_error("x = 1 + \\");
  EXPECT_TRUE(e.incomplete);
}

TEST(Diagnostics, FormatShowsLineAndCaret) {
  auto src = std::make_shared<const Source>("m.soma", "a = 1\nz = x @ y\n");
  std::string d = format_diagnostic({Location{src, 2, 7}, "error", "matmul: bad"});
  EXPECT_EQ(d,
            "m.soma:2:7: error: matmul: bad\n"
            "    2 | z = x @ y\n"
            "      |       ^\n");
  // Chunks of REPL input keep the input's line numbers.
  auto chunk = std::make_shared<const Source>("<stdin>", "q = 1 +", 12);
  EXPECT_EQ(format_diagnostic({Location{chunk, 12, 8}, "error", "e"}),
            "<stdin>:12:8: error: e\n   12 | q = 1 +\n      |        ^\n");
  // Without a location: the message alone.
  EXPECT_EQ(format_diagnostic({Location{}, "error", "e"}), "error: e\n");
}

}  // namespace
}  // namespace soma::script
