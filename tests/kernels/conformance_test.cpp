// Kernel programs as text (tests/kernels/kir/*.kir), each with inputs and the values it must
// produce, run on every executor of the kernel IR: the evaluator (interp-kernels), llvm and
// vulkan (skipped without a device). One program, one expected answer, every driver.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "graph/kernel_parser.h"
#include "graph/philox.h"
#include "runtime/file_io.h"
#include "vulkan/vk_test_util.h"

namespace soma {
namespace {

Array values(DType t, Shape s, const std::vector<double>& v) {
  Array a(t, std::move(s));
  for (int64_t i = 0; i < a.numel(); ++i) a.set(i, v[static_cast<size_t>(i)]);
  return a;
}

struct Case {
  std::string file;
  Feeds feeds;
  std::map<std::string, Array> params;                      // before the run
  std::vector<Array> outputs;                               // expected
  std::map<std::string, std::vector<double>> params_after;  // expected, after the run
};

kir::Program load(const std::string& file) {
  return kir::parse_program(
      read_file(std::string(SOMA_TEST_DATA_DIR) + "/../kernels/kir/" + file, "kernel program"));
}

std::vector<Case> cases() {
  std::vector<Case> c;
  c.push_back({"pad_scale.kir",
               {{"x", values(DType::f32, {4}, {1, 2, 3, 4})}},
               {},
               {values(DType::f32, {2, 3}, {0.5, -0.5, 2.5, 2, 1, 1.5})},
               {}});
  {
    std::vector<double> x = {0, 1, 2, 3, 3, 3}, y(6);
    for (int r = 0; r < 2; ++r) {
      double m = std::max({x[r * 3], x[r * 3 + 1], x[r * 3 + 2]}), s = 0;
      for (int j = 0; j < 3; ++j) s += std::exp(x[r * 3 + j] - m);
      for (int j = 0; j < 3; ++j) y[r * 3 + j] = std::exp(x[r * 3 + j] - m) / s;
    }
    c.push_back({"softmax_rows.kir",
                 {{"x", values(DType::f32, {2, 3}, x)}},
                 {},
                 {values(DType::f32, {2, 3}, y)},
                 {}});
  }
  c.push_back({"matmul_bias_relu.kir",
               {{"a", values(DType::f32, {2, 3}, {1, 2, 3, 4, 5, 6})},
                {"b", values(DType::f32, {3, 2}, {1, -1, 0, 1, 1, 0})}},
               {{"bias", values(DType::f32, {2}, {-5, 0.5})}},
               {values(DType::f32, {2, 2}, {0, 1.5, 5, 1.5})},
               {{"bias", {-5, 0.5}}}});
  c.push_back({"scatter_f64.kir",
               {{"ids", values(DType::i32, {4}, {0, 4, 2, 7})}},
               {},
               {values(DType::f64, {3}, {1.5, 4.5, 2.0})},
               {}});
  c.push_back({"sgd_step.kir",
               {{"g", values(DType::f32, {4}, {1, 2, 3, 4})}},
               {{"w", values(DType::f32, {4}, {1, 1, 1, 1})}},
               {values(DType::f32, {}, {30})},
               {{"w", {0.9, 0.6, 0.1, -0.6}}}});
  {
    std::vector<double> x = {0.5, 1, 2}, y(3), r(3);
    for (int i = 0; i < 3; ++i) {
      y[i] = 1 / (1 + std::exp(-x[i])) + x[i] * x[i] + std::tanh(x[i]);
      r[i] = static_cast<float>(philox_uniform(7, static_cast<uint64_t>(i), 1));
    }
    c.push_back({"math_and_logic.kir",
                 {{"x", values(DType::f32, {3}, x)}},
                 {},
                 {values(DType::f32, {3}, y), values(DType::boolean, {3}, {0, 1, 0}),
                  values(DType::f32, {3}, r)},
                 {}});
  }
  return c;
}

void check(const std::string& executor, const Case& c, const std::vector<Array>& got,
           const ParamStore& params) {
  const std::string what = c.file + " on " + executor;
  ASSERT_EQ(got.size(), c.outputs.size()) << what;
  for (size_t o = 0; o < got.size(); ++o)
    vktest::expect_close(got[o], c.outputs[o], 1e-5, 1e-6, what + " output " + std::to_string(o));
  for (auto& [name, want] : c.params_after) {
    const Array& w = params.get(name);
    for (int64_t i = 0; i < w.numel(); ++i)
      EXPECT_NEAR(w.get(i), want[static_cast<size_t>(i)], 1e-6) << what << " param " << name;
  }
}

std::shared_ptr<ParamStore> fresh_params(const Case& c) {
  auto ps = std::make_shared<ParamStore>();
  for (auto& [name, a] : c.params) ps->set(name, a.clone());
  return ps;
}

void run_on(const std::string& backend) {
  for (const Case& c : cases()) {
    kir::Program p = load(c.file);
    auto params = fresh_params(c);
    CompileRequest req;
    req.program = &p;
    std::vector<Array> got = get_backend(backend).compile(req, params)->run(c.feeds);
    check(backend, c, got, *params);
  }
}

TEST(KernelConformance, TextProgramsReadBackUnchanged) {
  for (const Case& c : cases()) {
    std::string text =
        read_file(std::string(SOMA_TEST_DATA_DIR) + "/../kernels/kir/" + c.file, "kernel program");
    EXPECT_EQ(kir::print_program(kir::parse_program(text), true), text) << c.file;
  }
}

TEST(KernelConformance, Evaluator) {
  for (const Case& c : cases()) {
    kir::Program p = load(c.file);
    auto params = fresh_params(c);
    check("the evaluator", c, run_program(p, c.feeds, *params, true), *params);
  }
}

TEST(KernelConformance, InterpKernelsBackend) {
  run_on("interp-kernels");
}

TEST(KernelConformance, Llvm) {
  run_on("llvm");
}

class KernelConformanceVulkan : public vktest::VulkanTest {};

TEST_F(KernelConformanceVulkan, Vulkan) {
  run_on("vulkan");
}

}  // namespace
}  // namespace soma
