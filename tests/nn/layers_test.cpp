// Each layer's forward pass against hand-computed values, its gradients against finite
// differences (inputs in f64 with the autodiff harness, weights in f32), Keras's defaults, and
// its errors.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "autodiff/gradcheck.h"
#include "frontend/nn/activations.h"
#include "frontend/nn/layer_registry.h"
#include "frontend/nn/layers.h"
#include "nn/nn_test_util.h"

namespace soma::nn {
namespace {

using namespace soma::nn::testing;

// d(sum(v * layer(x)))/dx in f64 with the shared harness; a fresh layer per call.
void check_input_grads(const std::string& name, const std::function<LayerPtr()>& make,
                       const Shape& in, bool training = false, double lo = -1, double hi = 1) {
  soma::testing::GradCase c;
  c.name = name;
  c.inputs = {{in, lo, hi}};
  c.fn = [&](const std::vector<Tensor>& xs) {
    LayerPtr l = make();
    l->set_name("l");
    l->build(xs[0].type(), 5);
    CallContext cc;
    cc.training = training;
    return l->call(xs[0], cc);
  };
  c.atol = 1e-5;
  c.rtol = 1e-4;
  soma::testing::check_gradients(c);
}

// ---- Dense
// ----------------------------------------------------------------------------------------

TEST(Dense, ForwardMatchesHandComputedValues) {
  LayerRun r(std::make_shared<Dense>(3, DenseOptions{.activation = "relu"}),
             TensorType{DType::f32, {2, 2}});
  r.set("kernel", f32({2, 3}, {1, 0, -1, 2, 1, 0}));
  r.set("bias", f32({3}, {0.5, -1, 0}));
  // x @ K = [[5, 2, -1], [11, 4, -3]]; + b; relu
  expect_values(r.run(f32({2, 2}, {1, 2, 3, 4})), {5.5, 1, 0, 11.5, 3, 0});
}

TEST(Dense, AppliesToTheLastAxisOfRank3Inputs) {
  LayerRun r(std::make_shared<Dense>(1, DenseOptions{.use_bias = false}),
             TensorType{DType::f32, {2, 2, 2}});
  EXPECT_EQ(r.layer->weights().size(), 1u);
  r.set("kernel", f32({2, 1}, {1, 10}));
  EXPECT_EQ(r.y.shape(), (Shape{2, 2, 1}));
  expect_values(r.run(f32({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})), {21, 43, 65, 87});
}

TEST(Dense, KerasDefaultsGlorotUniformKernelZeroBiasAndSeeded) {
  LayerRun a(std::make_shared<Dense>(20), TensorType{DType::f32, {1, 30}}, false, 42);
  LayerRun b(std::make_shared<Dense>(20), TensorType{DType::f32, {1, 30}}, false, 42);
  LayerRun c(std::make_shared<Dense>(20), TensorType{DType::f32, {1, 30}}, false, 43);
  const Array& k = a.params().get("l/kernel");
  double limit = std::sqrt(6.0 / (30 + 20)), maxabs = 0;
  for (int64_t i = 0; i < k.numel(); ++i) {
    EXPECT_LE(std::fabs(k.get(i)), limit);
    maxabs = std::max(maxabs, std::fabs(k.get(i)));
  }
  EXPECT_GT(maxabs, 0.8 * limit);  // really spread over the range
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(a.params().get("l/bias").get(i), 0);
  int same = 0, differ = 0;
  for (int64_t i = 0; i < k.numel(); ++i) {
    same += k.get(i) == b.params().get("l/kernel").get(i);
    differ += k.get(i) != c.params().get("l/kernel").get(i);
  }
  EXPECT_EQ(same, k.numel());
  EXPECT_GT(differ, k.numel() - 5);
}

TEST(Dense, Gradients) {
  auto make = [] { return std::make_shared<Dense>(3, DenseOptions{.activation = "tanh"}); };
  check_input_grads("dense", make, {2, 4});
  check_weight_grads(make, TensorType{DType::f32, {2, 4}});
}

TEST(Dense, Errors) {
  EXPECT_THROW(Dense(0), ValueError);
  EXPECT_THROW(Dense(3, DenseOptions{.activation = "relu7"}), ValueError);
  EXPECT_THROW(LayerRun(std::make_shared<Dense>(3), TensorType{DType::i32, {2, 4}}), TypeError);
  EXPECT_THROW(LayerRun(std::make_shared<Dense>(3), TensorType{DType::f32, {4}}), ShapeError);
  try {
    Dense(3, DenseOptions{.activation = "relu7"});
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("relu7"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("sigmoid"), std::string::npos);  // lists known ones
  }
}

// ---- Conv2D
// ---------------------------------------------------------------------------------------

TEST(Conv2D, ValidForwardMatchesHandComputedValues) {
  LayerRun r(std::make_shared<Conv2D>(1, 2), TensorType{DType::f32, {1, 1, 3, 3}});
  EXPECT_EQ(r.params().get("l/kernel").shape(), (Shape{1, 1, 2, 2}));  // OIHW
  r.set("kernel", f32({1, 1, 2, 2}, {1, 2, 3, 4}));
  r.set("bias", f32({1}, {0.5}));
  EXPECT_EQ(r.y.shape(), (Shape{1, 1, 2, 2}));
  // [1 2; 4 5].[1 2; 3 4] = 37, then 47, 67, 77
  expect_values(r.run(f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9})), {37.5, 47.5, 67.5, 77.5});
}

