// Tests that read soma's own sources and docs (layering, the knob table): where the tree is and
// a file's text.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

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

}  // namespace soma::testing
