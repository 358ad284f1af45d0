// The executor core every kernel-IR backend shares (backends/program_layout.h and, for the host
// executors, backends/host_buffers.h): the layout of buffers and arena, the update plan, and the
// host binding (feeds read in place, outputs never aliased, parameters kept when asked).
#include <gtest/gtest.h>

#include <cstring>

#include "backends/backend.h"
#include "backends/host_buffers.h"
#include "backends/interp/kernel_eval.h"
#include "graph/error.h"
#include "graph/kernel_parser.h"
#include "vulkan/vk_test_util.h"

namespace soma {
namespace {

// Two parameters that trade values (each update reads the other's old value), temporaries that
// memory planning did not place, and one output listed twice.
const char* kProgram = R"(program {
  buffers:
    x: input f32[3]
    a: param f32[3]
    b: param f32[3]
    t: temp f32[3]
    u: temp f32[3]
    out0: output f32[3]
  outputs: out0 out0
  update a <- b
  update b <- a
  arena: 0 bytes (0 without reuse)
}
kernel twice(x: f32[3], out t: f32[3]) {
  parallel i0 in 0..3
    store t[i0] = load x[i0]*2.0
}
kernel plus_a(t: f32[3], a: f32[3], out u: f32[3]) {
  parallel i0 in 0..3
    store u[i0] = load t[i0] + load a[i0]
}
kernel copy(u: f32[3], out out0: f32[3]) {
  parallel i0 in 0..3
    store out0[i0] = load u[i0]
}
)";

Array f32(std::vector<double> v) {
  return Array::from_doubles(DType::f32, Shape{static_cast<int64_t>(v.size())}, v);
}

std::vector<double> values(const Array& a) {
  std::vector<double> v;
  for (int64_t i = 0; i < a.numel(); ++i) v.push_back(a.get(i));
  return v;
}

TEST(ProgramLayout, PlacesUnplannedTemporariesAndPlansTheUpdates) {
  kir::Program p = kir::parse_program(kProgram);
  ProgramLayout layout(p, 256);
  EXPECT_EQ(layout.slot(3).arena_offset, 0);    // t
  EXPECT_EQ(layout.slot(4).arena_offset, 256);  // u: aligned
  EXPECT_EQ(layout.arena_bytes(), 256 + 12);
  ASSERT_EQ(layout.updates().size(), 2u);
  for (const ProgramLayout::Update& u : layout.updates()) {
    EXPECT_FALSE(u.in_place);
    EXPECT_TRUE(u.snapshot);  // each value is the other parameter
  }
  EXPECT_EQ(layout.updated_params(), (std::vector<kir::BufferId>{1, 2}));
  EXPECT_EQ(layout.label(0), "input buffer 'x' (f32[3])");
}

TEST(HostBuffers, FeedsAreReadInPlaceAndARepeatedOutputIsACopy) {
  kir::Program p = kir::parse_program(kProgram);
  ProgramLayout layout(p, 64);
  HostBuffers host(layout, 0);
  ParamStore params;
  params.set("a", f32({1, 2, 3}));
  params.set("b", f32({10, 20, 30}));
  Feeds feeds{{"x", f32({1, 1, 1})}};
  host.bind(feeds, params);
  EXPECT_EQ(host.at(0), static_cast<const std::byte*>(feeds.at("x").raw()));
  EXPECT_EQ(host.at(1), static_cast<const std::byte*>(params.get("a").raw()));
  std::vector<Array> out = host.outputs();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NE(out[0].raw(), out[1].raw());
  host.release();
}

TEST(HostBuffers, TheUpdatePlanSwapsAndBumpsVersions) {
  kir::Program p = kir::parse_program(kProgram);
  ParamStore params;
  params.set("a", f32({1, 2, 3}));
  params.set("b", f32({10, 20, 30}));
  const uint64_t va = params.version("a"), vb = params.version("b");
  std::vector<Array> out = run_program(p, {{"x", f32({1, 1, 1})}}, params, true);
  EXPECT_EQ(values(out[0]), (std::vector<double>{3, 4, 5}));  // before the updates
  EXPECT_EQ(values(params.get("a")), (std::vector<double>{10, 20, 30}));
  EXPECT_EQ(values(params.get("b")), (std::vector<double>{1, 2, 3}));
  EXPECT_GT(params.version("a"), va);
  EXPECT_GT(params.version("b"), vb);
}

TEST(HostBuffers, KeptParametersLeaveTheStoreAsItWas) {
  const std::string text = R"(program {
  buffers:
    w: param f32[2]
    out0: output f32[2]
  outputs: out0
  update w <- w (in place)
  arena: 0 bytes (0 without reuse)
}
kernel step(inout w: f32[2], out out0: f32[2]) {
  parallel i0 in 0..2
    store w[i0] = load w[i0]*2.0
    store out0[i0] = load w[i0]
}
)";
  kir::Program p = kir::parse_program(text);
  ParamStore params;
  params.set("w", f32({1, 2}));
  run_program(p, {}, params, /*write_updates=*/false);
  EXPECT_EQ(values(params.get("w")), (std::vector<double>{1, 2}));
  run_program(p, {}, params, /*write_updates=*/true);
  EXPECT_EQ(values(params.get("w")), (std::vector<double>{2, 4}));
}

// Every executor follows the same plan: the swap and the outputs on llvm and vulkan too, run
// three times (the parameters trade values each run).
TEST(ExecutorCore, EveryBackendFollowsTheSameUpdatePlan) {
  kir::Program p = kir::parse_program(kProgram);
  for (const char* name : {"interp-kernels", "llvm", "vulkan"}) {
    SCOPED_TRACE(name);
    if (std::string(name) == "vulkan" && !vktest::device_available()) continue;
    auto params = std::make_shared<ParamStore>();
    params->set("a", f32({1, 2, 3}));
    params->set("b", f32({10, 20, 30}));
    CompileRequest req;
    req.program = &p;
    auto exe = get_backend(name).compile(req, params);
    std::vector<Array> out;
    for (int run = 0; run < 3; ++run) out = exe->run({{"x", f32({1, 1, 1})}});
    // Run 3 sees a as it started (two swaps so far): 2 + 1, ...; its own swap then leaves a
    // with b's first values.
    EXPECT_EQ(values(out[0]), (std::vector<double>{3, 4, 5}));
    EXPECT_EQ(values(out[1]), values(out[0]));
    EXPECT_NE(out[0].raw(), out[1].raw());
    EXPECT_EQ(values(params->get("a")), (std::vector<double>{10, 20, 30}));
    EXPECT_EQ(values(params->get("b")), (std::vector<double>{1, 2, 3}));
  }
}

}  // namespace
}  // namespace soma
