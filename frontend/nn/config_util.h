// Internal: canonical text for layer configs (LayerConfig) and seeds derived from names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frontend/nn/layer.h"

namespace soma::nn::detail {

std::string fmt_int(int64_t v);
std::string fmt_double(double v);  // shortest text that reads back to the same double
std::string fmt_bool(bool v);
std::string fmt_list(const std::vector<int64_t>& v);  // "[1,28,28]"
std::string fmt_pair(std::pair<int64_t, int64_t> v);  // "[3,3]"

// Readers: the value of `key`, or `fallback` when the key is absent; ValueError naming the layer
// class, the key and the text when the text is malformed.
int64_t cfg_int(const LayerConfig& c, const std::string& cls, const std::string& key,
                int64_t fallback);
double cfg_double(const LayerConfig& c, const std::string& cls, const std::string& key,
                  double fallback);
bool cfg_bool(const LayerConfig& c, const std::string& cls, const std::string& key, bool fallback);
std::string cfg_str(const LayerConfig& c, const std::string& key, const std::string& fallback);
std::vector<int64_t> cfg_list(const LayerConfig& c, const std::string& cls, const std::string& key,
                              const std::vector<int64_t>& fallback);
std::pair<int64_t, int64_t> cfg_pair(const LayerConfig& c, const std::string& cls,
                                     const std::string& key, std::pair<int64_t, int64_t> fallback);
std::optional<uint64_t> cfg_seed(const LayerConfig& c, const std::string& cls);
// Throws ValueError naming the first key of `c` not in `known` (a typo in a saved architecture).
void cfg_check_keys(const LayerConfig& c, const std::string& cls,
                    const std::vector<std::string>& known);

// A 64-bit seed mixed from a seed and a name (splitmix64 over FNV-1a).
uint64_t mix_seed(uint64_t seed, const std::string& name);

// Whether `name` is a valid layer/weight name: [A-Za-z0-9_.-]+ (no spaces or slashes).
bool valid_name(const std::string& name);

}  // namespace soma::nn::detail
