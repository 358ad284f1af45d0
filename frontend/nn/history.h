// History: what fit returns — per-epoch values of the loss and metrics (and their val_ forms),
// like Keras's History.history, exportable to CSV.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "frontend/nn/logs.h"

namespace soma::nn {

class History {
 public:
  // Appends one epoch's logs (keys not seen before get NaN for the earlier epochs).
  void append(int epoch, const Logs& logs);
  // Epoch numbers, 0-based as in Keras (initial_epoch + i).
  const std::vector<int>& epochs() const { return epochs_; }
  // The keys in first-seen order: "loss", "accuracy", "val_loss", "val_accuracy", ...
  const std::vector<std::string>& keys() const { return keys_; }
  // One value per epoch; throws NameError listing the keys when `key` is absent.
  const std::vector<double>& operator[](const std::string& key) const;
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  size_t size() const { return epochs_.size(); }

  // CSV with a header "epoch,loss,accuracy,..." and one row per epoch; values printed with up to
  // 9 significant digits (round-trips f32). write_csv writes atomically (temporary file, then
  // rename) and throws IOError when it cannot.
  std::string to_csv() const;
  void write_csv(const std::string& path) const;

 private:
  std::vector<int> epochs_;
  std::vector<std::string> keys_;
  std::map<std::string, std::vector<double>> values_;
};

}  // namespace soma::nn
