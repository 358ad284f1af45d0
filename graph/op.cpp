#include "graph/op.h"

#include <string_view>

namespace soma {

namespace {
constexpr OpInfo kOpInfos[] = {
#define OP(name, mnemonic, arity, traits) {mnemonic, arity, traits},
#include "graph/ops.def"
#undef OP
};
static_assert(sizeof(kOpInfos) / sizeof(kOpInfos[0]) == kNumOps);
}  // namespace

const OpInfo& op_info(Op op) {
  return kOpInfos[static_cast<int>(op)];
}

std::optional<Op> parse_op(std::string_view mnemonic) {
  for (int i = 0; i < kNumOps; ++i)
    if (mnemonic == kOpInfos[i].mnemonic) return static_cast<Op>(i);
  return std::nullopt;
}

}  // namespace soma
