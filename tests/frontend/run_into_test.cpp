// Compiled::run(feeds, outputs): the outputs written into arrays the caller keeps, on every
// backend; the llvm backend computes straight into them (no array made per run) unless an array
// shares memory with a feed or another output, which must still come out right.
#include <gtest/gtest.h>

#include <cstdlib>

#include "backends/backend.h"
#include "frontend/compile.h"
#include "frontend/context.h"
#include "tests/backend_param.h"

namespace soma {
namespace {

const bool kVulkanDriver = [] {
  return setenv("VK_DRIVER_FILES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", 0) == 0;
}();

class RunInto : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { scope_ = std::make_unique<ContextScope>(std::make_shared<Context>()); }
  Compiled build(const std::vector<Tensor>& outs,
                 const std::vector<std::pair<Tensor, Tensor>>& updates = {}) {
    CompileOptions o;
    o.backend = GetParam();
    return compile(outs, o, updates);
  }
  static Array ramp(Shape shape, double from) {
    Array a(DType::f32, std::move(shape));
    for (int64_t i = 0; i < a.numel(); ++i) a.set(i, from + static_cast<double>(i));
    return a;
  }
  std::unique_ptr<ContextScope> scope_;
};

TEST_P(RunInto, WritesIntoTheCallersArraysRunAfterRun) {
  Tensor x = input("x", {3000});
  Compiled c = build({x * 2.0 + 1.0, sum(x)});
  std::vector<Array> out = {Array(DType::f32, {3000}), Array(DType::f32, {})};
  Array alias = out[0];  // shares the storage, as numpy's views do
  for (double from : {0.0, 10.0}) {
    c.run({{"x", ramp({3000}, from)}}, out);
    for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{2999}})
      EXPECT_EQ(alias.get(i), 2 * (from + static_cast<double>(i)) + 1) << i;
    EXPECT_DOUBLE_EQ(out[1].get(0), 3000 * from + 2999.0 * 3000 / 2);
  }
}

TEST_P(RunInto, AnArrayThatIsAlsoAFeedOrAnotherOutputComesOutRight) {
  Tensor x = input("x", {4, 4});
  // In place would read values the kernel already overwrote: a transpose into its own input.
  Compiled t = build({transpose(x)});
  Array a = ramp({4, 4}, 0);
  std::vector<Array> out = {a};
  t.run({{"x", a}}, out);
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t col = 0; col < 4; ++col) EXPECT_EQ(a.get(r * 4 + col), col * 4 + r);
  // One array for two outputs: written in order, so it holds the last.
  Compiled two = build({x + 1.0, x * 2.0});
  Array shared(DType::f32, {4, 4});
  std::vector<Array> both = {shared, shared};
  two.run({{"x", ramp({4, 4}, 1)}}, both);
  EXPECT_EQ(shared.get(5), 2 * 6.0);
  // An output that is a feed itself.
  Compiled same = build({x});
  std::vector<Array> copy = {Array(DType::f32, {4, 4})};
  same.run({{"x", ramp({4, 4}, 3)}}, copy);
  EXPECT_EQ(copy[0].get(15), 18.0);
}

// The output array is the feed that an update reads: the update reads the feed as the run did,
// then the array receives the output.
TEST_P(RunInto, AnUpdateReadsTheFeedBeforeTheOutputOverwritesIt) {
  Tensor w = param("w", Array::from_f32({4}, std::vector<float>{0, 0, 0, 0}));
  Tensor x = input("x", {4});
  Compiled c = build({x * 2.0}, {{w, x}});
  Array a = ramp({4}, 1);
  std::vector<Array> out = {a};
  c.run({{"x", a}}, out);
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(a.get(i), 2.0 * static_cast<double>(i + 1)) << i;
    EXPECT_EQ(Context::current()->params().get("w").get(i), static_cast<double>(i + 1)) << i;
  }
}

TEST_P(RunInto, UpdatesStillApplyAndOutputsSeeTheOldParameters) {
  Tensor w = param("w", Array::from_f32({2}, std::vector<float>{1, 2}));
  Tensor x = input("x", {2});
  Compiled c = build({w * x}, {{w, w + 1.0}});
  std::vector<Array> out = {Array(DType::f32, {2})};
  c.run({{"x", Array::from_f32({2}, std::vector<float>{3, 4})}}, out);
  EXPECT_EQ(out[0].get(0), 3.0);
  EXPECT_EQ(out[0].get(1), 8.0);
  c.run({{"x", Array::from_f32({2}, std::vector<float>{3, 4})}}, out);
  EXPECT_EQ(out[0].get(1), 12.0);
}

TEST_P(RunInto, AWrongArrayIsAnErrorBeforeAnythingRuns) {
  Tensor w = param("w", Array::from_f32({2}, std::vector<float>{1, 2}));
  Compiled c = build({w * 3.0}, {{w, w + 1.0}});
  std::vector<Array> wrong_shape = {Array(DType::f32, {3})};
  try {
    c.run({}, wrong_shape);
    FAIL() << "no error";
  } catch (const TypeError& e) {
    EXPECT_NE(std::string(e.what()).find("output 0 is f32[2]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("f32[3]"), std::string::npos) << e.what();
  }
  std::vector<Array> wrong_dtype = {Array(DType::i32, {2})};
  EXPECT_THROW(c.run({}, wrong_dtype), TypeError);
  std::vector<Array> none;
  EXPECT_THROW(c.run({}, none), ValueError);
  std::vector<Array> ok = {Array(DType::f32, {2})};
  c.run({}, ok);
  EXPECT_EQ(ok[0].get(1), 6.0) << "the failed calls ran nothing (no update applied)";
}

std::vector<std::string> all_backends() {
  return backend_names();
}

INSTANTIATE_TEST_SUITE_P(Backends, RunInto, ::testing::ValuesIn(all_backends()),
                         soma::testing::BackendParamName());

}  // namespace
}  // namespace soma
