// libFuzzer target: the script language's lexer and parser (and the REPL's input splitting).
// Any input either parses or throws a ScriptError; a crash, an abort, another exception, a hang
// or a stack overflow is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "frontend/script/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace soma::script;
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto program = parse_program(std::make_shared<const Source>("fuzz.soma", text));
    for (const StmtPtr& s : program) (void)to_string(*s);
  } catch (const ScriptError&) {
  }
  try {
    (void)input_status(text);
    (void)split_statements(text);
  } catch (const ScriptError&) {
  }
  return 0;
}
