// Kernel programs as text (tests/kernels/kir/*.kir), each with inputs and the values it must
// produce, run on every executor of the kernel IR: the evaluator (directly and as the
// interp-kernels backend), llvm and vulkan (skipped without a device). One program, one expected
// answer, every driver. The expected values are computed here from the inputs, independently of
// any executor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "graph/philox.h"
#include "kernels/kir_files.h"
#include "vulkan/vk_test_util.h"

namespace soma {
namespace {

using kirtest::load_kir;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Array values(DType t, Shape s, const std::vector<double>& v) {
  return Array::from_doubles(t, std::move(s), v);
}
Array f32(Shape s, const std::vector<double>& v) {
  return values(DType::f32, std::move(s), v);
}
Array f64(Shape s, const std::vector<double>& v) {
  return values(DType::f64, std::move(s), v);
}
Array i32(Shape s, const std::vector<double>& v) {
  return values(DType::i32, std::move(s), v);
}
Array boolean(Shape s, const std::vector<double>& v) {
  return values(DType::boolean, std::move(s), v);
}

// What arithmetic in a dtype gives: each kernel-IR node rounds to its dtype.
double rf(double v) {
  return static_cast<double>(static_cast<float>(v));
}
double wrap_i32(int64_t v) {
  return static_cast<double>(static_cast<int32_t>(static_cast<uint32_t>(v)));
}
double max_nan(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? kNaN : std::max(a, b);
}
double min_nan(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? kNaN : std::min(a, b);
}

// An expected array (its dtype and shape are checked too). NaN and infinities must match
// exactly, and so must integers and bools; a finite float within rel * max(1, |want|).
struct Want {
  Array value;
  double rel = -1;         // -1: 1e-6 for f32, 1e-13 for f64
  double vulkan_rel = -1;  // where the device's math library is documented less exact; -1: rel
};

struct Run {
  Feeds feeds;
  std::vector<Want> outputs;
  std::map<std::string, Want> params_after;
};

struct Case {
  std::string file;
  std::map<std::string, Array> params;  // before the first run
  std::vector<Run> runs;                // on one compiled program, in order
  // Checks beyond the values of each run's outputs (`what` names the case and executor).
  std::function<void(const std::vector<Array>& outputs, const std::string& executor,
                     const std::string& what)>
      also;
};

Case one_run(std::string file, Feeds feeds, std::vector<Want> outputs) {
  Case c;
  c.file = std::move(file);
  c.runs.push_back({std::move(feeds), std::move(outputs), {}});
  return c;
}

void expect_want(const Array& got, const Want& want, bool vulkan, const std::string& what) {
  ASSERT_EQ(got.dtype(), want.value.dtype()) << what;
  ASSERT_EQ(got.shape(), want.value.shape()) << what;
  double rel = vulkan && want.vulkan_rel >= 0 ? want.vulkan_rel : want.rel;
  if (rel < 0) rel = got.dtype() == DType::f32 ? 1e-6 : 1e-13;
  int bad = 0;
  for (int64_t i = 0; i < got.numel() && bad < 10; ++i) {
    double g = got.get(i), w = want.value.get(i);
    bool ok;
    if (std::isnan(w))
      ok = std::isnan(g);
    else if (std::isinf(w) || !is_float(got.dtype()) || rel == 0)
      ok = g == w;
    else
      ok = std::fabs(g - w) <= rel * std::max(1.0, std::fabs(w));
    if (!ok) {
      ++bad;
      ADD_FAILURE() << what << " element " << i << ": got " << g << ", want " << w << " (rel "
                    << rel << ")";
    }
  }
}

// ---- the cases ----

// Row softmax over 64 rows of 10: row 5 needs the max shift (exp(1000) overflows), row 3 holds a
// NaN (the whole row is NaN), rows 0-4 span exp(-100) to 1.
Case softmax_case() {
  const int64_t rows = 64, cols = 10;
  std::vector<double> xv(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      double v = r == 5 ? 1000.0 + static_cast<double>(c)
                 : r < 5
                     ? std::sin(static_cast<double>(r * cols + c)) * 50
                     : 3 * std::sin(0.37 * static_cast<double>(r) + 1.3 * static_cast<double>(c));
      xv[static_cast<size_t>(r * cols + c)] = v;
    }
  xv[3 * cols + 4] = kNaN;
  Array x = f32({rows, cols}, xv);
  std::vector<double> want(xv.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = -kInf, s = 0;
    for (int64_t c = 0; c < cols; ++c) m = max_nan(m, x.get(r * cols + c));
    for (int64_t c = 0; c < cols; ++c) s += std::exp(x.get(r * cols + c) - m);
    for (int64_t c = 0; c < cols; ++c)
      want[static_cast<size_t>(r * cols + c)] = std::exp(x.get(r * cols + c) - m) / s;
  }
  Case c = one_run("softmax_rows.kir", {{"x", x}}, {{f32({rows, cols}, want), 2e-6}});
  c.also = [=](const std::vector<Array>& out, const std::string&, const std::string& what) {
    for (int64_t r = 0; r < rows; ++r) {
      if (r == 3) continue;  // the NaN row
      double s = 0;
      for (int64_t k = 0; k < cols; ++k) s += out[0].get(r * cols + k);
      EXPECT_NEAR(s, 1.0, 1e-5) << what << " row " << r;
    }
  };
  return c;
}

Case math_and_logic_case() {
  std::vector<double> x = {0.5, 1, 2}, y(3), r(3);
  for (size_t i = 0; i < 3; ++i) {
    y[i] = 1 / (1 + std::exp(-x[i])) + x[i] * x[i] + std::tanh(x[i]);
    r[i] = rf(philox_uniform(7, static_cast<uint64_t>(i), 1));
  }
  return one_run("math_and_logic.kir", {{"x", f32({3}, x)}},
                 {{f32({3}, y)}, {boolean({3}, {0, 1, 0})}, {f32({3}, r)}});
}

// Broadcast loads (zero strides), a transposed load, masked loads that pad (the masked-off taps
// would index x[-1], x[4] and x[5]: a masked-off load must not touch memory) and a select on
// a padded value.
Case views_case() {
  return one_run("views.kir",
                 {{"x", f32({2, 3}, {1, 2, 3, 4, 5, 6})},
                  {"b", f32({3}, {10, 20, 30})},
                  {"c", f32({2, 1}, {2, -1})},
                  {"xt", f32({2, 3}, {1, 2, 3, 4, 5, 6})},
                  {"xp", f32({4}, {1, 2, 3, 4})},
                  {"xs", f32({4}, {1, 2, 3, 4})}},
                 {{f32({2, 3}, {12, 24, 36, 6, 15, 24})},
                  {f32({3, 2}, {1, 4, 2, 5, 3, 6})},
                  {f32({7}, {-1.5, 1, 2, 3, 4, -1.5, -1.5})},
                  {f32({6}, {-7, 1, 2, 3, 4, -7})},
                  {f32({6}, {0, 0, 0, 3, 4, 0})}});
}

// permute(x, [2,0,1]) over one flat axis (the multi-index recovered with // and %), floor
// division and modulo of negative loop values and of inputs (down to INT32_MIN), and index
// arithmetic of a loop variable: a transpose through // and %, a wrapped shift, a float of it.
Case index_arithmetic_case() {
  std::vector<double> xv(24), perm(24);
  for (size_t q = 0; q < 24; ++q) xv[q] = static_cast<double>(q);
  for (size_t c = 0; c < 4; ++c)
    for (size_t a = 0; a < 2; ++a)
      for (size_t b = 0; b < 3; ++b) perm[c * 6 + a * 3 + b] = xv[a * 12 + b * 4 + c];
  const std::vector<double> iv = {-7, -6, -1, 0, 1, 5, 6, 7, -2147483648.0, 2147483647};
  std::vector<double> q, r;
  for (double v : iv) {
    q.push_back(std::floor(v / 3));
    r.push_back(v - 3 * std::floor(v / 3));
  }
  std::vector<double> lv(12), idx;
  for (int j = 0; j < 12; ++j) lv[static_cast<size_t>(j)] = j * j;
  for (int j = 0; j < 12; ++j) {
    int t = (j % 4) * 3 + j / 4, m = (((j - 5) % 12) + 12) % 12;
    idx.push_back(lv[static_cast<size_t>(t)] + lv[static_cast<size_t>(m)] +
                  std::floor((j - 5) / 2.0));
  }
  return one_run("index_arithmetic.kir",
                 {{"x", f32({2, 3, 4}, xv)}, {"xi", i32({10}, iv)}, {"xl", f32({12}, lv)}},
                 {{f32({4, 2, 3}, perm)},
                  {i32({5}, {-2, -1, -1, 0, 0})},
                  {i32({5}, {1, 0, 1, 0, 1})},
                  {i32({10}, q)},
                  {i32({10}, r)},
                  {f32({12}, idx)}});
}

// Sums and maxima over one axis of [2,3,4] (a NaN in x propagates through both), reductions over
// no elements (their initial values), a reduce whose body binds a let over two axes, in a kernel
// of one point and in a parallel one, and i32 sum (wrapping) and max.
Case reductions_case() {
  std::vector<double> xv(24);
  for (size_t n = 0; n < xv.size(); ++n) xv[n] = 0.5 * static_cast<double>(n) - 3 * (n % 3 == 0);
  xv[5] = kNaN;  // (0, 1, 1)
  std::vector<double> sum(8, 0.0), mx(6, -kInf);
  for (size_t a = 0; a < 2; ++a)
    for (size_t b = 0; b < 3; ++b)
      for (size_t c = 0; c < 4; ++c) {
        double v = xv[a * 12 + b * 4 + c];
        sum[a * 4 + c] += v;
        mx[a * 3 + b] = max_nan(mx[a * 3 + b], v);
      }
  std::vector<double> mv(24);
  for (size_t e = 0; e < 24; ++e) mv[e] = static_cast<double>(e) - 10;
  double s0 = 0, s1 = 0;
  for (size_t e = 0; e < 12; ++e) s0 += mv[e] * mv[e];
  for (size_t e = 12; e < 24; ++e) s1 += mv[e] * mv[e];
  const std::vector<double> iv = {2147483647, 5, -3, 1, 9, -100};
  return one_run("reductions.kir",
                 {{"x", f32({2, 3, 4}, xv)},
                  {"xe", Array(DType::f32, Shape{2, 0})},
                  {"xs", f32({2, 3}, {1, -2, 3, 0.5, 2, -1})},
                  {"xm", f32({2, 3, 4}, mv)},
                  {"xi", i32({2, 3}, iv)}},
                 {{f32({2, 1, 4}, sum)},
                  {f32({2, 3, 1}, mx)},
                  {f32({2}, {0, 0})},
                  {f32({2}, {-kInf, -kInf})},
                  {f32({}, {19.25})},
                  {f32({2}, {s0, s1})},
                  {i32({1}, {wrap_i32(int64_t{2147483647} + 5 - 3 + 1 + 9 - 100)})},
                  {i32({1}, {2147483647})}});
}

// relu(x @ w + b); a batched product with the right operand stored transposed; one whose left
// operand is a window (a masked load, zero past column 4) times a transposed parameter plus a
// constant bias; batched products accumulating in f64 and in i32 (which wraps).
Case contraction_case() {
  std::vector<double> xv = {1, 2, 3, 4, -1, 0.5, 2, -3, 0, 1, -1, 2};
  std::vector<double> wv = {0.5, -1, 1, 2, -2, 0.25, 1.5, -0.5};
  std::vector<double> bv = {0.25, -4};
  std::vector<double> relu(6);
  for (size_t r = 0; r < 3; ++r)
    for (size_t c = 0; c < 2; ++c) {
      double s = bv[c];
      for (size_t q = 0; q < 4; ++q) s += xv[r * 4 + q] * wv[q * 2 + c];
      relu[r * 2 + c] = std::max(s, 0.0);
    }
  // Both signs occur, so the relu is exercised.
  EXPECT_GT(*std::max_element(relu.begin(), relu.end()), 0);
  EXPECT_EQ(*std::min_element(relu.begin(), relu.end()), 0);

  std::vector<double> av(24), btv(40), bmm(30, 0.0);
  for (size_t n = 0; n < av.size(); ++n) av[n] = std::cos(static_cast<double>(n));
  for (size_t n = 0; n < btv.size(); ++n) btv[n] = 0.25 * static_cast<double>(n % 7) - 0.5;
  Array aa = f32({2, 3, 4}, av), ba = f32({2, 5, 4}, btv);
  for (int64_t q = 0; q < 2; ++q)
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t c = 0; c < 5; ++c)
        for (int64_t t = 0; t < 4; ++t)
          bmm[static_cast<size_t>(q * 15 + r * 5 + c)] +=
              aa.get(q * 12 + r * 4 + t) * ba.get(q * 20 + c * 4 + t);