TEST(Conv2D, SamePaddingPadsAfterForEvenKernels) {
  LayerRun r(std::make_shared<Conv2D>(1, 2, Conv2DOptions{.padding = "same", .use_bias = false}),
             TensorType{DType::f32, {1, 1, 3, 3}});
  r.set("kernel", f32({1, 1, 2, 2}, {1, 2, 3, 4}));
  EXPECT_EQ(r.y.shape(), (Shape{1, 1, 3, 3}));
  Array y = r.run(f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_FLOAT_EQ(y.get(0), 37);
  EXPECT_FLOAT_EQ(y.get(2), 3 * 1 + 6 * 3);  // right column: zeros after
  EXPECT_FLOAT_EQ(y.get(8), 9);              // bottom-right corner
}

TEST(Conv2D, StridedSameOutputIsCeilOfSizeOverStride) {
  LayerRun r(std::make_shared<Conv2D>(4, 3, Conv2DOptions{.strides = {2, 2}, .padding = "same"}),
             TensorType{DType::f32, {2, 3, 5, 6}});
  EXPECT_EQ(r.y.shape(), (Shape{2, 4, 3, 3}));
}

TEST(Conv2D, MultiChannelMatchesDirectLoops) {
  LayerRun r(std::make_shared<Conv2D>(2, 3, Conv2DOptions{.activation = "relu"}),
             TensorType{DType::f32, {2, 3, 5, 4}});
  Array x = random_array({2, 3, 5, 4}, -1, 1, 3);
  Array y = r.run(x);
  const Array& k = r.params().get("l/kernel");
  ASSERT_EQ(y.shape(), (Shape{2, 2, 3, 2}));
  for (int n = 0; n < 2; ++n)
    for (int o = 0; o < 2; ++o)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 2; ++j) {
          double acc = 0;
          for (int c = 0; c < 3; ++c)
            for (int a = 0; a < 3; ++a)
              for (int b = 0; b < 3; ++b)
                acc += x.get(((n * 3 + c) * 5 + i + a) * 4 + j + b) *
                       k.get(((o * 3 + c) * 3 + a) * 3 + b);
          EXPECT_NEAR(y.get(((n * 2 + o) * 3 + i) * 2 + j), std::max(acc, 0.0), 1e-5);
        }
}

TEST(Conv2D, Gradients) {
  auto make = [] {
    return std::make_shared<Conv2D>(2, 2, Conv2DOptions{.strides = {1, 2}, .padding = "same"});
  };
  check_input_grads("conv2d", make, {1, 2, 4, 4});
  check_weight_grads(make, TensorType{DType::f32, {2, 2, 4, 4}});
}

TEST(Conv2D, Errors) {
  EXPECT_THROW(Conv2D(4, 3, Conv2DOptions{.padding = "full"}), ValueError);
  EXPECT_THROW(Conv2D(4, 0), ValueError);
  EXPECT_THROW(LayerRun(std::make_shared<Conv2D>(2, 3), TensorType{DType::f32, {2, 28, 28}}),
               ShapeError);
  EXPECT_THROW(LayerRun(std::make_shared<Conv2D>(2, 5), TensorType{DType::f32, {2, 1, 3, 3}}),
               ShapeError);
}

