// kir::difference: structural equality of kernel-IR programs (graph/kernel_ir.h).
#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "graph/kernel_ir.h"

namespace soma::kir {

namespace {

bool same_value(double x, double y) {
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  return x == y && std::signbit(x) == std::signbit(y);
}

class Compare {
 public:
  Compare(const Program& a, const Program& b) : a_(a), b_(b) {}

  std::optional<std::string> run() {
    if (a_.buffers.size() != b_.buffers.size())
      return count("buffers", a_.buffers.size(), b_.buffers.size());
    for (size_t i = 0; i < a_.buffers.size(); ++i)
      if (auto d = buffer(a_.buffers[i], b_.buffers[i]))
        return "buffer " + a_.buffers[i].name + ": " + *d;
    if (a_.outputs != b_.outputs) return std::string("the outputs differ");
    if (a_.updates != b_.updates) return std::string("the updates differ");
    if (a_.arena_bytes != b_.arena_bytes || a_.unplanned_bytes != b_.unplanned_bytes)
      return std::string("the arena sizes differ");
    if (a_.kernels.size() != b_.kernels.size())
      return count("kernels", a_.kernels.size(), b_.kernels.size());
    for (size_t i = 0; i < a_.kernels.size(); ++i) {
      ka_ = &a_.kernels[i];
      kb_ = &b_.kernels[i];
      memo_.clear();
      if (auto d = kernel()) return "kernel " + ka_->name + ": " + *d;
    }
    return std::nullopt;
  }

 private:
  const Program &a_, &b_;
  const Kernel *ka_ = nullptr, *kb_ = nullptr;
  std::map<std::pair<ExprId, ExprId>, bool> memo_;

  static std::string count(const char* what, size_t x, size_t y) {
    return std::to_string(x) + " " + what + " against " + std::to_string(y);
  }

  static std::optional<std::string> buffer(const Buffer& x, const Buffer& y) {
    if (x.name != y.name) return "named " + y.name + " in the other";
    if (x.kind != y.kind)
      return std::string("kinds ") + kind_name(x.kind) + " and " + kind_name(y.kind);
    if (x.dtype != y.dtype || !(x.shape == y.shape))
      return std::string("types ") + dtype_name(x.dtype) + x.shape.str() + " and " +
             dtype_name(y.dtype) + y.shape.str();
    if (x.offset != y.offset)
      return "offsets " + std::to_string(x.offset) + " and " + std::to_string(y.offset);
    if (x.data.size() != y.data.size()) return count("values", x.data.size(), y.data.size());
    for (size_t i = 0; i < x.data.size(); ++i)
      if (!same_value(x.data[i], y.data[i])) return "value " + std::to_string(i) + " differs";
    return std::nullopt;
  }

  bool same_var(VarId x, VarId y) const {
    if ((x < 0) != (y < 0)) return false;
    if (x < 0) return true;
    const Var &vx = ka_->vars[static_cast<size_t>(x)], &vy = kb_->vars[static_cast<size_t>(y)];
    return vx.name == vy.name && vx.dtype == vy.dtype;
  }

  bool same_axes(const std::vector<Axis>& x, const std::vector<Axis>& y) const {
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i)
      if (!same_var(x[i].var, y[i].var) || x[i].extent != y[i].extent) return false;
    return true;
  }

  // Expression trees, memoized on pairs of ids (shared subtrees are compared once).
  bool same_expr(ExprId x, ExprId y) {
    if (x < 0 || y < 0) return x == y;
    auto key = std::make_pair(x, y);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    const Expr &ex = ka_->expr(x), &ey = kb_->expr(y);
    bool same = ex.kind == ey.kind && ex.dtype == ey.dtype;
    if (same) switch (ex.kind) {
        case ExprKind::Const:
          same = ex.dtype == DType::f32 || ex.dtype == DType::f64 ? same_value(ex.value, ey.value)
                                                                  : ex.value == ey.value;
          break;
        case ExprKind::Var:
          same = same_var(ex.var, ey.var);
          break;
        case ExprKind::Load:
          same = ex.buffer == ey.buffer && same_value(ex.value, ey.value);
          break;
        case ExprKind::Unary:
        case ExprKind::Binary:
          same = ex.op == ey.op;
          break;
        case ExprKind::Rand:
          same = ex.seed == ey.seed;
          break;
        case ExprKind::Word:
          same = ex.word == ey.word;
          break;
        case ExprKind::Seed:
          same = ex.seed == ey.seed && ex.var == ey.var && ex.value == ey.value;
          break;
        default:
          break;
      }
    for (int j = 0; same && j < 3; ++j) same = same_expr(ex.a[j], ey.a[j]);
    memo_[key] = same;
    return same;
  }

  std::optional<std::string> stmts(const std::vector<Stmt>& x, const std::vector<Stmt>& y) {
    if (x.size() != y.size()) return count("statements", x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const Stmt &s = x[i], &t = y[i];
      const std::string at = "statement " + std::to_string(i) + ": ";
      if (s.kind != t.kind) return at + "kinds differ";
      if (!same_var(s.var, t.var)) return at + "vars differ";
      if (s.kind == Stmt::Kind::Reduce && s.reduce_op != t.reduce_op)
        return at + "reduce ops differ";
      if (!same_axes(s.axes, t.axes)) return at + "axes differ";
      if (s.buffer != t.buffer) return at + "buffers differ";
      if (!same_expr(s.index, t.index)) return at + "indices differ";
      if (!same_expr(s.value, t.value)) return at + "values differ";
      if (auto d = stmts(s.body, t.body)) return at + *d;
    }
    return std::nullopt;
  }

  static bool same_set(std::vector<BufferId> x, std::vector<BufferId> y) {
    std::sort(x.begin(), x.end());
    std::sort(y.begin(), y.end());
    return x == y;
  }

  std::optional<std::string> kernel() {
    const Kernel &x = *ka_, &y = *kb_;
    if (x.name != y.name) return "named " + y.name + " in the other";
    if (!same_axes(x.parallel, y.parallel)) return std::string("parallel axes differ");
    if (x.sequential != y.sequential) return std::string("one is sequential");
    if (!same_set(x.reads, y.reads) || !same_set(x.writes, y.writes))
      return std::string("reads or writes differ");
    if (x.is_contraction != y.is_contraction) return std::string("one is a contraction");
    if (x.is_contraction) {
      const Contraction &c = x.contraction, &d = y.contraction;
      if (!same_axes(c.batch, d.batch) || !same_axes({c.k}, {d.k}) || !same_var(c.acc, d.acc))
        return std::string("contraction axes differ");
      if (!same_expr(c.a, d.a) || !same_expr(c.b, d.b))
        return std::string("contraction operands differ");
    }
    return stmts(x.body, y.body);
  }
};

}  // namespace

std::optional<std::string> difference(const Program& a, const Program& b) {
  return Compare(a, b).run();
}

}  // namespace soma::kir
