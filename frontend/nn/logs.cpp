#include "frontend/nn/logs.h"

#include "graph/error.h"

namespace soma::nn {

void Logs::set(const std::string& name, double value) {
  for (auto& [k, v] : items_) {
    if (k == name) {
      v = value;
      return;
    }
  }
  items_.emplace_back(name, value);
}

std::optional<double> Logs::get(const std::string& name) const {
  for (const auto& [k, v] : items_)
    if (k == name) return v;
  return std::nullopt;
}

double Logs::at(const std::string& name) const {
  if (auto v = get(name)) return *v;
  std::string list;
  for (const auto& [k, v] : items_) list += (list.empty() ? "" : ", ") + k;
  SOMA_THROW(NameError, "no value '" << name << "' in the logs (present: "
                                     << (list.empty() ? "none" : list) << ")");
}

}  // namespace soma::nn
