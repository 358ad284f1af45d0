// Every environment knob of soma (SOMA_THREADS, SOMA_DEBUG, SOMA_VULKAN_DEVICE, ...) is read
// through here, so a bad value is one clear ValueError naming the variable, its value and what
// it accepts, never a crash or a silently ignored setting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace soma {

// The variable's value when it is set and not empty.
std::optional<std::string> env_value(const char* name);

// An integer in [lo, hi]; `fallback` when unset or empty.
int64_t env_int(const char* name, int64_t fallback, int64_t lo, int64_t hi);

// 1/0, true/false, yes/no, on/off (any case); `fallback` when unset or empty.
bool env_flag(const char* name, bool fallback);

// Exactly `count` comma-separated integers, each in [lo, hi]; empty when unset.
std::vector<int64_t> env_ints(const char* name, size_t count, int64_t lo, int64_t hi);

// SOMA_DEBUG: 0 (off); 1 timings, 2 the IR after each pass, 3 kernel IR, 4 LLVM IR / GLSL.
int debug_level();

// Parses `text` as a decimal integer in [lo, hi] (no sign other than a leading '-', no spaces,
// no trailing characters); nullopt otherwise.
std::optional<int64_t> parse_int(const std::string& text, int64_t lo, int64_t hi);

}  // namespace soma
