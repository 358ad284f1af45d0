#include "runtime/env.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "graph/error.h"

namespace soma {

namespace {

[[noreturn]] void bad(const char* name, const std::string& value, const std::string& expected) {
  SOMA_THROW(ValueError, "environment variable " << name << "='" << value << "': expected "
                                                 << expected << " (unset it for the default)");
}

std::string range_text(int64_t lo, int64_t hi) {
  return "an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
}

}  // namespace

int debug_level() {
  return static_cast<int>(env_int("SOMA_DEBUG", 0, 0, 99));
}

std::optional<std::string> env_value(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::optional<int64_t> parse_int(const std::string& text, int64_t lo, int64_t hi) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  size_t i = 0;
  bool neg = text[0] == '-';
  if (neg) ++i;
  if (i == text.size()) return std::nullopt;
  // Accumulate as a negative number so that INT64_MIN fits; stop at the first overflow.
  int64_t v = 0;
  for (; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    int d = text[i] - '0';
    if (v < (INT64_MIN + d) / 10) return std::nullopt;
    v = v * 10 - d;
  }
  if (!neg) {
    if (v == INT64_MIN) return std::nullopt;
    v = -v;
  }
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

int64_t env_int(const char* name, int64_t fallback, int64_t lo, int64_t hi) {
  auto v = env_value(name);
  if (!v) return fallback;
  auto x = parse_int(*v, lo, hi);
  if (!x) bad(name, *v, range_text(lo, hi));
  return *x;
}

bool env_flag(const char* name, bool fallback) {
  auto v = env_value(name);
  if (!v) return fallback;
  std::string s = *v;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  bad(name, *v, "1 or 0 (true/false, yes/no, on/off)");
}

std::vector<int64_t> env_ints(const char* name, size_t count, int64_t lo, int64_t hi) {
  auto v = env_value(name);
  if (!v) return {};
  std::vector<int64_t> out;
  size_t start = 0;
  while (true) {
    size_t comma = v->find(',', start);
    std::string item =
        v->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto x = parse_int(item, lo, hi);
    if (!x) break;
    out.push_back(*x);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.size() != count || (count && v->back() == ','))
    bad(name, *v,
        std::to_string(count) + " comma-separated integers in " + std::to_string(lo) + ".." +
            std::to_string(hi));
  return out;
}

}  // namespace soma
