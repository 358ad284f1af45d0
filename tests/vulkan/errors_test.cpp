// Errors of the vulkan backend: no device (in a child process whose VK_DRIVER_FILES names no
// driver), shader compile failures, out-of-device-memory, bindings beyond the device's limit,
// the validation messenger itself, and device selection. None may crash the process.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "backends/vulkan/context.h"
#include "backends/vulkan/spirv.h"
#include "kernels/kir_files.h"
#include "tests/vulkan/vk_test_util.h"

namespace soma::vktest {
namespace {

using kir::Program;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Runs this test program again with `env` (NAME=value ...) and a gtest filter; returns its exit
// status and output.
int run_child(const std::string& env, const std::string& filter, std::string& output) {
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string cmd =
      "env SOMA_VK_CHILD=1 " + env + " '" + self + "' --gtest_filter='" + filter + "' 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) output.append(buf, n);
  return pclose(f);
}

bool in_child() {
  const char* c = std::getenv("SOMA_VK_CHILD");
  return c && std::string(c) == "1";
}

// ---- run in child processes ----

TEST(VulkanChild, NoDevice) {
  if (!in_child()) GTEST_SKIP() << "runs in a child process";
  Backend& be = get_backend("vulkan");  // listed and creatable without a device
  EXPECT_EQ(be.name(), "vulkan");
  Program p = add_const(1, 4);
  for (int attempt = 0; attempt < 2; ++attempt) {  // the failure is remembered, not a crash
    try {
      compile_vulkan(p, std::make_shared<ParamStore>());
      ADD_FAILURE() << "compiled without a Vulkan device";
    } catch (const BackendError& e) {
      std::string m = e.what();
      EXPECT_TRUE(contains(m, "backend 'vulkan' is unavailable")) << m;
      EXPECT_TRUE(contains(m, "mesa-vulkan-drivers")) << m;
      if (const char* want = std::getenv("SOMA_VK_EXPECT")) {
        EXPECT_TRUE(contains(m, want)) << m;
      }
    }
  }
  EXPECT_THROW(vulkan::device_description(), BackendError);
  // The other backends keep working.
  Feeds f{{"x", Array::from_f32({4}, std::vector<float>{1, 2, 3, 4})}};
  for (const char* name : {"interp-kernels", "llvm"}) {
    CompileRequest req;
    req.program = &p;
    auto out = get_backend(name).compile(req, std::make_shared<ParamStore>())->run(f);
    EXPECT_EQ(out[0].get(3), 5.0) << name;
  }
}

TEST(VulkanChild, SelectedDevice) {
  if (!in_child()) GTEST_SKIP() << "runs in a child process";
  const char* want = std::getenv("SOMA_VK_EXPECT");
  try {
    std::string d = vulkan::device_description();
    EXPECT_TRUE(want && contains(d, want)) << d;
  } catch (const BackendError& e) {
    EXPECT_TRUE(want && contains(e.what(), want)) << e.what();
  }
}

// ---- the parent's tests ----

class Errors : public VulkanTest {};

// Runs add_const(1) three times (SOMA_PROFILE=1 in the parent's test below).
TEST(VulkanChild, ProfiledRuns) {
  if (!in_child()) GTEST_SKIP() << "runs in a child process";
  if (!device_available()) GTEST_SKIP() << "no Vulkan device";
  Program p = add_const(1, 1000);
  auto exe = compile_vulkan(p, std::make_shared<ParamStore>());
  for (int i = 0; i < 3; ++i) exe->run({{"x", Array(DType::f32, Shape{1000})}});
}

TEST(VulkanErrors, NoDeviceIsABackendErrorAndOtherBackendsWork) {
  std::string out;
  int status = run_child(
      "VK_DRIVER_FILES=/nonexistent/no_driver.json VK_ICD_FILENAMES=", "VulkanChild.NoDevice", out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_TRUE(contains(out, "[  PASSED  ] 1 test")) << out;
}

TEST(VulkanErrors, NoLoaderIsABackendError) {
  std::string out;
  int status = run_child(
      "SOMA_VULKAN_LOADER=/nonexistent/libvulkan.so.1 'SOMA_VK_EXPECT=could not be opened'",
      "VulkanChild.NoDevice", out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_TRUE(contains(out, "[  PASSED  ] 1 test")) << out;
}

TEST_F(Errors, DeviceSelection) {
  std::string out;
  EXPECT_EQ(run_child("SOMA_VULKAN_DEVICE=llvmpipe SOMA_VK_EXPECT=llvmpipe",
                      "VulkanChild.SelectedDevice", out),
            0)
      << out;
  out.clear();
  EXPECT_EQ(
      run_child("SOMA_VULKAN_DEVICE=0 SOMA_VK_EXPECT=llvmpipe", "VulkanChild.SelectedDevice", out),
      0)
      << out;
  out.clear();
  EXPECT_EQ(run_child("SOMA_VULKAN_DEVICE=no-such-gpu 'SOMA_VK_EXPECT=matches no usable Vulkan "
                      "device'",
                      "VulkanChild.SelectedDevice", out),
            0)
      << out;
}

TEST_F(Errors, ShaderCompileFailureShowsTheGlslAndTheLog) {
  const std::string dir = ::testing::TempDir() + "soma_vk_dump_" + std::to_string(getpid());
  setenv("SOMA_DUMP_DIR", dir.c_str(), 1);
  const std::string bad =
      "#version 450\nlayout(local_size_x = 1) in;\nvoid main() {\n  float x = "
      "no_such_function(1.0);\n}\n";
  try {
    vulkan::compile_glsl(bad, "broken_kernel");
    ADD_FAILURE() << "bad GLSL compiled";
  } catch (const BackendError& e) {
    std::string m = e.what();
    EXPECT_TRUE(contains(m, "kernel broken_kernel does not compile")) << m;
    EXPECT_TRUE(contains(m, "no_such_function")) << m;  // glslang's log
    EXPECT_TRUE(contains(m, "ERROR")) << m;
    EXPECT_TRUE(contains(m, "   4  ")) << m;  // the GLSL, numbered
  }
  unsetenv("SOMA_DUMP_DIR");
  std::ifstream comp(dir + "/vulkan_broken_kernel.comp"), log(dir + "/vulkan_broken_kernel.log");
  EXPECT_TRUE(comp.good());
  EXPECT_TRUE(log.good());
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(contains(text, "no_such_function")) << text;
  std::filesystem::remove_all(dir);
}

TEST_F(Errors, OutOfDeviceMemoryIsAnErrorAndTheProcessGoesOn) {
  // A temporary planned at 3 GiB into the arena: the arena needs more than lavapipe's 2 GiB heap
  // (each binding stays small).
  Program big = kir::parse_program(R"(program {
  buffers:
    x: input f32[1024]
    t: temp f32[1024] @3221225472
    out0: output f32[1024]
  outputs: out0
  arena: 3221229568 bytes (3221229568 without reuse)
}
kernel add_one(x: f32[1024], out out0: f32[1024], out t: f32[1024]) {
  parallel i0 in 0..1024
    store out0[i0] = load x[i0] + 1.0
    store t[i0] = 2.0
}
)");
  try {
    compile_vulkan(big, std::make_shared<ParamStore>());
    ADD_FAILURE() << "allocated a 3 GiB arena";
  } catch (const BackendError& e) {
    std::string m = e.what();
    EXPECT_TRUE(contains(m, "out of device memory")) << m;
    EXPECT_TRUE(contains(m, "the arena of temporaries")) << m;
    EXPECT_TRUE(contains(m, "3.00 GiB")) << m;
  }
  Program small = add_const(1, 5);
  Feeds f{{"x", Array::from_f32({5}, std::vector<float>{1, 2, 3, 4, 5})}};
  EXPECT_EQ(run_vulkan(small, f)[0].get(4), 6.0);
}

TEST_F(Errors, BindingsBeyondTheDeviceLimitAreRejected) {
  // 160 MiB: fits the heap but not lavapipe's 128 MiB storage-buffer binding range (checked
  // before anything is allocated).
  Program p = add_const(1, int64_t{40} << 20);
  try {
    compile_vulkan(p, std::make_shared<ParamStore>());
    ADD_FAILURE() << "bound a 160 MiB storage buffer";
  } catch (const BackendError& e) {
    EXPECT_TRUE(contains(e.what(), "largest storage buffer binding")) << e.what();
  }
}

TEST_F(Errors, RequestsWithoutAProgram) {
  CompileRequest req;
  try {
    get_backend("vulkan").compile(req, std::make_shared<ParamStore>());
    ADD_FAILURE() << "compiled without a program";
  } catch (const BackendError& e) {
    EXPECT_TRUE(contains(e.what(), "carries none")) << e.what();
  }
}

// The messenger counts validation errors (what the fixture checks after every test).
TEST(VulkanErrors, ValidationErrorsAreCounted) {
  if (!device_available()) GTEST_SKIP() << "no Vulkan device";
  ASSERT_TRUE(vulkan::validation_enabled()) << "the validation layer is missing";
  vulkan::Context& ctx = vulkan::Context::get();
  int64_t before = vulkan::validation_error_count();
  VkBufferCreateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO;
  info.size = 0;  // invalid: VUID-VkBufferCreateInfo-size-00912
  info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  VkBuffer b = VK_NULL_HANDLE;
  testing::internal::CaptureStderr();
  VkResult r = vulkan::vk.vkCreateBuffer(ctx.device, &info, nullptr, &b);
  std::string err = testing::internal::GetCapturedStderr();
  if (r == VK_SUCCESS && b) vulkan::vk.vkDestroyBuffer(ctx.device, b, nullptr);
  EXPECT_GT(vulkan::validation_error_count(), before);
  EXPECT_TRUE(contains(err, "00912")) << err;
}

TEST_F(Errors, BoolBuffersPackedFourPerWordWithout8BitStorage) {
  std::string out;
  int status = run_child("SOMA_VULKAN_NO_INT8=1",
                         "Kernels.SelectLogicAndBoolBuffers:Kernels.ArenaTemporariesAtOddOffsets:"
                         "Kernels.CastsSaturateAndMapNaNToZero:Kernels.BinaryOpsWithNaNAndInf",
                         out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_TRUE(contains(out, "[  PASSED  ] 4 tests")) << out;
}

TEST_F(Errors, StagingPathsOfDiscreteGpus) {
  std::string out;
  int status =
      run_child("SOMA_VULKAN_FORCE_STAGING=1",
                "Kernels.ParametersStayOnDeviceAndSyncWithTheStore:Kernels.ParameterSwapUpdates:"
                "Kernels.ArenaTemporariesAtOddOffsets:Kernels.MaskedLoadsTouchNoMemoryAndGather:"
                "Training.HostChangesToParametersReachTheDevice:ParamSync.*",
                out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_TRUE(contains(out, "[  PASSED  ] 11 tests")) << out;
}

// SOMA_PROFILE=1: the kernel profile printed at exit lists vulkan kernels with their device times.
TEST_F(Errors, SomaProfileReportsVulkanKernels) {
  std::string out;
  int status = run_child("SOMA_PROFILE=1", "VulkanChild.ProfiledRuns", out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_TRUE(contains(out, "soma kernel profile (SOMA_PROFILE)")) << out;
  EXPECT_TRUE(contains(out, "/ add_const")) << out;
  EXPECT_TRUE(contains(out, "vulkan:")) << out;
  EXPECT_TRUE(contains(out, "         3")) << out;  // calls
}

}  // namespace
}  // namespace soma::vktest
