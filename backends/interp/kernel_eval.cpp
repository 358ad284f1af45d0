// The kernel-IR evaluator (see kernel_eval.h for the semantics it defines).
#include "backends/interp/kernel_eval.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

#include "backends/host_buffers.h"
#include "backends/interp/scalar_ops.h"
#include "graph/error.h"
#include "graph/kernel_verify.h"
#include "graph/philox.h"

namespace soma {

using kir::Axis;
using kir::Buffer;
using kir::BufferId;
using kir::Expr;
using kir::ExprId;
using kir::ExprKind;
using kir::Kernel;
using kir::Program;
using kir::Stmt;
using kir::VarId;
using kir::WordOp;

namespace {

constexpr unsigned char kPoison = 0xFF;  // f32/f64: NaN; i32: -1; bool: true

// One buffer's memory for one run: owned by the run, a feed, the ParamStore or the arena.
struct Storage {
  std::byte* base = nullptr;
  DType dtype = DType::f32;
  int64_t numel = 0;

  double get(int64_t i) const {
    const std::byte* q = base + static_cast<size_t>(i) * dtype_size(dtype);
    switch (dtype) {
      case DType::f32: {
        float v;
        std::memcpy(&v, q, sizeof v);
        return v;
      }
      case DType::f64: {
        double v;
        std::memcpy(&v, q, sizeof v);
        return v;
      }
      case DType::i32: {
        int32_t v;
        std::memcpy(&v, q, sizeof v);
        return v;
      }
      case DType::boolean:
        return *q != std::byte{0} ? 1.0 : 0.0;
    }
    return 0;
  }

  // `v` already converted to dtype.
  void set(int64_t i, double v) {
    std::byte* q = base + static_cast<size_t>(i) * dtype_size(dtype);
    switch (dtype) {
      case DType::f32: {
        float f = static_cast<float>(v);
        std::memcpy(q, &f, sizeof f);
        break;
      }
      case DType::f64:
        std::memcpy(q, &v, sizeof v);
        break;
      case DType::i32: {
        int32_t x = static_cast<int32_t>(v);
        std::memcpy(q, &x, sizeof x);
        break;
      }
      case DType::boolean:
        *q = v != 0.0 ? std::byte{1} : std::byte{0};
        break;
    }
  }
};

[[noreturn]] void die(const std::string& msg) {
  const bool kernel_ir_is_valid = false;
  SOMA_CHECK(kernel_ir_is_valid) << msg;
  std::abort();
}

// Floor division and modulo by a positive divisor.
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
int64_t floor_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return r < 0 ? r + b : r;
}

// An i32 value's bits as an unsigned word.
uint32_t word_of(double v) {
  return static_cast<uint32_t>(static_cast<int32_t>(v));
}

// A word op (kernel_ir.h), its result's bits read back as an i32.
double word(WordOp op, uint32_t x, uint32_t y) {
  uint32_t r = 0;
  switch (op) {
    case WordOp::Add:
      r = x + y;
      break;
    case WordOp::Mul:
      r = x * y;
      break;
    case WordOp::MulHi:
      r = static_cast<uint32_t>((uint64_t{x} * y) >> 32);
      break;
    case WordOp::Xor:
      r = x ^ y;
      break;
    case WordOp::Shr:
      r = x >> (y & 31u);
      break;
  }
  return static_cast<int32_t>(r);
}

// Runs one kernel over the run's buffers.
class KernelRun {
 public:
  KernelRun(const Program& p, const Kernel& k, std::vector<Storage>& bufs)
      : p_(p),
        k_(k),
        bufs_(bufs),
        val_(k.vars.size(), 0.0),
        bound_(k.vars.size(), 0),
        memo_(k.exprs.size(), 0.0),
        memo_gen_(k.exprs.size(), 0) {}

  void run() {
    track_races_ = !k_.sequential;
    if (track_races_) {
      writer_.assign(bufs_.size(), {});
      reader_.assign(bufs_.size(), {});
      for (BufferId b : k_.writes) {
        size_t n = static_cast<size_t>(bufs_[static_cast<size_t>(b)].numel);
        writer_[static_cast<size_t>(b)].assign(n, -1);
        reader_[static_cast<size_t>(b)].assign(n, -1);
      }
    }
    if (k_.is_contraction)
      run_contraction();
    else
      iterate(k_.parallel, [&] {
        size_t mark = scope_.size();
        exec(k_.body);
        unbind_to(mark);
        ++point_;
      });
  }

