// Per-kernel wall-clock profile, for every backend that launches kernels one by one.
//
// With SOMA_PROFILE=1 in the environment, executables record how long each kernel ran and the
// process prints, at exit, a table to stderr: one line per kernel (program, kernel, calls, total
// and mean time, share of the whole), most expensive first. Without it, the hooks cost one branch
// per kernel launch.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace soma::profile {

// True when SOMA_PROFILE is set to a non-empty value other than "0" (read once).
bool enabled();

// Times of one program's kernels; registered with the process-wide report on construction.
class ProgramProfile {
 public:
  // `program` names the program (its backend and cache key, say); `kernels` are kernel labels.
  ProgramProfile(std::string program, std::vector<std::string> kernels);
  void add(size_t kernel, std::chrono::nanoseconds t);

  struct Entry;

 private:
  Entry* entry_;  // owned by the process-wide report, which outlives every program
};

// Formats the report (what is printed at exit); empty when nothing was recorded.
std::string report();

}  // namespace soma::profile
