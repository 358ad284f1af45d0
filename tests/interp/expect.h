// Helpers of the op-numerics suite: literal arrays, running on the interpreter, an array matcher
// with per-dtype tolerances (NaN and infinities must match exactly), and an error matcher.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "frontend/compile.h"
#include "graph/error.h"

namespace soma::test {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// Relative tolerances: a few ulp of the result dtype (results are rounded once from f64).
constexpr double kF32Rel = 1e-6;
constexpr double kF64Rel = 1e-12;

inline Array f32(Shape s, std::vector<double> v) {
  return Array::from_doubles(DType::f32, std::move(s), v);
}
inline Array f64(Shape s, std::vector<double> v) {
  return Array::from_doubles(DType::f64, std::move(s), v);
}
inline Array i32(Shape s, std::vector<double> v) {
  return Array::from_doubles(DType::i32, std::move(s), v);
}
inline Array boolean(Shape s, std::vector<double> v) {
  return Array::from_doubles(DType::boolean, std::move(s), v);
}

// Constant tensors in the current context.
inline Tensor cf32(std::vector<double> v, Shape s) {
  return constant(v, s, DType::f32);
}
inline Tensor cf64(std::vector<double> v, Shape s) {
  return constant(v, s, DType::f64);
}
inline Tensor ci32(std::vector<double> v, Shape s) {
  return constant(v, s, DType::i32);
}
inline Tensor cbool(std::vector<double> v, Shape s) {
  return constant(v, s, DType::boolean);
}

// This suite checks the reference interpreter itself, whatever the default backend is.
inline CompileOptions interp_options() {
  CompileOptions o;
  o.backend = "interp";
  return o;
}
inline Compiled compile_interp(const std::vector<Tensor>& outputs) {
  return compile(outputs, interp_options());
}
// Compiles and runs `t` once on the interpreter.
inline Array run(const Tensor& t, const Feeds& feeds = {}) {
  return eval(t, feeds, interp_options());
}

inline double default_rel(DType t) {
  switch (t) {
    case DType::f32:
      return kF32Rel;
    case DType::f64:
      return kF64Rel;
    default:
      return 0;  // integers and bools compare exactly
  }
}

// `got` has dtype `dt`, shape `s` and values `want`: NaN where `want` is NaN, the same infinity
// where it is infinite, else |got - want| <= rel * |want| + abs (rel < 0: the dtype's default).
inline ::testing::AssertionResult ArrayIs(const Array& got, DType dt, const Shape& s,
                                          const std::vector<double>& want, double rel = -1,
                                          double abs = 0) {
  if (got.dtype() != dt || got.shape() != s)
    return ::testing::AssertionFailure()
           << "got type " << got.type_str() << ", want " << dtype_name(dt) << s.str();
  if (static_cast<size_t>(got.numel()) != want.size())
    return ::testing::AssertionFailure()
           << "test bug: " << want.size() << " expected values for " << s.str();
  if (rel < 0) rel = default_rel(dt);
  std::ostringstream bad;
  int nbad = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double g = got.get(i), w = want[static_cast<size_t>(i)];
    bool ok;
    if (std::isnan(w))
      ok = std::isnan(g);
    else if (std::isinf(w))
      ok = g == w;
    else
      ok = std::isfinite(g) && std::fabs(g - w) <= rel * std::fabs(w) + abs;
    if (!ok && nbad++ < 8) {
      bad.precision(17);
      bad << "\n  [" << i << "] got " << g << ", want " << w;
    }
  }
  if (nbad)
    return ::testing::AssertionFailure()
           << nbad << " of " << got.numel() << " elements differ:" << bad.str();
  return ::testing::AssertionSuccess();
}

// `f()` throws E (a soma::Error) whose message contains every one of `parts`.
template <typename E, typename F>
::testing::AssertionResult Throws(F&& f, const std::vector<std::string>& parts = {}) {
  static_assert(std::is_base_of_v<Error, E>);
  try {
    f();
  } catch (const E& e) {
    std::string msg = e.what();
    for (const std::string& p : parts)
      if (msg.find(p) == std::string::npos)
        return ::testing::AssertionFailure()
               << "the message \"" << msg << "\" does not contain \"" << p << "\"";
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure()
           << "threw another exception type than expected: " << e.what();
  } catch (...) {
    return ::testing::AssertionFailure() << "threw a non-std exception";
  }
  return ::testing::AssertionFailure() << "did not throw";
}

// Every test builds into a fresh context.
class OpTest : public ::testing::Test {
 protected:
  ContextScope scope_{std::make_shared<Context>()};
};

}  // namespace soma::test
