// Every differentiable primitive and every composite of the tensor API, checked by finite
// differences in f64.
#include <gtest/gtest.h>

#include "autodiff/gradcheck.h"
#include "autodiff/op_cases.h"

namespace soma::testing {
namespace {

using op_cases_detail::cases;

}  // namespace

void PrintTo(const GradCase& c, std::ostream* os) {
  *os << c.name;
}

namespace {

class OpGrad : public ::testing::TestWithParam<GradCase> {};

TEST_P(OpGrad, MatchesFiniteDifferences) {
  check_gradients(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Cases, OpGrad, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace soma::testing
