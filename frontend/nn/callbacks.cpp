#include "frontend/nn/callbacks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include "frontend/nn/model.h"
#include "graph/error.h"

namespace soma::nn {

namespace {

// "min" or "max" for a monitored value: "auto" is max for accuracies, else min.
std::string monitor_mode(const std::string& who, const std::string& monitor, std::string mode) {
  if (mode == "auto") mode = monitor.find("acc") != std::string::npos ? "max" : "min";
  if (mode != "min" && mode != "max")
    SOMA_THROW(ValueError,
               who << ": mode must be \"min\", \"max\" or \"auto\", got \"" << mode << "\"");
  return mode;
}

double monitored(const std::string& who, const std::string& monitor, const Logs& logs) {
  if (auto v = logs.get(monitor)) return *v;
  std::string list;
  for (const auto& [k, x] : logs.items()) list += (list.empty() ? "" : ", ") + k;
  SOMA_THROW(NameError, who << ": the monitored value '" << monitor
                            << "' is not in the epoch's logs (" << list
                            << "); validation values need validation data");
}

bool improves(const std::string& mode, double v, double best, double min_delta) {
  return mode == "min" ? v < best - min_delta : v > best + min_delta;
}

}  // namespace

EarlyStopping::EarlyStopping(std::string monitor, int patience, double min_delta, std::string mode,
                             bool restore_best_weights)
    : monitor_(std::move(monitor)),
      mode_(monitor_mode("EarlyStopping", monitor_, std::move(mode))),
      patience_(patience),
      min_delta_(std::fabs(min_delta)),
      restore_(restore_best_weights) {
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
  const double v = monitored("EarlyStopping", monitor_, logs);
  if (!have_best_ || improves(mode_, v, best_, min_delta_)) {
    best_ = v;
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

ReduceLROnPlateau::ReduceLROnPlateau(std::string monitor, double factor, int patience,
                                     std::string mode, double min_delta, int cooldown,
                                     double min_lr, bool verbose, std::ostream* out)
    : monitor_(std::move(monitor)),
      mode_(monitor_mode("ReduceLROnPlateau", monitor_, std::move(mode))),
      factor_(factor),
      patience_(patience),
      min_delta_(std::fabs(min_delta)),
      cooldown_(cooldown),
      min_lr_(min_lr),
      verbose_(verbose),
      out_(out) {
  if (!(factor >= 0 && factor < 1))
    SOMA_THROW(ValueError, "ReduceLROnPlateau: factor must be in [0, 1), got " << factor);
  if (patience < 0 || cooldown < 0)
    SOMA_THROW(ValueError, "ReduceLROnPlateau: patience and cooldown must be >= 0");
  if (!(min_lr >= 0)) SOMA_THROW(ValueError, "ReduceLROnPlateau: min_lr must be >= 0");
}

void ReduceLROnPlateau::on_train_begin(Model&) {
  have_best_ = false;
  wait_ = cooldown_left_ = 0;
}

void ReduceLROnPlateau::on_epoch_end(Model& model, int epoch, const Logs& logs) {
  const double v = monitored("ReduceLROnPlateau", monitor_, logs);
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    wait_ = 0;
  }
  if (!have_best_ || improves(mode_, v, best_, min_delta_)) {
    best_ = v;
    have_best_ = true;
    wait_ = 0;
    return;
  }
  if (cooldown_left_ > 0 || ++wait_ < patience_ || !model.optimizer()) return;
  const double lr = model.optimizer()->learning_rate();
  if (lr > min_lr_) {
    const double next = std::max(lr * factor_, min_lr_);
    model.optimizer()->set_learning_rate(next);
    if (verbose_)
      (out_ ? *out_ : std::cout) << "Epoch " << epoch + 1
                                 << ": ReduceLROnPlateau reducing learning rate to " << next << "."
                                 << std::endl;
  }
  cooldown_left_ = cooldown_;
  wait_ = 0;
}

ModelCheckpoint::ModelCheckpoint(std::string filepath, std::string monitor, bool save_best_only,
                                 bool save_weights_only, std::string mode, bool verbose,
                                 std::ostream* out)
    : filepath_(std::move(filepath)),
      monitor_(std::move(monitor)),
      mode_(monitor_mode("ModelCheckpoint", monitor_, std::move(mode))),
      best_only_(save_best_only),
      weights_only_(save_weights_only),
      verbose_(verbose),
      out_(out) {
  if (filepath_.empty()) SOMA_THROW(ValueError, "ModelCheckpoint: filepath must not be empty");
  path_for(0, Logs());  // a malformed field is an error now, not after the first epoch
}

std::string ModelCheckpoint::path_for(int epoch, const Logs& logs) const {
  std::string out;
  for (size_t i = 0; i < filepath_.size(); ++i) {
    char ch = filepath_[i];
    if (ch != '{') {
      out += ch;
      continue;
    }
    const size_t close = filepath_.find('}', i);
    if (close == std::string::npos)
      SOMA_THROW(ValueError, "ModelCheckpoint: filepath '" << filepath_ << "' has an unclosed {");
    std::string field = filepath_.substr(i + 1, close - i - 1), spec;
    if (const size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    std::optional<double> v;
    if (field == "epoch")
      v = epoch + 1;
    else if (logs.empty())
      v = 0;  // checking the pattern before training
    else
      v = logs.get(field);
    if (!v)
      SOMA_THROW(ValueError, "ModelCheckpoint: filepath field {"
                                 << field
                                 << "} is neither epoch nor a logged "
                                    "value of this fit");
    char buf[64];
    int width = 0, precision = -1;
    bool zero = false, ok = true;
    if (spec.empty()) {
      if (field == "epoch")
        std::snprintf(buf, sizeof buf, "%d", epoch + 1);
      else
        std::snprintf(buf, sizeof buf, "%g", *v);
    } else if (spec.back() == 'd' || spec.back() == 'f') {
      std::string body = spec.substr(0, spec.size() - 1);
      zero = !body.empty() && body[0] == '0';
      size_t dot = body.find('.');
      std::string w = body.substr(0, dot);
      ok = w.find_first_not_of("0123456789") == std::string::npos &&
           (dot == std::string::npos ||
            (dot + 1 < body.size() &&
             body.substr(dot + 1).find_first_not_of("0123456789") == std::string::npos)) &&
           (spec.back() == 'f' || dot == std::string::npos);
      if (ok) {
        width = w.empty() ? 0 : std::min(std::stoi(w), 40);
        if (dot != std::string::npos) precision = std::min(std::stoi(body.substr(dot + 1)), 20);
        if (spec.back() == 'd')
          std::snprintf(buf, sizeof buf, zero ? "%0*lld" : "%*lld", width,
                        static_cast<long long>(std::llround(*v)));
        else
          std::snprintf(buf, sizeof buf, zero ? "%0*.*f" : "%*.*f", width,
                        precision < 0 ? 6 : precision, *v);
      }
    } else {
      ok = false;
    }
    if (!ok)
      SOMA_THROW(ValueError, "ModelCheckpoint: format spec ':" << spec << "' of {" << field
                                                               << "} is not [0][width]d or "
                                                                  "[width].[precision]f");
    out += buf;
    i = close;
  }
  return out;
}

void ModelCheckpoint::on_train_begin(Model&) {
  have_best_ = false;
}

void ModelCheckpoint::on_epoch_end(Model& model, int epoch, const Logs& logs) {
  if (best_only_) {
    const double v = monitored("ModelCheckpoint", monitor_, logs);
    if (have_best_ && !improves(mode_, v, best_, 0.0)) return;
    best_ = v;
    have_best_ = true;
  }
  const std::string path = path_for(epoch, logs);
  if (weights_only_)
    model.save_weights(path);
  else
    model.save(path);
  if (verbose_)
    (out_ ? *out_ : std::cout) << "Epoch " << epoch + 1 << ": saved the model to " << path
                               << std::endl;
}

CSVLogger::CSVLogger(std::string filename, std::string separator, bool append)
    : filename_(std::move(filename)), sep_(std::move(separator)), append_(append) {
  if (filename_.empty()) SOMA_THROW(ValueError, "CSVLogger: filename must not be empty");
  if (sep_.empty()) SOMA_THROW(ValueError, "CSVLogger: separator must not be empty");
}

void CSVLogger::on_train_begin(Model&) {
  // A new file (or, with append, the existing one: its header stays).
  header_written_ = false;
  if (append_) {
    std::ifstream existing(filename_);
    header_written_ = existing.good() && existing.peek() != std::ifstream::traits_type::eof();
  }
  std::ofstream f(filename_, append_ ? std::ios::app : std::ios::trunc);
  if (!f) SOMA_THROW(IOError, "CSVLogger: cannot write '" << filename_ << "'");
}

void CSVLogger::on_epoch_end(Model&, int epoch, const Logs& logs) {
  std::ofstream f(filename_, std::ios::app);
  if (!header_written_) {
    f << "epoch";
    for (const auto& [k, v] : logs.items()) f << sep_ << k;
    f << "\n";
    header_written_ = true;
  }
  f << epoch;
  char buf[40];
  for (const auto& [k, v] : logs.items()) {
    std::snprintf(buf, sizeof buf, "%.17g", v);
    f << sep_ << buf;
  }
  f << "\n";
  f.flush();
  if (!f) SOMA_THROW(IOError, "CSVLogger: writing '" << filename_ << "' failed (disk full?)");
}

void TerminateOnNaN::on_batch_end(Model& model, int64_t batch, const Logs& logs) {
  std::optional<double> loss = logs.get("loss");
  if (!loss || std::isfinite(*loss)) return;
  (out_ ? *out_ : std::cout) << "Batch " << batch << ": Invalid loss, terminating training"
                             << std::endl;
  model.set_stop_training(true);
}

}  // namespace soma::nn
