// Files in tests: where soma's own sources and docs are (layering, the knob table), a file's
// text, and a fresh scratch folder (dumps, saved files).
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace soma::testing {

// The repository root (tests/data's grandparent).
inline std::filesystem::path source_root() {
  return std::filesystem::path(SOMA_TEST_DATA_DIR).parent_path().parent_path();
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A fresh, empty folder under the system's temp directory, unique to this process and `tag`.
inline std::filesystem::path fresh_temp_dir(const std::string& tag) {
  std::filesystem::path p = std::filesystem::temp_directory_path() /
                            ("soma_test_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  return p;
}

}  // namespace soma::testing
