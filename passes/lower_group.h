// Lowering of one kernel: the root of a fusion group and the nodes fused into it become loops,
// scalar expressions and statements of the kernel IR. Shared by lower_group.cpp (the kernel's
// loops, elementwise ops, reductions, the sequential scatter), lower_index.cpp (the index maps of
// the movement ops) and lower_contraction.cpp (a matmul with its operands and epilogue).
//
// Lowering builds what fusion decided and never refuses it: each rule of passes/fuse_legality.h
// is asserted here (an internal error if fusion let through what no kernel can hold).
#pragma once

#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "graph/kernel_ir.h"
#include "passes/fuse.h"

namespace soma::lowering {

class GroupLowering {
 public:
  GroupLowering(const Graph& g, const Fusion& f, std::vector<kir::BufferId>& buf_of, NodeId root)
      : g_(g), f_(f), buf_of_(buf_of), root_(root) {}

  kir::Kernel lower();

 private:
  struct Scope {
    std::vector<kir::Stmt>* stmts;
    std::set<kir::VarId> vars;
    std::map<std::pair<NodeId, std::vector<kir::ExprId>>, kir::VarId> reduced;  // memoized
  };
  using Index = std::vector<kir::ExprId>;

  // lower_group.cpp
  bool inlined(NodeId n) const;
  void emit_store(const Index& idx);
  kir::BufferId buffer(NodeId n) { return buf_of_[static_cast<size_t>(n)]; }
  void add_read(kir::BufferId b);
  void add_write(kir::BufferId b);
  kir::ExprId linear(const Index& idx, const Shape& s);
  kir::ExprId and_mask(kir::ExprId a, kir::ExprId b);
  kir::ExprId in_range(kir::ExprId x, int64_t lo, int64_t hi);  // lo <= x < hi
  void vars_of(kir::ExprId e, std::set<kir::VarId>& out);
  size_t scope_for(const std::set<kir::VarId>& vars);
  int64_t parallel_points() const;
  // The value of node n at index idx (under mask) as an expression of the kernel. Memoized: a
  // node read several times at one index (x * x, a diamond of fused nodes) is emitted once, so a
  // chain of such nodes costs linear, not exponential, time.
  kir::ExprId emit(NodeId n, const Index& idx, kir::ExprId mask);
  kir::ExprId emit_uncached(NodeId n, const Index& idx, kir::ExprId mask);
  kir::ExprId emit_reduce(NodeId n, const Index& idx, kir::ExprId mask);
  std::set<int> find_row_axes(const Shape& shape);
  kir::Kernel lower_scatter();

  // lower_index.cpp: movement ops read their input at another index (and under a mask).
  kir::ExprId emit_movement(NodeId n, const Index& idx, kir::ExprId mask);
  Index reshape_index(const Index& idx, const Shape& out, const Shape& in);
  kir::ExprId emit_pad(const Node& node, const Index& idx, kir::ExprId mask);
  kir::ExprId emit_concat(const Node& node, const Index& idx, kir::ExprId mask);
  kir::ExprId emit_window(const Node& node, const Index& idx, kir::ExprId mask);
  kir::ExprId emit_unwindow(NodeId n, const Index& idx, kir::ExprId mask);
  kir::ExprId emit_gather(const Node& node, const Index& idx, kir::ExprId mask);

  // lower_contraction.cpp
  NodeId find_contraction();
  kir::Kernel lower_contraction(NodeId mm);

  const Graph& g_;
  const Fusion& f_;
  std::vector<kir::BufferId>& buf_of_;
  NodeId root_;
  kir::Kernel k_;
  std::vector<Scope> scopes_;
  using EmitKey = std::tuple<NodeId, Index, kir::ExprId>;
  std::map<EmitKey, kir::ExprId> emitted_;
  std::set<kir::VarId> parallel_vars_;
  NodeId acc_node_ = -1;  // inside a contraction's epilogue: the matmul, read as the accumulator
  Index acc_index_;
};

}  // namespace soma::lowering
