// Recurrent layers: SimpleRNN, LSTM and GRU over inputs [batch, time, features], with Keras's
// argument names, defaults and weight layouts, so weights are interchangeable with Keras's:
//
//   kernel            [features, k * units]   (glorot_uniform)
//   recurrent_kernel  [units, k * units]      (orthogonal)
//   bias              [k * units]             (zeros; LSTM's forget slice starts at 1 when
//                                              unit_forget_bias; GRU with reset_after: [2, 3 *
//                                              units], row 0 the input bias, row 1 the recurrent
//                                              bias)
//
// with k = 1 (SimpleRNN), 4 (LSTM, gates in the order i, f, c, o) or 3 (GRU, gates z, r, h).
// The time loop is unrolled over the static time length into primitive graph ops (one matmul of
// all inputs with the kernel, then per step a matmul with the recurrent kernel, slices of the gate
// blocks and elementwise math), so autodiff, fusion and every backend work unchanged. The state
// starts at zero.
//
//   auto lstm = std::make_shared<nn::LSTM>(32, nn::RNNOptions{.return_sequences = true});
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "frontend/nn/layer.h"

namespace soma::nn {

// The options of the three layers (Keras's keyword arguments). A layer ignores those that are
// not its own: SimpleRNN has no recurrent_activation, unit_forget_bias or reset_after; only LSTM
// has unit_forget_bias and only GRU reset_after.
struct RNNOptions {
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";  // the gates of LSTM and GRU
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string recurrent_initializer = "orthogonal";
  std::string bias_initializer = "zeros";
  bool unit_forget_bias = true;   // LSTM: the forget gate's bias starts at 1
  bool reset_after = true;        // GRU: the reset gate scales h @ U_h (Keras 2's and cuDNN's form)
  bool return_sequences = false;  // [batch, time, units] instead of the last state [batch, units]
  bool go_backwards = false;      // read the sequence from its end (outputs in reversed order)
  std::string name;
  std::optional<uint64_t> seed;
};

// ---- the recurrences as functions of their weights (what the layers call) --------------------
//
// x [N, T, F]; weights in the layouts above, of x's float dtype or any other (numpy promotion);
// `bias` may be undefined (use_bias false). Return [N, T, units] or [N, units].

Tensor simple_rnn(const Tensor& x, const Tensor& kernel, const Tensor& recurrent_kernel,
                  const Tensor& bias, const RNNOptions& options = {});
Tensor lstm(const Tensor& x, const Tensor& kernel, const Tensor& recurrent_kernel,
            const Tensor& bias, const RNNOptions& options = {});
Tensor gru(const Tensor& x, const Tensor& kernel, const Tensor& recurrent_kernel,
           const Tensor& bias, const RNNOptions& options = {});

// ---- the layers ------------------------------------------------------------------------------

// The shared part: input checks, weights, config. `gates` is k above.
class RecurrentLayer : public Layer {
 public:
  int64_t units() const { return units_; }
  const RNNOptions& options() const { return options_; }
  LayerConfig config() const override;

 protected:
  RecurrentLayer(int64_t units, RNNOptions options, int gates, const std::string& cls);
  void build_weights(const TensorType& input, uint64_t seed) override;
  int64_t units_;
  RNNOptions options_;
  int gates_;
  Tensor kernel_, recurrent_kernel_, bias_;
};

// h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias).
// Parameters: units * (units + features + 1).
class SimpleRNN : public RecurrentLayer {
 public:
  explicit SimpleRNN(int64_t units, RNNOptions options = {});
  std::string class_name() const override { return "SimpleRNN"; }
  Tensor call(const Tensor& x, CallContext& ctx) override;
};

// z = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias, split into (i, f, c, o);
// c_t = sig(f) * c_{t-1} + sig(i) * act(c), h_t = sig(o) * act(c_t) (sig: recurrent_activation).
// Parameters: 4 * units * (units + features + 1).
class LSTM : public RecurrentLayer {
 public:
  explicit LSTM(int64_t units, RNNOptions options = {});
  std::string class_name() const override { return "LSTM"; }
  Tensor call(const Tensor& x, CallContext& ctx) override;
};

// Gates (z, r, h). reset_after: hh = act(x_h + r * (h_{t-1} @ U_h + b_rh)); else
// hh = act(x_h + (r * h_{t-1}) @ U_h). h_t = z * h_{t-1} + (1 - z) * hh.
// Parameters: 3 * units * (units + features + 1), plus 3 * units with reset_after.
class GRU : public RecurrentLayer {
 public:
  explicit GRU(int64_t units, RNNOptions options = {});
  std::string class_name() const override { return "GRU"; }
  Tensor call(const Tensor& x, CallContext& ctx) override;
};

}  // namespace soma::nn
