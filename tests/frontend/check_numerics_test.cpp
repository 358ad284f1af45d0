// SOMA_CHECK_NUMERICS=1 names the op where a NaN or an infinity that reaches an output or an
// update first appears, undoes the run's parameter updates, and stays quiet for values that are
// infinite by design but never reach an output (a max pool's -inf padding).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>

#include "backends/backend.h"
#include "frontend/compile.h"
#include "tests/backend_param.h"

namespace soma {
namespace {

struct CheckNumerics {
  CheckNumerics() { ::setenv("SOMA_CHECK_NUMERICS", "1", 1); }
  ~CheckNumerics() { ::unsetenv("SOMA_CHECK_NUMERICS"); }
};

class CheckNumericsTest : public ::testing::TestWithParam<std::string> {
 protected:
  CompileOptions opts() const {
    CompileOptions o;
    o.backend = GetParam();
    return o;
  }
};

std::string error_of(const Compiled& c, const Feeds& f) {
  try {
    c.run(f);
  } catch (const ValueError& e) {
    return e.what();
  }
  return "";
}

TEST_P(CheckNumericsTest, NamesTheOpWhereItFirstAppears) {
  CheckNumerics on;
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {4});
  Tensor y = sum(exp(log(x - 1.0) * 2.0));
  Compiled c = compile({y}, opts());
  EXPECT_EQ(error_of(c, {{"x", Array::from_f32({4}, std::vector<float>{2, 3, 4, 5})}}), "");
  std::string m = error_of(c, {{"x", Array::from_f32({4}, std::vector<float>{2, 3, 0.5, 5})}});
  EXPECT_NE(m.find("SOMA_CHECK_NUMERICS"), std::string::npos) << m;
  EXPECT_NE(m.find("log("), std::string::npos) << m;
  EXPECT_NE(m.find("nan at element [2]"), std::string::npos) << m;
  EXPECT_NE(m.find("from inputs that hold none"), std::string::npos) << m;
  // A NaN fed in is named as such.
  m = error_of(c, {{"x", Array::from_f32({4}, std::vector<float>{2, NAN, 4, 5})}});
  EXPECT_NE(m.find("an input holds it"), std::string::npos) << m;
}

TEST_P(CheckNumericsTest, UndoesTheUpdatesOfTheRun) {
  CheckNumerics on;
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {3});
  Tensor w = param("w", Array::from_f32({3}, std::vector<float>{1, 2, 3}));
  Tensor loss = sum(sqrt(x) * w);
  Tensor g = grad(loss, w);
  Compiled step = compile({loss}, opts(), {{w, w - g * 0.1}});
  step.run({{"x", Array::from_f32({3}, std::vector<float>{1, 4, 9})}});
  Array before = Context::current()->params().get("w").clone();
  std::string m = error_of(step, {{"x", Array::from_f32({3}, std::vector<float>{1, -4, 9})}});
  EXPECT_NE(m.find("sqrt("), std::string::npos) << m;
  EXPECT_EQ(Context::current()->params().get("w").to_doubles(), before.to_doubles());
}

TEST_P(CheckNumericsTest, InfinitiesThatNeverReachAnOutputAreFine) {
  CheckNumerics on;
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {1, 1, 4, 4});
  Tensor y = max_pool2d(x, {3, 3}, {1, 1}, {1, 1});  // -inf padding inside
  Compiled c = compile({y}, opts());
  std::vector<float> v(16);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) - 7;
  EXPECT_EQ(error_of(c, {{"x", Array::from_f32({1, 1, 4, 4}, v)}}), "");
}

std::vector<std::string> backends() {
  std::vector<std::string> out;
  for (const std::string& b : backend_names())
    if (b != "vulkan") out.push_back(b);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Backends, CheckNumericsTest, ::testing::ValuesIn(backends()),
                         soma::testing::BackendParamName());

}  // namespace
}  // namespace soma
