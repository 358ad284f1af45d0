// The script language's parser: recursive descent over the lexer's tokens, with Python's
// grammar and precedence for the subset soma supports (see docs/script.md):
//
//   stmt    := ':'command | 'for' NAME (',' NAME)* 'in' expr ':' suite
//            | simple (';' simple)* [';']
//   simple  := targets '=' expr | NAME ('+=' | '-=' | '*=' | '/=' | '@=') expr | exprlist
//   expr    := or:  and ('or' and)*,  and: not ('and' not)*,  not: 'not' not | comparison
//   comparison := bor [('<' | '<=' | '>' | '>=' | '==' | '!=') bor]      (no chaining)
//   bor := band ('|' band)*,  band := arith ('&' arith)*
//   arith := term (('+' | '-') term)*,  term := factor (('*' | '/' | '//' | '%' | '@') factor)*
//   factor := ('-' | '+' | '~') factor | power,  power := postfix ['**' factor]
//   postfix := atom ('(' args ')' | '[' subscripts ']' | '.' NAME)*
//   atom := NAME | INT | FLOAT | STRING+ | True | False | None | '...' | '(' exprlist ')'
//         | '[' [expr (',' expr)* [',']] ']'
#pragma once

#include <string>
#include <vector>

#include "frontend/script/ast.h"

namespace soma::script {

// Parses a whole source (a file, or a chunk of REPL input). Throws ScriptError at the first
// syntax error; `incomplete` is set when the text is only unfinished.
std::vector<StmtPtr> parse_program(const SourcePtr& source);

// Parses source->text()[begin, end) as one expression (a command's argument).
ExprPtr parse_expression(const SourcePtr& source, size_t begin, size_t end);

// Whether REPL input is finished: Complete (run it), Incomplete (read another line: an open
// bracket, a trailing backslash, or a `for` block that has not ended with an empty line), or
// Error (run it anyway, to report the error).
enum class InputStatus { Complete, Incomplete, Error };
InputStatus input_status(const std::string& text);

// Splits a whole script into top-level statements for running them one by one (soma < file):
// a statement ends at a line that closes every bracket and is not followed by an indented line
// (its block). Blank and comment lines between statements are dropped.
struct Chunk {
  int first_line;    // 1-based
  std::string text;  // the statement's lines
};
std::vector<Chunk> split_statements(const std::string& text);

}  // namespace soma::script
