#include "runtime/array.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "graph/error.h"

namespace soma {
namespace {

TEST(Array, DefaultIsF32Scalar) {
  Array a;
  EXPECT_EQ(a.dtype(), DType::f32);
  EXPECT_EQ(a.shape().rank(), 0);
  EXPECT_EQ(a.numel(), 1);
  EXPECT_EQ(a.get(0), 0.0);
}

TEST(Array, ZeroInitializedForEveryDType) {
  for (DType t : {DType::f32, DType::f64, DType::i32, DType::boolean}) {
    Array a(t, Shape{3, 5});
    EXPECT_EQ(a.numel(), 15);
    EXPECT_EQ(a.nbytes(), 15 * dtype_size(t));
    const auto* p = static_cast<const unsigned char*>(a.raw());
    for (size_t i = 0; i < a.nbytes(); ++i) ASSERT_EQ(p[i], 0) << dtype_name(t) << " byte " << i;
  }
}

TEST(Array, StorageIsAligned) {
  Array a(DType::f64, Shape{7});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.raw()) % 64, 0u);
}

TEST(Array, EmptyDimension) {
  Array a(DType::f32, Shape{0, 3});
  EXPECT_EQ(a.numel(), 0);
  EXPECT_EQ(a.nbytes(), 0u);
  EXPECT_TRUE(a.to_doubles().empty());
  EXPECT_EQ(a.type_str(), "f32[0,3]");
}

TEST(Array, FromTypedSpans) {
  std::vector<float> f = {1.5f, -2.0f, 3.25f};
  Array a = Array::from_f32(Shape{3}, f);
  EXPECT_EQ(a.dtype(), DType::f32);
  EXPECT_EQ(a.data<float>()[2], 3.25f);

  std::vector<double> d = {0.1, 0.2};
  Array b = Array::from_f64(Shape{2, 1}, d);
  EXPECT_EQ(b.data<double>()[0], 0.1);

  std::vector<int32_t> i = {std::numeric_limits<int32_t>::min(), 7,
                            std::numeric_limits<int32_t>::max()};
  Array c = Array::from_i32(Shape{3}, i);
  EXPECT_EQ(c.data<int32_t>()[0], std::numeric_limits<int32_t>::min());
  EXPECT_EQ(c.data<int32_t>()[2], std::numeric_limits<int32_t>::max());

  bool bv[] = {true, false, true};
  Array e = Array::from_bool(Shape{3}, bv);
  EXPECT_EQ(e.data<uint8_t>()[0], 1);
  EXPECT_EQ(e.data<uint8_t>()[1], 0);
  EXPECT_EQ(e.get(2), 1.0);
}

TEST(Array, FromRejectsWrongValueCount) {
  std::vector<float> f = {1, 2, 3};
  EXPECT_THROW(Array::from_f32(Shape{2, 2}, f), ValueError);
  EXPECT_THROW(Array::from_doubles(DType::i32, Shape{}, std::vector<double>{}), ValueError);
}

TEST(Array, ConversionsOnSet) {
  std::vector<double> v = {0.1, 2.9, -2.9, 1e10, -1e10, NAN, INFINITY, -INFINITY, 0.0};
  Array i = Array::from_doubles(DType::i32, Shape{9}, v);
  const int32_t* p = i.data<int32_t>();
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[1], 2);                                    // truncation toward zero
  EXPECT_EQ(p[2], -2);                                   // truncation toward zero
  EXPECT_EQ(p[3], std::numeric_limits<int32_t>::max());  // saturation
  EXPECT_EQ(p[4], std::numeric_limits<int32_t>::min());
  EXPECT_EQ(p[5], 0);  // NaN -> 0
  EXPECT_EQ(p[6], std::numeric_limits<int32_t>::max());
  EXPECT_EQ(p[7], std::numeric_limits<int32_t>::min());

  Array f = Array::from_doubles(DType::f32, Shape{9}, v);
  EXPECT_EQ(f.get(0), static_cast<double>(0.1f));  // rounded to f32
  EXPECT_TRUE(std::isnan(f.get(5)));
  EXPECT_EQ(f.get(6), INFINITY);

  Array b = Array::from_doubles(DType::boolean, Shape{9}, v);
  EXPECT_EQ(b.get(0), 1.0);
  EXPECT_EQ(b.get(5), 1.0);  // NaN is truthy, as in numpy
  EXPECT_EQ(b.get(8), 0.0);
  b.set(0, -0.0);
  EXPECT_EQ(b.data<uint8_t>()[0], 0);
  b.set(0, 42);
  EXPECT_EQ(b.data<uint8_t>()[0], 1);
}