 private:
  const Program& p_;
  const Kernel& k_;
  std::vector<Storage>& bufs_;
  std::vector<double> val_;
  std::vector<uint8_t> bound_;
  std::vector<VarId> scope_;  // let/reduce vars bound by the enclosing statement lists
  // Per-expression values, valid while memo_gen_ == gen_; gen_ moves on every binding change and
  // every store, so a statement evaluates each node of its expression DAG once, however often
  // the node is shared (plain recursion would be exponential in the sharing depth).
  std::vector<double> memo_;
  std::vector<uint64_t> memo_gen_;
  uint64_t gen_ = 1;
  // Race detection in parallel kernels, for each written buffer and element: the point that
  // wrote it (-1: none) and the point that read it (-1: none, -2: several).
  bool track_races_ = false;
  int64_t point_ = 0;
  std::vector<std::vector<int64_t>> writer_, reader_;

  const Buffer& buffer(BufferId b) const { return p_.buffers[static_cast<size_t>(b)]; }
  std::string name(BufferId b) const { return buffer(b).name; }
  std::string var_name(VarId v) const { return k_.vars[static_cast<size_t>(v)].name; }
  DType var_type(VarId v) const { return k_.vars[static_cast<size_t>(v)].dtype; }

  // ---- failures (internal bugs in whatever produced the program) ----

  [[noreturn]] void fail(const std::string& what) const {
    std::ostringstream os;
    os << "kernel-IR evaluator: kernel " << k_.name << ": " << what;
    std::string at;
    for (size_t v = 0; v < k_.vars.size(); ++v)
      if (bound_[v]) {
        std::ostringstream one;
        one << k_.vars[v].name << "=" << val_[v];
        at += (at.empty() ? "" : ", ") + one.str();
      }
    if (!at.empty()) os << "\n  where " << at;
    os << "\n" << kir::print_kernel(p_, k_);
    die(os.str());
  }

  // ---- variables ----

  void bind(VarId v, double x) {
    size_t i = static_cast<size_t>(v);
    if (bound_[i]) fail(var_name(v) + " is bound twice (nested scopes reuse a var)");
    bound_[i] = 1;
    val_[i] = interp::convert_to(k_.vars[i].dtype, x);
    ++gen_;
  }
  void unbind(VarId v) {
    bound_[static_cast<size_t>(v)] = 0;
    ++gen_;
  }
  void unbind_to(size_t mark) {
    while (scope_.size() > mark) {
      unbind(scope_.back());
      scope_.pop_back();
    }
  }

  // Calls f() for every point of `axes` in row-major order with their vars bound.
  template <typename F>
  void iterate(const std::vector<Axis>& axes, F&& f) {
    for (const Axis& a : axes)
      if (a.extent == 0) return;
    for (const Axis& a : axes) bind(a.var, 0);
    std::vector<int64_t> idx(axes.size(), 0);
    do {
      f();
    } while (advance(axes, idx));
    for (const Axis& a : axes) unbind(a.var);
  }

  // Moves to the next point in row-major order; false after the last one.
  bool advance(const std::vector<Axis>& axes, std::vector<int64_t>& idx) {
    ++gen_;
    for (size_t d = axes.size(); d-- > 0;) {
      double& v = val_[static_cast<size_t>(axes[d].var)];
      if (++idx[d] < axes[d].extent) {
        v = static_cast<double>(idx[d]);
        return true;
      }
      idx[d] = 0;
      v = 0;
    }
    return false;
  }

  // ---- statements ----

  void exec(const std::vector<Stmt>& body) {
    for (const Stmt& s : body) {
      switch (s.kind) {
        case Stmt::Kind::Let:
          bind(s.var, eval(s.value));
          scope_.push_back(s.var);
          break;
        case Stmt::Kind::Reduce:
          bind(s.var, reduce(s));
          scope_.push_back(s.var);
          break;
        case Stmt::Kind::Loop:
          iterate(s.axes, [&] {
            size_t mark = scope_.size();
            exec(s.body);
            unbind_to(mark);
          });
          break;
        case Stmt::Kind::Store:
          store(s.buffer, index(s.index), eval(s.value));
          break;
      }
    }
  }

  double reduce(const Stmt& s) {
    const bool is_sum = s.reduce_op == Op::ReduceSum;
    const bool is_int = var_type(s.var) == DType::i32;
    double acc = is_sum ? 0.0 : -std::numeric_limits<double>::infinity();
    int64_t iacc = is_sum ? 0 : std::numeric_limits<int64_t>::min();
    iterate(s.axes, [&] {
      size_t mark = scope_.size();
      exec(s.body);
      double v = eval(s.value);
      unbind_to(mark);
      if (is_int) {
        int64_t x = static_cast<int64_t>(v);
        iacc = is_sum ? iacc + x : (x > iacc ? x : iacc);
      } else if (is_sum) {
        acc += v;
      } else if (std::isnan(v) || std::isnan(acc)) {
        acc = std::numeric_limits<double>::quiet_NaN();
      } else if (v > acc) {
        acc = v;
      }
    });
    return is_int ? static_cast<double>(interp::wrap32(iacc)) : acc;
  }

