// GLSL helper library (see glsl_lib.h). Polynomial coefficients are computed here (Taylor series
// of exp, sin, cos, erf; the atanh series of log) and printed with full precision, so the text
// holds no hand-typed magic numbers besides the split constants of ln 2 and pi/2 and the
// Abramowitz-Stegun 7.1.26 erf approximation for f32.
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

double factorial(int n) {
  double f = 1;
  for (int i = 2; i <= n; ++i) f *= i;
  return f;
}

// Horner evaluation of sum c[i] * var^i, as GLSL text assigning to `out`.
std::string horner(const Ty& t, const std::vector<double>& c, const std::string& var,
                   const std::string& out, const std::string& indent = "  ") {
  std::string s = indent + t.name() + " " + out + " = " + t.lit(c.back()) + ";\n";
  for (size_t i = c.size() - 1; i-- > 0;)
    s += indent + out + " = " + out + " * " + var + " + " + t.lit(c[i]) + ";\n";
  return s;
}

struct Helper {
  std::vector<std::string> deps;
  std::function<std::string()> text;
};

// ln 2 and pi/2 split so that k * hi is exact for the k that occur (fdlibm's splits).
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kPio2_1 = 1.57079632673412561417e+00;
constexpr double kPio2_2 = 6.07710050630396597660e-11;
constexpr double kPio2_3 = 2.02226624871116645580e-21;

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

// exp for doubles: x = k ln2 + r, |r| <= ln2/2, Taylor to degree 13, scaled by 2^k.
std::string exp_d() {
  Ty t{true};
  std::vector<double> c;
  for (int n = 0; n <= 13; ++n) c.push_back(1.0 / factorial(n));
  return "double soma_exp_d(double x) {\n"
         "  if (isnan(x)) return x;\n"
         "  if (x > 709.782712893384LF) return soma_inf_d();\n"
         "  if (x < -745.2LF) return 0.0LF;\n"
         "  double k = floor(x * " +
         t.lit(1.4426950408889634) +
         " + 0.5LF);\n"
         "  double r = (x - k * " +
         t.lit(kLn2Hi) + ") - k * " + t.lit(kLn2Lo) + ";\n" + horner(t, c, "r", "p") +
         "  int n = int(k);\n"
         "  return ldexp(ldexp(p, n / 2), n - n / 2);\n}\n";
}

// expm1: Taylor near 0 (no cancellation), exp(x) - 1 elsewhere.
std::string expm1(const Ty& t) {
  std::vector<double> c;
  int degree = t.dbl ? 18 : 9;
  for (int n = 1; n <= degree; ++n) c.push_back(1.0 / factorial(n));
  std::string T = t.name();
  return T + " " + t.fn("expm1") + "(" + T + " x) {\n  if (abs(x) < " + t.lit(0.5) + ") {\n" +
         horner(t, c, "x", "p", "    ") + "    return p * x;\n  }\n  return " +
         (t.dbl ? "soma_exp_d(x)" : "exp(x)") + " - " + t.lit(1) + ";\n}\n";
}

// 2 atanh(s) = log((1 + s) / (1 - s)) as 2 s (1 + s^2/3 + s^4/5 + ...), `terms` terms.
std::vector<double> atanh_series(int terms) {
  std::vector<double> c;
  for (int n = 0; n < terms; ++n) c.push_back(1.0 / (2 * n + 1));
  return c;
}

std::string log_d() {
  Ty t{true};
  return "double soma_log_d(double x) {\n"
         "  if (isnan(x) || x < 0.0LF) return soma_nan_d();\n"
         "  if (x == 0.0LF) return -soma_inf_d();\n"
         "  if (isinf(x)) return x;\n"
         "  int e;\n"
         "  double m = frexp(x, e);\n"
         "  if (m < " +
         t.lit(0.70710678118654752) +
         ") {\n    m = m * 2.0LF;\n    e = e - 1;\n  }\n"
         "  double f = m - 1.0LF;\n"
         "  double s = f / (2.0LF + f);\n"
         "  double z = s * s;\n" +
         horner(t, atanh_series(12), "z", "p") +
         "  double de = double(e);\n"
         "  return de * " +
         t.lit(kLn2Hi) + " + (2.0LF * s * p + de * " + t.lit(kLn2Lo) + ");\n}\n";
}

std::string log_f() {
  return "float soma_log_f(float x) {\n"
         "  if (isnan(x) || x < 0.0) return soma_nan_f();\n"
         "  if (x == 0.0) return -soma_inf_f();\n"
         "  if (isinf(x)) return x;\n"
         "  return log(x);\n}\n";
}

// log1p: log((1 + s) / (1 - s)) with s = x / (2 + x) near 0, log(1 + x) elsewhere.
std::string log1p(const Ty& t) {
  std::string T = t.name();
  return T + " " + t.fn("log1p") + "(" + T + " x) {\n  if (abs(x) < " + t.lit(0.5) + ") {\n    " +
         T + " s = x / (" + t.lit(2) + " + x);\n    " + T + " z = s * s;\n" +
         horner(t, atanh_series(t.dbl ? 17 : 8), "z", "p", "    ") + "    return " + t.lit(2) +
         " * s * p;\n  }\n  if (x < " + t.lit(-1) + ") return " + t.fn("nan") + "();\n  return " +
         t.fn("log") + "(" + t.lit(1) + " + x);\n}\n";
}

