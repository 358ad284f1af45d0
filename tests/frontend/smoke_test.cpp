#include <gtest/gtest.h>

#include "frontend/compile.h"

namespace soma {
namespace {

TEST(Smoke, DenseRelu) {
  ContextScope scope(std::make_shared<Context>());
  Tensor x = input("x", {2, 3});
  Tensor w = param("w", Array::from_f32({3, 2}, std::vector<float>{1, 2, 3, 4, 5, 6}));
  Tensor b = param("b", Array::from_f32({2}, std::vector<float>{-10, 0}));
  Tensor y = relu(matmul(x, w) + b);
  auto out =
      compile({y}).run({{"x", Array::from_f32({2, 3}, std::vector<float>{1, 1, 1, 0, 1, 0})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), (Shape{2, 2}));
  EXPECT_FLOAT_EQ(out[0].get(0), 0);   // 9 - 10 -> relu 0
  EXPECT_FLOAT_EQ(out[0].get(1), 12);  // 2 + 4 + 6
  EXPECT_FLOAT_EQ(out[0].get(2), 0);   // 3 - 10
  EXPECT_FLOAT_EQ(out[0].get(3), 4);
}

}  // namespace
}  // namespace soma