  void run_contraction() {
    const kir::Contraction& c = k_.contraction;
    const std::vector<Axis> kaxis = {c.k};
    const bool is_int = var_type(c.acc) == DType::i32;
    iterate(k_.parallel, [&] {
      double acc = 0;
      int64_t iacc = 0;
      iterate(kaxis, [&] {
        double a = eval(c.a), b = eval(c.b);
        if (is_int)
          iacc += static_cast<int64_t>(a) * static_cast<int64_t>(b);
        else
          acc += a * b;
      });
      bind(c.acc, is_int ? static_cast<double>(interp::wrap32(iacc)) : acc);
      size_t mark = scope_.size();
      exec(k_.body);
      unbind_to(mark);
      unbind(c.acc);
      ++point_;
    });
  }

  // ---- memory ----

  std::string point_str(int64_t point) const {
    std::string s;
    for (size_t d = k_.parallel.size(); d-- > 0;) {
      int64_t ext = k_.parallel[d].extent;
      s = var_name(k_.parallel[d].var) + "=" + std::to_string(point % ext) +
          (s.empty() ? "" : ", ") + s;
      point /= ext;
    }
    return "(" + s + ")";
  }

  void check_access(BufferId b, int64_t i, const char* what) const {
    const Storage& s = bufs_[static_cast<size_t>(b)];
    if (i < 0 || i >= s.numel)
      fail(std::string(what) + " " + name(b) + "[" + std::to_string(i) + "] is out of bounds (" +
           name(b) + ": " + dtype_name(s.dtype) + buffer(b).shape.str() + ", " +
           std::to_string(s.numel) + " elements)");
  }

  double load(BufferId b, int64_t i) {
    size_t bi = static_cast<size_t>(b);
    check_access(b, i, "load");
    if (track_races_ && !writer_[bi].empty()) {
      size_t e = static_cast<size_t>(i);
      int64_t w = writer_[bi][e];
      if (w >= 0 && w != point_)
        fail("data race: point " + point_str(point_) + " reads " + name(b) + "[" +
             std::to_string(i) + "], which point " + point_str(w) + " wrote");
      int64_t& r = reader_[bi][e];
      r = r == -1 || r == point_ ? point_ : -2;
    }
    return bufs_[bi].get(i);
  }

  void store(BufferId b, int64_t i, double v) {
    size_t bi = static_cast<size_t>(b);
    check_access(b, i, "store");
    if (track_races_) {
      size_t e = static_cast<size_t>(i);
      int64_t w = writer_[bi][e], r = reader_[bi][e];
      if (w >= 0 && w != point_)
        fail("data race: points " + point_str(w) + " and " + point_str(point_) + " both write " +
             name(b) + "[" + std::to_string(i) + "]");
      if (r != -1 && r != point_)
        fail("data race: point " + point_str(point_) + " writes " + name(b) + "[" +
             std::to_string(i) + "], which " +
             (r >= 0 ? "point " + point_str(r) : std::string("other points")) + " read");
      writer_[bi][e] = point_;
    }
    Storage& s = bufs_[bi];
    s.set(i, interp::convert_to(s.dtype, v));
    ++gen_;
  }

  // ---- expressions ----

  int64_t index(ExprId id) { return static_cast<int64_t>(eval(id)); }

  double eval(ExprId id) {
    size_t i = static_cast<size_t>(id);
    if (memo_gen_[i] == gen_) return memo_[i];
    double v = compute(k_.exprs[i]);
    memo_[i] = v;
    memo_gen_[i] = gen_;
    return v;
  }

