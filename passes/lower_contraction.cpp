// A contraction kernel: a matmul C[..., i, j] = sum over k of A[..., i, k] * B[..., k, j], its
// operands (any fused elementwise or movement expression, evaluated once per element when the
// code generator packs them: conv2d's window view becomes an implicit GEMM) and its elementwise
// epilogue (bias, activation, scaling), which reads the matmul as the accumulator.
#include "graph/error.h"
#include "passes/lower_group.h"

namespace soma::lowering {

using kir::ExprId;
using kir::Kernel;
using kir::Stmt;
using kir::VarId;

// The matmul this group is the epilogue of, if any (the root or a fused member).
NodeId GroupLowering::find_contraction() {
  for (NodeId id = root_; id >= 0; --id) {
    bool member = id == root_ || (f_.group[static_cast<size_t>(id)] == root_ &&
                                  !f_.realized[static_cast<size_t>(id)]);
    if (member && g_.node(id).op == Op::MatMul) return id;
  }
  return -1;
}

Kernel GroupLowering::lower_contraction(NodeId mm) {
  const Node& m = g_.node(mm);
  const Node& r = g_.node(root_);
  SOMA_CHECK(r.type.shape == m.type.shape)
      << "lowering: fusion put matmul %" << mm << " into kernel %" << root_
      << ", which is not its elementwise epilogue";
  k_.is_contraction = true;
  const Shape s = m.type.shape;
  int rank = s.rank();
  Index idx;
  for (int a = 0; a < rank; ++a) {
    VarId v = k_.new_var(DType::i32, a == rank - 2 ? "i" : a == rank - 1 ? "j" : "b", s[a]);
    k_.parallel.push_back({v, s[a]});
    parallel_vars_.insert(v);
    idx.push_back(k_.var_ref(v));
    if (a < rank - 2) k_.contraction.batch.push_back({v, s[a]});
  }
  const Shape as = g_.node(m.inputs[0]).type.shape;
  VarId kv = k_.new_var(DType::i32, "k", as[rank - 1]);
  k_.contraction.k = {kv, as[rank - 1]};
  ExprId kk = k_.var_ref(kv);
  Index ai(idx.begin(), idx.end() - 1), bi(idx.begin(), idx.end() - 2);
  ai.push_back(kk);
  bi.push_back(kk);
  bi.push_back(idx.back());
  std::vector<Stmt> operand_scope;
  std::set<VarId> opvars = parallel_vars_;
  opvars.insert(kv);
  scopes_.push_back({&operand_scope, opvars, {}});
  // A narrow product (fewer columns than a vector register holds, e.g. the 10 logits of a
  // classifier or a 3x3 convolution's weight gradient) is computed transposed, C^T = B^T A^T:
  // the code generators tile rows by a few and columns by whole vectors. Only the roles of the
  // two axes change; the epilogue still stores C[i, j].
  const int64_t rows = s[rank - 2], cols = s[rank - 1];
  const bool swap = cols < 16 && rows > cols;
  if (swap)
    std::swap(k_.parallel[static_cast<size_t>(rank - 2)],
              k_.parallel[static_cast<size_t>(rank - 1)]);
  k_.contraction.a = emit(m.inputs[swap ? 1 : 0], swap ? bi : ai, -1);
  k_.contraction.b = emit(m.inputs[swap ? 0 : 1], swap ? ai : bi, -1);
  scopes_.pop_back();
  SOMA_CHECK(operand_scope.empty()) << "lowering: fusion put a loop into the operands of matmul %"
                                    << mm << " (kernel %" << root_ << ")";
  // The epilogue, with the matmul as the accumulator.
  k_.contraction.acc = k_.new_var(m.type.dtype, "acc");
  acc_node_ = mm;
  acc_index_ = idx;
  scopes_.push_back({&k_.body, parallel_vars_, {}});
  emit_store(idx);
  scopes_.pop_back();
  return std::move(k_);
}

}  // namespace soma::lowering
