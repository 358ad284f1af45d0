// Optimizers as graph updates: an optimizer turns (parameter, gradient) pairs into the
// parameters' new values and new values of its own state ("slots"), all as tensors of the
// training-step graph, so one compiled step does forward, loss, backward and update together and
// the backend writes every new value back into the persistent ParamStore buffers in place.
//
// Slots are parameters named "<parameter>/<slot>" (e.g. "dense_1/kernel/m"), created with zeros
// when first declared. The learning rate is an f32 scalar *input* of the step ("lr"), so changing
// it (schedules, callbacks) never recompiles; `step` is the i32 scalar input counting the steps
// already taken (0 for the first), so t = step + 1 in Adam's bias correction.
//
// Update rules (g the gradient, lr the learning rate, all elementwise):
// (slot names: SGD's v is "momentum"; Adam's "m", "v"; RMSprop's a "velocity", mo "momentum")
//   SGD:       v <- momentum * v - lr * g
//              w <- w + v                                    (momentum 0: w <- w - lr * g, no slot)
//              w <- w + momentum * v - lr * g                (nesterov, with the new v)
//   Adam:      m <- beta1 * m + (1 - beta1) * g
//              v <- beta2 * v + (1 - beta2) * g^2
//              w <- w - lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + epsilon)
//   RMSprop:   a <- rho * a + (1 - rho) * g^2
//              d  = lr * g / (sqrt(a) + epsilon)
//              w <- w - d                                     (momentum 0)
//              mo <- momentum * mo + d;  w <- w - mo          (momentum > 0)
// These are Keras's rules (Adam's epsilon is Keras's "epsilon hat" form).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "frontend/tensor.h"

namespace soma::nn {

using Updates = std::vector<std::pair<Tensor, Tensor>>;

class Optimizer {
 public:
  explicit Optimizer(double learning_rate) : learning_rate_(learning_rate) {}
  virtual ~Optimizer() = default;
  // Keras's class name: "SGD", "Adam", "RMSprop".
  virtual std::string name() const = 0;
  // Hyperparameters by Keras name (learning_rate included), for saving and printing.
  virtual std::map<std::string, double> config() const = 0;

  // The value fed as "lr" on the next step; set it between steps or epochs (no recompilation).
  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double lr);

  // Appends (parameter, new value) pairs for every parameter and slot to `updates`. params[i]
  // must be a parameter (f32 or f64) of the current Context and grads[i] its gradient; `lr` an
  // f32 scalar and `step` an i32 scalar tensor. Throws ValueError for mismatched lists.
  virtual void build_updates(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                             const Tensor& lr, const Tensor& step, Updates& updates) const = 0;
  // The slot names this optimizer keeps per parameter ("momentum", "m", "v", ...).
  virtual std::vector<std::string> slot_names() const = 0;

 protected:
  // The parameter "<param name>/<slot>" of `param`'s type, zero-initialized.
  static Tensor slot(const Tensor& param, const std::string& slot);

 private:
  double learning_rate_;
};

using OptimizerPtr = std::shared_ptr<Optimizer>;

class SGD : public Optimizer {
 public:
  explicit SGD(double learning_rate = 0.01, double momentum = 0.0, bool nesterov = false);
  std::string name() const override { return "SGD"; }
  std::map<std::string, double> config() const override;
  void build_updates(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                     const Tensor& lr, const Tensor& step, Updates& updates) const override;
  std::vector<std::string> slot_names() const override;
  double momentum() const { return momentum_; }
  bool nesterov() const { return nesterov_; }

 private:
  double momentum_;
  bool nesterov_;
};

class Adam : public Optimizer {
 public:
  explicit Adam(double learning_rate = 0.001, double beta_1 = 0.9, double beta_2 = 0.999,
                double epsilon = 1e-7);
  std::string name() const override { return "Adam"; }
  std::map<std::string, double> config() const override;
  void build_updates(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                     const Tensor& lr, const Tensor& step, Updates& updates) const override;
  std::vector<std::string> slot_names() const override { return {"m", "v"}; }

 private:
  double beta_1_, beta_2_, epsilon_;
};

class RMSprop : public Optimizer {
 public:
  explicit RMSprop(double learning_rate = 0.001, double rho = 0.9, double momentum = 0.0,
                   double epsilon = 1e-7);
  std::string name() const override { return "RMSprop"; }
  std::map<std::string, double> config() const override;
  void build_updates(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                     const Tensor& lr, const Tensor& step, Updates& updates) const override;
  std::vector<std::string> slot_names() const override;

 private:
  double rho_, momentum_, epsilon_;
};

// By name with Keras's defaults: "sgd", "adam", "rmsprop" (case-insensitive). Throws NameError
// listing the known names.
OptimizerPtr get_optimizer(const std::string& name);
// From a name and config() values (unknown keys: ValueError), as Model::save writes them.
OptimizerPtr optimizer_from_config(const std::string& name,
                                   const std::map<std::string, double>& config);

}  // namespace soma::nn