// The message of the ShapeError that building `l` on `in` throws.
std::string build_error(const LayerPtr& l, const TensorType& in) {
  try {
    LayerRun r(l, in);
  } catch (const ShapeError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ShapeError for " << in.str();
  return "";
}

// NHWC [n, h, w, c] -> NCHW.
Array nhwc_to_nchw(const Array& x) {
  const Shape& s = x.shape();
  Array y(x.dtype(), Shape{s[0], s[3], s[1], s[2]});
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t h = 0; h < s[1]; ++h)
      for (int64_t w = 0; w < s[2]; ++w)
        for (int64_t c = 0; c < s[3]; ++c)
          y.set(((n * s[3] + c) * s[1] + h) * s[2] + w,
                x.get(((n * s[1] + h) * s[2] + w) * s[3] + c));
  return y;
}

TEST(Conv2D, ChannelsLastIsTheNCHWConvolutionOfTheSameImages) {
  Conv2DOptions last{.data_format = "channels_last", .padding = "same", .activation = "relu"};
  Conv2DOptions first{.data_format = "", .padding = "same", .activation = "relu"};
  LayerRun a(std::make_shared<Conv2D>(2, 3, last), TensorType{DType::f32, {2, 5, 4, 3}});
  LayerRun b(std::make_shared<Conv2D>(2, 3, first), TensorType{DType::f32, {2, 3, 5, 4}});
  EXPECT_EQ(a.y.shape(), (Shape{2, 5, 4, 2}));
  EXPECT_EQ(a.params().get("l/kernel").shape(), (Shape{2, 3, 3, 3}));  // OIHW either way
  b.set("kernel", a.params().get("l/kernel"));
  b.set("bias", f32({2}, {0.25, -0.25}));
  a.set("bias", f32({2}, {0.25, -0.25}));
  Array x = random_array({2, 5, 4, 3}, -1, 1, 7);
  Array ya = a.run(x), yb = b.run(nhwc_to_nchw(x));
  Array want = nhwc_to_nchw(ya);
  ASSERT_EQ(want.shape(), yb.shape());
  for (int64_t i = 0; i < yb.numel(); ++i) EXPECT_NEAR(want.get(i), yb.get(i), 1e-5) << i;
  check_input_grads("conv2d_channels_last", [&] { return std::make_shared<Conv2D>(2, 2, last); },
                    {1, 4, 3, 2});
}

TEST(Conv2D, ChannelsLastLookingImagesAreAnErrorThatNamesTheAssumedLayout) {
  // Keras's Reshape([28, 28, 1]), Conv2D(16, 3): read as NCHW it is 28 channels of 28x1 rows.
  for (const char* padding : {"valid", "same"}) {
    std::string m = build_error(std::make_shared<Conv2D>(16, 3, Conv2DOptions{.padding = padding}),
                                TensorType{DType::f32, {8, 28, 28, 1}});
    for (const char* words : {"f32[8,28,28,1]", "looks channels-last", "channels_first",
                              "data_format=\"channels_last\"", "28 channels of 28x1"})
      EXPECT_NE(m.find(words), std::string::npos) << padding << ": " << m;
  }
  std::string m = build_error(std::make_shared<MaxPool2D>(2), TensorType{DType::f32, {8, 6, 6, 3}});
  EXPECT_NE(m.find("MaxPool2D"), std::string::npos) << m;
  EXPECT_NE(m.find("looks channels-last"), std::string::npos) << m;
  // Said out loud, either layout is taken as given.
  LayerRun cf(std::make_shared<Conv2D>(
                  4, 3, Conv2DOptions{.data_format = "channels_first", .padding = "same"}),
              TensorType{DType::f32, {2, 6, 6, 3}});
  EXPECT_EQ(cf.y.shape(), (Shape{2, 4, 6, 3}));
  LayerRun cl(std::make_shared<Conv2D>(4, 3, Conv2DOptions{.data_format = "channels_last"}),
              TensorType{DType::f32, {2, 6, 6, 3}});
  EXPECT_EQ(cl.y.shape(), (Shape{2, 4, 4, 4}));
  EXPECT_THROW(Conv2D(4, 3, Conv2DOptions{.data_format = "NHWC"}), ValueError);
  m = build_error(std::make_shared<Conv2D>(2, 5, Conv2DOptions{.data_format = "channels_last"}),
                  TensorType{DType::f32, {2, 3, 3, 1}});
  EXPECT_NE(m.find("read as channels_last"), std::string::npos) << m;
  m = build_error(std::make_shared<Conv2D>(2, 3), TensorType{DType::f32, {2, 28, 28}});
  EXPECT_NE(m.find("[N, C, H, W]"), std::string::npos) << m;
}

