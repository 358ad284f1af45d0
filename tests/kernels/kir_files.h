// The kernel programs written as text under tests/kernels/kir/, for the suites that read them:
// the conformance cases run each on every executor, and tests of other properties (verifier and
// evaluator errors, the LLVM code a program compiles to) read their programs from the same place.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "graph/kernel_parser.h"
#include "runtime/file_io.h"

namespace soma::kirtest {

inline std::string kir_dir() {
  return std::string(SOMA_TEST_DATA_DIR) + "/../kernels/kir";
}

inline std::string kir_text(const std::string& file) {
  return read_file(kir_dir() + "/" + file, "kernel program");
}

// Parses (and so verifies) tests/kernels/kir/<file>.
inline kir::Program load_kir(const std::string& file) {
  return kir::parse_program(kir_text(file));
}

// A program written inline whose sizes or values a test chooses: each `$name` in `text` is
// replaced by its value in `values` (longest names first), then the text is parsed.
inline kir::Program kir_with(std::string text,
                             std::vector<std::pair<std::string, std::string>> values) {
  std::sort(values.begin(), values.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  for (const auto& [name, value] : values)
    for (size_t at; (at = text.find("$" + name)) != std::string::npos;)
      text.replace(at, name.size() + 1, value);
  return kir::parse_program(text);
}

// Every .kir file there, sorted.
inline std::vector<std::string> kir_files() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(kir_dir()))
    if (e.path().extension() == ".kir") names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace soma::kirtest