  const int64_t M = 5, N = 7, K = 6, KA = 4;  // am has KA real columns, padded to K with zeros
  std::vector<double> amv(M * KA), btmv(N * K), window(M * N);
  for (size_t e = 0; e < amv.size(); ++e) amv[e] = std::cos(static_cast<double>(e)) * 2;
  for (size_t e = 0; e < btmv.size(); ++e) btmv[e] = std::sin(static_cast<double>(e) * 0.7);
  Array am = f32({M, KA}, amv), btm = f32({N, K}, btmv);
  const std::vector<double> bias = {0.5, -1, 2, 0, -3, 1, 0.25};
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < N; ++c) {
      double acc = 0;
      for (int64_t q = 0; q < KA; ++q) acc += am.get(r * KA + q) * btm.get(c * K + q);
      window[static_cast<size_t>(r * N + c)] = std::max(acc + bias[static_cast<size_t>(c)], 0.0);
    }

  const int64_t B = 2, BM = 3, BK = 4, BN = 5;
  std::vector<Want> wants = {
      {f32({3, 2}, relu)}, {f32({2, 3, 5}, bmm)}, {f32({M, N}, window), 1e-5}};
  Feeds feeds = {{"x", f32({3, 4}, xv)},
                 {"w", f32({4, 2}, wv)},
                 {"b", f32({2}, bv)},
                 {"a", aa},
                 {"bt", ba},
                 {"am", am}};
  for (DType t : {DType::f64, DType::i32}) {
    bool ints = t == DType::i32;
    std::vector<double> a(B * BM * BK), b(B * BK * BN), y(B * BM * BN);
    for (size_t e = 0; e < a.size(); ++e)
      a[e] =
          ints ? (e % 2 ? 1 << 20 : -3.0 * static_cast<double>(e)) : 0.1 * static_cast<double>(e);
    for (size_t e = 0; e < b.size(); ++e)
      b[e] = ints ? (e % 3 ? 4096 : 7) : 1.0 - 0.05 * static_cast<double>(e);
    for (size_t q = 0; q < B; ++q)
      for (size_t r = 0; r < BM; ++r)
        for (size_t c = 0; c < BN; ++c) {
          double acc = 0;
          int64_t iacc = 0;
          for (size_t k = 0; k < BK; ++k) {
            acc += a[(q * BM + r) * BK + k] * b[(q * BK + k) * BN + c];
            iacc += static_cast<int64_t>(a[(q * BM + r) * BK + k]) *
                    static_cast<int64_t>(b[(q * BK + k) * BN + c]);
          }
          y[(q * BM + r) * BN + c] = ints ? wrap_i32(iacc) : acc;
        }
    std::string suffix = ints ? "32" : "64";
    feeds["a" + suffix] = values(t, {B, BM, BK}, a);
    feeds["b" + suffix] = values(t, {B, BK, BN}, b);
    wants.push_back({values(t, {B, BM, BN}, y)});
  }
  Case c = one_run("contraction.kir", feeds, wants);
  c.params["btm"] = btm;
  c.runs[0].params_after["btm"] = {btm};  // read, never written
  return c;
}

