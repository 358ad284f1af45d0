#include "frontend/init.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "graph/error.h"
#include "graph/philox.h"

namespace soma {

namespace {

void fans(const Shape& s, double* fan_in, double* fan_out) {
  if (s.rank() == 0) {
    *fan_in = *fan_out = 1;
  } else if (s.rank() == 1) {
    *fan_in = *fan_out = static_cast<double>(s[0]);
  } else if (s.rank() == 2) {
    *fan_in = static_cast<double>(s[0]);
    *fan_out = static_cast<double>(s[1]);
  } else {  // OIHW: receptive field = product of the trailing axes
    double rf = 1;
    for (int i = 2; i < s.rank(); ++i) rf *= static_cast<double>(s[i]);
    *fan_in = static_cast<double>(s[1]) * rf;
    *fan_out = static_cast<double>(s[0]) * rf;
  }
}

double uniform(uint64_t seed, int64_t i) {
  return philox_uniform(seed, static_cast<uint64_t>(i), 0);
}

// Standard normal, truncated at two standard deviations like Keras's truncated normal when
// `truncated` (redraws from further counters).
double normal(uint64_t seed, int64_t i, bool truncated) {
  for (uint32_t attempt = 0;; attempt += 2) {
    double u1 = philox_uniform(seed, static_cast<uint64_t>(i), 1 + attempt);
    double u2 = philox_uniform(seed, static_cast<uint64_t>(i), 2 + attempt);
    double z = std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * M_PI * u2);
    if (!truncated || std::fabs(z) <= 2.0 || attempt > 64) return z;
  }
}

// Keras's orthogonal initializer: a [rows, cols] matrix (rows = product of all axes but the last)
// with orthonormal rows or columns, whichever are fewer: the Q factor of a standard normal
// [max, min] matrix whose R has a positive diagonal (Gram-Schmidt gives that sign convention),
// transposed when rows < cols.
void fill_orthogonal(Array& a, const Shape& s, uint64_t seed) {
  int64_t cols = s.rank() == 0 ? 1 : s[s.rank() - 1];
  int64_t rows = cols == 0 ? 0 : a.numel() / cols;
  int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  if (n == 0) return;
  // q: n columns of length m, column-major; drawn column by column from the normal stream.
  std::vector<double> q(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m * n; ++i) q[static_cast<size_t>(i)] = normal(seed, i, false);
  auto col = [&](int64_t j) { return q.data() + j * m; };
  for (int64_t j = 0; j < n; ++j) {
    double* v = col(j);
    for (int pass = 0; pass < 2; ++pass)  // twice: classical Gram-Schmidt re-orthogonalized
      for (int64_t k = 0; k < j; ++k) {
        const double* u = col(k);
        double d = 0;
        for (int64_t i = 0; i < m; ++i) d += u[i] * v[i];
        for (int64_t i = 0; i < m; ++i) v[i] -= d * u[i];
      }
    double norm = 0;
    for (int64_t i = 0; i < m; ++i) norm += v[i] * v[i];
    norm = std::sqrt(norm);
    if (norm < 1e-12) SOMA_THROW(ValueError, "orthogonal initializer: degenerate draw");
    for (int64_t i = 0; i < m; ++i) v[i] /= norm;
  }
  // Element (r, c) of the result: q[r][c] when rows >= cols, else q[c][r].
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) a.set(r * cols + c, rows >= cols ? col(c)[r] : col(r)[c]);
}

}  // namespace

Array initial_value(const std::string& init, const TensorType& type, uint64_t seed) {
  Array a(type.dtype, type.shape);
  double fan_in, fan_out;
  fans(type.shape, &fan_in, &fan_out);
  int64_t n = a.numel();
  auto fill_uniform = [&](double limit) {
    for (int64_t i = 0; i < n; ++i) a.set(i, (2.0 * uniform(seed, i) - 1.0) * limit);
  };
  auto fill_normal = [&](double stddev, bool truncated) {
    // Keras scales the truncated normal so its standard deviation is `stddev`.
    double scale = truncated ? stddev / 0.87962566103423978 : stddev;
    for (int64_t i = 0; i < n; ++i) a.set(i, normal(seed, i, truncated) * scale);
  };
  if (init == "zeros") return a;
  if (init == "ones") {
    for (int64_t i = 0; i < n; ++i) a.set(i, 1.0);
  } else if (init == "glorot_uniform") {
    fill_uniform(std::sqrt(6.0 / std::max(1.0, fan_in + fan_out)));
  } else if (init == "glorot_normal") {
    fill_normal(std::sqrt(2.0 / std::max(1.0, fan_in + fan_out)), true);
  } else if (init == "he_uniform") {
    fill_uniform(std::sqrt(6.0 / std::max(1.0, fan_in)));
  } else if (init == "he_normal") {
    fill_normal(std::sqrt(2.0 / std::max(1.0, fan_in)), true);
  } else if (init == "lecun_normal") {
    fill_normal(std::sqrt(1.0 / std::max(1.0, fan_in)), true);
  } else if (init == "orthogonal") {
    fill_orthogonal(a, type.shape, seed);
  } else if (init == "uniform") {
    fill_uniform(0.05);
  } else if (init == "normal") {
    fill_normal(0.05, false);
  } else {
    SOMA_THROW(ValueError,
               "unknown initializer '"
                   << init
                   << "'; known: zeros, ones, glorot_uniform, glorot_normal, "
                      "he_uniform, he_normal, lecun_normal, orthogonal, uniform, normal");
  }
  return a;
}

}  // namespace soma
