// Op: the enum generated from ops.def, with per-op metadata.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace soma {

enum OpTrait : uint32_t {
  None = 0,
  Src = 1u << 0,
  Ew = 1u << 1,
  Red = 1u << 2,
  Mov = 1u << 3,
  Decl = 1u << 4,
  Comm = 1u << 5,
  Float = 1u << 6,
  Cmp = 1u << 7,
  Logic = 1u << 8,
  Cheap = 1u << 9,
};

enum class Op : uint8_t {
#define OP(name, mnemonic, arity, traits) name,
#include "graph/ops.def"
#undef OP
};

constexpr int kNumOps = 0
#define OP(name, mnemonic, arity, traits) +1
#include "graph/ops.def"
#undef OP
    ;
// A new row needs no count here: the tests that walk the table fail until every layer has it
// (tests/autodiff/grad_api_test.cpp: a gradient entry; tests/parity/op_coverage_test.cpp: an op
// case, which the parity suite runs on every backend against the interpreter).

struct OpInfo {
  const char* mnemonic;
  int arity;  // -1: variadic
  uint32_t traits;
};

const OpInfo& op_info(Op op);
inline const char* op_name(Op op) {
  return op_info(op).mnemonic;
}
inline bool has_trait(Op op, OpTrait t) {
  return (op_info(op).traits & t) != 0;
}
std::optional<Op> parse_op(std::string_view mnemonic);

// Elementwise ops whose result is bool regardless of input type (the Cmp trait).
inline bool is_comparison(Op op) {
  return has_trait(op, Cmp);
}

}  // namespace soma