// scatter_add as lowering emits it: a kernel zeroes the output, then a sequential kernel
// accumulates in order. Repeated ids accumulate, out-of-range ids (7; -1 and 4) are dropped: their
// row is clamped and they add nothing (stores cannot be masked). Once with lets and a loop over
// the row, once over a two-axis sequential domain.
Case scatter_case() {
  std::vector<double> idv = {1, 3, 1, 0, 1, 7};
  std::vector<double> uv = {1, 2, 10, 20, 100, 200, 0.5, 0.25, 1000, 2000, 7, 7};
  std::vector<double> want(8, 0.0);
  for (size_t n = 0; n < 6; ++n)
    if (idv[n] < 4)
      for (size_t c = 0; c < 2; ++c) want[static_cast<size_t>(idv[n]) * 2 + c] += uv[n * 2 + c];
  EXPECT_EQ(want, (std::vector<double>{0.5, 0.25, 1101, 2202, 0, 0, 10, 20}));
  std::vector<double> id2 = {1, 3, 1, -1, 4, 0}, u2(18), want2(12, 0.0);
  for (size_t e = 0; e < u2.size(); ++e) u2[e] = static_cast<double>(e) + 0.5;
  for (size_t q = 0; q < 6; ++q) {
    if (id2[q] < 0 || id2[q] >= 4) continue;
    for (size_t w = 0; w < 3; ++w) want2[static_cast<size_t>(id2[q]) * 3 + w] += u2[q * 3 + w];
  }
  return one_run("scatter.kir",
                 {{"ids", i32({6}, idv)},
                  {"upd", f32({6, 2}, uv)},
                  {"ids2", i32({6}, id2)},
                  {"upd2", f32({6, 3}, u2)}},
                 {{f32({4, 2}, want)}, {f32({4, 3}, want2)}});
}

