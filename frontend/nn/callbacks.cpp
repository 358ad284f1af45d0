#include "frontend/nn/callbacks.h"

#include <cmath>
#include <iostream>
#include <optional>

#include "frontend/nn/model.h"
#include "graph/error.h"

namespace soma::nn {

EarlyStopping::EarlyStopping(std::string monitor, int patience, double min_delta, std::string mode,
                             bool restore_best_weights)
    : monitor_(std::move(monitor)),
      mode_(std::move(mode)),
      patience_(patience),
      min_delta_(std::fabs(min_delta)),
      restore_(restore_best_weights) {
  if (mode_ == "auto") mode_ = monitor_.find("acc") != std::string::npos ? "max" : "min";
  if (mode_ != "min" && mode_ != "max")
    SOMA_THROW(ValueError,
               "EarlyStopping: mode must be \"min\", \"max\" or \"auto\", got \"" << mode_ << "\"");
  if (patience < 0)
    SOMA_THROW(ValueError, "EarlyStopping: patience must be >= 0, got " << patience);
}

void EarlyStopping::on_train_begin(Model&) {
  have_best_ = false;
  wait_ = 0;
  stopped_epoch_ = -1;
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(Model& model, int epoch, const Logs& logs) {
  auto v = logs.get(monitor_);
  if (!v) {
    std::string list;
    for (const auto& [k, x] : logs.items()) list += (list.empty() ? "" : ", ") + k;
    SOMA_THROW(NameError, "EarlyStopping: the monitored value '"
                              << monitor_ << "' is not in the epoch's logs (" << list
                              << "); validation values need validation data");
  }
  bool better = !have_best_ || (mode_ == "min" ? *v < best_ - min_delta_ : *v > best_ + min_delta_);
  if (better) {
    best_ = *v;
    have_best_ = true;
    wait_ = 0;
    if (restore_) {
      best_weights_.clear();
      for (const Weight& w : model.weights())
        best_weights_.emplace_back(w.name, model.params().get(w.name).clone());
    }
    return;
  }
  if (++wait_ >= patience_) {
    stopped_epoch_ = epoch;
    model.set_stop_training(true);
  }
}

void EarlyStopping::on_train_end(Model& model) {
  if (!restore_ || best_weights_.empty()) return;
  for (const auto& [name, value] : best_weights_) model.params().assign(name, value);
}

void LearningRateScheduler::on_epoch_begin(Model& model, int epoch) {
  if (!model.optimizer()) return;
  model.optimizer()->set_learning_rate(schedule_(epoch, model.optimizer()->learning_rate()));
}

void TerminateOnNaN::on_batch_end(Model& model, int64_t batch, const Logs& logs) {
  std::optional<double> loss = logs.get("loss");
  if (!loss || std::isfinite(*loss)) return;
  (out_ ? *out_ : std::cout) << "Batch " << batch << ": Invalid loss, terminating training"
                             << std::endl;
  model.set_stop_training(true);
}

}  // namespace soma::nn
