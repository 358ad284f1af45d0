#include "frontend/nn/history.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "graph/error.h"
#include "runtime/file_io.h"

namespace soma::nn {

void History::append(int epoch, const Logs& logs, double seconds) {
  for (const auto& [k, v] : logs.items()) {
    if (!values_.count(k)) {
      keys_.push_back(k);
      values_[k] = std::vector<double>(epochs_.size(), std::numeric_limits<double>::quiet_NaN());
    }
  }
  epochs_.push_back(epoch);
  times_.push_back(seconds);
  for (const auto& k : keys_) {
    auto v = logs.get(k);
    values_[k].push_back(v ? *v : std::numeric_limits<double>::quiet_NaN());
  }
}

const std::vector<double>& History::operator[](const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) {
    std::string list;
    for (const auto& k : keys_) list += (list.empty() ? "" : ", ") + k;
    SOMA_THROW(NameError,
               "History has no '" << key << "' (keys: " << (list.empty() ? "none" : list) << ")");
  }
  return it->second;
}

std::string History::to_csv() const {
  bool timed = false;
  for (double t : times_) timed = timed || !std::isnan(t);
  std::string s = "epoch";
  for (const auto& k : keys_) s += "," + k;
  s += timed ? ",time\n" : "\n";
  char buf[64];
  for (size_t i = 0; i < epochs_.size(); ++i) {
    s += std::to_string(epochs_[i]);
    for (const auto& k : keys_) {
      double v = values_.at(k)[i];
      if (std::isnan(v)) {
        s += ",";
        continue;
      }
      std::snprintf(buf, sizeof buf, ",%.9g", v);
      s += buf;
    }
    if (timed && !std::isnan(times_[i])) {
      std::snprintf(buf, sizeof buf, ",%.6f", times_[i]);
      s += buf;
    } else if (timed) {
      s += ",";
    }
    s += "\n";
  }
  return s;
}

void History::write_csv(const std::string& path) const {
  write_file_atomic(path, to_csv(), "history CSV");
}

}  // namespace soma::nn