// rand is Philox, bit for bit: 8 points at offset 3 in f32 and f64, and 1000 points of a seed
// beyond 32 bits at offset 7.
Case rand_case() {
  std::vector<double> a(8), b(8), c(1000);
  for (size_t i = 0; i < 8; ++i) {
    a[i] = rf(philox_uniform(42, i, 3));
    b[i] = philox_uniform(7, i, 3);
  }
  const uint64_t seed = 0x123456789abULL;
  for (size_t j = 0; j < 1000; ++j) c[j] = philox_uniform(seed, j, 7);
  Case k =
      one_run("rand.kir",
              {{"offset", Array::scalar(DType::i32, 3)}, {"offset2", Array::scalar(DType::i32, 7)}},
              {{f32({8}, a), 0}, {f64({8}, b), 0}, {f32({1000}, c), 0}, {f64({1000}, c), 0}});
  k.also = [](const std::vector<Array>& out, const std::string&, const std::string& what) {
    for (int64_t i = 0; i < 8; ++i) {
      EXPECT_GE(out[0].get(i), 0.0) << what;
      EXPECT_LT(out[0].get(i), 1.0) << what;
    }
  };
  return k;
}

// Every node rounds to its dtype: in f32, (2^24 + 1) - 2^24 is 0; in f64 it is 1. i32 wraps
// (INT32_MAX + 1, 65536^2). Casts f -> i truncate toward zero and saturate; -> bool is != 0;
// stores convert to the buffer's dtype (a bool value into f32).
Case rounding_case() {
  return one_run("rounding.kir",
                 {{"x", f32({1}, {16777216.0})}, {"a", i32({2}, {2147483647.0, 65536})}},
                 {{f32({1}, {0}), 0},
                  {f64({1}, {1}), 0},
                  {i32({2}, {-2147483648.0, 0})},
                  {i32({2}, {-2, 2147483647.0})},
                  {f32({2}, {1, 0}), 0}});
}

const std::vector<double> kUnaryInputs = {-3.5, -1,  -0.25, -0.0, 0,    0.5,  2,    10,
                                          30,   -30, 88,    -100, kNaN, kInf, -kInf};

