// Kernel IR -> LLVM IR: contraction kernels as a packed, cache-blocked GEMM (see
// codegen_internal.h; the register micro-kernel is in codegen_micro.cpp).
//
// acc[b, i, j] = sum_k a(b, i, k) * b(b, k, j). The task domain is a grid of output blocks
// (batch x M-blocks x N-blocks). plan_gemm() picks the grid that gives the slowest thread the
// least work, counting per task the multiply-adds, the packing of its B block and the reading or
// packing of its rows of A (an N-split re-reads A, an M-split re-packs B), and preferring a few
// tasks per thread so that a thread held up by another process leaves work to claim. A task, for
// each C tile of MC rows of its block:
//   for each KC-slice of k:
//     - packs B's KC x NT block into NR-column panels (k-major, NR contiguous values per k),
//       evaluating the kernel's b expression once per element, VF columns at a time, or, for a
//       source contiguous along k (a transposed B), VF values along k for VF columns transposed
//       in registers; a task packs its B block once and reuses it for all of its C tiles where it
//       fits in scratch memory;
//     - for each MR-row sliver of A: reads A in place when a(i, k) is a plain strided load (a
//       row-major or a transposed matrix, reshaped views included) whose rows do not crowd a few
//       L1 sets, else packs the sliver, evaluating the a expression once per element, VF values
//       at a time along k (row-packed: the loads of a row-major source are contiguous) or along
//       the rows (column-packed: for a transposed source); then runs the micro-kernel (MR x NR
//       accumulators) against every panel, the sliver staying in L1 while the panels stream
//       from L2, accumulating into the C tile in scratch memory;
//   then evaluates the epilogue (the kernel body, acc bound) for each (i, j) of the C tile.
// Rows and columns past the edge are packed as zeros. Every acc element is one chain of
// multiply-adds in k order: the result does not depend on the blocking or the thread count.
#include <cmath>

#include "backends/llvm/codegen_internal.h"

