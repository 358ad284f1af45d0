// Golden tests: every tests/script/golden/NAME.soma runs statement by statement as `soma < FILE`
// would (errors reported, the session going on), with stdout and stderr captured together, and
// must print exactly NAME.expected. SOMA_UPDATE_GOLDEN=1 rewrites the expected files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "frontend/script/batch.h"

namespace soma::script {
namespace {

namespace fs = std::filesystem;

const fs::path kGoldenDir = fs::path(SOMA_TEST_DATA_DIR) / ".." / "script" / "golden";

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string run_golden(const fs::path& file) {
  std::ostringstream out;
  SessionOptions o;
  o.backend = "interp";
  o.out = &out;
  o.err = &out;
  Session s(o);
  run_batch(s, file.filename().string(), read(file), out);
  return out.str();
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesExpected) {
  fs::path script = kGoldenDir / (GetParam() + ".soma");
  fs::path expected = kGoldenDir / (GetParam() + ".expected");
  std::string got = run_golden(script);
  const char* update = std::getenv("SOMA_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(expected, std::ios::binary) << got;
    GTEST_SKIP() << "rewrote " << expected;
  }
  ASSERT_TRUE(fs::exists(expected)) << expected << " is missing (run with SOMA_UPDATE_GOLDEN=1)";
  EXPECT_EQ(got, read(expected)) << "for " << script;
}

std::vector<std::string> golden_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kGoldenDir))
    if (e.path().extension() == ".soma") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Scripts, Golden, ::testing::ValuesIn(golden_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace soma::script
