// SimpleRNN, LSTM and GRU: forward passes against hand-computed values and against PyTorch's
// nn.RNN / nn.LSTM / nn.GRU (weights in Keras's layout, mapped to PyTorch's; the values come from
// tests/nn/rnn_reference.py), gradients in f64 through the autodiff harness, Keras's initializers
// and parameter counts, errors, and short sequence tasks that must train well above chance.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "autodiff/gradcheck.h"
#include "frontend/init.h"
#include "frontend/nn/model.h"
#include "frontend/nn/recurrent.h"
#include "nn/nn_test_util.h"

namespace soma::nn {
namespace {

using namespace soma::nn::testing;

// The weights of the PyTorch reference cases: 0.1 * (((i * a + j * b + c) mod 11) - 5).
Array fill(int64_t rows, int64_t cols, int a, int b, int c) {
  Array out(DType::f32, {rows, cols});
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      out.set(i * cols + j, 0.1 * (((i * a + j * b + c) % 11) - 5));
  return out;
}

// x [2, 3, 2] of the reference cases.
Array ref_x() {
  return f32({2, 3, 2}, {0.5, -1.0, 0.25, 0.75, -0.5, 0.1, 1.0, 0.2, -0.3, -0.6, 0.9, -0.4});
}

const TensorType kRefIn{DType::f32, {2, 3, 2}};

// ---- forward --------------------------------------------------------------------------------

TEST(SimpleRNN, ForwardMatchesHandComputedValues) {
  // One unit, one feature, two steps: h1 = tanh(2 x1 + 0.1), h2 = tanh(2 x2 + 0.5 h1 + 0.1).
  LayerRun r(std::make_shared<SimpleRNN>(1, RNNOptions{.return_sequences = true}),
             TensorType{DType::f32, {1, 2, 1}});
  r.set("kernel", f32({1, 1}, {2}));
  r.set("recurrent_kernel", f32({1, 1}, {0.5}));
  r.set("bias", f32({1}, {0.1}));
  double h1 = std::tanh(2 * 1.0 + 0.1), h2 = std::tanh(2 * -1.0 + 0.5 * h1 + 0.1);
  EXPECT_EQ(r.y.shape(), (Shape{1, 2, 1}));
  expect_values(r.run(f32({1, 2, 1}, {1, -1})), {h1, h2});
}

TEST(SimpleRNN, MatchesPyTorch) {
  LayerRun r(std::make_shared<SimpleRNN>(2, RNNOptions{.return_sequences = true}), kRefIn);
  r.set("kernel", fill(2, 2, 7, 3, 1));
  r.set("recurrent_kernel", fill(2, 2, 5, 2, 4));
  r.set("bias", f32({2}, {0.1, -0.2}));
  expect_values(r.run(ref_x()),
                {-0.37994896, 0.24491866, 0.34606143, -0.64134443, 0.03883654, 0.15404229,
                 -0.23549575, -0.37994896, -0.08820023, 0.28803751, -0.25051758, -0.23817530});
}

TEST(LSTM, MatchesPyTorchWithKerasGateOrder) {
  // Keras's (i, f, c, o) is PyTorch's (i, f, g, o): kernel = weight_ih.T.
  Array bias(DType::f32, {8});
  for (int i = 0; i < 8; ++i) bias.set(i, 0.1 * (i % 5) - 0.2);
  const std::vector<double> seq{-0.05973658, 0.04488130,  0.07379753,  -0.04890103,
                                0.10317560,  -0.09904391, -0.00401175, -0.04474232,
                                0.00761605,  -0.02022883, -0.03723170, -0.01817259};
  LayerRun r(std::make_shared<LSTM>(2, RNNOptions{.return_sequences = true}), kRefIn);
  r.set("kernel", fill(2, 8, 7, 3, 1));
  r.set("recurrent_kernel", fill(2, 8, 5, 2, 4));
  r.set("bias", bias);
  EXPECT_EQ(r.y.shape(), (Shape{2, 3, 2}));
  expect_values(r.run(ref_x()), seq);
  // The last state only (return_sequences=False), and reading the sequence backwards.
  LayerRun last(std::make_shared<LSTM>(2), kRefIn);
  LayerRun back(std::make_shared<LSTM>(2, RNNOptions{.go_backwards = true}), kRefIn);
  for (LayerRun* l : {&last, &back}) {
    l->set("kernel", fill(2, 8, 7, 3, 1));
    l->set("recurrent_kernel", fill(2, 8, 5, 2, 4));
    l->set("bias", bias);
  }
  EXPECT_EQ(last.y.shape(), (Shape{2, 2}));
  expect_values(last.run(ref_x()), {seq[4], seq[5], seq[10], seq[11]});
  expect_values(back.run(ref_x()), {0.01751023, -0.02663110, -0.00648705, -0.03995739});
}

TEST(GRU, MatchesPyTorchWithResetAfter) {
  // Keras's gates (z, r, h) are PyTorch's (r, z, n) reordered; bias row 0 is b_ih, row 1 b_hh.
  Array bias(DType::f32, {2, 6});
  for (int i = 0; i < 6; ++i) {
    bias.set(i, 0.1 * (i % 4) - 0.1);
    bias.set(6 + i, 0.05 * (i % 3));
  }
  LayerRun r(std::make_shared<GRU>(2, RNNOptions{.return_sequences = true}), kRefIn);
  r.set("kernel", fill(2, 6, 7, 3, 1));
  r.set("recurrent_kernel", fill(2, 6, 5, 2, 4));
  r.set("bias", bias);
  expect_values(r.run(ref_x()),
                {-0.35533415, 0.16196226, -0.08449382, -0.04635489, 0.01642217, -0.01933169,
                 -0.17191778, -0.00684611, -0.17769722, 0.11636444, -0.33134567, 0.18533103});
}

TEST(GRU, ResetBeforeTheMatmulWithoutResetAfter) {
  Array bias(DType::f32, {6});
  for (int i = 0; i < 6; ++i) bias.set(i, 0.1 * (i % 4) - 0.1);
  LayerRun r(std::make_shared<GRU>(2, RNNOptions{.reset_after = false, .return_sequences = true}),
             kRefIn);
  EXPECT_EQ(r.params().get("l/bias").shape(), (Shape{6}));
  r.set("kernel", fill(2, 6, 7, 3, 1));
  r.set("recurrent_kernel", fill(2, 6, 5, 2, 4));
  r.set("bias", bias);
  expect_values(r.run(ref_x()),
                {-0.36910232, 0.14793722, -0.10242946, -0.09262031, -0.00386392, -0.06834187,
                 -0.18826038, -0.04389312, -0.19951002, 0.07811836, -0.35462730, 0.13495955});
}

// ---- Keras's initializers and parameter counts ------------------------------------------------

TEST(LSTM, KerasInitializersAreSeeded) {
  LayerRun a(std::make_shared<LSTM>(5), TensorType{DType::f32, {1, 4, 3}}, false, 42);
  LayerRun b(std::make_shared<LSTM>(5), TensorType{DType::f32, {1, 4, 3}}, false, 42);
  const Array& k = a.params().get("l/kernel");
  const Array& u = a.params().get("l/recurrent_kernel");
  const Array& bias = a.params().get("l/bias");
  EXPECT_EQ(k.shape(), (Shape{3, 20}));
  EXPECT_EQ(u.shape(), (Shape{5, 20}));
  EXPECT_EQ(bias.shape(), (Shape{20}));
  double limit = std::sqrt(6.0 / (3 + 20));
  for (int64_t i = 0; i < k.numel(); ++i) EXPECT_LE(std::fabs(k.get(i)), limit);
  // Orthogonal recurrent kernel: its 5 rows are orthonormal (U U^T = I).
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) {
      double d = 0;
      for (int c = 0; c < 20; ++c) d += u.get(i * 20 + c) * u.get(j * 20 + c);
      EXPECT_NEAR(d, i == j ? 1.0 : 0.0, 1e-5) << i << "," << j;
    }
  // unit_forget_bias: the forget gate's slice starts at 1, the rest at 0.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(bias.get(i), i >= 5 && i < 10 ? 1.0 : 0.0) << i;
  EXPECT_EQ(k.to_doubles(), b.params().get("l/kernel").to_doubles());
  EXPECT_EQ(u.to_doubles(), b.params().get("l/recurrent_kernel").to_doubles());
  LayerRun plain(std::make_shared<LSTM>(5, RNNOptions{.unit_forget_bias = false}),
                 TensorType{DType::f32, {1, 4, 3}});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(plain.params().get("l/bias").get(i), 0.0);
}

TEST(Recurrent, OrthogonalInitializerOfTallMatrices) {
  // More rows than columns: the columns are orthonormal.
  Array q = initial_value("orthogonal", TensorType{DType::f64, {7, 3}}, 11);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double d = 0;
      for (int r = 0; r < 7; ++r) d += q.get(r * 3 + i) * q.get(r * 3 + j);
      EXPECT_NEAR(d, i == j ? 1.0 : 0.0, 1e-12);
    }
}

