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
  EXPECT_EQ(env_int("SOMA_TEST_KNOB", 7, 1, 10), 7);
  {
    Env e("SOMA_TEST_KNOB", "4");
    EXPECT_EQ(env_int("SOMA_TEST_KNOB", 7, 1, 10), 4);
  }
  for (const char* bad : {"0", "11", "abc", "4x", " 4", "99999999999999999999999", "-", "1e3"}) {
    Env e("SOMA_TEST_KNOB", bad);
    try {
      env_int("SOMA_TEST_KNOB", 7, 1, 10);
      FAIL() << bad;
    } catch (const ValueError& err) {
      std::string m = err.what();
      EXPECT_NE(m.find("SOMA_TEST_KNOB"), std::string::npos) << m;
      EXPECT_NE(m.find(bad), std::string::npos) << m;
      EXPECT_NE(m.find("1..10"), std::string::npos) << m;
    }
  }
}

TEST(EnvKnobs, FlagsAndLists) {
  {
    Env e("SOMA_TEST_KNOB", "Off");
    EXPECT_FALSE(env_flag("SOMA_TEST_KNOB", true));
  }
  {
    Env e("SOMA_TEST_KNOB", "maybe");
    EXPECT_THROW(env_flag("SOMA_TEST_KNOB", true), ValueError);
  }
  {
    Env e("SOMA_TEST_KNOB", "64,32,16,4,4");
    EXPECT_EQ(env_ints("SOMA_TEST_KNOB", 5, 1, 1024), (std::vector<int64_t>{64, 32, 16, 4, 4}));
  }
  for (const char* bad : {"0,1,2,3,4", "1,2,3,4", "1,2,3,4,5,6", "1,2,,3,4", "1,2,3,4,5,"}) {
    Env e("SOMA_TEST_KNOB", bad);
    EXPECT_THROW(env_ints("SOMA_TEST_KNOB", 5, 1, 1024), ValueError) << bad;
  }
  EXPECT_EQ(parse_int("-9223372036854775808", INT64_MIN, INT64_MAX), INT64_MIN);
  EXPECT_EQ(parse_int("9223372036854775808", INT64_MIN, INT64_MAX), std::nullopt);
}

}  // namespace
}  // namespace soma
