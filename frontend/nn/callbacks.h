// Callbacks of fit: hooks called at the start and end of training, of each epoch and of each
// batch. A callback may change the optimizer's learning rate (applied from the next step, no
// recompilation) or ask the model to stop after the current epoch.
#pragma once

#include <functional>
#include <iosfwd>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "frontend/nn/logs.h"
#include "runtime/array.h"

namespace soma::nn {

class Model;

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Model& /*model*/) {}
  // epoch: 0-based.
  virtual void on_epoch_begin(Model& /*model*/, int /*epoch*/) {}
  // batch: 0-based within the epoch; logs: the batch's loss and metrics.
  virtual void on_batch_end(Model& /*model*/, int64_t /*batch*/, const Logs& /*logs*/) {}
  // logs: the epoch's averages, with val_ values when validating.
  virtual void on_epoch_end(Model& /*model*/, int /*epoch*/, const Logs& /*logs*/) {}
  virtual void on_train_end(Model& /*model*/) {}
};

using CallbackPtr = std::shared_ptr<Callback>;

// Stops training when `monitor` has not improved by more than min_delta for `patience` epochs.
// mode: "min", "max", or "auto" (max for names containing "acc", else min). With
// restore_best_weights, the weights of the best epoch are put back at the end.
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(std::string monitor = "val_loss", int patience = 0, double min_delta = 0.0,
                         std::string mode = "auto", bool restore_best_weights = false);
  void on_train_begin(Model& model) override;
  void on_epoch_end(Model& model, int epoch, const Logs& logs) override;
  void on_train_end(Model& model) override;
  // The epoch training stopped after (-1 if it ran to the end).
  int stopped_epoch() const { return stopped_epoch_; }

 private:
  std::string monitor_, mode_;
  int patience_;
  double min_delta_;
  bool restore_;
  double best_ = 0;
  int wait_ = 0, stopped_epoch_ = -1;
  bool have_best_ = false;
  std::vector<std::pair<std::string, Array>> best_weights_;
};

// Ends fit at the first batch whose loss is NaN or infinite, without an error (Keras's
// TerminateOnNaN): prints "Batch N: Invalid loss, terminating training" to `out` (stdout by
// default). fit puts the weights back as they were at the start of that epoch either way; without
// this callback the non-finite loss is an error.
class TerminateOnNaN : public Callback {
 public:
  explicit TerminateOnNaN(std::ostream* out = nullptr) : out_(out) {}
  void on_batch_end(Model& model, int64_t batch, const Logs& logs) override;

 private:
  std::ostream* out_;
};

// Sets the learning rate at the start of each epoch to schedule(epoch, current lr).
class LearningRateScheduler : public Callback {
 public:
  explicit LearningRateScheduler(std::function<double(int epoch, double lr)> schedule)
      : schedule_(std::move(schedule)) {}
  void on_epoch_begin(Model& model, int epoch) override;

 private:
  std::function<double(int, double)> schedule_;
};

// Calls the given functions (any may be empty).
class LambdaCallback : public Callback {
 public:
  std::function<void(Model&, int)> epoch_begin;
  std::function<void(Model&, int, const Logs&)> epoch_end;
  std::function<void(Model&, int64_t, const Logs&)> batch_end;
  void on_epoch_begin(Model& model, int epoch) override {
    if (epoch_begin) epoch_begin(model, epoch);
  }
  void on_epoch_end(Model& model, int epoch, const Logs& logs) override {
    if (epoch_end) epoch_end(model, epoch, logs);
  }
  void on_batch_end(Model& model, int64_t batch, const Logs& logs) override {
    if (batch_end) batch_end(model, batch, logs);
  }
};

}  // namespace soma::nn
