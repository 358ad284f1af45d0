// Logs: the named scalar values of a step or an epoch ("loss", "accuracy", "val_loss", ...), in
// the order they are reported.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace soma::nn {

class Logs {
 public:
  // Sets `name` (appending it when new, keeping its position otherwise).
  void set(const std::string& name, double value);
  std::optional<double> get(const std::string& name) const;
  // Throws NameError (listing the present names) when absent.
  double at(const std::string& name) const;
  bool has(const std::string& name) const { return get(name).has_value(); }
  const std::vector<std::pair<std::string, double>>& items() const { return items_; }
  bool empty() const { return items_.empty(); }

 private:
  std::vector<std::pair<std::string, double>> items_;
};

}  // namespace soma::nn
