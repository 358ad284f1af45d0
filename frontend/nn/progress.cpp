#include "frontend/nn/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace soma::nn {

bool stdout_is_tty() {
  return ::isatty(1) == 1;
}

std::string ProgressBar::format_value(double v) {
  char buf[64];
  double a = std::fabs(v);
  if (v != 0 && std::isfinite(v) && (a < 1e-3 || a >= 1e6))
    std::snprintf(buf, sizeof buf, "%.4e", v);
  else
    std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string ProgressBar::format_duration(double s) {
  char buf[64];
  if (s < 10) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    long t = std::lround(s);
    if (t < 60)
      std::snprintf(buf, sizeof buf, "%lds", t);
    else
      std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  } else {
    long t = std::lround(s);
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  }
  return buf;
}

namespace {

std::string values(const Logs& logs) {
  std::string s;
  for (const auto& [k, v] : logs.items()) s += " - " + k + ": " + ProgressBar::format_value(v);
  return s;
}

std::string bar(int64_t step, int64_t total) {
  constexpr int kWidth = 30;
  int filled = total > 0 ? static_cast<int>(kWidth * std::min(step, total) / total) : kWidth;
  std::string b = "[";
  if (filled > 0) {
    b += std::string(static_cast<size_t>(filled - 1), '=');
    b += step < total ? '>' : '=';
  }
  b += std::string(static_cast<size_t>(kWidth - filled), '.');
  return b + "]";
}

std::string per_step(double seconds, int64_t steps) {
  if (steps <= 0) return "";
  double per = seconds / static_cast<double>(steps);
  char buf[64];
  if (per >= 1)
    std::snprintf(buf, sizeof buf, " %.0fs/step", per);
  else if (per >= 1e-3)
    std::snprintf(buf, sizeof buf, " %.0fms/step", per * 1e3);
  else
    std::snprintf(buf, sizeof buf, " %.0fus/step", per * 1e6);
  return buf;
}

}  // namespace

ProgressBar::ProgressBar(std::ostream& out, int epoch, int epochs, int64_t total_steps, bool tty)
    : out_(out), epoch_(epoch), epochs_(epochs), total_(total_steps), tty_(tty) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
  if (tty_ && epoch_ > 0) out_ << "Epoch " << epoch_ << "/" << epochs_ << "\n" << std::flush;
}

void ProgressBar::update(int64_t step, const Logs& logs) {
  last_step_ = step;
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && step < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double eta =
      step > 0 ? elapsed / static_cast<double>(step) * static_cast<double>(total_ - step) : 0;
  std::string digits = std::to_string(total_);
  std::string s = std::to_string(step);
  s = std::string(digits.size() > s.size() ? digits.size() - s.size() : 0, ' ') + s;
  std::string line =
      s + "/" + digits + " " + bar(step, total_) + " - ETA: " + format_duration(eta) + values(logs);
  std::string padding(last_width_ > line.size() ? last_width_ - line.size() : 0, ' ');
  last_width_ = line.size();
  out_ << "\r" << line << padding << std::flush;
}

void ProgressBar::compiling(int64_t step) {
  if (!tty_) return;
  std::string digits = std::to_string(total_);
  std::string s = std::to_string(step);
  s = std::string(digits.size() > s.size() ? digits.size() - s.size() : 0, ' ') + s;
  std::string line = s + "/" + digits + " " + bar(step, total_) + " - compiling\u2026";
  std::string padding(last_width_ > line.size() ? last_width_ - line.size() : 0, ' ');
  last_width_ = line.size();
  drawn_ = false;  // the next update draws over it at once
  out_ << "\r" << line << padding << std::flush;
}

void ProgressBar::finish(const Logs& logs) {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (tty_) {
    std::string digits = std::to_string(total_);
    std::string line = digits + "/" + digits + " " + bar(total_, total_) + " - " +
                       format_duration(elapsed) + per_step(elapsed, last_step_) + values(logs);
    std::string padding(last_width_ > line.size() ? last_width_ - line.size() : 0, ' ');
    out_ << "\r" << line << padding << "\n" << std::flush;
    return;
  }
  if (epoch_ > 0)
    out_ << "Epoch " << epoch_ << "/" << epochs_ << " - " << format_duration(elapsed)
         << values(logs) << "\n"
         << std::flush;
  else
    out_ << total_ << "/" << total_ << " - " << format_duration(elapsed) << values(logs) << "\n"
         << std::flush;
}

}  // namespace soma::nn
