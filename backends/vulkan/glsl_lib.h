// The GLSL helper functions that the emitter's shaders call: soma's scalar semantics where GLSL's
// builtins differ (NaN-propagating max/min, saturating float->int casts, floor division, the
// domains of log, sqrt and pow) and the high word of a 32-bit product (Philox's rounds).
#pragma once

#include <set>
#include <string>
#include <vector>

namespace soma::vulkan {

// The text of the helpers named in `needed` and of everything they call, in dependency order.
// Names: "max_f", "pow_f", "mulhi", ... (the function is soma_<name>).
std::string glsl_helpers(const std::set<std::string>& needed);

// Every helper's name. No helper has a loop (a driver's loop limit counts only the emitter's own
// loops, glsl_cost.cpp).
std::vector<std::string> glsl_helper_names();

}  // namespace soma::vulkan
