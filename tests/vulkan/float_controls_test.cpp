// Float controls in the compiled SPIR-V: where the device supports them, every shader keeps NaN,
// infinities and signed zeros (SignedZeroInfNanPreserve) and subnormals (DenormPreserve) for
// each float width it computes in; an f32 sum accumulates in f64, so its kernel has both.
#include <gtest/gtest.h>

#include "backends/vulkan/glsl_emit.h"
#include "backends/vulkan/spirv.h"
#include "graph/kernel_parser.h"

namespace soma::vulkan {
namespace {

kir::Program f32_sum() {
  return kir::parse_program(R"(program {
  buffers:
    x: input f32[100]
    out0: output f32[]
  outputs: out0
  arena: 0 bytes (0 without reuse)
}
kernel sum(x: f32[100], out out0: f32[]) {
  parallel (one point)
    s1 = reduce sum j0 in 0..100 of load x[j0]
    store out0[0] = s1
}
)");
}

std::string compiled_text(const kir::Program& p, const ShaderFeatures& f) {
  KernelShader s = emit_kernel(p, p.kernels[0], f);
  auto spirv = add_execution_modes(compile_glsl(s.glsl, "sum"), s.spirv_modes);
  std::string why;
  EXPECT_TRUE(valid_spirv(*spirv, &why)) << why;
  return disassemble(*spirv);
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(FloatControls, BothWidthsOfEveryModeTheDeviceSupports) {
  ShaderFeatures all;  // a typical GPU: every mode, f64
  std::string text = compiled_text(f32_sum(), all);
  for (const char* mode : {"SignedZeroInfNanPreserve 32", "SignedZeroInfNanPreserve 64",
                           "DenormPreserve 32", "DenormPreserve 64"})
    EXPECT_TRUE(has(text, std::string("OpExecutionMode %main ") + mode)) << mode << "\n" << text;
  EXPECT_TRUE(has(text, "OpFAdd %double")) << "the sum accumulates in f64\n" << text;

  ShaderFeatures lavapipe;  // keeps NaN, flushes subnormals
  lavapipe.denorm_preserve_f32 = lavapipe.denorm_preserve_f64 = false;
  text = compiled_text(f32_sum(), lavapipe);
  EXPECT_TRUE(has(text, "SignedZeroInfNanPreserve 32")) << text;
  EXPECT_TRUE(has(text, "SignedZeroInfNanPreserve 64")) << text;
  EXPECT_FALSE(has(text, "DenormPreserve")) << text;

  ShaderFeatures no_f64;  // f32 accumulation, no 64-bit modes
  no_f64.float64 = false;
  text = compiled_text(f32_sum(), no_f64);
  EXPECT_TRUE(has(text, "DenormPreserve 32")) << text;
  EXPECT_FALSE(has(text, " 64\n")) << text;
  EXPECT_FALSE(has(text, "%double")) << text;
}

}  // namespace
}  // namespace soma::vulkan