  double compute(const Expr& e) {
    switch (e.kind) {
      case ExprKind::Const:
        return interp::convert_to(e.dtype, e.value);
      case ExprKind::Var:
        if (!bound_[static_cast<size_t>(e.var)])
          fail("reads " + var_name(e.var) + " outside its scope");
        return val_[static_cast<size_t>(e.var)];
      case ExprKind::Load:
        if (e.a[1] >= 0 && eval(e.a[1]) == 0) return interp::convert_to(e.dtype, e.value);
        return load(e.buffer, index(e.a[0]));
      case ExprKind::Unary: {
        double x = eval(e.a[0]);
        if (e.op == Op::Not) return x == 0 ? 1.0 : 0.0;
        if (e.dtype == DType::i32)
          return interp::wrap32(interp::unary_int(e.op, static_cast<int64_t>(x)));
        return interp::convert_to(e.dtype, interp::unary_float(e.op, x));
      }
      case ExprKind::Cast:
        return interp::convert_to(e.dtype, eval(e.a[0]));
      case ExprKind::Binary: {
        double x = eval(e.a[0]), y = eval(e.a[1]);
        if (is_comparison(e.op)) return interp::compare(e.op, x, y) ? 1.0 : 0.0;
        if (e.op == Op::And) return x != 0 && y != 0 ? 1.0 : 0.0;
        if (e.op == Op::Or) return x != 0 || y != 0 ? 1.0 : 0.0;
        if (e.dtype == DType::i32)
          return interp::wrap32(
              interp::binary_int(e.op, static_cast<int64_t>(x), static_cast<int64_t>(y)));
        return interp::convert_to(e.dtype, interp::binary_float(e.op, x, y));
      }
      case ExprKind::IDiv:
      case ExprKind::IMod: {
        int64_t x = index(e.a[0]), y = index(e.a[1]);
        if (y <= 0) fail("idiv/imod by " + std::to_string(y) + " (divisors must be positive)");
        return static_cast<double>(e.kind == ExprKind::IDiv ? floor_div(x, y) : floor_mod(x, y));
      }
      case ExprKind::Select: {
        // Both arms are evaluated: see kernel_eval.h.
        double c = eval(e.a[0]), x = eval(e.a[1]), y = eval(e.a[2]);
        return c != 0 ? x : y;
      }
      case ExprKind::Rand: {
        int64_t counter = index(e.a[0]);
        if (counter < 0) fail("rand with a negative counter " + std::to_string(counter));
        auto offset = static_cast<uint32_t>(static_cast<int32_t>(index(e.a[1])));
        return interp::convert_to(e.dtype, philox_uniform(static_cast<uint64_t>(e.seed),
                                                          static_cast<uint64_t>(counter), offset));
      }
      case ExprKind::Word:
        return word(e.word, word_of(eval(e.a[0])), word_of(eval(e.a[1])));
      case ExprKind::Seed: {
        auto seed = static_cast<uint64_t>(e.seed);
        return static_cast<int32_t>(static_cast<uint32_t>(e.value != 0 ? seed >> 32 : seed));
      }
    }
    fail("an expression of unknown kind");
  }
};

// A program that breaks the kernel IR's rules is a bug in whatever produced it.
void check_program(const Program& p) {
  try {
    kir::verify(p);
  } catch (const VerifyError& e) {
    die(std::string(e.what()) + "\n" + kir::print_program(p));
  }
}

}  // namespace

std::vector<Array> run_program(const Program& p, const Feeds& feeds, ParamStore& params,
                               bool write_updates) {
  check_program(p);
  // The arena and fresh outputs start poisoned, so that a read before a write shows.
  ProgramLayout layout(p, 64);
  HostBuffers host(layout, kPoison);
  host.bind(feeds, params, /*keep_params=*/!write_updates);
  std::vector<Storage> st(p.buffers.size());
  for (size_t i = 0; i < st.size(); ++i) {
    st[i].base = host.at(static_cast<BufferId>(i));
    st[i].dtype = p.buffers[i].dtype;
    st[i].numel = p.buffers[i].numel();
  }
  for (const Kernel& k : p.kernels) KernelRun(p, k, st).run();
  std::vector<Array> out = host.outputs();
  if (write_updates) host.apply_updates(params);
  return out;
}

namespace {

class KernelInterpExecutable : public Executable {
 public:
  KernelInterpExecutable(const kir::Program& program, std::shared_ptr<ParamStore> params)
      : program_(program), params_(std::move(params)) {}

  std::vector<Array> run(const Feeds& feeds) override {
    return run_program(program_, feeds, *params_, true);
  }

 private:
  kir::Program program_;
  std::shared_ptr<ParamStore> params_;
};

class KernelInterpBackend : public Backend {
 public:
  std::string name() const override { return "interp-kernels"; }
  std::unique_ptr<Executable> compile(const CompileRequest& req,
                                      std::shared_ptr<ParamStore> params) override {
    if (!req.program)
      SOMA_THROW(BackendError,
                 "the interp-kernels backend needs a lowered program "
                 "(CompileRequest::program is empty); use the 'interp' backend "
                 "to run the graph itself");
    return std::make_unique<KernelInterpExecutable>(*req.program, std::move(params));
  }
};

}  // namespace

std::unique_ptr<Backend> make_kernel_interp_backend() {
  return std::make_unique<KernelInterpBackend>();
}

}  // namespace soma
