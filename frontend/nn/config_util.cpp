#include "frontend/nn/config_util.h"

#include <charconv>
#include <cstdlib>
#include <sstream>

#include "graph/error.h"

namespace soma::nn::detail {

std::string fmt_int(int64_t v) {
  return std::to_string(v);
}

std::string fmt_double(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string fmt_bool(bool v) {
  return v ? "true" : "false";
}

std::string fmt_list(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return s + "]";
}

std::string fmt_pair(std::pair<int64_t, int64_t> v) {
  return fmt_list({v.first, v.second});
}

namespace {

[[noreturn]] void bad(const std::string& cls, const std::string& key, const std::string& text,
                      const char* want) {
  SOMA_THROW(ValueError, cls << ": argument " << key << "=" << text << " is not " << want);
}

bool parse_i64(const std::string& s, int64_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

}  // namespace

int64_t cfg_int(const LayerConfig& c, const std::string& cls, const std::string& key,
                int64_t fallback) {
  auto it = c.find(key);
  if (it == c.end()) return fallback;
  int64_t v;
  if (!parse_i64(it->second, &v)) bad(cls, key, it->second, "an integer");
  return v;
}

double cfg_double(const LayerConfig& c, const std::string& cls, const std::string& key,
                  double fallback) {
  auto it = c.find(key);
  if (it == c.end()) return fallback;
  const std::string& s = it->second;
  double v;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty())
    bad(cls, key, s, "a number");
  return v;
}

bool cfg_bool(const LayerConfig& c, const std::string& cls, const std::string& key, bool fallback) {
  auto it = c.find(key);
  if (it == c.end()) return fallback;
  if (it->second == "true") return true;
  if (it->second == "false") return false;
  bad(cls, key, it->second, "true or false");
}

std::string cfg_str(const LayerConfig& c, const std::string& key, const std::string& fallback) {
  auto it = c.find(key);
  return it == c.end() ? fallback : it->second;
}

std::vector<int64_t> cfg_list(const LayerConfig& c, const std::string& cls, const std::string& key,
                              const std::vector<int64_t>& fallback) {
  auto it = c.find(key);
  if (it == c.end()) return fallback;
  const std::string& s = it->second;
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') bad(cls, key, s, "a list [a,b,...]");
  std::vector<int64_t> out;
  std::string body = s.substr(1, s.size() - 2);
  if (body.empty()) return out;
  std::stringstream ss(body);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int64_t v;
    if (!parse_i64(item, &v)) bad(cls, key, s, "a list of integers");
    out.push_back(v);
  }
  if (body.back() == ',') bad(cls, key, s, "a list of integers");
  return out;
}

std::pair<int64_t, int64_t> cfg_pair(const LayerConfig& c, const std::string& cls,
                                     const std::string& key, std::pair<int64_t, int64_t> fallback) {
  auto it = c.find(key);
  if (it == c.end()) return fallback;
  int64_t single;
  if (parse_i64(it->second, &single)) return {single, single};
  std::vector<int64_t> v = cfg_list(c, cls, key, {});
  if (v.size() != 2) bad(cls, key, it->second, "an integer or a pair [a,b]");
  return {v[0], v[1]};
}

std::optional<uint64_t> cfg_seed(const LayerConfig& c, const std::string& cls) {
  auto it = c.find("seed");
  if (it == c.end()) return std::nullopt;
  uint64_t v;
  const std::string& s = it->second;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty())
    bad(cls, "seed", s, "a non-negative integer");
  return v;
}

void cfg_check_keys(const LayerConfig& c, const std::string& cls,
                    const std::vector<std::string>& known) {
  for (const auto& [k, v] : c) {
    bool ok = k == "name" || k == "seed";
    for (const auto& n : known) ok = ok || n == k;
    if (!ok) {
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
      SOMA_THROW(ValueError, cls << ": unknown argument '" << k << "' (known: name"
                                 << (list.empty() ? "" : ", ") << list << ")");
    }
  }
}

uint64_t mix_seed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ull;
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (h | 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (char ch : name) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace soma::nn::detail
