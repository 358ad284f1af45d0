// The knob table (runtime/env_knobs.def) is complete and documented: every SOMA_ variable the
// sources read is a row, every row is in docs/environment.md and in `soma --help-env`'s text.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "runtime/env.h"
#include "tests/source_tree.h"

namespace soma {
namespace {

namespace fs = std::filesystem;

using testing::read_text;
using testing::source_root;

std::set<std::string> table_names() {
  std::set<std::string> names;
  for (const EnvKnob& k : env_knobs()) names.insert(k.name);
  return names;
}

TEST(EnvKnobTable, RowsAreUniqueAndComplete) {
  std::set<std::string> seen;
  for (const EnvKnob& k : env_knobs()) {
    EXPECT_TRUE(seen.insert(k.name).second) << k.name << " twice";
    EXPECT_EQ(std::string(k.name).rfind("SOMA_", 0), 0u) << k.name;
    EXPECT_NE(std::string(k.accepts), "") << k.name;
    EXPECT_NE(std::string(k.help), "") << k.name;
    const std::string area = k.area;
    EXPECT_TRUE(area == "run" || area == "compile" || area == "caches" || area == "vulkan" ||
                area == "tool")
        << k.name << ": area " << area;
  }
}

// Every "SOMA_X" string literal in the library and tool sources names a row (the readers take
// the name as a literal); getenv is not called on a SOMA_ name directly.
TEST(EnvKnobTable, EverySomaVariableTheSourcesReadIsARow) {
  const std::set<std::string> names = table_names();
  const std::regex literal("\"(SOMA_[A-Z0-9_]+)\"");
  const std::regex raw_getenv("getenv\\(\\s*\"SOMA_");
  size_t files = 0, literals = 0;
  for (const char* dir : {"graph", "passes", "backends", "runtime", "frontend"}) {
    for (const auto& e : fs::recursive_directory_iterator(source_root() / dir)) {
      const std::string ext = e.path().extension().string();
      if (ext != ".cpp" && ext != ".h") continue;
      ++files;
      const std::string text = read_text(e.path());
      EXPECT_FALSE(std::regex_search(text, raw_getenv))
          << e.path() << " reads a SOMA_ variable with getenv instead of runtime/env.h";
      for (auto it = std::sregex_iterator(text.begin(), text.end(), literal);
           it != std::sregex_iterator(); ++it) {
        ++literals;
        EXPECT_TRUE(names.count((*it)[1].str()))
            << e.path() << " names " << (*it)[1].str() << ", which runtime/env_knobs.def lacks";
      }
    }
  }
  EXPECT_GT(files, 100u);
  EXPECT_GT(literals, 15u);
}

TEST(EnvKnobTable, EveryRowIsDocumentedAndInTheHelpText) {
  const std::string doc = read_text(source_root() / "docs" / "environment.md");
  ASSERT_FALSE(doc.empty());
  const std::string help = env_help_text();
  for (const EnvKnob& k : env_knobs()) {
    EXPECT_NE(doc.find(std::string("`") + k.name), std::string::npos)
        << k.name << " is not in docs/environment.md";
    EXPECT_NE(help.find(std::string("  ") + k.name + ": "), std::string::npos) << k.name;
  }
  // And the page lists no knob that does not exist.
  const std::set<std::string> names = table_names();
  const std::regex mention("`(SOMA_[A-Z0-9_]+)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), mention);
       it != std::sregex_iterator(); ++it)
    EXPECT_TRUE(names.count((*it)[1].str())) << "docs/environment.md: " << (*it)[1].str();
}

}  // namespace
}  // namespace soma