std::string sqrt_fn(const Ty& t) {
  std::string T = t.name();
  return T + " " + t.fn("sqrt") + "(" + T + " x) { return (isnan(x) || x < " + t.lit(0) + ") ? " +
         t.fn("nan") + "() : sqrt(x); }\n";
}

// sin/cos for doubles: Cody-Waite reduction by pi/2 (accurate for |x| below about 1e6), then the
// Taylor polynomials on [-pi/4, pi/4].
std::string sincos_d() {
  Ty t{true};
  std::vector<double> s, c;
  for (int n = 0; n <= 8; ++n) {
    double sg = n % 2 ? -1.0 : 1.0;
    s.push_back(sg / factorial(2 * n + 1));
    c.push_back(sg / factorial(2 * n));
  }
  return "double soma_sincos_d(double x, int q0) {\n"
         "  if (isnan(x) || isinf(x)) return soma_nan_d();\n"
         "  double k = floor(x * " +
         t.lit(0.63661977236758134) +
         " + 0.5LF);\n"
         "  double r = ((x - k * " +
         t.lit(kPio2_1) + ") - k * " + t.lit(kPio2_2) + ") - k * " + t.lit(kPio2_3) +
         ";\n"
         "  int q = (int(k - 4.0LF * floor(k * 0.25LF)) + q0) & 3;\n"
         "  double z = r * r;\n"
         "  double v;\n"
         "  if ((q & 1) == 0) {\n" +
         horner(t, s, "z", "ps", "    ") + "    v = r * ps;\n  } else {\n" +
         horner(t, c, "z", "pc", "    ") +
         "    v = pc;\n  }\n"
         "  return q >= 2 ? -v : v;\n}\n"
         "double soma_sin_d(double x) { return soma_sincos_d(x, 0); }\n"
         "double soma_cos_d(double x) { return soma_sincos_d(x, 1); }\n";
}

std::string tanh_fn(const Ty& t) {
  std::string T = t.name();
  return T + " " + t.fn("tanh") + "(" + T + " x) {\n  if (isnan(x)) return x;\n  " + T +
         " ax = abs(x);\n  " + T + " r = " + t.lit(1) + ";\n  if (ax < " + t.lit(t.dbl ? 22 : 9) +
         ") {\n    " + T + " e = " + t.fn("expm1") + "(" + t.lit(2) + " * ax);\n    r = e / (e + " +
         t.lit(2) + ");\n  }\n  return x < " + t.lit(0) + " ? -r : r;\n}\n";
}

// Stable: exp of a non-positive number only.
std::string sigmoid(const Ty& t) {
  std::string T = t.name();
  return T + " " + t.fn("sigmoid") + "(" + T + " x) {\n  " + T +
         " e = " + (t.dbl ? "soma_exp_d" : "exp") + "(-abs(x));\n  return x >= " + t.lit(0) +
         " ? " + t.lit(1) + " / (" + t.lit(1) + " + e) : e / (" + t.lit(1) + " + e);\n}\n";
}

// erf for floats: the Taylor series below 1, Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7, a
// rational function of t times exp(-x^2)) up to 4, 1 beyond.
std::string erf_f() {
  Ty t{false};
  std::vector<double> c;
  for (int n = 0; n <= 10; ++n)
    c.push_back((n % 2 ? -1.0 : 1.0) * 1.1283791670955126 / (factorial(n) * (2 * n + 1)));
  return "float soma_erf_f(float x) {\n"
         "  if (isnan(x)) return x;\n"
         "  float ax = abs(x);\n"
         "  if (ax < 1.0) {\n    float z = x * x;\n" +
         horner(t, c, "z", "p", "    ") +
         "    return x * p;\n  }\n"
         "  float r = 1.0;\n"
         "  if (ax < 4.0) {\n"
         "    float t = 1.0 / (1.0 + 0.3275911 * ax);\n"
         "    float q = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * "
         "t + 0.254829592) * t;\n"
         "    r = 1.0 - q * exp(-ax * ax);\n"
         "  }\n"
         "  return x < 0.0 ? -r : r;\n}\n";
}

// erf for doubles: 2/sqrt(pi) exp(-x^2) sum_n (2x^2)^n x / (1*3*...*(2n+1)) — positive terms, no
// cancellation. Below 6 (where erf rounds to 1) the terms fall under 1e-17 of the sum within 98
// terms; the series is written out to 120 terms (no loop, so nothing counts against a driver's
// loop limit; later terms no longer change the sum).
std::string erf_d() {
  std::string s =
      "double soma_erf_d(double x) {\n"
      "  if (isnan(x)) return x;\n"
      "  double ax = abs(x);\n"
      "  double r = 1.0LF;\n"
      "  if (ax < 6.0LF) {\n"
      "    double z = ax * ax;\n"
      "    double z2 = 2.0LF * z;\n"
      "    double term = ax;\n"
      "    double sum = ax;\n";
  for (int n = 1; n <= 120; ++n)
    s += "    term = term * z2 / " + std::to_string(2 * n + 1) + ".0LF; sum = sum + term;\n";
  return s +
         "    r = min(1.1283791670955126LF * soma_exp_d(-z) * sum, 1.0LF);\n"
         "  }\n"
         "  return x < 0.0LF ? -r : r;\n}\n";
}

