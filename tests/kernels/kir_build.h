// Helpers for building kernel-IR programs by hand in tests: buffers, statements, linear indices.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "graph/kernel_ir.h"

namespace soma::kir::test {

inline BufferId add_buffer(Program& p, Buffer::Kind kind, std::string name, Shape shape,
                           DType dtype = DType::f32) {
  Buffer b;
  b.kind = kind;
  b.dtype = dtype;
  b.shape = std::move(shape);
  b.name = std::move(name);
  p.buffers.push_back(std::move(b));
  return static_cast<BufferId>(p.buffers.size() - 1);
}
inline BufferId input(Program& p, std::string name, Shape shape, DType dtype = DType::f32) {
  return add_buffer(p, Buffer::Kind::Input, std::move(name), std::move(shape), dtype);
}
inline BufferId param(Program& p, std::string name, Shape shape, DType dtype = DType::f32) {
  return add_buffer(p, Buffer::Kind::Param, std::move(name), std::move(shape), dtype);
}
// An Output buffer named out<i>, appended to the program's outputs.
inline BufferId output(Program& p, Shape shape, DType dtype = DType::f32) {
  BufferId b = add_buffer(p, Buffer::Kind::Output, "out" + std::to_string(p.outputs.size()),
                          std::move(shape), dtype);
  p.outputs.push_back(b);
  return b;
}
inline BufferId temp(Program& p, std::string name, Shape shape, int64_t offset = -1,
                     DType dtype = DType::f32) {
  BufferId b = add_buffer(p, Buffer::Kind::Temp, std::move(name), std::move(shape), dtype);
  p.buffers[static_cast<size_t>(b)].offset = offset;
  return b;
}
inline BufferId constant(Program& p, std::string name, Shape shape, std::vector<double> data,
                         DType dtype = DType::f32) {
  BufferId b = add_buffer(p, Buffer::Kind::Constant, std::move(name), std::move(shape), dtype);
  p.buffers[static_cast<size_t>(b)].data = std::move(data);
  return b;
}

// The statement constructors, by their short names.
inline Stmt let(VarId v, ExprId value) {
  return Stmt::let(v, value);
}
inline Stmt store(BufferId b, ExprId index, ExprId value) {
  return Stmt::store(b, index, value);
}
inline Stmt reduce(VarId v, Op op, std::vector<Axis> axes, ExprId value,
                   std::vector<Stmt> body = {}) {
  return Stmt::reduce(v, op, std::move(axes), value, std::move(body));
}
inline Stmt loop(std::vector<Axis> axes, std::vector<Stmt> body) {
  return Stmt::loop(std::move(axes), std::move(body));
}

// sum of var * stride (+ offset), as i32 index arithmetic.
inline ExprId linear(Kernel& k, const std::vector<std::pair<VarId, int64_t>>& terms,
                     int64_t offset = 0) {
  ExprId e = -1;
  for (auto [v, stride] : terms) {
    ExprId t = k.binary(Op::Mul, k.var_ref(v), k.index_const(stride));
    e = e < 0 ? t : k.binary(Op::Add, e, t);
  }
  if (e < 0) return k.index_const(offset);
  return offset ? k.binary(Op::Add, e, k.index_const(offset)) : e;
}

// The row softmax at the top of graph/kernel_ir.h.
inline Program softmax_rows_program(int64_t rows, int64_t cols) {
  Program p;
  BufferId x = input(p, "x", {rows, cols});
  BufferId y = output(p, {rows, cols});
  p.buffers[static_cast<size_t>(y)].name = "y";
  Kernel k;
  k.name = "softmax_rows";
  VarId i = k.new_var(DType::i32, "i");
  VarId j1 = k.new_var(DType::i32, "j");
  VarId m = k.new_var(DType::f32, "v");
  VarId j3 = k.new_var(DType::i32, "j");
  VarId s = k.new_var(DType::f32, "v");
  VarId j5 = k.new_var(DType::i32, "j");
  k.parallel = {{i, rows}};
  auto shifted_exp = [&](VarId j) {
    return k.unary(Op::Exp, k.binary(Op::Sub, k.load(x, DType::f32, linear(k, {{i, cols}, {j, 1}})),
                                     k.var_ref(m)));
  };
  k.body = {
      reduce(m, Op::ReduceMax, {{j1, cols}},
             k.load(x, DType::f32, linear(k, {{i, cols}, {j1, 1}}))),
      reduce(s, Op::ReduceSum, {{j3, cols}}, shifted_exp(j3)),
      loop({{j5, cols}}, {store(y, linear(k, {{i, cols}, {j5, 1}}),
                                k.binary(Op::Div, shifted_exp(j5), k.var_ref(s)))}),
  };
  k.reads = {x};
  k.writes = {y};
  p.kernels.push_back(k);
  return p;
}

}  // namespace soma::kir::test
