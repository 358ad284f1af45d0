// The test-name suffix of a suite parameterized by backend name: "interp-kernels" becomes
// "interp_kernels" (GoogleTest allows only letters, digits and underscores).
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace soma::testing {

struct BackendParamName {
  std::string operator()(const ::testing::TestParamInfo<std::string>& info) const {
    std::string n = info.param;
    for (char& c : n)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return n;
  }
};

}  // namespace soma::testing
