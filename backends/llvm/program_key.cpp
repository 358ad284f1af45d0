#include "backends/llvm/program_key.h"

#include <cstring>

namespace soma::jit {

namespace {

struct Writer {
  std::string out;
  void i64(int64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    i64(static_cast<int64_t>(bits));
  }
  void str(const std::string& s) {
    i64(static_cast<int64_t>(s.size()));
    out += s;
  }
  void axes(const std::vector<kir::Axis>& a) {
    i64(static_cast<int64_t>(a.size()));
    for (const kir::Axis& x : a) {
      i64(x.var);
      i64(x.extent);
    }
  }
  void stmts(const std::vector<kir::Stmt>& body) {
    i64(static_cast<int64_t>(body.size()));
    for (const kir::Stmt& s : body) {
      i64(static_cast<int64_t>(s.kind));
      i64(s.var);
      i64(s.value);
      i64(static_cast<int64_t>(s.reduce_op));
      axes(s.axes);
      i64(s.buffer);
      i64(s.index);
      stmts(s.body);
    }
  }
};

}  // namespace

std::string codegen_key(const kir::Program& p) {
  Writer w;
  w.str("soma-kir-v1");
  w.i64(static_cast<int64_t>(p.buffers.size()));
  for (const kir::Buffer& b : p.buffers) {
    w.i64(static_cast<int64_t>(b.kind));
    w.i64(static_cast<int64_t>(b.dtype));
    w.i64(b.numel());
  }
  w.i64(static_cast<int64_t>(p.kernels.size()));
  for (const kir::Kernel& k : p.kernels) {
    w.str(k.name);
    w.axes(k.parallel);
    w.i64(k.sequential);
    w.i64(k.is_contraction);
    if (k.is_contraction) {
      w.axes(k.contraction.batch);
      w.axes({k.contraction.k});
      w.i64(k.contraction.a);
      w.i64(k.contraction.b);
      w.i64(k.contraction.acc);
    }
    w.i64(static_cast<int64_t>(k.vars.size()));
    for (const kir::Var& v : k.vars) w.i64(static_cast<int64_t>(v.dtype));
    w.i64(static_cast<int64_t>(k.exprs.size()));
    for (const kir::Expr& e : k.exprs) {
      w.i64(static_cast<int64_t>(e.kind) | static_cast<int64_t>(e.dtype) << 8 |
            static_cast<int64_t>(e.op) << 16);
      for (kir::ExprId a : e.a) w.i64(a);
      w.f64(e.value);
      w.i64(e.var);
      w.i64(e.buffer);  // (not e.seed: seeds are read at run time, jit.h)
    }
    w.stmts(k.body);
    w.i64(static_cast<int64_t>(k.reads.size()));
    for (auto b : k.reads) w.i64(b);
    w.i64(static_cast<int64_t>(k.writes.size()));
    for (auto b : k.writes) w.i64(b);
  }
  return std::move(w.out);
}

}  // namespace soma::jit
