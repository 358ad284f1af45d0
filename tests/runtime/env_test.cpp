// Environment knobs: one parser, a clear error naming the variable and what it accepts.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "graph/error.h"
#include "runtime/env.h"

namespace soma {
namespace {

struct Env {
  const char* name;
  Env(const char* n, const char* v) : name(n) { ::setenv(n, v, 1); }
  ~Env() { ::unsetenv(name); }
};

TEST(EnvKnobs, IntegersInRange) {
  EXPECT_EQ(env_int("SOMA_CACHE_MAX_MB", 7, 1, 10), 7);
  {
    Env e("SOMA_CACHE_MAX_MB", "4");
    EXPECT_EQ(env_int("SOMA_CACHE_MAX_MB", 7, 1, 10), 4);
  }
  for (const char* bad : {"0", "11", "abc", "4x", " 4", "99999999999999999999999", "-", "1e3"}) {
    Env e("SOMA_CACHE_MAX_MB", bad);
    try {
      env_int("SOMA_CACHE_MAX_MB", 7, 1, 10);
      FAIL() << bad;
    } catch (const ValueError& err) {
      std::string m = err.what();
      EXPECT_NE(m.find("SOMA_CACHE_MAX_MB"), std::string::npos) << m;
      EXPECT_NE(m.find(bad), std::string::npos) << m;
      EXPECT_NE(m.find("1..10"), std::string::npos) << m;
    }
  }
}

TEST(EnvKnobs, FlagsAndLists) {
  {
    Env e("SOMA_DISK_CACHE", "Off");
    EXPECT_FALSE(env_flag("SOMA_DISK_CACHE", true));
  }
  {
    Env e("SOMA_DISK_CACHE", "maybe");
    EXPECT_THROW(env_flag("SOMA_DISK_CACHE", true), ValueError);
  }
  {
    Env e("SOMA_VULKAN_TILES", "64,32,16,4,4");
    EXPECT_EQ(env_ints("SOMA_VULKAN_TILES", 5, 1, 1024), (std::vector<int64_t>{64, 32, 16, 4, 4}));
  }
  for (const char* bad : {"0,1,2,3,4", "1,2,3,4", "1,2,3,4,5,6", "1,2,,3,4", "1,2,3,4,5,"}) {
    Env e("SOMA_VULKAN_TILES", bad);
    EXPECT_THROW(env_ints("SOMA_VULKAN_TILES", 5, 1, 1024), ValueError) << bad;
  }
  EXPECT_EQ(parse_int("-9223372036854775808", INT64_MIN, INT64_MAX), INT64_MIN);
  EXPECT_EQ(parse_int("9223372036854775808", INT64_MIN, INT64_MAX), std::nullopt);
}

TEST(EnvKnobs, WordsChoicesAndLists) {
  {
    Env e("SOMA_DISABLE_PASSES", " cse, simplify ,,dce");
    EXPECT_EQ(env_list("SOMA_DISABLE_PASSES"),
              (std::vector<std::string>{"cse", "simplify", "dce"}));
  }
  {
    Env e("SOMA_VULKAN_FORCE", "no_tiled, workgroup_reduce");
    EXPECT_EQ(env_words("SOMA_VULKAN_FORCE", {"workgroup_reduce", "no_tiled"}),
              (std::vector<std::string>{"no_tiled", "workgroup_reduce"}));
  }
  {
    // A misspelt word was ignored before: now it is an error listing the words.
    Env e("SOMA_VULKAN_FORCE", "no_tile");
    try {
      env_words("SOMA_VULKAN_FORCE", {"workgroup_reduce", "no_tiled"});
      FAIL();
    } catch (const ValueError& err) {
      std::string m = err.what();
      EXPECT_NE(m.find("no_tile'"), std::string::npos) << m;
      EXPECT_NE(m.find("workgroup_reduce, no_tiled"), std::string::npos) << m;
    }
  }
  EXPECT_EQ(env_choice("SOMA_VULKAN_VALIDATION", "0", {"0", "1", "sync"}), "0");
  {
    Env e("SOMA_VULKAN_VALIDATION", "sync");
    EXPECT_EQ(env_choice("SOMA_VULKAN_VALIDATION", "0", {"0", "1", "sync"}), "sync");
  }
  {
    Env e("SOMA_VULKAN_VALIDATION", "yes please");
    EXPECT_THROW(env_choice("SOMA_VULKAN_VALIDATION", "0", {"0", "1", "sync"}), ValueError);
  }
  {
    Env e("SOMA_HISTORY", "");
    EXPECT_EQ(env_raw("SOMA_HISTORY"), std::string());
    EXPECT_EQ(env_value("SOMA_HISTORY"), std::nullopt);
  }
}

TEST(EnvKnobs, DebugLevelIsZeroToFour) {
  EXPECT_EQ(debug_level(), 0);
  {
    Env e("SOMA_DEBUG", "4");
    EXPECT_EQ(debug_level(), 4);
  }
  for (const char* bad : {"5", "-1", "lots"}) {
    Env e("SOMA_DEBUG", bad);
    EXPECT_THROW(debug_level(), ValueError) << bad;
  }
}

TEST(EnvKnobsDeathTest, ASomaVariableMissingFromTheTableIsAnInternalError) {
  EXPECT_DEATH(env_value("SOMA_NOT_A_KNOB"), "SOMA_NOT_A_KNOB is read but not listed");
  Env e("NOT_SOMAS_VARIABLE", "x");  // other programs' variables read freely
  EXPECT_EQ(env_value("NOT_SOMAS_VARIABLE"), "x");
}

}  // namespace
}  // namespace soma
