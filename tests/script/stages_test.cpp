// `soma emit kernel` shows the program compile() runs: the same pipeline, the same switches
// (SOMA_DISABLE_PASSES) and the backend's own limits (the Vulkan loop limit splits long
// reductions). Compared against the SOMA_DUMP_DIR dump of a real compile, for every switch.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "frontend/compile.h"
#include "frontend/script/stages.h"
#include "graph/kernel_parser.h"

namespace soma::script {
namespace {

namespace fs = std::filesystem;

// Without a GPU the vulkan backend runs on lavapipe, unless the caller chose drivers.
const bool kVulkanDriver = [] {
  return setenv("VK_DRIVER_FILES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", 0) == 0;
}();

struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const std::string& v) : name(std::move(n)) {
    ::setenv(name.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

// The kernel program a compile() for `backend` wrote to SOMA_DUMP_DIR, printed as emit prints.
std::string compiled_program(const Tensor& t, const std::string& backend) {
  const fs::path dir =
      fs::temp_directory_path() / ("soma_stages_" + std::to_string(::getpid()) + "_" + backend);
  fs::remove_all(dir);
  {
    ScopedEnv dump("SOMA_DUMP_DIR", dir.string());
    CompileOptions o;
    o.backend = backend;
    compile({t}, o);
  }
  std::string text;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 9 && name.substr(name.size() - 9) == "-plan.kir") {
      std::ifstream f(e.path());
      std::stringstream ss;
      ss << f.rdbuf();
      text = ss.str();
    }
  }
  fs::remove_all(dir);
  EXPECT_FALSE(text.empty()) << "no kernels dump";
  return kir::print_program(kir::parse_program(text));
}

TEST(EmitKernel, IsTheProgramCompileRunsUnderEverySwitch) {
  std::map<std::string, std::string> plain;  // backend -> its program with every pass on
  for (const std::string backend : {"llvm", "vulkan"}) {
    for (const std::string disabled :
         {"", "cse", "simplify", "dce", "fuse", "plan", "split_reduce"}) {
      SCOPED_TRACE(backend + " without '" + disabled + "'");
      ContextScope scope(std::make_shared<Context>());
      // A long reduction (over the Vulkan CPU driver's loop limit), a softmax and a matmul.
      Tensor x = input("x", {70000});
      Tensor a = input("a", {8, 16}), b = input("b", {16, 4});
      Tensor y = sum(x * x) + sum(softmax(matmul(a, b) * 2.0 + 1.0));
      ScopedEnv off("SOMA_DISABLE_PASSES", disabled);
      std::string ran;
      try {
        ran = compiled_program(y, backend);
      } catch (const BackendError& e) {
        const std::string m = e.what();
        if (m.find("is unavailable") != std::string::npos) continue;  // no Vulkan device
        // Without split_reduce a CPU Vulkan driver refuses the long loop: an error, not a run.
        if (disabled == "split_reduce" && m.find("loop limiter") != std::string::npos) continue;
        throw;
      }
      CompileOptions o;
      o.backend = backend;
      EXPECT_EQ(emit_stage("kernel", y, o), ran);
      if (disabled.empty()) plain[backend] = ran;
    }
  }
  // The Vulkan CPU driver's loop limit splits the long reduction: a program llvm does not get,
  // which is why emit must ask the backend.
  if (plain.count("vulkan") && plain.count("llvm")) {
    EXPECT_NE(plain["vulkan"], plain["llvm"]);
  }
}

}  // namespace
}  // namespace soma::script
