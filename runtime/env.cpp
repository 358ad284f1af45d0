#include "runtime/env.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>
#include <string_view>

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

const std::vector<EnvKnob>& env_knobs() {
  static const std::vector<EnvKnob> table = {
#define SOMA_KNOB(name, area, accepts, help) {#name, area, accepts, help},
#include "runtime/env_knobs.def"
#undef SOMA_KNOB
  };
  return table;
}

std::string env_help_text() {
  std::ostringstream os;
  os << "Environment variables soma reads (a value it does not accept is an error naming it):\n";
  for (const char* area : {"run", "compile", "caches", "vulkan", "tool"}) {
    os << "\n" << area << ":\n";
    for (const EnvKnob& k : env_knobs()) {
      if (std::string_view(k.area) != area) continue;
      os << "  " << k.name << ": " << k.accepts << "\n";
      // The help text wrapped at 96 columns, indented under the name.
      std::istringstream words(k.help);
      std::string word, line = "     ";
      while (words >> word) {
        if (line.size() + 1 + word.size() > 96) {
          os << line << "\n";
          line = "     ";
        }
        line += " " + word;
      }
      os << line << "\n";
      if (const char* v = std::getenv(k.name)) os << "      now: '" << v << "'\n";
    }
  }
  return os.str();
}

int debug_level() {
  return static_cast<int>(env_int("SOMA_DEBUG", 0, 0, 4));
}

std::optional<std::string> env_raw(const char* name) {
  if (std::string_view(name).substr(0, 5) == "SOMA_") {
    const auto& t = env_knobs();
    SOMA_CHECK(std::any_of(t.begin(), t.end(),
                           [&](const EnvKnob& k) { return std::string_view(k.name) == name; }))
        << name << " is read but not listed in runtime/env_knobs.def";
  }
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

std::optional<std::string> env_value(const char* name) {
  auto v = env_raw(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
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

std::vector<std::string> env_list(const char* name) {
  std::vector<std::string> out;
  auto v = env_value(name);
  if (!v) return out;
  std::istringstream in(*v);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

std::vector<std::string> env_words(const char* name, const std::vector<std::string>& allowed) {
  std::vector<std::string> words = env_list(name);
  for (const std::string& w : words) {
    if (std::find(allowed.begin(), allowed.end(), w) != allowed.end()) continue;
    std::string all;
    for (const std::string& a : allowed) all += (all.empty() ? "" : ", ") + a;
    bad(name, *env_value(name), "comma-separated words from: " + all);
  }
  return words;
}

std::string env_choice(const char* name, const std::string& fallback,
                       const std::vector<std::string>& allowed) {
  auto v = env_value(name);
  if (!v) return fallback;
  if (std::find(allowed.begin(), allowed.end(), *v) != allowed.end()) return *v;
  std::string all;
  for (const std::string& a : allowed) all += (all.empty() ? "" : ", ") + a;
  bad(name, *v, "one of " + all);
}

}  // namespace soma
