#include "frontend/nn/optimizers.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "graph/error.h"

namespace soma::nn {

namespace {

void check_lists(const char* who, const std::vector<Tensor>& params,
                 const std::vector<Tensor>& grads) {
  if (params.size() != grads.size())
    SOMA_THROW(ValueError,
               who << ": " << params.size() << " parameters but " << grads.size() << " gradients");
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].node().op != Op::Param)
      SOMA_THROW(ValueError, who << ": argument " << i << " is a " << op_name(params[i].node().op)
                                 << " node, not a parameter");
    if (!is_float(params[i].dtype()))
      SOMA_THROW(TypeError, who << ": parameter '" << params[i].node().attrs.get_str("name")
                                << "' is " << params[i].type().str() << "; only float "
                                << "parameters can be trained");
    if (grads[i].type() != params[i].type())
      SOMA_THROW(TypeError, who << ": the gradient of '" << params[i].node().attrs.get_str("name")
                                << "' is " << grads[i].type().str() << ", expected "
                                << params[i].type().str());
  }
}

// The f32 scalar `s` in the parameter's dtype.
Tensor in_dtype(const Tensor& s, const Tensor& like) {
  return s.dtype() == like.dtype() ? s : cast(s, like.dtype());
}

void check_range(const char* who, const char* what, double v, double lo, double hi,
                 bool hi_open = false) {
  if (!(v >= lo && (hi_open ? v < hi : v <= hi)))
    SOMA_THROW(ValueError, who << ": " << what << " must be in [" << lo << ", " << hi
                               << (hi_open ? ")" : "]") << ", got " << v);
}

}  // namespace

void Optimizer::set_learning_rate(double lr) {
  if (!(lr >= 0) || !std::isfinite(lr))
    SOMA_THROW(ValueError, "learning rate must be a finite non-negative number, got " << lr);
  learning_rate_ = lr;
}

Tensor Optimizer::slot(const Tensor& p, const std::string& slot_name) {
  ContextScope scope(p.context_ptr());
  return reuse_param(p.node().attrs.get_str("name") + "/" + slot_name, p.shape(), "zeros", 0,
                     p.dtype());
}

// ---- SGD
// ------------------------------------------------------------------------------------------

SGD::SGD(double learning_rate, double momentum, bool nesterov)
    : Optimizer(0.0), momentum_(momentum), nesterov_(nesterov) {
  set_learning_rate(learning_rate);
  check_range("SGD", "momentum", momentum, 0, 1);
}

std::map<std::string, double> SGD::config() const {
  return {{"learning_rate", learning_rate()},
          {"momentum", momentum_},
          {"nesterov", nesterov_ ? 1.0 : 0.0}};
}

std::vector<std::string> SGD::slot_names() const {
  if (momentum_ == 0) return {};
  return {"momentum"};
}

void SGD::build_updates(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                        const Tensor& lr0, const Tensor&, Updates& updates) const {
  check_lists("SGD", params, grads);
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& w = params[i];
    const Tensor& g = grads[i];
    Tensor lr = in_dtype(lr0, w);
    if (momentum_ == 0) {
      updates.emplace_back(w, w - lr * g);
      continue;
    }
    Tensor v = slot(w, "momentum");
    Tensor v_new = v * momentum_ - lr * g;
    updates.emplace_back(v, v_new);
    if (nesterov_)
      updates.emplace_back(w, w + v_new * momentum_ - lr * g);
    else
      updates.emplace_back(w, w + v_new);
  }
}

// ---- Adam
// -----------------------------------------------------------------------------------------

Adam::Adam(double learning_rate, double beta_1, double beta_2, double epsilon)
    : Optimizer(0.0), beta_1_(beta_1), beta_2_(beta_2), epsilon_(epsilon) {
  set_learning_rate(learning_rate);
  check_range("Adam", "beta_1", beta_1, 0, 1, true);
  check_range("Adam", "beta_2", beta_2, 0, 1, true);
  if (!(epsilon > 0)) SOMA_THROW(ValueError, "Adam: epsilon must be positive, got " << epsilon);
}

std::map<std::string, double> Adam::config() const {
  return {{"learning_rate", learning_rate()},
          {"beta_1", beta_1_},
          {"beta_2", beta_2_},
          {"epsilon", epsilon_}};
}

