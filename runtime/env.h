// Every environment knob of soma (SOMA_THREADS, SOMA_DEBUG, SOMA_VULKAN_DEVICE, ...) is listed
// once, in runtime/env_knobs.def, and read through here, so a bad value is one clear ValueError
// naming the variable, its value and what it accepts, never a crash or a silently ignored
// setting. Reading a SOMA_ variable that the table does not list is an InternalError (a knob
// nobody can find in `soma --help-env`); other variables (HOME, XDG_CACHE_HOME) read freely.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace soma {

struct EnvKnob {
  const char* name;
  const char* area;     // compile, run, caches, vulkan, tool
  const char* accepts;  // its values and default
  const char* help;
};

// The table, in its order.
const std::vector<EnvKnob>& env_knobs();

// `soma --help-env`: every knob grouped by area, each with what it accepts, its help and its
// current value when set.
std::string env_help_text();

// The variable's value when it is set and not empty.
std::optional<std::string> env_value(const char* name);

// The variable's value when it is set, even empty (for knobs where empty means "none").
std::optional<std::string> env_raw(const char* name);

// An integer in [lo, hi]; `fallback` when unset or empty.
int64_t env_int(const char* name, int64_t fallback, int64_t lo, int64_t hi);

// 1/0, true/false, yes/no, on/off (any case); `fallback` when unset or empty.
bool env_flag(const char* name, bool fallback);

// Exactly `count` comma-separated integers, each in [lo, hi]; empty when unset.
std::vector<int64_t> env_ints(const char* name, size_t count, int64_t lo, int64_t hi);

// Comma-separated items, spaces around each trimmed, empty items dropped; empty when unset.
std::vector<std::string> env_list(const char* name);

// env_list, each item one of `allowed`.
std::vector<std::string> env_words(const char* name, const std::vector<std::string>& allowed);

// One of `allowed`; `fallback` when unset or empty.
std::string env_choice(const char* name, const std::string& fallback,
                       const std::vector<std::string>& allowed);

// SOMA_DEBUG: 0 (off); 1 timings, 2 the IR after each pass, 3 kernel IR, 4 LLVM IR / GLSL.
int debug_level();

// Parses `text` as a decimal integer in [lo, hi] (no sign other than a leading '-', no spaces,
// no trailing characters); nullopt otherwise.
std::optional<int64_t> parse_int(const std::string& text, int64_t lo, int64_t hi);

}  // namespace soma