namespace soma::jit::detail {

namespace {

// k-slices: the A sliver (MR x KC) stays in L1 while B panels (KC x NR) stream through it.
constexpr int64_t kMaxKC = 384;
// A task's block of B: at most this many panels wide (KC x NT stays in L2).
constexpr int64_t kMaxPanelsPerTask = 8;
// A C tile: at most this many rows.
constexpr int64_t kMaxMC = 144;
// The packed B of a task keeps every k-slice (packed once, reused by all C tiles) up to this size.
constexpr int64_t kMaxWholeB = int64_t{4} << 20;

}  // namespace

// The operand `id` read in place: a plain load of a `t` buffer that this kernel does not write,
// at base + rs * r + cs * k for row variable r and k (other variables: batch axes only).
bool KernelEmitter::direct_operand(ExprId id, DType t, VarId r, VarId kv, int64_t& rs,
                                   int64_t& cs) {
  const kir::Expr& e = k_.expr(id);
  if (e.kind != ExprKind::Load || e.a[1] >= 0 || e.dtype != t || volatile_[expr_index(id)])
    return false;
  if (p_.buffers[static_cast<size_t>(e.buffer)].dtype != t) return false;
  LinearIndex f;
  if (!linear_index(e.a[0], f) || !f.atoms.empty()) return false;
  const kir::Contraction& c = k_.contraction;
  for (const auto& [v, coef] : f.vars) {
    bool ok = v == r || v == kv;
    for (size_t d = 0; d < c.batch.size(); ++d)
      ok = ok || v == c.batch[d].var || v == k_.parallel[d].var;
    if (!ok) return false;
  }
  rs = f.coef(r);
  cs = f.coef(kv);
  return rs == 1 || cs == 1;
}

// Whether packing operand `id` should run along k rather than along r (its row or column
// variable): the direction in which fewer of its loads are strided (gathers when vectorized);
// `tie` when both are as good.
bool KernelEmitter::pack_along_k(ExprId id, VarId r, VarId kv, bool tie) {
  std::vector<char> seen(k_.exprs.size(), 0);
  int strided_k = 0, strided_r = 0;
  std::function<void(ExprId)> walk = [&](ExprId x) {
    if (x < 0 || seen[static_cast<size_t>(x)]) return;
    seen[static_cast<size_t>(x)] = 1;
    const kir::Expr& e = k_.expr(x);
    if (e.kind == ExprKind::Load) {
      LinearIndex f;
      if (linear_index(e.a[0], f) && f.atoms.empty()) {
        strided_k += std::abs(f.coef(kv)) > 1;
        strided_r += std::abs(f.coef(r)) > 1;
      }
    }
    for (ExprId a : e.a) walk(a);
    if (e.kind == ExprKind::Var && let_expr_[static_cast<size_t>(e.var)] >= 0)
      walk(let_expr_[static_cast<size_t>(e.var)]);
  };
  walk(id);
  return strided_k < strided_r || (strided_k == strided_r && tie);
}

// Whether `count` runs of `bytes` bytes, `stride` bytes apart, spread over the sets of an L1
// cache (64 sets of 64-byte lines, 12 ways; a 32 KiB L1 has 8) with at most half of any set.
bool KernelEmitter::sliver_spread(int64_t count, int64_t stride, int64_t bytes) {
  constexpr int64_t kSets = 64, kLine = 64, kMaxPerSet = 6;
  auto line_of = [](int64_t a) { return a >= 0 ? a / kLine : -((-a + kLine - 1) / kLine); };
  int64_t per_set[kSets] = {};
  for (int64_t r = 0; r < count; ++r) {
    int64_t first = r * stride, last = r * stride + bytes - 1;
    for (int64_t line = line_of(first); line <= line_of(last); ++line)
      if (++per_set[((line % kSets) + kSets) % kSets] > kMaxPerSet) return false;
  }
  return true;
}

bool KernelEmitter::plan_gemm(Gemm& g) {
  if (!k_.is_contraction || target_.vector_bits < 256) return false;
  const kir::Contraction& c = k_.contraction;
  g.t = k_.vars.at(static_cast<size_t>(c.acc)).dtype;
  if (!is_float(g.t)) return false;
  g.batch_axes = c.batch.size();
  if (k_.parallel.size() != g.batch_axes + 2) return false;
  for (size_t d = 0; d < g.batch_axes; ++d) g.batch *= k_.parallel[d].extent;
  g.M = k_.parallel[g.batch_axes].extent;
  g.N = k_.parallel[g.batch_axes + 1].extent;
  g.K = c.k.extent;
  if (g.batch <= 0 || g.M <= 0 || g.N <= 0 || g.K < 0) return false;
  // Tiny or skinny products (matrix-vector) are left to the direct loop.
  if (g.N < 4 || g.batch * g.M * g.N * std::max<int64_t>(g.K, 1) < 16384) return false;
  g.et = type(g.t);
  g.esz = static_cast<int64_t>(dtype_size(g.t));
  g.vf = target_.vector_bits / (8 * g.esz);
  // Two vectors of B per row of the micro-kernel (MR x 2 accumulators); one (and twice the rows)
  // for a product no wider than a vector, whose second vector would be all padding.
  const bool narrow = g.N <= g.vf;
  g.NR = (narrow ? 1 : 2) * g.vf;
  g.MR = (target_.vector_bits >= 512 ? 12 : 6) * (narrow ? 2 : 1);
  g.nkb = g.K == 0 ? 1 : ceil_div(g.K, kMaxKC);
  g.KC = g.K == 0 ? 1 : round_up(ceil_div(g.K, g.nkb), 8);
  g.nkb = g.K == 0 ? 1 : ceil_div(g.K, g.KC);

  const VarId iv = k_.parallel[g.batch_axes].var, jv = k_.parallel[g.batch_axes + 1].var;
  int64_t rs = 0, cs = 0;
  g.a_direct = direct_operand(c.a, g.t, iv, c.k.var, rs, cs);
  if (g.a_direct) {
    g.a_rows = cs == 1;  // a(i, k) = A[i * rs + k]; else A[i + k * cs]
    g.a_stride = g.a_rows ? rs : cs;
    // A sliver read in place must not crowd a few L1 sets (a leading dimension of 1024 floats
    // puts every row in the same set); else it is packed.
    g.a_direct =
        sliver_spread(g.a_rows ? g.MR : g.KC, g.a_stride * g.esz, (g.a_rows ? g.KC : g.MR) * g.esz);
  }
  g.a_rowpack = pack_along_k(c.a, iv, c.k.var, true);
  g.b_kmajor = pack_along_k(c.b, jv, c.k.var, false);

  // The task grid: the fewest cycles for the slowest thread, counting the multiply-adds and
  // packing (an operand is packed once per task along the other dimension) per task.
  const int64_t T = std::max(1, target_.parallelism);
  const int64_t panels = ceil_div(g.N, g.NR), slivers = ceil_div(g.M, g.MR);
  // Cycles per element of an operand that a task reads for its block: bringing A's slivers into
  // L1 (in place: the first panel of a sliver waits for them, the more so for a transposed A, a
  // cache line per k), or evaluating and packing an operand VF elements at a time (B along k:
  // with transposes).
  std::vector<char> seen(k_.exprs.size(), 0);
  const double vf = static_cast<double>(g.vf);
  const double a_cost = g.a_direct ? (g.a_rows ? 0.5 : 1.0)
                                   : 0.5 + 1.5 * static_cast<double>(expr_cost(c.a, seen)) / vf;
  std::fill(seen.begin(), seen.end(), 0);
  const double b_cost =
      (g.b_kmajor ? 0.5 : 0.15) + 1.5 * static_cast<double>(expr_cost(c.b, seen)) / vf;
  const double flops_per_cycle = 2.0 * static_cast<double>(g.vf);  // two vector FMA pipes
  const double kd = static_cast<double>(std::max<int64_t>(g.K, 1));
  double best = INFINITY;
  for (int64_t ppt = std::min(panels, kMaxPanelsPerTask); ppt >= 1; --ppt) {
    const int64_t nb = ceil_div(panels, ppt);
    if (ppt > 1 && ceil_div(panels, ppt - 1) == nb) continue;  // the same grid, wider tasks
    for (int64_t spt = slivers; spt >= 1; --spt) {
      const int64_t mb = ceil_div(slivers, spt);
      if (spt > 1 && ceil_div(slivers, spt - 1) == mb) continue;
      const int64_t tasks = g.batch * mb * nb;
      const double rows = static_cast<double>(spt * g.MR), cols = static_cast<double>(ppt * g.NR);
      const double task =
          rows * cols * kd / flops_per_cycle + a_cost * rows * kd + b_cost * kd * cols + 2000.0;
      double span = static_cast<double>(ceil_div(tasks, T)) * task;
      // Few tasks per thread balance poorly when a thread is held up (another process on its
      // core): the dynamic claiming of tasks evens out only what is left to claim.
      if (T > 1 && tasks < 2 * T) span *= 1.06;
      if (T > 1 && tasks < 4 * T) span *= 1.02;
      if (span < best * 0.999) {
        best = span;
        g.task_cycles = task;
        g.nb = nb;
        g.NT = ppt * g.NR;
        g.mb = mb;
        g.MT = spt * g.MR;
      }
      if (tasks >= 8 * T) break;  // more M-blocks only add packing
    }
  }
  const int64_t nic = ceil_div(g.MT, kMaxMC);
  g.MC = round_up(ceil_div(g.MT, nic), g.MR);
  g.b_whole = nic > 1 && g.nkb * g.KC * g.NT * g.esz <= kMaxWholeB;
  // Row-packed slivers keep rows kMaxKC apart whatever the kernel's KC, so that every kernel of a
  // program shares one micro-kernel for them.
  g.a_bytes = round_up(g.MR * (g.a_rowpack ? kMaxKC : g.KC) * g.esz, 64);
  g.b_bytes = round_up((g.b_whole ? g.nkb : 1) * g.KC * g.NT * g.esz, 64);
  g.c_bytes = round_up(g.MC * g.NT * g.esz, 64);
  return true;
}

void KernelEmitter::emit_gemm(Gemm& g) {
  const kir::Contraction& c = k_.contraction;
  // The micro-kernels: for packed slivers (unless A is read in place throughout), and for A
  // read in place.
  if (!g.a_direct || g.M % g.MR != 0)
    g.micro_packed =
        g.a_rowpack ? emit_micro_kernel(g, true, kMaxKC) : emit_micro_kernel(g, false, g.MR);
  if (g.a_direct) g.micro_direct = emit_micro_kernel(g, g.a_rows, g.a_stride);
  llvm::Value* ap = scratch_;
  llvm::Value* bp = b_.CreateConstInBoundsGEP1_64(i8_, scratch_, static_cast<uint64_t>(g.a_bytes));
  llvm::Value* cp =
      b_.CreateConstInBoundsGEP1_64(i8_, scratch_, static_cast<uint64_t>(g.a_bytes + g.b_bytes));
  const VarId iv = k_.parallel[g.batch_axes].var, jv = k_.parallel[g.batch_axes + 1].var;
  scoped_range(begin_, end_, "task", [&](llvm::Value* t) {
    PlainLoops plain(*this, true);
    llvm::Value* grid = i64c(g.mb * g.nb);
    llvm::Value* bi = b_.CreateUDiv(t, grid);
    llvm::Value* rest = b_.CreateURem(t, grid);
    llvm::Value* mi = b_.CreateUDiv(rest, i64c(g.nb));
    llvm::Value* nj = b_.CreateURem(rest, i64c(g.nb));
    llvm::Value* rem = bi;
    for (size_t d = g.batch_axes; d-- > 0;) {
      int64_t e = k_.parallel[d].extent;
      bind_axis(k_.parallel[d].var, d == 0 ? rem : b_.CreateURem(rem, i64c(e)));
      if (d > 0) rem = b_.CreateUDiv(rem, i64c(e));
    }
    for (size_t d = 0; d < g.batch_axes; ++d)
      if (c.batch[d].var != k_.parallel[d].var)
        vars_[static_cast<size_t>(c.batch[d].var)] = vars_[static_cast<size_t>(k_.parallel[d].var)];
    llvm::Value* m0 = b_.CreateMul(mi, i64c(g.MT), "m0", true, true);
    llvm::Value* n0 = b_.CreateMul(nj, i64c(g.NT), "n0", true, true);
    llvm::Value* mt = smin(i64c(g.MT), b_.CreateSub(i64c(g.M), m0));
    llvm::Value* nt = smin(i64c(g.NT), b_.CreateSub(i64c(g.N), n0));
    llvm::Value* panels = b_.CreateUDiv(b_.CreateAdd(nt, i64c(g.NR - 1)), i64c(g.NR));
    llvm::Value* tiles = b_.CreateUDiv(b_.CreateAdd(mt, i64c(g.MC - 1)), i64c(g.MC));
    scoped_range(i64c(0), tiles, "ctile", [&](llvm::Value* ti) {
      llvm::Value* ic = b_.CreateAdd(m0, b_.CreateMul(ti, i64c(g.MC)), "ic", true, true);
      llvm::Value* mc = smin(i64c(g.MC), b_.CreateSub(b_.CreateAdd(m0, mt), ic));
      llvm::Value* slivers = b_.CreateUDiv(b_.CreateAdd(mc, i64c(g.MR - 1)), i64c(g.MR));
      scoped_range(i64c(0), i64c(g.nkb), "kblock", [&](llvm::Value* kb) {
        llvm::Value* pc = b_.CreateMul(kb, i64c(g.KC), "pc", true, true);
        llvm::Value* kc = smin(i64c(g.KC), b_.CreateSub(i64c(g.K), pc));
        llvm::Value* bblock =
            g.b_whole ? elem_ptr(g.et, bp, b_.CreateMul(kb, i64c(g.KC * g.NT))) : bp;
        if (g.b_whole) {  // packed by the first C tile, reused by the others
          if_else(
              b_.CreateICmpEQ(ti, i64c(0)), [&] { pack_b(g, bblock, n0, panels, pc, kc, jv); },
              [] {});
        } else {
          pack_b(g, bblock, n0, panels, pc, kc, jv);
        }
        llvm::Value* first = b_.CreateICmpEQ(kb, i64c(0));
        scoped_range(i64c(0), slivers, "sliver", [&](llvm::Value* s) {
          llvm::Value* i0 = b_.CreateAdd(ic, b_.CreateMul(s, i64c(g.MR)), "i0", true, true);
          llvm::Value* crow = elem_ptr(g.et, cp, b_.CreateMul(s, i64c(g.MR * g.NT)));
          auto run = [&](llvm::Function* micro, llvm::Value* a) {
            for_range(i64c(0), panels, "panel", [&](llvm::Value* p) {
              llvm::Value* bpanel =
                  elem_ptr(g.et, bblock, b_.CreateMul(p, b_.CreateMul(kc, i64c(g.NR))));
              llvm::Value* ctile = elem_ptr(g.et, crow, b_.CreateMul(p, i64c(g.NR)));
              b_.CreateCall(micro, {a, bpanel, kc, ctile, i64c(g.NT), first});
            });
          };
          auto packed = [&] {
            pack_a(g, ap, i0, pc, kc, iv);
            run(g.micro_packed, ap);
          };
          if (!g.a_direct) {
            packed();
            return;
          }
          // In place, except a sliver that runs past the last row.
          auto direct = [&] {
            bind_axis(iv, i0);
            bind_axis(c.k.var, pc);
            const kir::Expr& e = k_.expr(c.a);
            llvm::Value* a = elem_ptr(g.et, base_[static_cast<size_t>(e.buffer)], idx(e.a[0]));
            run(g.micro_direct, a);
          };
          if (g.M % g.MR == 0) {
            Saved sv = push();
            direct();
            pop(sv);
          } else {
            if_else(b_.CreateICmpSLE(b_.CreateAdd(i0, i64c(g.MR)), i64c(g.M)), direct, packed);
          }
        });
      });
      // The epilogue: the kernel body for each (i, j) of the tile, acc from the C tile; its
      // inner loop is left to the vectorizer, its row loop stays rolled (unrolled copies of a
      // vectorized loop cost compile time for nothing).
      scoped_range(i64c(0), mc, "ei", [&](llvm::Value* ii) {
        bind_axis(iv, b_.CreateAdd(ic, ii, "", true, true));
        llvm::Value* row = elem_ptr(g.et, cp, b_.CreateMul(ii, i64c(g.NT)));
        PlainLoops vectorized(*this, false);
        scoped_range(i64c(0), nt, "ej", [&](llvm::Value* jj) {
          bind_axis(jv, b_.CreateAdd(n0, jj, "", true, true));
          bind_value(c.acc, b_.CreateAlignedLoad(g.et, elem_ptr(g.et, row, jj),
                                                 llvm::Align(static_cast<uint64_t>(g.esz))));
          stmts(k_.body);
        });
      });
    });
  });
}

// B's [pc, pc + kc) x [n0, n0 + panels * NR) block into panels: panel p, row k at
// (p * kc + k) * NR; columns past N are zeros. A source contiguous along j is read VF columns at
// a time; a source contiguous along k (a transposed matrix) VF values along k for each of VF
// columns, and the VF x VF block is transposed in registers.
void KernelEmitter::pack_b(const Gemm& g, llvm::Value* bp, llvm::Value* n0, llvm::Value* panels,
                           llvm::Value* pc, llvm::Value* kc, VarId jv) {
  const kir::Contraction& c = k_.contraction;
  const DType bt = k_.expr(c.b).dtype;
  const int64_t nv = g.NR / g.vf;
  const llvm::Align valign(static_cast<uint64_t>(g.vf * g.esz));
  llvm::Value* zeros =
      llvm::ConstantFP::get(llvm::FixedVectorType::get(g.et, static_cast<unsigned>(g.vf)), 0.0);
  // Lanes j0 + c0 .. j0 + c0 + VF - 1 of `id` along variable v (the others bound), the lanes at
  // or past `valid` (columns past N) zero.
  auto lanes = [&](ExprId id, VarId v, llvm::Value* v0, int64_t valid) -> llvm::Value* {
    if (valid <= 0) return zeros;
    llvm::Value* x = lanes_along(id, v, v0, g.t, static_cast<unsigned>(std::min(valid, g.vf)));
    if (valid < g.vf)
      x = b_.CreateSelect(lane_mask(static_cast<unsigned>(g.vf), static_cast<unsigned>(valid)), x,
                          zeros);
    return x;
  };
  scoped_range(i64c(0), panels, "pb", [&](llvm::Value* p) {
    llvm::Value* j0 = b_.CreateAdd(n0, b_.CreateMul(p, i64c(g.NR)), "", true, true);
    llvm::Value* dst = elem_ptr(g.et, bp, b_.CreateMul(p, b_.CreateMul(kc, i64c(g.NR))));
    // The panel with `cols` valid columns.
    auto panel = [&](int64_t cols) {
      PlainLoops plain(*this, true);
      if (!g.b_kmajor) {
        scoped_range(i64c(0), kc, "pbk", [&](llvm::Value* k) {
          bind_axis(c.k.var, b_.CreateAdd(pc, k, "", true, true));
          for (int64_t h = 0; h < nv; ++h) {
            llvm::Value* v =
                lanes(c.b, jv, b_.CreateAdd(j0, i64c(h * g.vf), "", true, true), cols - h * g.vf);
            llvm::Value* at = b_.CreateAdd(b_.CreateMul(k, i64c(g.NR)), i64c(h * g.vf));
            b_.CreateAlignedStore(v, elem_ptr(g.et, dst, at), valign);
          }
        });
        return;
      }
      // Blocks of VF rows: the NR columns read VF values along k each (a loop, into a tile on the
      // stack; columns past N zeros), then each VF x VF square transposed and stored as VF rows.
      llvm::Value* blocks = b_.CreateUDiv(kc, i64c(g.vf));
      auto* vt = llvm::FixedVectorType::get(g.et, static_cast<unsigned>(g.vf));
      llvm::AllocaInst* tile =
          entry_alloca(llvm::ArrayType::get(vt, static_cast<uint64_t>(g.NR)), "tile");
      tile->setAlignment(valign);
      scoped_range(i64c(0), blocks, "pbt", [&](llvm::Value* kb) {
        llvm::Value* k0 = b_.CreateMul(kb, i64c(g.vf), "", true, true);
        scoped_range(i64c(0), i64c(g.NR), "pbq", [&](llvm::Value* q) {
          llvm::Value* j = b_.CreateAdd(j0, q, "", true, true);
          bind_axis(jv, cols < g.NR ? smin(j, i64c(g.N - 1)) : j);
          llvm::Value* v = lanes(c.b, c.k.var, b_.CreateAdd(pc, k0, "", true, true), g.vf);
          if (cols < g.NR) v = b_.CreateSelect(b_.CreateICmpSLT(q, i64c(cols)), v, zeros);
          b_.CreateAlignedStore(v, b_.CreateInBoundsGEP(vt, tile, q), valign);
        });
        for (int64_t h = 0; h < nv; ++h) {
          std::vector<llvm::Value*> colv;
          for (int64_t q = 0; q < g.vf; ++q)
            colv.push_back(b_.CreateAlignedLoad(
                vt, b_.CreateConstInBoundsGEP1_64(vt, tile, static_cast<uint64_t>(h * g.vf + q)),
                valign));
          std::vector<llvm::Value*> rows = transpose(colv);
          for (int64_t t = 0; t < g.vf; ++t) {
            llvm::Value* at =
                b_.CreateAdd(b_.CreateMul(b_.CreateAdd(k0, i64c(t)), i64c(g.NR)), i64c(h * g.vf));
            b_.CreateAlignedStore(rows[static_cast<size_t>(t)], elem_ptr(g.et, dst, at), valign);
          }
        }
      });
      // The last kc % VF rows, one value at a time (clamped columns past N, zeroed).
      scoped_range(b_.CreateMul(blocks, i64c(g.vf)), kc, "pbk", [&](llvm::Value* k) {
        scoped_range(i64c(0), i64c(g.NR), "pbj", [&](llvm::Value* q) {
          bind_axis(c.k.var, b_.CreateAdd(pc, k, "", true, true));
          llvm::Value* j = b_.CreateAdd(j0, q, "", true, true);
          bind_axis(jv, cols < g.NR ? smin(j, i64c(g.N - 1)) : j);
          llvm::Value* v = convert(val(c.b), bt, g.t);
          if (cols < g.NR)
            v = b_.CreateSelect(b_.CreateICmpSLT(q, i64c(cols)), v, constant(0, g.t));
          b_.CreateStore(v, elem_ptr(g.et, dst, b_.CreateAdd(b_.CreateMul(k, i64c(g.NR)), q)));
        });
      });
    };
    if (g.N % g.NR == 0)
      panel(g.NR);
    else
      if_else(
          b_.CreateICmpSLE(b_.CreateAdd(j0, i64c(g.NR)), i64c(g.N)), [&] { panel(g.NR); },
          [&] { panel(g.N % g.NR); });
  });
}

// A's sliver [i0, i0 + MR) x [pc, pc + kc): row-packed (row r at r * kMaxKC) or column-packed
// (column k at k * MR); rows past M are zeros. Row-packed slivers are read VF values along k at a
// time, column-packed ones VF rows at a time.
void KernelEmitter::pack_a(const Gemm& g, llvm::Value* ap, llvm::Value* i0, llvm::Value* pc,
                           llvm::Value* kc, VarId iv) {
  const kir::Contraction& c = k_.contraction;
  const DType at = k_.expr(c.a).dtype;
  const llvm::Align align(static_cast<uint64_t>(g.esz));
  auto* vt = llvm::FixedVectorType::get(g.et, static_cast<unsigned>(g.vf));
  llvm::Value* zeros = llvm::ConstantFP::get(vt, 0.0);
  // The sliver with `rows` valid rows.
  auto sliver = [&](int64_t rows) {
    PlainLoops plain(*this, true);
    if (g.a_rowpack) {
      llvm::Value* blocks = b_.CreateUDiv(kc, i64c(g.vf));
      scoped_range(i64c(0), i64c(rows), "par", [&](llvm::Value* r) {
        bind_axis(iv, b_.CreateAdd(i0, r, "", true, true));
        llvm::Value* row = elem_ptr(g.et, ap, b_.CreateMul(r, i64c(kMaxKC)));
        scoped_range(i64c(0), blocks, "pakv", [&](llvm::Value* kb) {
          llvm::Value* k0 = b_.CreateMul(kb, i64c(g.vf), "", true, true);
          llvm::Value* v = lanes_along(c.a, c.k.var, b_.CreateAdd(pc, k0, "", true, true), g.t);
          b_.CreateAlignedStore(v, elem_ptr(g.et, row, k0), align);
        });
        scoped_range(b_.CreateMul(blocks, i64c(g.vf)), kc, "pak", [&](llvm::Value* k) {
          bind_axis(c.k.var, b_.CreateAdd(pc, k, "", true, true));
          b_.CreateStore(convert(val(c.a), at, g.t), elem_ptr(g.et, row, k));
        });
      });
      if (rows < g.MR)
        scoped_range(i64c(rows), i64c(g.MR), "paz", [&](llvm::Value* r) {
          b_.CreateMemSet(elem_ptr(g.et, ap, b_.CreateMul(r, i64c(kMaxKC))), b_.getInt8(0),
                          b_.CreateMul(kc, i64c(g.esz)), align);
        });
      return;
    }
    scoped_range(i64c(0), kc, "pak", [&](llvm::Value* k) {
      bind_axis(c.k.var, b_.CreateAdd(pc, k, "", true, true));
      llvm::Value* col = elem_ptr(g.et, ap, b_.CreateMul(k, i64c(g.MR)));
      for (int64_t c0 = 0; c0 < g.MR; c0 += g.vf) {
        const int64_t width = std::min(g.vf, g.MR - c0), valid = std::min(width, rows - c0);
        llvm::Value* v = zeros;
        if (valid > 0) {
          v = lanes_along(c.a, iv, b_.CreateAdd(i0, i64c(c0), "", true, true), g.t,
                          static_cast<unsigned>(valid));
          if (valid < g.vf)
            v = b_.CreateSelect(
                lane_mask(static_cast<unsigned>(g.vf), static_cast<unsigned>(valid)), v, zeros);
        }
        llvm::Value* dst = elem_ptr(g.et, col, i64c(c0));
        if (width == g.vf)
          b_.CreateAlignedStore(v, dst, align);
        else
          b_.CreateMaskedStore(
              v, dst, align, lane_mask(static_cast<unsigned>(g.vf), static_cast<unsigned>(width)));
      }
    });
  };
  if (g.M % g.MR == 0)
    sliver(g.MR);
  else
    if_else(
        b_.CreateICmpSLE(b_.CreateAdd(i0, i64c(g.MR)), i64c(g.M)), [&] { sliver(g.MR); },
        [&] { sliver(g.M % g.MR); });
}

// The VF values of `id` for variable v = v0 .. v0 + VF - 1 (the other variables as bound), as a
// vector of dtype t, with the vectorized reductions' machinery (contiguous loads where the index
// runs along v, gathers elsewhere). Only the first `lanes` are read (0: all).
llvm::Value* KernelEmitter::lanes_along(ExprId id, VarId v, llvm::Value* v0, DType t,
                                        unsigned lanes) {
  const unsigned vf = static_cast<unsigned>(target_.vector_bits / (8 * dtype_size(t)));
  Saved sv = push();
  vvar_ = v;
  vf_ = vf;
  varying_.assign(k_.exprs.size(), -1);
  body_lets_.clear();
  bind_vector_var(v0);
  if (lanes > 0 && lanes < vf) tail_mask_ = lane_mask(vf, lanes);
  llvm::Value* x = convert(vval(id), k_.expr(id).dtype, t);
  if (!x->getType()->isVectorTy()) x = b_.CreateVectorSplat(vf, x);
  tail_mask_ = nullptr;
  pop(sv);
  vvar_ = -1;
  return x;
}

// <n x i1> with the first `lanes` lanes set.
llvm::Constant* KernelEmitter::lane_mask(unsigned n, unsigned lanes) {
  std::vector<llvm::Constant*> bits;
  for (unsigned l = 0; l < n; ++l) bits.push_back(llvm::ConstantInt::get(i1_, l < lanes ? 1 : 0));
  return llvm::ConstantVector::get(bits);
}

// Transposes n vectors of n lanes (n a power of two): out[i][l] = in[l][i]. log2(n) rounds; the
// round of distance d swaps the off-diagonal d x d blocks of every 2d x 2d block.
std::vector<llvm::Value*> KernelEmitter::transpose(std::vector<llvm::Value*> rows) {
  const int n = static_cast<int>(rows.size());
  for (int d = n / 2; d >= 1; d /= 2) {
    std::vector<int> lo(static_cast<size_t>(n)), hi(static_cast<size_t>(n));
    for (int l = 0; l < n; ++l) {
      // row i (bit d clear) takes, where lane bit d is set, row i + d's lane l - d; row i + d
      // takes, where lane bit d is clear, row i's lane l + d (second operand lanes are + n).
      lo[static_cast<size_t>(l)] = (l & d) ? n + l - d : l;
      hi[static_cast<size_t>(l)] = (l & d) ? n + l : l + d;
    }
    for (int i = 0; i < n; ++i) {
      if (i & d) continue;
      llvm::Value *a = rows[static_cast<size_t>(i)], *b = rows[static_cast<size_t>(i + d)];
      rows[static_cast<size_t>(i)] = b_.CreateShuffleVector(a, b, lo);
      rows[static_cast<size_t>(i + d)] = b_.CreateShuffleVector(a, b, hi);
    }
  }
  return rows;
}

}  // namespace soma::jit::detail
