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
static_assert(kNumOps == 53,
              "ops.def changed: update kNumOps here, then every op table that "
              "must cover all ops (grad rules, code generators) fails loudly");

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

// Elementwise ops whose result is bool regardless of input type.
constexpr bool is_comparison(Op op) {
  return op == Op::Lt || op == Op::Le || op == Op::Gt || op == Op::Ge || op == Op::Eq ||
         op == Op::Ne;
}

}  // namespace soma
