// GLSL helper library (see glsl_lib.h): the primitives whose GLSL built-ins differ from the kernel
// IR's meaning at the edges (NaN in max/min/sign, out-of-range float -> int, log and sqrt of
// negatives, pow's special cases, floor division) and the high word of a 32-bit product. The
// composite functions (sigmoid, tanh, erf, expm1, log1p, f64 exp/log/sin/cos/pow) and the random
// draws (Philox) are not here: they reach the emitter expanded into kernel IR
// (graph/kernel_math.h).
#include "backends/vulkan/glsl_lib.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <vector>

namespace soma::vulkan {

namespace {

// One floating-point type's spelling.
struct Ty {
  bool dbl;
  const char* name() const { return dbl ? "double" : "float"; }
  const char* sfx() const { return dbl ? "d" : "f"; }
  // A literal of this type.
  std::string lit(double v) const {
    char buf[64];
    std::snprintf(buf, sizeof buf, dbl ? "%.17g" : "%.9g",
                  dbl ? v : static_cast<double>(static_cast<float>(v)));
    std::string s = buf;
    if (s.find_first_of(".en") == std::string::npos) s += ".0";
    if (dbl) s += "LF";
    return s;
  }
  // soma_<base>_<sfx>
  std::string fn(const std::string& base) const { return "soma_" + base + "_" + sfx(); }
};

struct Helper {
  std::vector<std::string> deps;
  std::function<std::string()> text;
};

std::string nan_inf(const Ty& t) {
  if (t.dbl)
    return "double soma_nan_d() { return packDouble2x32(uvec2(0u, 0x7ff80000u)); }\n"
           "double soma_inf_d() { return packDouble2x32(uvec2(0u, 0x7ff00000u)); }\n";
  return "float soma_nan_f() { return uintBitsToFloat(0x7fc00000u); }\n"
         "float soma_inf_f() { return uintBitsToFloat(0x7f800000u); }\n";
}

std::string max_min(const Ty& t) {
  std::string T = t.name(), n = t.fn("nan");
  return T + " " + t.fn("max") + "(" + T + " a, " + T + " b) { return (isnan(a) || isnan(b)) ? " +
         n + "() : max(a, b); }\n" + T + " " + t.fn("min") + "(" + T + " a, " + T +
         " b) { return (isnan(a) || isnan(b)) ? " + n + "() : min(a, b); }\n";
}

std::string sign(const Ty& t) {
  std::string T = t.name();
  return T + " " + t.fn("sign") + "(" + T + " x) { return isnan(x) ? x : sign(x); }\n";
}

// Saturating float -> int with NaN -> 0 (GLSL's int() is undefined out of range).
std::string f2i(const Ty& t) {
  std::string T = t.name();
  return "int " + t.fn("f2i") + "(" + T +
         " x) {\n  if (isnan(x)) return 0;\n  if (x >= " + t.lit(2147483647.0) +
         ") return 2147483647;\n  if (x <= " + t.lit(-2147483648.0) +
         ") return -2147483647 - 1;\n  return int(x);\n}\n";
}

std::string log_f() {
  return "float soma_log_f(float x) {\n"
         "  if (isnan(x) || x < 0.0) return soma_nan_f();\n"
         "  if (x == 0.0) return -soma_inf_f();\n"
         "  if (isinf(x)) return x;\n"
         "  return log(x);\n}\n";
}

std::string sqrt_fn(const Ty& t) {
  std::string T = t.name();
  return T + " " + t.fn("sqrt") + "(" + T + " x) { return (isnan(x) || x < " + t.lit(0) + ") ? " +
         t.fn("nan") + "() : sqrt(x); }\n";
}

// pow with C's special cases (GLSL's pow is undefined for x < 0 and for x == 0, y <= 0).
std::string pow_fn(const Ty& t) {
  std::string T = t.name(), z = t.lit(0), one = t.lit(1), nan = t.fn("nan") + "()",
              inf = t.fn("inf") + "()";
  return T + " " + t.fn("pow") + "(" + T + " x, " + T + " y) {\n" + "  if (y == " + z +
         " || x == " + one + ") return " + one + ";\n" + "  if (isnan(x) || isnan(y)) return " +
         nan + ";\n" + "  " + T + " ax = abs(x);\n" + "  if (isinf(y)) {\n    if (ax == " + one +
         ") return " + one + ";\n    return ((ax < " + one + ") == (y > " + z + ")) ? " + z +
         " : " + inf + ";\n  }\n" + "  bool yint = floor(y) == y;\n" + "  " + T + " r;\n" +
         "  if (isinf(ax)) {\n    r = y > " + z + " ? " + inf + " : " + z + ";\n  } else {\n" +
         "    if (x < " + z + " && !yint) return " + nan + ";\n" + "    if (ax == " + z +
         ") r = y > " + z + " ? " + z + " : " + inf + ";\n" + "    else r = pow(ax, y);\n  }\n" +
         "  if ((floatBitsToUint(x) >> 31) != 0u && yint && floor(y * " + t.lit(0.5) + ") != y * " +
         t.lit(0.5) + ") r = -r;\n  return r;\n}\n";
}

const std::vector<std::pair<std::string, Helper>>& table() {
  static const Ty F{false}, D{true};
  static const std::vector<std::pair<std::string, Helper>> t = {
      {"nan_f", {{}, [] { return nan_inf(F); }}},
      {"nan_d", {{}, [] { return nan_inf(D); }}},
      {"max_f", {{"nan_f"}, [] { return max_min(F); }}},
      {"max_d", {{"nan_d"}, [] { return max_min(D); }}},
      {"sign_f", {{}, [] { return sign(F); }}},
      {"sign_d", {{}, [] { return sign(D); }}},
      {"f2i_f", {{}, [] { return f2i(F); }}},
      {"f2i_d", {{}, [] { return f2i(D); }}},
      {"idiv",
       {{},
        [] {
          return std::string(
              "int soma_idiv(int a, int b) {\n  int q = a / b;\n  return (q * b != a && a < 0) ? "
              "q - 1 : q;\n}\n"
              "int soma_imod(int a, int b) {\n  int r = a - (a / b) * b;\n  return r < 0 ? r + b "
              ": r;\n}\n");
        }}},
      {"log_f", {{"nan_f"}, log_f}},
      {"sqrt_f", {{"nan_f"}, [] { return sqrt_fn(F); }}},
      {"sqrt_d", {{"nan_d"}, [] { return sqrt_fn(D); }}},
      {"pow_f", {{"nan_f"}, [] { return pow_fn(F); }}},
      {"mulhi",
       {{},
        [] {
          return std::string(
              "int soma_mulhi(int a, int b) {\n  uint hi, lo;\n  umulExtended(uint(a), uint(b), "
              "hi, lo);\n  return int(hi);\n}\n");
        }}},
  };
  return t;
}

void close_over(const std::string& name, std::set<std::string>& all) {
  if (!all.insert(name).second) return;
  for (auto& [n, h] : table())
    if (n == name)
      for (const std::string& d : h.deps) close_over(d, all);
}

}  // namespace

std::string glsl_helpers(const std::set<std::string>& needed) {
  std::set<std::string> all;
  for (const std::string& n : needed) close_over(n, all);
  std::string out;
  for (auto& [n, h] : table())
    if (all.count(n)) out += h.text();
  return out;
}

std::vector<std::string> glsl_helper_names() {
  std::vector<std::string> names;
  for (auto& [n, h] : table()) names.push_back(n);
  return names;
}

}  // namespace soma::vulkan
