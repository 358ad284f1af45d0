// History: what fit returns — per-epoch values of the loss and metrics (and their val_ forms),
// like Keras's History.history, and each epoch's wall-clock time, exportable to CSV.
#pragma once

#include <limits>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "frontend/nn/logs.h"

namespace soma::nn {

class History {
 public:
  static constexpr double kNoTime = std::numeric_limits<double>::quiet_NaN();

  // Appends one epoch's logs (keys not seen before get NaN for the earlier epochs) and, when
  // known, its wall-clock seconds (fit records the training steps and the validation).
  void append(int epoch, const Logs& logs, double seconds = kNoTime);
  // Epoch numbers, 0-based as in Keras (initial_epoch + i).
  const std::vector<int>& epochs() const { return epochs_; }
  // The keys in first-seen order: "loss", "accuracy", "val_loss", "val_accuracy", ...
  const std::vector<std::string>& keys() const { return keys_; }
  // One value per epoch; throws NameError listing the keys when `key` is absent.
  const std::vector<double>& operator[](const std::string& key) const;
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  size_t size() const { return epochs_.size(); }
  // Each epoch's wall-clock seconds (NaN where not recorded): the first epoch's includes compiling
  // the training step. Not one of the keys, so callbacks and the progress line never see it.
  const std::vector<double>& times() const { return times_; }

  // CSV with a header "epoch,loss,accuracy,..." and one row per epoch; values printed with up to
  // 9 significant digits (round-trips f32). When any epoch's time is known, a last column "time"
  // holds the seconds (microsecond resolution). write_csv writes atomically (temporary file, then
  // rename) and throws IOError when it cannot.
  std::string to_csv() const;
  void write_csv(const std::string& path) const;

 private:
  std::vector<int> epochs_;
  std::vector<std::string> keys_;
  std::map<std::string, std::vector<double>> values_;
  std::vector<double> times_;
};

}  // namespace soma::nn