double sigmoid_ref(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

// Every unary float op in f32 and f64 over signed zeros, large magnitudes, NaN and infinities,
// within a few ulp of the correctly rounded result; sigmoid at |x| up to 200.
Case float_unary_case() {
  double (*const refs[15])(double) = {
      [](double x) { return -x; },
      [](double x) { return std::fabs(x); },
      [](double x) { return std::isnan(x) ? x : (x > 0) - (x < 0); },
      [](double x) { return std::floor(x); },
      [](double x) { return std::exp(x); },
      [](double x) { return std::expm1(x); },
      [](double x) { return std::log(x); },
      [](double x) { return std::log1p(x); },
      [](double x) { return std::sqrt(x); },
      [](double x) { return 1.0 / std::sqrt(x); },
      [](double x) { return std::sin(x); },
      [](double x) { return std::cos(x); },
      [](double x) { return std::tanh(x); },
      sigmoid_ref,
      [](double x) { return std::erf(x); },
  };
  const int64_t n = static_cast<int64_t>(kUnaryInputs.size());
  Feeds feeds;
  std::vector<Want> wants(31);
  for (DType t : {DType::f32, DType::f64}) {
    bool f64 = t == DType::f64;
    Array x = values(t, {n}, kUnaryInputs);
    feeds[f64 ? "x64" : "x"] = x;
    for (size_t op = 0; op < 15; ++op) {
      std::vector<double> want;
      for (int64_t i = 0; i < n; ++i) {
        double v = refs[op](x.get(i));  // the input as stored (rounded to t)
        want.push_back(f64 ? v : rf(v));
      }
      // The device's f32 builtins are within a few ulp, sin and cos a little more after range
      // reduction at |x| = 100; its f64 functions are soma's own, near 1 ulp.
      bool trig = op == 10 || op == 11;
      wants[(f64 ? 15 : 0) + op] = {values(t, {n}, want), f64 ? 1e-15 : 4e-7,
                                    f64    ? 1e-14
                                    : trig ? 2e-5
                                           : 4e-6};
    }
  }
  const std::vector<double> large = {-200, -90, 90, 200};
  std::vector<double> sig;
  for (double v : large) sig.push_back(rf(sigmoid_ref(v)));
  feeds["xl"] = f32({4}, large);
  wants[30] = {f32({4}, sig), 4e-7};
  Case c = one_run("float_unary_ops.kir", feeds, wants);
  c.also = [](const std::vector<Array>& out, const std::string& executor, const std::string& what) {
    EXPECT_EQ(out[30].get(0), 0.0) << what;
    // Vulkan lets a device flush f32 denormals to zero (lavapipe does), so there the result
    // may be 0; on the CPU it must be the denormal.
    if (executor != "vulkan") {
      EXPECT_GT(out[30].get(1), 0.0) << what << ": exp(-90) ~ 8e-40 is a denormal, not 0/0";
    }
    EXPECT_EQ(out[30].get(2), 1.0) << what;
    EXPECT_EQ(out[30].get(3), 1.0) << what;
  };
  return c;
}

// add sub mul div pow max min in f32 and f64 with NaN and infinities (max and min propagate
// NaN); and max/min/< of a NaN against a constant.
Case float_binary_case() {
  const std::vector<double> xs = {1.5, -2, 0, 3, kNaN, 2, kInf, -0.5};
  const std::vector<double> zs = {2, 4, -1, kNaN, 1, 0.5, 1, 3};
  const std::function<double(double, double)> refs[7] = {
      [](double a, double b) { return a + b; },
      [](double a, double b) { return a - b; },
      [](double a, double b) { return a * b; },
      [](double a, double b) { return a / b; },
      [](double a, double b) { return std::pow(a, b); },
      max_nan,
      min_nan,
  };
  Feeds feeds;
  std::vector<Want> wants;
  for (DType t : {DType::f32, DType::f64}) {
    bool f64 = t == DType::f64;
    feeds[f64 ? "x64" : "x"] = values(t, {8}, xs);
    feeds[f64 ? "z64" : "z"] = values(t, {8}, zs);
    for (const auto& ref : refs) {
      std::vector<double> want;
      for (size_t i = 0; i < xs.size(); ++i) want.push_back(ref(xs[i], zs[i]));
      wants.push_back({values(t, {8}, want)});
    }
  }
  feeds["xn"] = f32({3}, {kNaN, 0, 2});
  wants.push_back({f32({3}, {kNaN, 1, 2})});
  wants.push_back({f32({3}, {kNaN, 0, 1})});
  wants.push_back({boolean({3}, {0, 1, 0})});
  return one_run("float_binary_ops.kir", feeds, wants);
}

// < <= > >= == != in f32, f64 (NaN compares false, except !=) and i32; and/or/==/not on bools.
Case comparisons_case() {
  const std::vector<double> xs = {1, 2, 3, kNaN, -1, 0};
  const std::vector<double> zs = {2, 2, 1, kNaN, -1, kNaN};
  const std::function<bool(double, double)> refs[6] = {
      [](double a, double b) { return a < b; },  [](double a, double b) { return a <= b; },
      [](double a, double b) { return a > b; },  [](double a, double b) { return a >= b; },
      [](double a, double b) { return a == b; }, [](double a, double b) { return a != b; },
  };
  Feeds feeds;
  std::vector<Want> wants;
  for (auto [t, x, z] : {std::tuple{DType::f32, "x", "z"}, std::tuple{DType::f64, "x64", "z64"},
                         std::tuple{DType::i32, "xi", "zi"}}) {
    Array xa = values(t, {6}, xs), za = values(t, {6}, zs);
    feeds[x] = xa;
    feeds[z] = za;
    for (const auto& ref : refs) {
      std::vector<double> want;
      for (int64_t i = 0; i < 6; ++i) want.push_back(ref(xa.get(i), za.get(i)) ? 1 : 0);
      wants.push_back({boolean({6}, want)});
    }
  }
  feeds["a"] = boolean({4}, {0, 0, 1, 1});
  feeds["b"] = boolean({4}, {0, 1, 0, 1});
  for (const std::vector<double>& w :
       {std::vector<double>{0, 0, 0, 1}, {0, 1, 1, 1}, {1, 0, 0, 1}, {1, 1, 0, 0}})
    wants.push_back({boolean({4}, w)});
  return one_run("comparisons_and_logic.kir", feeds, wants);
}

// i32 add sub mul max min wrap at the ends of the range; neg (INT32_MIN wraps to itself), abs,
// sign.
Case integer_case() {
  const double big = 2147483647, small = -2147483648.0;
  const std::vector<double> xs = {big, small, -7, 7, 0, -1};
  const std::vector<double> zs = {1, -1, 3, -3, 5, small};
  const std::function<int64_t(int64_t, int64_t)> refs[5] = {
      [](int64_t a, int64_t b) { return a + b; },
      [](int64_t a, int64_t b) { return a - b; },
      [](int64_t a, int64_t b) { return a * b; },
      [](int64_t a, int64_t b) { return std::max(a, b); },
      [](int64_t a, int64_t b) { return std::min(a, b); },
  };
  std::vector<Want> wants;
  for (const auto& ref : refs) {
    std::vector<double> want;
    for (size_t i = 0; i < xs.size(); ++i)
      want.push_back(wrap_i32(ref(static_cast<int64_t>(xs[i]), static_cast<int64_t>(zs[i]))));
    wants.push_back({i32({6}, want)});
  }
  wants.push_back({i32({6}, {-big, small, 7, -7, 0, 1})});
  wants.push_back({i32({6}, {big, small, 7, 7, 0, 1})});
  wants.push_back({i32({6}, {1, -1, -1, 1, 0, -1})});
  return one_run("integer_ops.kir", {{"x", i32({6}, xs)}, {"z", i32({6}, zs)}}, wants);
}

// Float to i32 truncates toward zero, saturates and maps NaN to 0; to bool is != 0 (NaN is
// true); f64 to f32 rounds (to inf, to -0); i32 to f64 is exact; bool to f32 and i32 is 0/1.
Case casts_case() {
  const std::vector<double> xs = {1e10, -1e10, kNaN, 2.7, -2.7, 0, kInf, -kInf, 0.4};
  const std::vector<double> to_i = {2147483647, -2147483648.0, 0, 2, -2, 0,
                                    2147483647, -2147483648.0, 0};
  const std::vector<double> to_b = {1, 1, 1, 1, 1, 0, 1, 1, 1};
  return one_run("casts.kir",
                 {{"x", f32({9}, xs)},
                  {"x64", f64({9}, xs)},
                  {"xn", f64({3}, {1.0 / 3, 1e300, -1e-300})},
                  {"xi", i32({3}, {-5, 0, 16777217})},
                  {"xb", boolean({2}, {1, 0})}},
                 {{i32({9}, to_i)},
                  {boolean({9}, to_b)},
                  {i32({9}, to_i)},
                  {boolean({9}, to_b)},
                  {f32({3}, {rf(1.0 / 3), kInf, -0.0}), 0},
                  {f64({3}, {-5, 0, 16777217})},
                  {boolean({3}, {1, 0, 1})},
                  {f32({2}, {1, 0})},
                  {i32({2}, {1, 0})}});
}

// Kernel 1 reads w (the old value), kernel 2 updates it in place: w -= 0.5 * g; run twice.
Case param_in_place_case() {
  Case c;
  c.file = "param_in_place_update.kir";
  c.params["w"] = f32({4}, {1, 2, 3, 4});
  Feeds g = {{"g", f32({4}, {2, 2, -2, 0})}};
  c.runs.push_back({g, {{f32({4}, {2, 4, 6, 8})}}, {{"w", {f32({4}, {0, 1, 4, 4})}}}});
  c.runs.push_back({g, {{f32({4}, {0, 2, 8, 8})}}, {{"w", {f32({4}, {-1, 0, 5, 4})}}}});
  return c;
}

// A parameter that is also an output (its value before the update) and is updated by copying a
// temp; run twice.
Case param_as_output_case() {
  Case c;
  c.file = "param_as_output.kir";
  c.params["w"] = f32({3}, {1, 2, 3});
  c.runs.push_back({{}, {{f32({3}, {1, 2, 3})}}, {{"w", {f32({3}, {2, 3, 4})}}}});
  c.runs.push_back({{}, {{f32({3}, {2, 3, 4})}}, {{"w", {f32({3}, {3, 4, 5})}}}});
  return c;
}

// Updates see the old parameters: a <- b and b <- a swap.
Case param_swap_case() {
  Case c;
  c.file = "param_swap.kir";
  c.params["a"] = f32({2}, {1, 2});
  c.params["b"] = f32({2}, {3, 4});
  c.runs.push_back({{}, {}, {{"a", {f32({2}, {3, 4})}}, {"b", {f32({2}, {1, 2})}}}});
  return c;
}

// Reductions long enough to be vectorized, with a masked tail at every extent: contiguous, a
// gather across rows with a let, a padded window, rand in the body, two axes, an i32 sum that
// wraps, an f64 sum of squares, max with a NaN in the tail (row 1's last element).
Case vector_reductions_case() {
  Feeds feeds;
  std::vector<Want> wants;
  for (int64_t n : {31, 32, 33, 64, 100, 257, 1000}) {
    const int64_t rows = 3;
    const size_t count = static_cast<size_t>(rows * n);
    std::vector<double> xv(count), iv(count), dv(count);
    for (size_t e = 0; e < count; ++e) {
      xv[e] = std::sin(0.37 * static_cast<double>(e)) * 3;
      iv[e] = e % 3 ? 1e9 : -7.0 * static_cast<double>(e);
      dv[e] = std::cos(static_cast<double>(e));
    }
    xv[static_cast<size_t>(2 * n - 1)] = kNaN;
    Array x = f32({rows, n}, xv), xi = i32({rows, n}, iv), xd = f64({rows, n}, dv);
    std::string s = std::to_string(n);
    feeds["x" + s] = x;
    feeds["xi" + s] = xi;
    feeds["xd" + s] = xd;
    auto at = [&](int64_t r, int64_t j) { return x.get(r * n + j); };
    std::vector<std::vector<double>> w(8, std::vector<double>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      double contiguous = 0, gather = -kInf, window = 0, random = 0, both = 0, squares = 0;
      double mx = -kInf;
      int64_t ints = 0;
      for (int64_t j = 0; j < n; ++j) {
        contiguous += rf(at(r, j) * 1.5);
        gather = max_nan(gather, rf(std::exp(at((j * 7) % rows, j))));
        window += j >= 3 ? at(r, j - 3) : 0.25;
        double u = rf(philox_uniform(77, static_cast<uint64_t>(r * n + j), 1));
        random += rf(rf(u - 0.5) + at(r, j));
        for (int64_t q = 0; q < rows; ++q) both += rf(at(q, j) * static_cast<double>(r + 1));
        ints += static_cast<int64_t>(xi.get(r * n + j));
        squares += xd.get(r * n + j) * xd.get(r * n + j);
        mx = max_nan(mx, at(r, j));
      }
      double got[8] = {contiguous, gather, window, random, both, 0, squares, mx};
      for (size_t o = 0; o < 8; ++o) w[o][static_cast<size_t>(r)] = got[o];
      w[5][static_cast<size_t>(r)] = wrap_i32(ints);
    }
    for (size_t o = 0; o < 8; ++o) {
      DType t = o == 5 ? DType::i32 : o == 6 ? DType::f64 : DType::f32;
      wants.push_back({values(t, {rows}, w[o]), t == DType::f64 ? 1e-12 : 2e-5});
    }
  }
  return one_run("vector_reductions.kir", feeds, wants);
}

// Reductions along a strided axis (column sums, as a bias gradient): a sum of a fused ReLU
// gradient over the rows with a let outside the reduction and one inside, max over the rows (NaN
// propagates), an i32 sum that wraps, a bool of the sum; for 16, 37 and 256 columns.
Case column_reductions_case() {
  Feeds feeds;
  std::vector<Want> wants;
  for (int64_t cols : {16, 37, 256}) {
    const int64_t rows = 67, batch = 2;
    const size_t n = static_cast<size_t>(batch * rows * cols);
    std::vector<double> gv(n), hv(n), iv(n), bv(static_cast<size_t>(cols));
    for (size_t e = 0; e < n; ++e) {
      gv[e] = std::sin(0.37 * static_cast<double>(e)) * 3;
      hv[e] = std::cos(0.11 * static_cast<double>(e));
      iv[e] = e % 3 ? 1e9 : -7.0 * static_cast<double>(e);
    }
    for (size_t e = 0; e < bv.size(); ++e) bv[e] = 0.05 * static_cast<double>(e % 7) - 0.1;
    gv[static_cast<size_t>(rows * cols + 3)] = kNaN;  // batch 1, row 0, column 3
    Array g = f32({batch, rows, cols}, gv), h = f32({batch, rows, cols}, hv);
    Array xi = i32({batch, rows, cols}, iv), bias = f32({cols}, bv);
    std::string s = std::to_string(cols);
    feeds["g" + s] = g;
    feeds["h" + s] = h;
    feeds["xi" + s] = xi;
    feeds["bias" + s] = bias;
    const size_t m = static_cast<size_t>(batch * cols);
    std::vector<double> sum(m), mx(m), isum(m), pos(m);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < cols; ++j) {
        double scale = rf(1.0 + rf(bias.get(j) * 0.5)), acc = 0, top = -kInf;
        int64_t ints = 0;
        for (int64_t r = 0; r < rows; ++r) {
          int64_t at = (b * rows + r) * cols + j;
          double t = rf(h.get(at) + bias.get(j));
          acc += rf((t <= 0 ? 0.0 : g.get(at)) * scale);
          top = max_nan(top, g.get(at));
          ints += static_cast<int64_t>(xi.get(at));
        }
        size_t o = static_cast<size_t>(b * cols + j);
        sum[o] = acc;
        mx[o] = top;
        isum[o] = wrap_i32(ints);
        pos[o] = rf(acc) > 0;
      }
    wants.push_back({f32({batch, cols}, sum), 2e-6});
    wants.push_back({f32({batch, cols}, mx)});
    wants.push_back({i32({batch, cols}, isum)});
    wants.push_back({boolean({batch, cols}, pos)});
  }
  return one_run("column_reductions.kir", feeds, wants);
}

