#include "autodiff/gradcheck.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace soma::testing {

Array make_value(const InputSpec& s, uint64_t seed) {
  Array a(s.dtype, s.shape);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(s.lo, s.hi);
  for (int64_t i = 0; i < a.numel(); ++i) {
    double v = s.values.empty() ? dist(rng) : s.values[static_cast<size_t>(i) % s.values.size()];
    if (s.dtype == DType::i32 && s.values.empty()) v = std::floor(v);
    a.set(i, v);
  }
  return a;
}

namespace {

struct Built {
  std::vector<Tensor> xs;
  Tensor loss;
  Feeds feeds;
};

// L = sum(v * fn(xs)) with a fixed random v (so every output element matters).
Built build(const GradCase& c) {
  Built b;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    std::string name = "x" + std::to_string(i);
    b.xs.push_back(input(name, c.inputs[i].shape, c.inputs[i].dtype));
    b.feeds[name] = make_value(c.inputs[i], c.seed * 1000 + i);
  }
  Tensor y = c.fn(b.xs);
  if (!is_float(y.dtype())) {
    ADD_FAILURE() << c.name << ": the function's output is " << y.type().str();
    return b;
  }
  InputSpec vs{y.shape(), 0.5, 1.5};
  vs.dtype = y.dtype();
  Tensor v = constant(make_value(vs, c.seed * 7919));
  b.loss = sum(y * v);
  return b;
}

double run_scalar(const Compiled& f, const Feeds& feeds) {
  return f.run(feeds).at(0).get(0);
}

bool close(double a, double n, double atol, double rtol) {
  if (std::isnan(a) || std::isnan(n)) return false;
  return std::fabs(a - n) <= atol + rtol * std::fabs(n);
}

}  // namespace

void check_gradients(const GradCase& c) {
  ContextScope scope(std::make_shared<Context>());
  Built b = build(c);
  if (!b.loss.defined()) return;
  std::vector<Tensor> wrt;
  std::vector<size_t> which;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    if (c.inputs[i].differentiable && is_float(c.inputs[i].dtype)) {
      wrt.push_back(b.xs[i]);
      which.push_back(i);
    }
  std::vector<Tensor> gs = grad(b.loss, wrt);
  CompileOptions opts;
  opts.backend = "interp";
  std::vector<Tensor> outs = gs;
  outs.push_back(b.loss);
  auto analytic = compile(outs, opts).run(b.feeds);
  Compiled loss_fn = compile({b.loss}, opts);
  for (size_t k = 0; k < wrt.size(); ++k) {
    size_t i = which[k];
    const Array& g = analytic[k];
    ASSERT_EQ(g.shape(), c.inputs[i].shape) << c.name;
    Feeds f = b.feeds;
    Array x = f["x" + std::to_string(i)].clone();
    f["x" + std::to_string(i)] = x;
    for (int64_t e = 0; e < x.numel(); ++e) {
      double x0 = x.get(e);
      x.set(e, x0 + c.step);
      double lp = run_scalar(loss_fn, f);
      x.set(e, x0 - c.step);
      double lm = run_scalar(loss_fn, f);
      x.set(e, x0);
      double numeric = (lp - lm) / (2 * c.step);
      if (!close(g.get(e), numeric, c.atol, c.rtol))
        ADD_FAILURE() << c.name << ": d/d x" << i << "[" << e << "] analytic " << g.get(e)
                      << " vs numeric " << numeric << " (x = " << x0 << ")";
    }
  }
}

void check_hvp(const GradCase& c) {
  ContextScope scope(std::make_shared<Context>());
  Built b = build(c);
  if (!b.loss.defined()) return;
  Tensor x = b.xs[0];
  InputSpec us{x.shape(), -1, 1};
  Array u = make_value(us, c.seed * 31);
  Tensor g = grad(b.loss, x);
  Tensor hvp = grad(sum(g * constant(u)), x);
  CompileOptions opts;
  opts.backend = "interp";
  Compiled gf = compile({g}, opts);
  Array analytic = compile({hvp}, opts).run(b.feeds).at(0);
  Feeds fp = b.feeds, fm = b.feeds;
  Array xp = fp["x0"].clone(), xm = fm["x0"].clone();
  for (int64_t e = 0; e < xp.numel(); ++e) {
    xp.set(e, xp.get(e) + c.step * u.get(e));
    xm.set(e, xm.get(e) - c.step * u.get(e));
  }
  fp["x0"] = xp;
  fm["x0"] = xm;
  Array gp = gf.run(fp).at(0), gm = gf.run(fm).at(0);
  for (int64_t e = 0; e < analytic.numel(); ++e) {
    double numeric = (gp.get(e) - gm.get(e)) / (2 * c.step);
    if (!close(analytic.get(e), numeric, c.atol * 10, c.rtol * 10))
      ADD_FAILURE() << c.name << ": Hessian-vector product [" << e << "] analytic "
                    << analytic.get(e) << " vs numeric " << numeric;
  }
}

}  // namespace soma::testing