// ---- pooling
// --------------------------------------------------------------------------------------

TEST(Pooling, MaxAndAverageMatchHandComputedValues) {
  Array x = f32({1, 1, 4, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  LayerRun mx(std::make_shared<MaxPool2D>(), TensorType{DType::f32, {1, 1, 4, 4}});
  expect_values(mx.run(x), {6, 8, 14, 16});
  LayerRun av(std::make_shared<AvgPool2D>(2), TensorType{DType::f32, {1, 1, 4, 4}});
  expect_values(av.run(x), {3.5, 5.5, 11.5, 13.5});
  LayerRun st(std::make_shared<MaxPool2D>(Pair{2, 2}, Pool2DOptions{.strides = Pair{1, 1}}),
              TensorType{DType::f32, {1, 1, 4, 4}});
  EXPECT_EQ(st.y.shape(), (Shape{1, 1, 3, 3}));
}

TEST(Pooling, SamePaddingIgnoresThePaddedPixels) {
  Array x = f32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  LayerRun mx(std::make_shared<MaxPool2D>(2, Pool2DOptions{.padding = "same"}),
              TensorType{DType::f32, {1, 1, 3, 3}});
  expect_values(mx.run(x), {5, 6, 8, 9});
  LayerRun av(std::make_shared<AvgPool2D>(2, Pool2DOptions{.padding = "same"}),
              TensorType{DType::f32, {1, 1, 3, 3}});
  expect_values(av.run(x), {3, 4.5, 7.5, 9});
  Array neg = f32({1, 1, 3, 3}, {-1, -2, -3, -4, -5, -6, -7, -8, -9});
  expect_values(mx.run(neg), {-1, -3, -7, -9});  // padding never wins a max
}

TEST(Pooling, Gradients) {
  check_input_grads("max_pool", [] { return std::make_shared<MaxPool2D>(2); }, {1, 2, 4, 4});
  check_input_grads("avg_pool_same",
                    [] { return std::make_shared<AvgPool2D>(2, Pool2DOptions{.padding = "same"}); },
                    {1, 1, 3, 5});
}

TEST(Pooling, ChannelsLastPoolsEachChannelOfNHWCImages) {
  // Channel 0 counts 1..16, channel 1 is its negative.
  std::vector<float> v;
  for (int i = 1; i <= 16; ++i) v.insert(v.end(), {float(i), -float(i)});
  Array x = f32({1, 4, 4, 2}, v);
  Pool2DOptions o{.data_format = "channels_last"};
  LayerRun mx(std::make_shared<MaxPool2D>(2, o), TensorType{DType::f32, {1, 4, 4, 2}});
  EXPECT_EQ(mx.y.shape(), (Shape{1, 2, 2, 2}));
  expect_values(mx.run(x), {6, -1, 8, -3, 14, -9, 16, -11});
  o.padding = "same";
  LayerRun av(std::make_shared<AvgPool2D>(3, o), TensorType{DType::f32, {1, 4, 4, 2}});
  EXPECT_EQ(av.y.shape(), (Shape{1, 2, 2, 2}));
  // The first window covers rows/cols 0..1 of the padded 3x3: (1 + 2 + 5 + 6) / 4.
  EXPECT_NEAR(av.run(x).get(0), 3.5, 1e-5);
  EXPECT_NEAR(av.run(x).get(1), -3.5, 1e-5);
}

// ---- Flatten, Reshape
// -----------------------------------------------------------------------------

TEST(Flatten, KeepsTheBatchAxis) {
  LayerRun r(std::make_shared<Flatten>(), TensorType{DType::f32, {2, 3, 2}});
  EXPECT_EQ(r.y.shape(), (Shape{2, 6}));
  expect_values(r.run(f32({2, 3, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})),
                {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
}

TEST(Reshape, TargetShapeWithoutTheBatchAxis) {
  LayerRun r(std::make_shared<Reshape>(std::vector<int64_t>{1, -1, 2}),
             TensorType{DType::f32, {3, 8}});
  EXPECT_EQ(r.y.shape(), (Shape{3, 1, 4, 2}));
  EXPECT_THROW(LayerRun(std::make_shared<Reshape>(std::vector<int64_t>{3, 3}),
                        TensorType{DType::f32, {2, 8}}),
               ShapeError);
  EXPECT_THROW(Reshape(std::vector<int64_t>{-1, -1}), ValueError);
  EXPECT_THROW(Reshape(std::vector<int64_t>{0, 2}), ValueError);
}

// ---- Dropout
// --------------------------------------------------------------------------------------

TEST(Dropout, InferenceIsTheIdentity) {
  LayerRun r(std::make_shared<Dropout>(0.5), TensorType{DType::f32, {2, 3}});
  expect_values(r.run(f32({2, 3}, {1, 2, 3, 4, 5, 6})), {1, 2, 3, 4, 5, 6});
}

TEST(Dropout, TrainingDropsRateAndScalesTheRestWithAMaskPerStep) {
  LayerRun r(std::make_shared<Dropout>(0.25), TensorType{DType::f32, {4000}}, true);
  Array ones = Array::from_doubles(DType::f32, {4000}, std::vector<double>(4000, 1.0));
  Array a = r.run(ones, 0), a2 = r.run(ones, 0), b = r.run(ones, 1);
  int zeros = 0, same = 0, same_other_step = 0;
  for (int64_t i = 0; i < 4000; ++i) {
    double v = a.get(i);
    EXPECT_TRUE(v == 0 || std::fabs(v - 1 / 0.75) < 1e-6) << v;
    zeros += v == 0;
    same += v == a2.get(i);
    same_other_step += v == b.get(i);
  }
  EXPECT_NEAR(zeros / 4000.0, 0.25, 0.03);
  EXPECT_EQ(same, 4000);             // a step's mask is deterministic
  EXPECT_LT(same_other_step, 3500);  // the next step draws another
}

TEST(Dropout, GradientsWithAFixedMask) {
  check_input_grads(
      "dropout", [] { return std::make_shared<Dropout>(0.5); }, {3, 4}, true);
}

TEST(Dropout, RateOutOfRange) {
  EXPECT_THROW(Dropout(1.0), ValueError);
  EXPECT_THROW(Dropout(-0.1), ValueError);
}

// ---- BatchNorm
// ------------------------------------------------------------------------------------

TEST(BatchNorm, TrainingUsesBatchStatisticsAndUpdatesTheMovingOnes) {
  LayerRun r(std::make_shared<BatchNorm>(), TensorType{DType::f32, {4, 2}}, true);
  ASSERT_EQ(r.layer->weights().size(), 4u);
  EXPECT_EQ(r.layer->trainable_weights().size(), 2u);  // gamma, beta
  Array x = f32({4, 2}, {1, 10, 2, 20, 3, 30, 4, 40});
  Array y = r.run(x);
  // mean [2.5, 25], biased variance [1.25, 125], epsilon 1e-3
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(y.get(2 * i), (i + 1 - 2.5) / std::sqrt(1.25 + 1e-3), 1e-5);
    EXPECT_NEAR(y.get(2 * i + 1), (10.0 * (i + 1) - 25) / std::sqrt(125 + 1e-3), 1e-5);
  }
  // momentum 0.99: moving = 0.99 * moving + 0.01 * batch
  expect_values(r.params().get("l/moving_mean"), {0.025, 0.25});
  expect_values(r.params().get("l/moving_variance"), {0.99 + 0.0125, 0.99 + 1.25});
}

TEST(BatchNorm, InferenceUsesTheMovingStatisticsOnTheChannelAxisOfNCHW) {
  LayerRun r(std::make_shared<BatchNorm>(BatchNormOptions{.epsilon = 0.01}),
             TensorType{DType::f32, {1, 2, 1, 2}});
  r.set("moving_mean", f32({2}, {1, -1}));
  r.set("moving_variance", f32({2}, {3.99, 0.24}));
  r.set("gamma", f32({2}, {2, 1}));
  r.set("beta", f32({2}, {0, 1}));
  // channel 0: 2 * (x - 1) / 2; channel 1: (x + 1) / 0.5 + 1
  expect_values(r.run(f32({1, 2, 1, 2}, {3, 5, 0, 1})), {2, 4, 3, 5}, 1e-5);
}

TEST(BatchNorm, Gradients) {
  auto make = [] { return std::make_shared<BatchNorm>(); };
  check_input_grads("batchnorm_train", make, {5, 3}, true);
  check_input_grads("batchnorm_infer", make, {2, 3, 2, 2}, false);
  check_weight_grads(make, TensorType{DType::f32, {6, 3}}, true);
}

TEST(BatchNorm, Errors) {
  EXPECT_THROW(LayerRun(std::make_shared<BatchNorm>(BatchNormOptions{.axis = 0}),
                        TensorType{DType::f32, {4, 2}}),
               ShapeError);
  EXPECT_THROW(BatchNorm(BatchNormOptions{.momentum = 1.5}), ValueError);
}

TEST(BatchNorm, WithoutAnAxisItNormalizesNCHWChannelsAndKerasLastAxisOtherwise) {
  // [N, T, F]: the features, as Keras's axis=-1.
  LayerRun seq(std::make_shared<BatchNorm>(), TensorType{DType::f32, {2, 5, 3}});
  EXPECT_EQ(seq.params().get("l/gamma").shape(), (Shape{3}));
  EXPECT_EQ(seq.layer->config().at("axis"), "2");
  LayerRun img(std::make_shared<BatchNorm>(), TensorType{DType::f32, {2, 4, 6, 6}});
  EXPECT_EQ(img.params().get("l/gamma").shape(), (Shape{4}));
  // Channels-last images need the axis said: normalizing their rows would train silently wrong.
  std::string m = build_error(std::make_shared<BatchNorm>(), TensorType{DType::f32, {2, 6, 6, 4}});
  EXPECT_NE(m.find("axis=-1"), std::string::npos) << m;
  LayerRun last(std::make_shared<BatchNorm>(BatchNormOptions{.axis = -1}),
                TensorType{DType::f32, {2, 6, 6, 4}});
  EXPECT_EQ(last.params().get("l/gamma").shape(), (Shape{4}));
}

// ---- Activation
// -----------------------------------------------------------------------------------

TEST(Activation, NamedFunctions) {
  Array x = f32({1, 4}, {-2, -0.5, 0.5, 3});
  auto run = [&](const std::string& name) {
    LayerRun r(std::make_shared<Activation>(name), TensorType{DType::f32, {1, 4}});
    return r.run(x);
  };
  expect_values(run("relu"), {0, 0, 0.5, 3});
  expect_values(run("linear"), {-2, -0.5, 0.5, 3});
  expect_values(run("sigmoid"), {1 / (1 + std::exp(2.0)), 1 / (1 + std::exp(0.5)),
                                 1 / (1 + std::exp(-0.5)), 1 / (1 + std::exp(-3.0))});
  expect_values(run("tanh"), {std::tanh(-2.0), std::tanh(-0.5), std::tanh(0.5), std::tanh(3.0)});
  Array s = run("softmax");
  double z = std::exp(-2.0) + std::exp(-0.5) + std::exp(0.5) + std::exp(3.0);
  expect_values(s, {std::exp(-2.0) / z, std::exp(-0.5) / z, std::exp(0.5) / z, std::exp(3.0) / z});
  expect_values(run("leaky_relu"), {-0.4, -0.1, 0.5, 3});
  expect_values(run("relu6"), {0, 0, 0.5, 3});
  EXPECT_THROW(Activation("nope"), ValueError);
}

TEST(Activation, SoftmaxRecordsItsLogitsForTheLoss) {
  LayerRun r(std::make_shared<Activation>("softmax"), TensorType{DType::f32, {2, 3}});
  EXPECT_EQ(r.cc.logits_activation, "softmax");
  EXPECT_EQ(r.cc.logits.id(), r.x.id());
  LayerRun t(std::make_shared<Activation>("relu"), TensorType{DType::f32, {2, 3}});
  EXPECT_EQ(t.cc.logits_activation, "relu");
  EXPECT_FALSE(t.cc.logits.defined());
  LayerRun d(std::make_shared<Dense>(4), TensorType{DType::f32, {2, 3}});
  EXPECT_EQ(d.cc.logits_activation, "linear");
}

TEST(Activation, Gradients) {
  for (std::string name : {"sigmoid", "tanh", "softmax", "elu", "gelu", "softplus", "swish"})
    check_input_grads("activation_" + name, [&] { return std::make_shared<Activation>(name); },
                      {2, 3});
}

// ---- Embedding
// ------------------------------------------------------------------------------------

TEST(Embedding, LooksUpRows) {
  LayerRun r(std::make_shared<Embedding>(3, 2), TensorType{DType::i32, {2, 2}});
  const Array& table = r.params().get("l/embeddings");
  for (int64_t i = 0; i < table.numel(); ++i) EXPECT_LE(std::fabs(table.get(i)), 0.05);
  r.set("embeddings", f32({3, 2}, {0, 1, 10, 11, 20, 21}));
  EXPECT_EQ(r.y.shape(), (Shape{2, 2, 2}));
  expect_values(r.run(i32({2, 2}, {0, 2, 1, 1})), {0, 1, 20, 21, 10, 11, 10, 11});
}

TEST(Embedding, GradientsAndErrors) {
  check_weight_grads([] { return std::make_shared<Embedding>(4, 3); },
                     TensorType{DType::i32, {2, 3}});
  EXPECT_THROW(LayerRun(std::make_shared<Embedding>(3, 2), TensorType{DType::f32, {2, 2}}),
               TypeError);
  EXPECT_THROW(Embedding(0, 2), ValueError);
}

// ---- the checks themselves
// ------------------------------------------------------------------------

// A layer whose weight gets no gradient (stop_gradient): both checks must notice.
class BrokenScale : public Layer {
 public:
  std::string class_name() const override { return "BrokenScale"; }
  Tensor call(const Tensor& x, CallContext&) override { return x * stop_gradient(w_) * x; }

 protected:
  void build_weights(const TensorType& in, uint64_t seed) override {
    (void)in;
    w_ = add_weight("w", {1}, "glorot_uniform", seed);
  }

 private:
  Tensor w_;
};

TEST(GradientChecks, CatchAWrongGradient) {
  EXPECT_NONFATAL_FAILURE(check_weight_grads([] { return std::make_shared<BrokenScale>(); },
                                             TensorType{DType::f32, {2, 3}}),
                          "l/w");
}

// ---- configs
// --------------------------------------------------------------------------------------

TEST(LayerConfig, RoundTripsThroughLayerFromConfig) {
  std::vector<LayerPtr> layers = {
      std::make_shared<Dense>(
          7, DenseOptions{.activation = "relu", .use_bias = false, .name = "d", .seed = 3}),
      std::make_shared<Conv2D>(4, Pair{3, 2}, Conv2DOptions{.strides = {2, 1}, .padding = "same"}),
      std::make_shared<MaxPool2D>(3, Pool2DOptions{.strides = Pair{2, 2}}),
      std::make_shared<AvgPool2D>(),
      std::make_shared<Conv2D>(4, 3, Conv2DOptions{.data_format = "channels_last"}),
      std::make_shared<MaxPool2D>(2, Pool2DOptions{.data_format = "channels_first"}),
      std::make_shared<BatchNorm>(),
      std::make_shared<Flatten>(),
      std::make_shared<Reshape>(std::vector<int64_t>{1, -1}),
      std::make_shared<Dropout>(0.3, DropoutOptions{.seed = 9}),
      std::make_shared<BatchNorm>(BatchNormOptions{.axis = -1, .momentum = 0.9}),
      std::make_shared<Activation>("softmax"),
      std::make_shared<Embedding>(100, 8)};
  for (const LayerPtr& l : layers) {
    LayerPtr copy = layer_from_config(l->class_name(), l->config());
    EXPECT_EQ(copy->class_name(), l->class_name());
    EXPECT_EQ(copy->config(), l->config()) << l->class_name();
  }
  EXPECT_THROW(layer_from_config("Dense2", {}), NameError);
  EXPECT_THROW(layer_from_config("Dense", {{"units", "x"}}), ValueError);
  EXPECT_THROW(layer_from_config("Dense", {{"units", "3"}, {"unit", "3"}}), ValueError);
}

// The registry is the one list: every row's class name is what its layer reports, Keras's
// spellings load as soma's classes, and an unknown class lists every row.
TEST(LayerRegistry, RowsMatchTheirLayersAndTheErrorListsThemAll) {
  const std::map<std::string, LayerConfig> minimal = {
      {"Dense", {{"units", "2"}}},
      {"Conv2D", {{"filters", "2"}, {"kernel_size", "3"}}},
      {"Reshape", {{"target_shape", "[2]"}}},
      {"Dropout", {{"rate", "0.5"}}},
      {"Embedding", {{"input_dim", "4"}, {"output_dim", "2"}}},
      {"SimpleRNN", {{"units", "2"}}},
      {"LSTM", {{"units", "2"}}},
      {"GRU", {{"units", "2"}}},
      {"Rescaling", {{"scale", "0.5"}}},
      {"Lambda", {{"function", "f"}}}};
  CustomObjects objects{.functions = {{"f", [](const Tensor& x) { return x; }}}};
  CustomObjectScope scope(objects);
  std::string known;
  try {
    layer_from_config("NoSuchLayer", {});
  } catch (const NameError& e) {
    known = e.what();
  }
  for (const LayerKind& k : layer_kinds()) {
    auto it = minimal.find(k.class_name);
    LayerPtr l = layer_from_config(k.class_name, it == minimal.end() ? LayerConfig{} : it->second);
    EXPECT_EQ(l->class_name(), k.class_name);
    for (const std::string& alias : k.aliases)
      EXPECT_EQ(
          layer_from_config(alias, it == minimal.end() ? LayerConfig{} : it->second)->class_name(),
          k.class_name);
    EXPECT_NE(known.find(k.class_name), std::string::npos) << k.class_name;
  }
  EXPECT_EQ(find_layer_kind("MaxPooling2D"), find_layer_kind("MaxPool2D"));
  EXPECT_EQ(find_layer_kind("Dense2"), nullptr);
  EXPECT_EQ(layer_kinds().size(), 22u);
}

}  // namespace
}  // namespace soma::nn

namespace soma::nn {
namespace {

TEST(Embedding, OutOfRangeIdsAreAnErrorNotZeros) {
  // Keras (on the CPU): "indices[3,1] = 57 is not in [0, 50)". An id outside the table would
  // read zeros and train silently wrong.
  auto m = std::make_shared<Sequential>(
      std::vector<LayerPtr>{std::make_shared<Embedding>(50, 4), std::make_shared<Flatten>(),
                            std::make_shared<Dense>(2)},
      "emb", 0);
  m->compile(std::make_shared<SGD>(0.1), std::make_shared<SparseCategoricalCrossentropy>(true), {});
  Array x(DType::i32, {6, 3}), y(DType::i32, {6});
  for (int64_t i = 0; i < 18; ++i) x.set(i, static_cast<double>(i % 50));
  for (int64_t i = 0; i < 6; ++i) y.set(i, static_cast<double>(i % 2));
  FitOptions o;
  o.epochs = 1;
  o.verbose = 0;
  m->fit({x}, {y}, o);  // in range: fine
  for (double bad : {57.0, -1.0}) {
    Array xb = x.clone();
    xb.set(3 * 3 + 1, bad);
    for (int what = 0; what < 3; ++what) {
      try {
        if (what == 0) m->fit({xb}, {y}, o);
        if (what == 1) m->predict({xb});
        if (what == 2) m->evaluate({xb}, {y});
        ADD_FAILURE() << "id " << bad << " was accepted (" << what << ")";
      } catch (const ValueError& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find("Embedding layer 'embedding'"), std::string::npos) << msg;
        EXPECT_NE(msg.find("got id " + std::to_string(static_cast<int>(bad)) + " at x[3, 1]"),
                  std::string::npos)
            << msg;
        EXPECT_NE(msg.find("[0, 50)"), std::string::npos) << msg;
      }
    }
  }
}

}  // namespace
}  // namespace soma::nn