std::vector<Case> cases() {
  std::vector<Case> c;
  c.push_back(one_run("pad_scale.kir", {{"x", f32({4}, {1, 2, 3, 4})}},
                      {{f32({2, 3}, {0.5, -0.5, 2.5, 2, 1, 1.5})}}));
  c.push_back(softmax_case());
  {
    Case k =
        one_run("matmul_bias_relu.kir",
                {{"a", f32({2, 3}, {1, 2, 3, 4, 5, 6})}, {"b", f32({3, 2}, {1, -1, 0, 1, 1, 0})}},
                {{f32({2, 2}, {0, 1.5, 5, 1.5})}});
    k.params["bias"] = f32({2}, {-5, 0.5});
    k.runs[0].params_after["bias"] = {f32({2}, {-5, 0.5})};
    c.push_back(k);
  }
  c.push_back(
      one_run("scatter_f64.kir", {{"ids", i32({4}, {0, 4, 2, 7})}}, {{f64({3}, {1.5, 4.5, 2.0})}}));
  {
    Case k = one_run("sgd_step.kir", {{"g", f32({4}, {1, 2, 3, 4})}}, {{f32({}, {30})}});
    k.params["w"] = f32({4}, {1, 1, 1, 1});
    k.runs[0].params_after["w"] = {f32({4}, {0.9, 0.6, 0.1, -0.6})};
    c.push_back(k);
  }
  c.push_back(math_and_logic_case());
  c.push_back(views_case());
  c.push_back(index_arithmetic_case());
  c.push_back(reductions_case());
  // Sums accumulate in f64 whatever the value dtype: 1e8 + 1 - 1e8 is 1, not the f32 answer 0.
  c.push_back(one_run("sum_accumulates_in_f64.kir", {{"x", f32({3}, {1e8, 1, -1e8})}},
                      {{f32({}, {1}), 0}}));
  c.push_back(contraction_case());
  c.push_back(scatter_case());
  c.push_back(rand_case());
  c.push_back(one_run("lets.kir", {{"x", f32({3}, {0.5, -1, 3})}}, {{f32({3}, {3, 3, 43})}}));
  c.push_back(rounding_case());
  c.push_back(float_unary_case());
  c.push_back(float_binary_case());
  c.push_back(comparisons_case());
  c.push_back(integer_case());
  c.push_back(casts_case());
  c.push_back(param_in_place_case());
  c.push_back(param_as_output_case());
  c.push_back(param_swap_case());
  // Planned temps share the arena: t2 is placed over t0, dead by then.
  c.push_back(
      one_run("arena_reuse.kir", {{"x", f32({4}, {1, 2, 3, 4})}}, {{f32({4}, {12, 20, 28, 36})}}));
  // A bad plan puts t2 over t1 while t1 is still live: every executor must honour the offsets,
  // so the result is visibly wrong (2 * t2) in the same way everywhere.
  c.push_back(one_run("arena_overlap.kir", {{"x", f32({4}, {1, 2, 3, 4})}},
                      {{f32({4}, {18, 30, 42, 54})}}));
  // A splat constant, a full one, an i32 one.
  c.push_back(one_run("constants.kir", {{"x", f32({4}, {1, -1, 0, 2})}},
                      {{f32({4}, {3.5, -0.5, 3, 9})}, {i32({2}, {14, -6})}}));
  c.push_back(vector_reductions_case());
  c.push_back(column_reductions_case());
  return c;
}

