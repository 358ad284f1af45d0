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
  // After fit compiled a step (the first batch, or a batch of a new size), before it runs.
  virtual void on_step_compiled(Model& /*model*/) {}
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

// Keras's ReduceLROnPlateau: when `monitor` has not improved by more than min_delta for
// `patience` epochs, the learning rate is multiplied by `factor` (< 1), not below min_lr; then
// `cooldown` epochs pass before waiting starts again. mode as EarlyStopping's. With verbose, says
// so on `out` (stdout by default).
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(std::string monitor = "val_loss", double factor = 0.1,
                             int patience = 10, std::string mode = "auto", double min_delta = 1e-4,
                             int cooldown = 0, double min_lr = 0.0, bool verbose = false,
                             std::ostream* out = nullptr);
  void on_train_begin(Model& model) override;
  void on_epoch_end(Model& model, int epoch, const Logs& logs) override;

 private:
  std::string monitor_, mode_;
  double factor_;
  int patience_;
  double min_delta_;
  int cooldown_;
  double min_lr_;
  bool verbose_;
  std::ostream* out_;
  double best_ = 0;
  bool have_best_ = false;
  int wait_ = 0, cooldown_left_ = 0;
};

// Keras's ModelCheckpoint: saves the model (or only its weights) after each epoch to `filepath`,
// whose {epoch} (1-based, as Keras) and {<log name>} fields are filled in, with an optional
// format spec: {epoch:02d}, {val_loss:.4f}. With save_best_only, only when `monitor` improved
// (mode as EarlyStopping's). Saves are atomic: an interrupted save keeps the previous file.
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string filepath, std::string monitor = "val_loss",
                           bool save_best_only = false, bool save_weights_only = false,
                           std::string mode = "auto", bool verbose = false,
                           std::ostream* out = nullptr);
  void on_train_begin(Model& model) override;
  void on_epoch_end(Model& model, int epoch, const Logs& logs) override;
  // `filepath` with the fields filled in for `epoch` (0-based) and `logs`; ValueError for a field
  // that names nothing or a spec other than [0][width]d / .[precision]f.
  std::string path_for(int epoch, const Logs& logs) const;

 private:
  std::string filepath_, monitor_, mode_;
  bool best_only_, weights_only_, verbose_;
  std::ostream* out_;
  double best_ = 0;
  bool have_best_ = false;
};

// Keras's CSVLogger: one row per epoch, "epoch" (0-based) and then the epoch's logs, under a
// header row; with append, rows are added to an existing file (its header kept). Each row is
// flushed at the end of its epoch; a write that fails is an IOError naming the file.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string filename, std::string separator = ",", bool append = false);
  void on_train_begin(Model& model) override;
  void on_epoch_end(Model& model, int epoch, const Logs& logs) override;

 private:
  std::string filename_, sep_;
  bool append_;
  bool header_written_ = false;
};

// Calls the given functions (any may be empty).
class LambdaCallback : public Callback {
 public:
  std::function<void(Model&, int)> epoch_begin;
  std::function<void(Model&, int, const Logs&)> epoch_end;
  std::function<void(Model&, int64_t, const Logs&)> batch_end;
  std::function<void(Model&)> step_compiled;
  void on_step_compiled(Model& model) override {
    if (step_compiled) step_compiled(model);
  }
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
