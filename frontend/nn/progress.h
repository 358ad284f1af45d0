// Keras-like progress output of fit/evaluate.
//
// On a terminal (verbose 1): one bar per epoch, redrawn in place with '\r':
//   Epoch 1/5
//   120/422 [======>.......................] - ETA: 12s - loss: 0.6123 - accuracy: 0.7811
// ending with the epoch's time and values (validation included):
//   422/422 [==============================] - 21s 50ms/step - loss: 0.5213 - accuracy: 0.8121 -
//   val_loss: 0.4412 - val_accuracy: 0.8433
// Not on a terminal (or verbose 2): one line per epoch, like Keras's verbose=2:
//   Epoch 1/5 - 2.1s - loss: 0.5213 - accuracy: 0.8121 - val_loss: 0.4412 - val_accuracy: 0.8433
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

#include "frontend/nn/logs.h"

namespace soma::nn {

// Whether standard output is a terminal (isatty(1)).
bool stdout_is_tty();

class ProgressBar {
 public:
  // `epoch` is 1-based for display (0: evaluation, no "Epoch" header; its one-line form is
  // "313/313 - 0.4s - loss: ..."); `tty` selects the in-place bar (else one line at finish).
  // total_steps may be 0 (an empty epoch).
  ProgressBar(std::ostream& out, int epoch, int epochs, int64_t total_steps, bool tty);
  // After step `step` (1-based) with the running (epoch-average) logs; redraws the bar on a
  // terminal at most ~10 times a second (and always on the last step), else prints nothing.
  void update(int64_t step, const Logs& logs);
  // Before step `step` + 1 while its function compiles: "compiling…" on the bar's line (on a
  // terminal; nothing otherwise).
  void compiling(int64_t step);
  // Ends the epoch with its final logs (validation values included): the bar's final form, or the
  // one-line summary.
  void finish(const Logs& logs);

  // "0.5213" style: 4 decimals, or scientific for very small/large magnitudes (as Keras).
  static std::string format_value(double v);
  // "2.1s", "12s", "1:02:03" style durations.
  static std::string format_duration(double seconds);

 private:
  std::ostream& out_;
  int epoch_, epochs_;
  int64_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t last_step_ = 0;
  size_t last_width_ = 0;
  bool drawn_ = false;
};

}  // namespace soma::nn