void Adam::build_updates(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                         const Tensor& lr0, const Tensor& step, Updates& updates) const {
  check_lists("Adam", params, grads);
  if (params.empty()) return;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& w = params[i];
    const Tensor& g = grads[i];
    DType dt = w.dtype();
    Tensor t = cast(step, dt) + 1.0;
    Tensor lr = in_dtype(lr0, w);
    Tensor alpha = lr * sqrt(1.0 - pow(beta_2_, t)) / (1.0 - pow(beta_1_, t));
    Tensor m = slot(w, "m"), v = slot(w, "v");
    Tensor m_new = m * beta_1_ + g * (1.0 - beta_1_);
    Tensor v_new = v * beta_2_ + square(g) * (1.0 - beta_2_);
    updates.emplace_back(m, m_new);
    updates.emplace_back(v, v_new);
    updates.emplace_back(w, w - alpha * m_new / (sqrt(v_new) + epsilon_));
  }
}

// ---- RMSprop
// --------------------------------------------------------------------------------------

RMSprop::RMSprop(double learning_rate, double rho, double momentum, double epsilon)
    : Optimizer(0.0), rho_(rho), momentum_(momentum), epsilon_(epsilon) {
  set_learning_rate(learning_rate);
  check_range("RMSprop", "rho", rho, 0, 1, true);
  check_range("RMSprop", "momentum", momentum, 0, 1);
  if (!(epsilon > 0)) SOMA_THROW(ValueError, "RMSprop: epsilon must be positive, got " << epsilon);
}

std::map<std::string, double> RMSprop::config() const {
  return {{"learning_rate", learning_rate()},
          {"rho", rho_},
          {"momentum", momentum_},
          {"epsilon", epsilon_}};
}

std::vector<std::string> RMSprop::slot_names() const {
  if (momentum_ == 0) return {"velocity"};
  return {"velocity", "momentum"};
}

void RMSprop::build_updates(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                            const Tensor& lr0, const Tensor&, Updates& updates) const {
  check_lists("RMSprop", params, grads);
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& w = params[i];
    const Tensor& g = grads[i];
    Tensor lr = in_dtype(lr0, w);
    Tensor a = slot(w, "velocity");
    Tensor a_new = a * rho_ + square(g) * (1.0 - rho_);
    updates.emplace_back(a, a_new);
    Tensor d = lr * g / (sqrt(a_new) + epsilon_);
    if (momentum_ == 0) {
      updates.emplace_back(w, w - d);
    } else {
      Tensor mo = slot(w, "momentum");
      Tensor mo_new = mo * momentum_ + d;
      updates.emplace_back(mo, mo_new);
      updates.emplace_back(w, w - mo_new);
    }
  }
}

// ---- by name
// --------------------------------------------------------------------------------------

namespace {
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}
}  // namespace

OptimizerPtr get_optimizer(const std::string& name) {
  std::string n = lower(name);
  if (n == "sgd") return std::make_shared<SGD>();
  if (n == "adam") return std::make_shared<Adam>();
  if (n == "rmsprop") return std::make_shared<RMSprop>();
  SOMA_THROW(NameError, "unknown optimizer '" << name << "'; known: sgd, adam, rmsprop");
}

OptimizerPtr optimizer_from_config(const std::string& name,
                                   const std::map<std::string, double>& config) {
  std::string n = lower(name);
  auto get = [&](const char* key, double fallback) {
    auto it = config.find(key);
    return it == config.end() ? fallback : it->second;
  };
  auto check = [&](std::initializer_list<const char*> known) {
    for (const auto& [k, v] : config) {
      bool ok = false;
      for (const char* kk : known) ok = ok || k == kk;
      if (!ok) SOMA_THROW(ValueError, name << ": unknown optimizer argument '" << k << "'");
    }
  };
  if (n == "sgd") {
    check({"learning_rate", "momentum", "nesterov"});
    return std::make_shared<SGD>(get("learning_rate", 0.01), get("momentum", 0),
                                 get("nesterov", 0) != 0);
  }
  if (n == "adam") {
    check({"learning_rate", "beta_1", "beta_2", "epsilon"});
    return std::make_shared<Adam>(get("learning_rate", 0.001), get("beta_1", 0.9),
                                  get("beta_2", 0.999), get("epsilon", 1e-7));
  }
  if (n == "rmsprop") {
    check({"learning_rate", "rho", "momentum", "epsilon"});
    return std::make_shared<RMSprop>(get("learning_rate", 0.001), get("rho", 0.9),
                                     get("momentum", 0), get("epsilon", 1e-7));
  }
  return get_optimizer(name);  // throws NameError
}

}  // namespace soma::nn