TEST(Recurrent, SummaryShowsKerasParameterCounts) {
  auto m = std::make_shared<Sequential>(
      std::vector<LayerPtr>{std::make_shared<Embedding>(50, 8),
                            std::make_shared<SimpleRNN>(16, RNNOptions{.return_sequences = true}),
                            std::make_shared<GRU>(16, RNNOptions{.return_sequences = true}),
                            std::make_shared<LSTM>(16), std::make_shared<Dense>(2)});
  m->build({10}, DType::i32);
  const std::string want =
      "Model: \"sequential\"\n"
      "_________________________________________________________________\n"
      " Layer (type)                Output Shape              Param #\n"
      "=================================================================\n"
      " embedding (Embedding)       (None, 10, 8)             400\n"
      " simple_rnn (SimpleRNN)      (None, 10, 16)            400\n"
      " gru (GRU)                   (None, 10, 16)            1632\n"
      " lstm (LSTM)                 (None, 16)                2112\n"
      " dense (Dense)               (None, 2)                 34\n"
      "=================================================================\n"
      "Total params: 4,578\n"
      "Trainable params: 4,578\n"
      "Non-trainable params: 0\n"
      "_________________________________________________________________\n";
  // SimpleRNN 16 * (16 + 8 + 1); GRU 3 * 16 * (16 + 16 + 1) + 3 * 16; LSTM 4 * 16 * (16 + 16 + 1).
  EXPECT_EQ(m->summary(), want);
  std::vector<std::string> names;
  for (const Weight& w : m->weights()) names.push_back(w.name);
  EXPECT_EQ(names[1], "simple_rnn/kernel");
  EXPECT_EQ(names[2], "simple_rnn/recurrent_kernel");
  EXPECT_EQ(names[3], "simple_rnn/bias");
}

