// Internal: the training core that every model kind shares (Model::Impl). It checks the arrays
// given to fit / evaluate / predict against the model, builds and caches the compiled functions
// (one training step, one test step and one prediction per batch size and label types), runs
// them batch by batch and averages the logs.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "frontend/nn/model.h"

namespace soma::nn {

struct Model::Impl {
  std::map<std::string, Compiled> train, test, predict;
  // Called around compiling a training or test step (fit shows "compiling…" and lets the
  // callbacks see an interrupt before the step runs); empty outside fit.
  std::function<void()> compile_begin, compile_end;
  // Per model input: the id ranges its data must respect ([0, bound), by layer), found once by a
  // symbolic forward pass.
  struct IdBound {
    int64_t bound;
    std::string layer;
  };
  std::optional<std::vector<std::vector<IdBound>>> id_bounds;

  // Sums of the statistics of metrics that have them (AUC), by logged name, since the epoch
  // (or evaluation) began.
  std::map<std::string, std::vector<double>> statistics;
  // The logged values of a step's outputs (statistics added to the sums above).
  Logs to_logs(const Model& m, const std::vector<Array>& outs);
  // The logged names whose values are running results over the batches (not batch means).
  static std::set<std::string> running_names(const Model& m);

  void clear() {
    statistics.clear();
    train.clear();
    test.clear();
    predict.clear();
    id_bounds.reset();
  }

  // Checks the number of input arrays, their shapes and dtypes and that they have one number of
  // samples (building an unbuilt model from them); returns that number.
  static int64_t prepare_x(Model& m, const Arrays& xs, const char* what);
  // Checks one label array per output against its loss and output (and `rows` samples); returns
  // the dtypes the labels are fed as.
  static std::vector<DType> check_y(Model& m, const Arrays& ys, int64_t rows, const char* what);
  static void need_compiled(const Model& m, const char* what);
  // Checks every id of every input that feeds an Embedding (or another layer with an id range):
  // ValueError naming the layer, the id, where it is and the range.
  static void check_ids(Model& m, const Arrays& xs, const char* what);

  // The graph inputs' names: "x"/"y" for one input/output, else "x0", "x1", ... / "y0", ...
  static std::string x_name(const Model& m, size_t i);
  static std::string y_name(const Model& m, size_t i);

  Compiled& train_step(Model& m, int64_t batch, const std::vector<TensorType>& labels);
  Compiled& test_step(Model& m, int64_t batch, const std::vector<TensorType>& labels);
  Compiled& predict_step(Model& m, int64_t batch);

  // One training (test) step on a batch that prepare_x/check_y accepted.
  Logs train_batch(Model& m, const std::vector<Array>& x, const std::vector<Array>& y,
                   const std::vector<DType>& label_dtypes);
  Logs test_batch(Model& m, const std::vector<Array>& x, const std::vector<Array>& y,
                  const std::vector<DType>& label_dtypes);

  // Loss and metrics over rows [begin, end) of (x, y) (end -1: all), batch by batch.
  Logs evaluate(Model& m, const Arrays& x, const Arrays& y, int64_t batch_size, int verbose,
                std::ostream& out, bool tty, int64_t begin = 0, int64_t end = -1);
};

}  // namespace soma::nn
