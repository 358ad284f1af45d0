// The GLSL emitter's loop cost: how many loop iterations (back edges) one invocation of a shader
// runs per unit of its work. Some drivers end loops silently after a fixed count per invocation
// (llvmpipe: 65535, over all loops together), so the backend checks every kernel against the
// device's limit and refuses one it cannot run whole, instead of computing a wrong value. The
// count follows the loops the emitter prints: one per axis of a reduction, loop or contraction,
// and the launch modes' own loops (the helper functions of glsl_lib.h have none: a test checks);
// it is an upper bound (a driver may unroll short loops).
#include <algorithm>
#include <limits>

#include "backends/vulkan/glsl_emitter.h"

namespace soma::vulkan {

using kir::Axis;
using kir::Stmt;

namespace {

constexpr uint64_t kHuge = std::numeric_limits<uint64_t>::max() / 4;

}  // namespace

uint64_t sat_add(uint64_t a, uint64_t b) {
  return std::min(a + std::min(b, kHuge), kHuge);
}

uint64_t sat_mul(uint64_t a, uint64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > kHuge / b ? kHuge : a * b;
}

uint64_t Emitter::nest_cost(const std::vector<Axis>& axes, uint64_t inner) {
  if (empty_axes(axes)) return 0;
  uint64_t cost = inner;
  for (size_t d = axes.size(); d-- > 0;)
    cost = sat_mul(static_cast<uint64_t>(axes[d].extent), sat_add(cost, 1));
  return cost;
}

uint64_t Emitter::stmts_loop_cost(const std::vector<Stmt>& body) const {
  uint64_t cost = 0;
  for (const Stmt& s : body) {
    switch (s.kind) {
      case Stmt::Kind::Let:
      case Stmt::Kind::Store:
        break;
      case Stmt::Kind::Reduce:
        cost = sat_add(cost, nest_cost(s.axes, stmts_loop_cost(s.body)));
        break;
      case Stmt::Kind::Loop:
        cost = sat_add(cost, nest_cost(s.axes, stmts_loop_cost(s.body)));
        break;
    }
  }
  return cost;
}

uint64_t Emitter::point_loop_cost() const {
  uint64_t cost = 1;  // the work loop's back edge
  if (k_.is_contraction) {
    const kir::Contraction& c = k_.contraction;
    cost = sat_add(cost, nest_cost({c.k}, 0));
  }
  return sat_add(cost, stmts_loop_cost(k_.body));
}

uint64_t Emitter::workgroup_reduce_loop_cost() const {
  uint64_t cost = 1;
  for (const Stmt& s : k_.body) {
    if (s.kind == Stmt::Kind::Reduce && var_type(s.var) != DType::boolean && !empty_axes(s.axes)) {
      const uint64_t per_lane = (extent_product(s.axes) + kWgSize - 1) / kWgSize;
      cost = sat_add(cost, sat_mul(per_lane, sat_add(stmts_loop_cost(s.body), 1)));
      cost = sat_add(cost, kWgSize);  // combining: at most one step per subgroup, or the tree
    } else {
      cost = sat_add(cost, stmts_loop_cost({s}));
    }
  }
  return cost;
}

}  // namespace soma::vulkan