// ---- gradients ------------------------------------------------------------------------------

// d(sum(v * f(x, kernel, recurrent_kernel, bias)))/d(every input) in f64.
void check_recurrence(const std::string& name, int gates, const Shape& bias_shape,
                      const std::function<Tensor(const std::vector<Tensor>&)>& f) {
  const int64_t n = 2, t = 3, feat = 2, u = 3;
  soma::testing::GradCase c;
  c.name = name;
  c.inputs = {{{n, t, feat}, -1, 1},
              {{feat, gates * u}, -0.8, 0.8},
              {{u, gates * u}, -0.8, 0.8},
              {bias_shape, -0.5, 0.5}};
  c.fn = f;
  c.atol = 1e-6;
  c.rtol = 1e-5;
  soma::testing::check_gradients(c);
}

TEST(Recurrent, GradientsOfEveryInputAndWeightInF64) {
  for (bool seq : {false, true}) {
    RNNOptions o;
    o.return_sequences = seq;
    check_recurrence("simple_rnn", 1, {3}, [o](const std::vector<Tensor>& xs) {
      return simple_rnn(xs[0], xs[1], xs[2], xs[3], o);
    });
    check_recurrence("lstm", 4, {12}, [o](const std::vector<Tensor>& xs) {
      return lstm(xs[0], xs[1], xs[2], xs[3], o);
    });
    check_recurrence("gru", 3, {2, 9}, [o](const std::vector<Tensor>& xs) {
      return gru(xs[0], xs[1], xs[2], xs[3], o);
    });
  }
  RNNOptions v1;
  v1.reset_after = false;
  v1.go_backwards = true;
  check_recurrence("gru_v1_backwards", 3, {9}, [v1](const std::vector<Tensor>& xs) {
    return gru(xs[0], xs[1], xs[2], xs[3], v1);
  });
  RNNOptions other;
  other.activation = "softsign";
  other.recurrent_activation = "hard_sigmoid";
  check_recurrence("lstm_other_activations", 4, {12}, [other](const std::vector<Tensor>& xs) {
    return lstm(xs[0], xs[1], xs[2], xs[3], other);
  });
}

// The layer's wiring of its weights (the recurrences themselves are checked in f64 above).
TEST(Recurrent, LayerWeightGradients) {
  check_weight_grads([] { return std::make_shared<LSTM>(2, RNNOptions{.return_sequences = true}); },
                     TensorType{DType::f32, {2, 3, 2}});
}

// ---- errors ---------------------------------------------------------------------------------

TEST(Recurrent, Errors) {
  EXPECT_THROW(LSTM(0), ValueError);
  EXPECT_THROW(SimpleRNN(3, RNNOptions{.activation = "tanhh"}), ValueError);
  EXPECT_THROW(GRU(3, RNNOptions{.recurrent_activation = "sigmoidd"}), ValueError);
  try {
    LayerRun(std::make_shared<LSTM>(4, RNNOptions{.name = "enc"}), TensorType{DType::f32, {2, 5}});
    ADD_FAILURE() << "no error for a rank-2 input";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("LSTM layer 'enc'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[batch, time, features]"), std::string::npos);
  }
  EXPECT_THROW(LayerRun(std::make_shared<SimpleRNN>(4), TensorType{DType::i32, {2, 5, 1}}),
               TypeError);
  // The functions check their weights' layouts.
  auto ctx = std::make_shared<Context>();
  ContextScope scope(ctx);
  Tensor x = input("x", {2, 3, 4});
  EXPECT_THROW(lstm(x, zeros({4, 8}), zeros({2, 8}), zeros({4})), ShapeError);
  EXPECT_THROW(lstm(x, zeros({3, 8}), zeros({2, 8}), Tensor()), ShapeError);
  EXPECT_THROW(gru(x, zeros({4, 6}), zeros({2, 6}), zeros({6})), ShapeError);  // reset_after
}