std::shared_ptr<ParamStore> fresh_params(const Case& c) {
  auto ps = std::make_shared<ParamStore>();
  for (auto& [name, a] : c.params) ps->set(name, a.clone());
  return ps;
}

// Runs every case on `executor`: "evaluator" (run_program itself) or a backend's name.
void run_all_on(const std::string& executor) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.file);
    kir::Program p = load_kir(c.file);
    auto params = fresh_params(c);
    std::unique_ptr<Executable> exe;
    if (executor != "evaluator") {
      CompileRequest req;
      req.program = &p;
      exe = get_backend(executor).compile(req, params);
    }
    for (size_t r = 0; r < c.runs.size(); ++r) {
      const Run& run = c.runs[r];
      std::string what = c.file + " on " + executor;
      if (c.runs.size() > 1) what += " (run " + std::to_string(r + 1) + ")";
      std::vector<Array> got = exe ? exe->run(run.feeds) : run_program(p, run.feeds, *params, true);
      ASSERT_EQ(got.size(), run.outputs.size()) << what;
      bool vulkan = executor == "vulkan";
      for (size_t o = 0; o < got.size(); ++o)
        expect_want(got[o], run.outputs[o], vulkan, what + " output " + std::to_string(o));
      for (auto& [name, want] : run.params_after)
        expect_want(params->get(name), want, vulkan, what + " param " + name);
      if (c.also) c.also(got, executor, what);
    }
  }
}

