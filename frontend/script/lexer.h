// The script language's lexer: Python's lexical rules, cut down.
//
//   - names, integers (1_000), floats (1.5, .5, 1e-3), strings ('...' or "..." with \n \t \r \0
//     \\ \' \" \xHH escapes), operators (longest match), `#` comments;
//   - a logical line ends with a Newline token; inside brackets lines join, and a backslash at the
//     end of a line joins it with the next;
//   - indentation at the start of a logical line gives Indent/Dedent tokens (for `for` blocks);
//   - a line whose first character is ':' is a REPL command: one Command token holding the rest
//     of the line (without a trailing ` # comment`).
// Every token carries its Location. Errors throw ScriptError; an unclosed bracket at the end of
// the text sets ScriptError::incomplete (the REPL then reads another line).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "frontend/script/source.h"

namespace soma::script {

enum class Tok { Name, Int, Float, String, Op, Newline, Indent, Dedent, Command, End };

struct Token {
  Tok kind = Tok::End;
  std::string text;  // Name: the name; Op: the operator; String: the value; Command: the line
  int64_t int_value = 0;
  double float_value = 0;
  Location loc;
};

// Names that are reserved: True False None for in and or not, and Python keywords soma does
// not support (so that `import numpy` gets a clear error rather than a confusing one).
bool is_keyword(const std::string& name);

// Lexes source->text()[begin, end) (the whole text by default); locations stay those of the
// whole source.
std::vector<Token> lex(const SourcePtr& source, size_t begin = 0, size_t end = std::string::npos);

// How a token looks in an error message: 'name', '+', a string literal, "end of line".
std::string describe(const Token& t);

}  // namespace soma::script
