// The GLSL emitter's TiledMatmul launch mode: a contraction computed in output tiles per
// workgroup, k slices of a and b (any expressions of their indices: strided, windowed, masked)
// staged in shared memory, a register tile per invocation, and the epilogue fused.
#include <algorithm>

#include "backends/vulkan/glsl_emitter.h"

namespace soma::vulkan {

using kir::Axis;
using kir::Expr;
using kir::ExprId;
using kir::ExprKind;
using kir::VarId;

void Emitter::vars_of(ExprId id, std::set<VarId>& out, std::vector<uint8_t>& seen) const {
  if (seen[static_cast<size_t>(id)]) return;
  seen[static_cast<size_t>(id)] = 1;
  const Expr& e = expr(id);
  if (e.kind == ExprKind::Var) out.insert(e.var);
  for (ExprId a : e.a)
    if (a >= 0) vars_of(a, out, seen);
}

bool Emitter::use_tiled() const {
  if (!f_.tiled_matmul && !f_.force_tiled_matmul) return false;
  const kir::Contraction& c = k_.contraction;
  DType t = var_type(c.acc);
  if (t == DType::boolean) return false;
  size_t nb = c.batch.size();
  int64_t m = k_.parallel[nb].extent, n = k_.parallel[nb + 1].extent, kk = c.k.extent;
  if (m <= 0 || n <= 0 || kk <= 0) return false;
  // a may use batch, i, k; b batch, k, j.
  std::set<VarId> a_ok, b_ok;
  for (size_t i = 0; i < nb; ++i) a_ok.insert(c.batch[i].var), b_ok.insert(c.batch[i].var);
  a_ok.insert(k_.parallel[nb].var);
  a_ok.insert(c.k.var);
  b_ok.insert(k_.parallel[nb + 1].var);
  b_ok.insert(c.k.var);
  std::set<VarId> va, vb;
  std::vector<uint8_t> seen(k_.exprs.size(), 0);
  vars_of(c.a, va, seen);
  seen.assign(k_.exprs.size(), 0);
  vars_of(c.b, vb, seen);
  for (VarId v : va)
    if (!a_ok.count(v)) return false;
  for (VarId v : vb)
    if (!b_ok.count(v)) return false;
  if (f_.force_tiled_matmul) return true;
  return m >= 32 && n >= 32 && kk >= 16 && m * n * kk >= (int64_t{1} << 18);
}

std::string Emitter::value_function(const std::string& name, ExprId value, DType t,
                                    const std::vector<VarId>& params) {
  Fn fn;
  fn.scopes.emplace_back();
  fn_ = &fn;
  std::string x = convert(val(value), expr(value).dtype, t);
  line("return " + x + ";");
  std::string head = glsl_type(t) + " " + name + "(";
  for (size_t i = 0; i < params.size(); ++i) head += (i ? ", int " : "int ") + var_name(params[i]);
  return finish(fn, head + ")");
}

std::string Emitter::main_tiled(uint64_t& tiles_out, uint64_t& loop_cost_out) {
  const kir::Contraction& c = k_.contraction;
  const size_t nb = c.batch.size();
  const DType t = var_type(c.acc);
  const std::string T = glsl_type(t);
  const int64_t m = k_.parallel[nb].extent, n = k_.parallel[nb + 1].extent, kk = c.k.extent;
  const MatmulTiles& c_t = f_.tiles;
  const int kBM = c_t.bm, kBN = c_t.bn, kTM = c_t.tm, kTN = c_t.tn;
  int bk = c_t.bk;  // halved until both staged slices fit in shared memory
  while (bk > 1 && static_cast<uint64_t>(bk) * static_cast<uint64_t>(kBM + kBN) * dtype_size(t) >
                       f_.max_shared_bytes)
    bk /= 2;
  const int kBK = bk;
  const int kTX = kBN / kTN, kTY = kBM / kTM, kThreads = kTX * kTY;
  const VarId vi = k_.parallel[nb].var, vj = k_.parallel[nb + 1].var, vk = c.k.var;
  std::vector<VarId> batch;
  for (const Axis& a : c.batch) batch.push_back(a.var);
  std::vector<VarId> pa = batch, pb = batch, pe = batch;
  pa.push_back(vi);
  pa.push_back(vk);
  pb.push_back(vk);
  pb.push_back(vj);
  pe.push_back(vi);
  pe.push_back(vj);

  functions_ += value_function("soma_a", c.a, t, pa);
  functions_ += value_function("soma_b", c.b, t, pb);
  {
    Fn fn;
    fn.scopes.emplace_back();
    fn_ = &fn;
    stmts(k_.body);
    std::string head = "void soma_epilogue(";
    for (VarId v : pe) head += "int " + var_name(v) + ", ";
    head += T + " " + var_name(c.acc) + ")";
    functions_ += finish(fn, head);
  }
  shared_ += "shared " + T + " sa[" + std::to_string(kBK * kBM) + "];\n";
  shared_ += "shared " + T + " sb[" + std::to_string(kBK * kBN) + "];\n";

  const uint64_t tm = static_cast<uint64_t>((m + kBM - 1) / kBM);
  const uint64_t tn = static_cast<uint64_t>((n + kBN - 1) / kBN);
  const uint64_t tiles = extent_product(c.batch) * tm * tn;
  tiles_out = tiles;
  {
    // Per tile: the tile loop, then per k slice its loop, the two staging loops and the q loop;
    // then the epilogue of every register-tile element.
    const uint64_t threads = static_cast<uint64_t>(kThreads), bk = static_cast<uint64_t>(kBK);
    const uint64_t stage_a = (bk * static_cast<uint64_t>(kBM) + threads - 1) / threads;
    const uint64_t stage_b = (bk * static_cast<uint64_t>(kBN) + threads - 1) / threads;
    uint64_t slice = sat_add(1, bk);
    slice = sat_add(slice, sat_add(stage_a, stage_b));
    const uint64_t slices = (static_cast<uint64_t>(kk) + bk - 1) / bk;
    loop_cost_out = sat_add(sat_add(1, sat_mul(slices, slice)),
                            sat_mul(static_cast<uint64_t>(kTM * kTN), stmts_loop_cost(k_.body)));
  }
  auto args = [&](const std::string& x, const std::string& y) {
    std::string s;
    for (VarId v : batch) s += var_name(v) + ", ";
    return s + x + ", " + y;
  };

  Fn fn;
  fn.scopes.emplace_back();
  fn_ = &fn;
  std::string zero = literal(0, t);
  line("uint lid = gl_LocalInvocationID.x;");
  line("int tx = int(lid % " + uint_lit(static_cast<uint64_t>(kTX)) + ");");
  line("int ty = int(lid / " + uint_lit(static_cast<uint64_t>(kTX)) + ");");
  open("for (uint tile = gl_WorkGroupID.x; tile < " + uint_lit(tiles) +
       "; tile += gl_NumWorkGroups.x)");
  line("uint rest = tile % " + uint_lit(tm * tn) + ";");
  line("int i0 = int(rest / " + uint_lit(tn) + ") * " + std::to_string(kBM) + ";");
  line("int j0 = int(rest % " + uint_lit(tn) + ") * " + std::to_string(kBN) + ";");
  decompose(c.batch, "(tile / " + uint_lit(tm * tn) + ")");
  for (int r = 0; r < kTM * kTN; ++r) line(T + " acc" + std::to_string(r) + " = " + zero + ";");
  open("for (int k0 = 0; k0 < " + int_lit(kk) + "; k0 += " + std::to_string(kBK) + ")");
  line("barrier();");
  open("for (int e = int(lid); e < " + std::to_string(kBK * kBM) +
       "; e += " + std::to_string(kThreads) + ")");
  line("int ka = k0 + e % " + std::to_string(kBK) + ";");
  line("int ia = i0 + e / " + std::to_string(kBK) + ";");
  line(T + " va = " + zero + ";");
  line("if (ia < " + int_lit(m) + " && ka < " + int_lit(kk) + ") va = soma_a(" + args("ia", "ka") +
       ");");
  line("sa[(e % " + std::to_string(kBK) + ") * " + std::to_string(kBM) + " + e / " +
       std::to_string(kBK) + "] = va;");
  close();
  open("for (int e = int(lid); e < " + std::to_string(kBK * kBN) +
       "; e += " + std::to_string(kThreads) + ")");
  line("int jb = j0 + e % " + std::to_string(kBN) + ";");
  line("int kb = k0 + e / " + std::to_string(kBN) + ";");
  line(T + " vb = " + zero + ";");
  line("if (jb < " + int_lit(n) + " && kb < " + int_lit(kk) + ") vb = soma_b(" + args("kb", "jb") +
       ");");
  line("sb[e] = vb;");
  close();
  line("barrier();");
  open("for (int q = 0; q < " + std::to_string(kBK) + "; ++q)");
  for (int r = 0; r < kTM; ++r)
    line(T + " ra" + std::to_string(r) + " = sa[q * " + std::to_string(kBM) + " + ty + " +
         std::to_string(kTY * r) + "];");
  for (int s = 0; s < kTN; ++s)
    line(T + " rb" + std::to_string(s) + " = sb[q * " + std::to_string(kBN) + " + tx + " +
         std::to_string(kTX * s) + "];");
  for (int r = 0; r < kTM; ++r)
    for (int s = 0; s < kTN; ++s) {
      std::string a = "acc" + std::to_string(r * kTN + s);
      line(a + " = " + a + " + ra" + std::to_string(r) + " * rb" + std::to_string(s) + ";");
    }
  close();
  close();
  for (int r = 0; r < kTM; ++r)
    for (int s = 0; s < kTN; ++s) {
      std::string gi = "i0 + ty + " + std::to_string(kTY * r),
                  gj = "j0 + tx + " + std::to_string(kTX * s);
      line("if (" + gi + " < " + int_lit(m) + " && " + gj + " < " + int_lit(n) +
           ") soma_epilogue(" + args(gi, gj) + ", acc" + std::to_string(r * kTN + s) + ");");
    }
  close();
  return finish(fn, "void main()");
}

}  // namespace soma::vulkan