TEST(KernelConformance, TextProgramsReadBackUnchanged) {
  for (const std::string& file : kirtest::kir_files()) {
    std::string text = kirtest::kir_text(file);
    EXPECT_EQ(kir::print_program(kir::parse_program(text), true), text) << file;
  }
}

// Each program under tests/kernels/kir/ is a case here, and each case's file exists.
TEST(KernelConformance, EveryProgramIsACase) {
  std::set<std::string> files;
  for (const std::string& file : kirtest::kir_files()) files.insert(file);
  std::set<std::string> named;
  for (const Case& c : cases()) {
    EXPECT_TRUE(named.insert(c.file).second) << c.file << " is two cases";
    EXPECT_TRUE(files.count(c.file)) << c.file << " does not exist";
  }
  for (const std::string& f : files) EXPECT_TRUE(named.count(f)) << f << " is no case";
}

TEST(KernelConformance, Evaluator) {
  run_all_on("evaluator");
}

TEST(KernelConformance, InterpKernelsBackend) {
  run_all_on("interp-kernels");
}

TEST(KernelConformance, Llvm) {
  run_all_on("llvm");
}

class KernelConformanceVulkan : public vktest::VulkanTest {};

TEST_F(KernelConformanceVulkan, Vulkan) {
  run_all_on("vulkan");
}

}  // namespace
}  // namespace soma