TEST(Recurrent, ConfigRoundTrip) {
  std::vector<LayerPtr> layers{
      std::make_shared<SimpleRNN>(3, RNNOptions{.activation = "relu", .go_backwards = true}),
      std::make_shared<LSTM>(4, RNNOptions{.unit_forget_bias = false, .return_sequences = true}),
      std::make_shared<GRU>(5, RNNOptions{.reset_after = false, .name = "g", .seed = 9})};
  for (const LayerPtr& l : layers) {
    LayerPtr copy = layer_from_config(l->class_name(), l->config());
    EXPECT_EQ(copy->config(), l->config()) << l->class_name();
  }
  EXPECT_EQ(layers[0]->config().count("recurrent_activation"), 0u);
  EXPECT_THROW(layer_from_config("SimpleRNN", {{"units", "3"}, {"reset_after", "true"}}),
               ValueError);
}

// ---- training -------------------------------------------------------------------------------

// The training tests run on the interpreter: these models are small enough that compiling
// them dominates, and the interpreter compiles at once.
FitOptions quiet(int epochs, int64_t batch) {
  FitOptions o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.verbose = 0;
  return o;
}

EvaluateOptions quiet_eval() {
  EvaluateOptions o;
  o.verbose = 0;
  o.batch_size = 128;
  return o;
}

// n sequences of `steps` values in [-1, 1]; label: whether their sum is positive.
std::pair<Array, Array> sum_sign(int64_t n, int64_t steps, uint64_t seed) {
  Array x = random_array({n, steps, 1}, -1, 1, seed);
  Array y(DType::i32, {n});
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t t = 0; t < steps; ++t) s += x.get(i * steps + t);
    y.set(i, s > 0);
  }
  return {x, y};
}

// Each recurrent layer learns the sign of a sequence's sum (chance: 50%).
TEST(RecurrentTraining, EachLayerLearnsTheSignOfASum) {
  auto [x, y] = sum_sign(384, 5, 1);
  auto [tx, ty] = sum_sign(256, 5, 2);
  for (const char* kind : {"SimpleRNN", "LSTM", "GRU"}) {
    LayerPtr rnn = layer_from_config(kind, {{"units", "8"}});
    auto m =
        std::make_shared<Sequential>(std::vector<LayerPtr>{rnn, std::make_shared<Dense>(2)}, "", 3);
    m->compile(std::make_shared<Adam>(0.03), std::make_shared<SparseCategoricalCrossentropy>(true),
               {"accuracy"}, "interp");
    m->fit(x, y, quiet(8, 32));
    double accuracy = m->evaluate(tx, ty, quiet_eval()).at("accuracy");
    std::cout << "  " << kind << ": held-out accuracy " << accuracy << "\n";
    EXPECT_GT(accuracy, 0.9) << kind;
  }
}

// Text classification: Embedding -> LSTM -> Dense on token sequences whose label says whether
// "positive" token 1 occurs more often than "negative" token 2 (majority class: about 60%).
TEST(RecurrentTraining, EmbeddingLstmClassifiesTokenSequences) {
  auto make = [](int64_t n, uint64_t seed) {
    Array u = random_array({n, 8}, 0, 6, seed);
    Array x(DType::i32, {n, 8}), y(DType::i32, {n});
    for (int64_t i = 0; i < n; ++i) {
      int balance = 0;
      for (int64_t t = 0; t < 8; ++t) {
        int tok = static_cast<int>(u.get(i * 8 + t));
        x.set(i * 8 + t, tok);
        balance += (tok == 1) - (tok == 2);
      }
      y.set(i, balance > 0);
    }
    return std::pair{x, y};
  };
  auto [x, y] = make(640, 5);
  auto [tx, ty] = make(256, 6);
  auto m = std::make_shared<Sequential>(
      std::vector<LayerPtr>{std::make_shared<Embedding>(6, 8), std::make_shared<LSTM>(16),
                            std::make_shared<Dense>(2)},
      "", 1);
  m->compile(std::make_shared<Adam>(0.03), std::make_shared<SparseCategoricalCrossentropy>(true),
             {"accuracy"}, "interp");
  m->fit(x, y, quiet(4, 64));
  double accuracy = m->evaluate(tx, ty, quiet_eval()).at("accuracy");
  std::cout << "  held-out accuracy " << accuracy << "\n";
  EXPECT_GT(accuracy, 0.9);
}

}  // namespace
}  // namespace soma::nn