// pow with C's special cases (GLSL's pow is undefined for x < 0 and for x == 0, y <= 0).
std::string pow_fn(const Ty& t) {
  std::string T = t.name(), z = t.lit(0), one = t.lit(1), nan = t.fn("nan") + "()",
              inf = t.fn("inf") + "()";
  std::string core = t.dbl ? "soma_exp_d(y * soma_log_d(ax))" : "pow(ax, y)";
  return T + " " + t.fn("pow") + "(" + T + " x, " + T + " y) {\n" + "  if (y == " + z +
         " || x == " + one + ") return " + one + ";\n" + "  if (isnan(x) || isnan(y)) return " +
         nan + ";\n" + "  " + T + " ax = abs(x);\n" + "  if (isinf(y)) {\n    if (ax == " + one +
         ") return " + one + ";\n    return ((ax < " + one + ") == (y > " + z + ")) ? " + z +
         " : " + inf + ";\n  }\n" + "  bool yint = floor(y) == y;\n" + "  " + T + " r;\n" +
         "  if (isinf(ax)) {\n    r = y > " + z + " ? " + inf + " : " + z + ";\n  } else {\n" +
         "    if (x < " + z + " && !yint) return " + nan + ";\n" + "    if (ax == " + z +
         ") r = y > " + z + " ? " + z + " : " + inf + ";\n" + "    else r = " + core + ";\n  }\n" +
         "  if (x < " + z + " && yint && floor(y * " + t.lit(0.5) + ") != y * " + t.lit(0.5) +
         ") r = -r;\n  return r;\n}\n";
}

// Philox-4x32-10 (graph/philox.h), returning the first output word. The rounds are written out:
// no loop, so nothing counts against a driver's loop limit (glsl_cost.cpp).
std::string philox() {
  std::string s =
      "uint soma_philox(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1) {\n"
      "  uint hi0, lo0, hi1, lo1;\n";
  for (int round = 0; round < 10; ++round) {
    s += "  umulExtended(0xD2511F53u, c0, hi0, lo0);\n"
         "  umulExtended(0xCD9E8D57u, c2, hi1, lo1);\n"
         "  c0 = hi1 ^ c1 ^ k0;\n"
         "  c1 = lo1;\n"
         "  c2 = hi0 ^ c3 ^ k1;\n"
         "  c3 = lo0;\n";
    if (round < 9) s += "  k0 += 0x9E3779B9u;\n  k1 += 0xBB67AE85u;\n";
  }
  return s + "  return c0;\n}\n";
}

std::string rand_fn(const Ty& t) {
  std::string T = t.name();
  return T + " " + t.fn("rand") + "(uint k0, uint k1, int counter, int offset) {\n  return " + T +
         "(soma_philox(uint(counter), 0u, uint(offset), 0u, k0, k1) >> 8u) * " +
         t.lit(1.0 / 16777216.0) + ";\n}\n";
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
      {"exp_d", {{"nan_d"}, exp_d}},
      {"expm1_f", {{}, [] { return expm1(F); }}},
      {"expm1_d", {{"exp_d"}, [] { return expm1(D); }}},
      {"log_f", {{"nan_f"}, log_f}},
      {"log_d", {{"nan_d"}, log_d}},
      {"log1p_f", {{"log_f"}, [] { return log1p(F); }}},
      {"log1p_d", {{"log_d"}, [] { return log1p(D); }}},
      {"sqrt_f", {{"nan_f"}, [] { return sqrt_fn(F); }}},
      {"sqrt_d", {{"nan_d"}, [] { return sqrt_fn(D); }}},
      {"sincos_d", {{"nan_d"}, sincos_d}},
      {"tanh_f", {{"expm1_f"}, [] { return tanh_fn(F); }}},
      {"tanh_d", {{"expm1_d"}, [] { return tanh_fn(D); }}},
      {"sigmoid_f", {{}, [] { return sigmoid(F); }}},
      {"sigmoid_d", {{"exp_d"}, [] { return sigmoid(D); }}},
      {"erf_f", {{}, erf_f}},
      {"erf_d", {{"exp_d"}, erf_d}},
      {"pow_f", {{"nan_f"}, [] { return pow_fn(F); }}},
      {"pow_d", {{"exp_d", "log_d"}, [] { return pow_fn(D); }}},
      {"philox", {{}, philox}},
      {"rand_f", {{"philox"}, [] { return rand_fn(F); }}},
      {"rand_d", {{"philox"}, [] { return rand_fn(D); }}},
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