TEST(Array, ScalarAndToDoubles) {
  Array s = Array::scalar(DType::f64, -2.5);
  EXPECT_EQ(s.shape().rank(), 0);
  EXPECT_EQ(s.get(0), -2.5);
  EXPECT_EQ(s.type_str(), "f64[]");
  Array i = Array::scalar(DType::i32, 7.8);
  EXPECT_EQ(i.to_doubles(), std::vector<double>{7.0});
}

TEST(Array, CopiesShareAndClonesAreIndependent) {
  Array a = Array::from_doubles(DType::f32, Shape{2, 2}, std::vector<double>{1, 2, 3, 4});
  Array shared = a;
  Array cloned = a.clone();
  EXPECT_TRUE(shared.shares_storage(a));
  EXPECT_FALSE(cloned.shares_storage(a));
  a.set(0, 100);
  EXPECT_EQ(shared.get(0), 100.0);
  EXPECT_EQ(cloned.get(0), 1.0);
  cloned.set(3, -1);
  EXPECT_EQ(a.get(3), 4.0);
  EXPECT_EQ(cloned.shape(), a.shape());
  EXPECT_EQ(cloned.dtype(), a.dtype());
}

TEST(Array, CloneOfEmpty) {
  Array a(DType::i32, Shape{0});
  Array c = a.clone();
  EXPECT_EQ(c.numel(), 0);
  EXPECT_EQ(c.shape(), Shape{0});
}

TEST(Array, ReshapedSharesStorage) {
  Array a = Array::from_doubles(DType::i32, Shape{2, 3}, std::vector<double>{0, 1, 2, 3, 4, 5});
  Array r = a.reshaped(Shape{3, 2});
  EXPECT_TRUE(r.shares_storage(a));
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  r.set(5, 50);
  EXPECT_EQ(a.get(5), 50.0);
  EXPECT_EQ(a.reshaped(Shape{6}).type_str(), "i32[6]");
  EXPECT_THROW(a.reshaped(Shape{4}), ShapeError);
  // Two negative dimensions multiply to the right count but are still invalid.
  EXPECT_THROW(a.reshaped(Shape{-2, -3}), ShapeError);
}

TEST(Array, RejectsNegativeDimensions) {
  EXPECT_THROW(Array(DType::f32, Shape{2, -1}), ShapeError);
  EXPECT_THROW(Array(DType::f32, Shape{-1}), ShapeError);
  try {
    Array(DType::f32, Shape{2, -1});
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[2,-1]"), std::string::npos) << e.what();
  }
}

TEST(Array, RejectsOverflowingShape) {
  int64_t big = int64_t{1} << 40;
  EXPECT_THROW(Array(DType::f32, Shape{big, big}), ShapeError);
  // A zero dimension does not make an overflowing shape valid (its strides would overflow).
  EXPECT_THROW(Array(DType::f32, Shape{0, big, big}), ShapeError);
  Array ok(DType::f32, Shape{big, 0});
  EXPECT_EQ(ok.numel(), 0);
}

TEST(Array, TypeStr) {
  EXPECT_EQ(Array(DType::f32, Shape{2, 3}).type_str(), "f32[2,3]");
  EXPECT_EQ(Array(DType::boolean, Shape{}).type_str(), "bool[]");
}

}  // namespace
}  // namespace soma
