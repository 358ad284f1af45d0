// The layering rules, checked on every source file: who may include whom.
//
//   graph     nothing of ours (the IRs stand alone)
//   runtime   graph's small value types at most
//   passes    graph
//   backends  graph, runtime
//   frontend  everything below it, and inside it, in this order (each may include those
//             before it): the tensor API (frontend/*), data, nn, script, repl.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "tests/source_tree.h"

namespace soma {
namespace {

namespace fs = std::filesystem;

using testing::read_text;
using testing::source_root;

// The layer a file or an include belongs to: its folder below the root, with frontend's
// top-level files called "frontend/api".
std::string layer_of(const std::string& rel) {
  const size_t slash = rel.find('/');
  if (slash == std::string::npos) return "";
  const std::string top = rel.substr(0, slash);
  if (top != "frontend") return top;
  const size_t second = rel.find('/', slash + 1);
  return second == std::string::npos ? "frontend/api" : rel.substr(0, second);
}

const std::map<std::string, std::vector<std::string>>& allowed() {
  static const std::map<std::string, std::vector<std::string>> rules = {
      {"graph", {"graph"}},
      {"runtime", {"runtime", "graph"}},
      {"passes", {"passes", "graph"}},
      {"backends", {"backends", "graph", "runtime"}},
      {"frontend/api", {"frontend/api", "passes", "backends", "runtime", "graph"}},
      {"frontend/data",
       {"frontend/data", "frontend/api", "passes", "backends", "runtime", "graph"}},
      {"frontend/nn",
       {"frontend/nn", "frontend/data", "frontend/api", "passes", "backends", "runtime", "graph"}},
      {"frontend/script",
       {"frontend/script", "frontend/nn", "frontend/data", "frontend/api", "passes", "backends",
        "runtime", "graph"}},
      {"frontend/repl",
       {"frontend/repl", "frontend/script", "frontend/nn", "frontend/data", "frontend/api",
        "passes", "backends", "runtime", "graph"}},
  };
  return rules;
}

TEST(Layering, EveryIncludeFollowsTheRules) {
  const std::regex include("#include \"([a-z_]+/[^\"]+)\"");
  size_t files = 0, includes = 0;
  for (const char* dir : {"graph", "runtime", "passes", "backends", "frontend"}) {
    for (const auto& e : fs::recursive_directory_iterator(source_root() / dir)) {
      const std::string ext = e.path().extension().string();
      if (ext != ".cpp" && ext != ".h" && ext != ".def") continue;
      ++files;
      const std::string rel = fs::relative(e.path(), source_root()).generic_string();
      const std::string from = layer_of(rel);
      const auto rule = allowed().find(from);
      ASSERT_NE(rule, allowed().end()) << rel << ": no rule for layer " << from;
      std::ifstream f(e.path());
      std::string line;
      while (std::getline(f, line)) {
        std::smatch m;
        if (!std::regex_search(line, m, include)) continue;
        const std::string to = layer_of(m[1].str());
        if (!allowed().count(to)) continue;  // a generated header or a system one
        ++includes;
        const auto& ok = rule->second;
        EXPECT_NE(std::find(ok.begin(), ok.end(), to), ok.end())
            << rel << " (" << from << ") includes " << m[1].str() << " (" << to << ")";
      }
    }
  }
  EXPECT_GT(files, 150u);
  EXPECT_GT(includes, 500u);
}

TEST(Layering, TheRulesCatchAViolation) {
  EXPECT_EQ(layer_of("frontend/tensor.h"), "frontend/api");
  EXPECT_EQ(layer_of("frontend/nn/layers.h"), "frontend/nn");
  EXPECT_EQ(layer_of("passes/fuse.h"), "passes");
  const auto& passes = allowed().at("passes");
  EXPECT_EQ(std::find(passes.begin(), passes.end(), "runtime"), passes.end());
  const auto& api = allowed().at("frontend/api");
  EXPECT_EQ(std::find(api.begin(), api.end(), "frontend/nn"), api.end());
}

}  // namespace
}  // namespace soma
