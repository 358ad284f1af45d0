#include "graph/kernel_ir.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <sstream>
#include <utility>

#include "graph/error.h"
#include "graph/printer.h"

namespace soma::kir {

bool Expr::operator==(const Expr& o) const {
  return kind == o.kind && dtype == o.dtype && op == o.op && a[0] == o.a[0] && a[1] == o.a[1] &&
         a[2] == o.a[2] && (value == o.value || (std::isnan(value) && std::isnan(o.value))) &&
         std::signbit(value) == std::signbit(o.value) && var == o.var && buffer == o.buffer &&
         seed == o.seed && word == o.word;
}

Stmt Stmt::let(VarId var, ExprId value) {
  Stmt s;
  s.kind = Kind::Let;
  s.var = var;
  s.value = value;
  return s;
}

Stmt Stmt::store(BufferId buffer, ExprId index, ExprId value) {
  Stmt s;
  s.kind = Kind::Store;
  s.buffer = buffer;
  s.index = index;
  s.value = value;
  return s;
}

Stmt Stmt::reduce(VarId var, Op op, std::vector<Axis> axes, ExprId value, std::vector<Stmt> body) {
  Stmt s;
  s.kind = Kind::Reduce;
  s.var = var;
  s.reduce_op = op;
  s.axes = std::move(axes);
  s.value = value;
  s.body = std::move(body);
  return s;
}

Stmt Stmt::loop(std::vector<Axis> axes, std::vector<Stmt> body) {
  Stmt s;
  s.kind = Kind::Loop;
  s.axes = std::move(axes);
  s.body = std::move(body);
  return s;
}

ExprId Kernel::add(const Expr& e) {
  // Hash-consing by a backwards scan over recent entries keeps this simple; kernels hold at most
  // a few thousand expressions.
  size_t n = exprs.size();
  size_t stop = n > 4096 ? n - 4096 : 0;
  for (size_t i = n; i-- > stop;)
    if (exprs[i] == e) return static_cast<ExprId>(i);
  exprs.push_back(e);
  return static_cast<ExprId>(n);
}

ExprId Kernel::constant(double v, DType t) {
  Expr e;
  e.kind = ExprKind::Const;
  e.dtype = t;
  e.value = v;
  return add(e);
}

ExprId Kernel::var_ref(VarId v) {
  Expr e;
  e.kind = ExprKind::Var;
  e.dtype = vars[static_cast<size_t>(v)].dtype;
  e.var = v;
  return add(e);
}

ExprId Kernel::load(BufferId b, DType t, ExprId index, ExprId mask, double other) {
  if (mask >= 0 && expr(mask).kind == ExprKind::Const) {
    if (expr(mask).value == 0) return constant(other, t);  // never read
    mask = -1;                                             // always read
  }
  Expr e;
  e.kind = ExprKind::Load;
  e.dtype = t;
  e.buffer = b;
  e.a[0] = index;
  e.a[1] = mask;
  e.value = mask >= 0 ? other : 0;
  return add(e);
}

ExprId Kernel::unary(Op op, ExprId x) {
  Expr e;
  e.kind = ExprKind::Unary;
  e.op = op;
  e.dtype = op == Op::Not ? DType::boolean : expr(x).dtype;
  e.a[0] = x;
  return add(e);
}

ExprId Kernel::binary(Op op, ExprId x, ExprId y) {
  const Expr &ex = expr(x), &ey = expr(y);
  SOMA_CHECK(ex.dtype == ey.dtype) << "kernel binary " << op_name(op) << " of "
                                   << dtype_name(ex.dtype) << " and " << dtype_name(ey.dtype);
  if (ex.dtype == DType::i32 && ex.kind == ExprKind::Const && ey.kind == ExprKind::Const) {
    int64_t a = static_cast<int64_t>(ex.value), b = static_cast<int64_t>(ey.value);
    switch (op) {
      case Op::Max:
        return index_const(std::max(a, b));
      case Op::Min:
        return index_const(std::min(a, b));
      default:
        break;
    }
  }
  if (ExprId s = simplify_index(op, x, y); s >= 0) return s;
  Expr e;
  e.kind = ExprKind::Binary;
  e.op = op;
  e.dtype = is_comparison(op) ? DType::boolean : ex.dtype;
  e.a[0] = x;
  e.a[1] = y;
  return add(e);
}

ExprId Kernel::cast(ExprId x, DType t) {
  if (expr(x).dtype == t) return x;
  Expr e;
  e.kind = ExprKind::Cast;
  e.dtype = t;
  e.a[0] = x;
  return add(e);
}

ExprId Kernel::select(ExprId c, ExprId x, ExprId y) {
  if (x == y) return x;
  const Expr& ec = expr(c);
  if (ec.kind == ExprKind::Const) return ec.value != 0 ? x : y;
  Expr e;
  e.kind = ExprKind::Select;
  e.dtype = expr(x).dtype;
  e.a[0] = c;
  e.a[1] = x;
  e.a[2] = y;
  return add(e);
}

ExprId Kernel::rand(int64_t seed, ExprId counter, ExprId offset, DType t) {
  Expr e;
  e.kind = ExprKind::Rand;
  e.dtype = t;
  e.seed = seed;
  e.a[0] = counter;
  e.a[1] = offset;
  return add(e);
}

ExprId Kernel::word_op(WordOp op, ExprId x, ExprId y) {
  Expr e;
  e.kind = ExprKind::Word;
  e.dtype = DType::i32;
  e.word = op;
  e.a[0] = x;
  e.a[1] = y;
  return add(e);
}

ExprId Kernel::seed_word(int64_t seed, int32_t draw, int word) {
  Expr e;
  e.kind = ExprKind::Seed;
  e.dtype = DType::i32;
  e.seed = seed;
  e.var = draw;
  e.value = word;
  return add(e);
}

const char* word_op_name(WordOp op) {
  switch (op) {
    case WordOp::Add:
      return "u32_add";
    case WordOp::Mul:
      return "u32_mul";
    case WordOp::MulHi:
      return "u32_mulhi";
    case WordOp::Xor:
      return "u32_xor";
    case WordOp::Shr:
      return "u32_shr";
  }
  return "?";
}

// ---- printing ----

std::string scalar_text(double v, DType t) {
  if (t == DType::boolean) return v != 0 ? "true" : "false";
  if (t == DType::i32) return std::to_string(static_cast<int64_t>(v));
  return t == DType::f64 ? format_float(v) + "d" : format_float(v);
}

bool is_plain_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '/' &&
        c != '-')
      return false;
  return true;
}

std::string name_text(const std::string& name) {
  return is_plain_name(name) ? name : quote_string(name);
}

namespace {

// Expressions print in infix with C-like precedence and only the parentheses the tree needs
// (operands of equal precedence on the right keep theirs, so a - (b - c) stays visible);
// i32 floor division and modulo print as // and %, as in Python.
enum Prec : int {
  kTop = 0,
  kSelect = 1,
  kOr = 2,
  kAnd = 3,
  kCmp = 4,
  kAdd = 5,
  kMul = 6,
  kAtom = 7
};

struct Infix {
  Op op;
  const char* sym;
  int prec;
};
constexpr Infix kInfix[] = {
    {Op::Add, " + ", kAdd}, {Op::Sub, " - ", kAdd}, {Op::Mul, "*", kMul},    {Op::Div, " / ", kMul},
    {Op::Lt, " < ", kCmp},  {Op::Le, " <= ", kCmp}, {Op::Gt, " > ", kCmp},   {Op::Ge, " >= ", kCmp},
    {Op::Eq, " == ", kCmp}, {Op::Ne, " != ", kCmp}, {Op::And, " && ", kAnd}, {Op::Or, " || ", kOr},
};

// An expression read in several places whose tree would print at least this many nodes is
// printed once, in the kernel's `where` section, and referred to as %id: a DAG of shared
// subexpressions (x = x*x + x, a hundred deep) prints in linear, not exponential, size.
constexpr int64_t kBindAtNodes = 24;

struct Printer {
  const Program& p;
  const Kernel& k;
  std::ostringstream os;
  std::vector<char> bound{};      // by expr: printed in the where section
  std::vector<int64_t> label{};   // by expr: its %label, numbered in the order of the text
  std::vector<ExprId> labeled{};  // by label

  std::string var(VarId v) { return k.vars[static_cast<size_t>(v)].name; }

  std::string buffer_name(BufferId b) { return name_text(p.buffers[static_cast<size_t>(b)].name); }

  // Which expressions get a binding: those read more than once (from the statements or from
  // other expressions that are printed) whose tree is large.
  void choose_bindings() {
    const size_t n = k.exprs.size();
    std::vector<ExprId> roots;
    std::function<void(const std::vector<Stmt>&)> walk = [&](const std::vector<Stmt>& body) {
      for (const Stmt& s : body) {
        for (ExprId e : {s.index, s.value})
          if (e >= 0) roots.push_back(e);
        walk(s.body);
      }
    };
    walk(k.body);
    if (k.is_contraction) roots.insert(roots.end(), {k.contraction.a, k.contraction.b});
    std::vector<int64_t> uses(n, 0);
    std::vector<char> seen(n, 0);
    std::vector<ExprId> stack;
    for (ExprId r : roots) {
      if (r >= 0 && static_cast<size_t>(r) < n) ++uses[static_cast<size_t>(r)];
      stack.push_back(r);
    }
    // (The printer also shows invalid programs, in the verifier's errors: an operand that is
    // not an earlier expression is left to term() and never bound.)
    auto valid = [&](ExprId a, size_t below) { return a >= 0 && static_cast<size_t>(a) < below; };
    while (!stack.empty()) {
      ExprId e = stack.back();
      stack.pop_back();
      if (!valid(e, n) || seen[static_cast<size_t>(e)]) continue;
      seen[static_cast<size_t>(e)] = 1;
      for (ExprId a : k.exprs[static_cast<size_t>(e)].a)
        if (valid(a, static_cast<size_t>(e))) {
          ++uses[static_cast<size_t>(a)];
          stack.push_back(a);
        }
    }
    // Operands come before the expressions that read them: one pass in id order.
    bound.assign(n, 0);
    std::vector<int64_t> size(n, 1);
    for (size_t i = 0; i < n; ++i) {
      for (ExprId a : k.exprs[i].a)
        if (valid(a, i) && !bound[static_cast<size_t>(a)])
          size[i] = std::min<int64_t>(size[i] + size[static_cast<size_t>(a)], kBindAtNodes);
      bound[i] = seen[i] && uses[i] > 1 && size[i] >= kBindAtNodes;
    }
    label.assign(n, -1);
  }

  // `id` printed where an expression of precedence >= min binds without parentheses.
  std::string expr(ExprId id, int min = kTop) {
    if (id >= 0 && static_cast<size_t>(id) < bound.size() && bound[static_cast<size_t>(id)]) {
      int64_t& l = label[static_cast<size_t>(id)];
      if (l < 0) {
        l = static_cast<int64_t>(labeled.size());
        labeled.push_back(id);
      }
      return "%" + std::to_string(l);
    }
    auto [s, prec] = term(id);
    return prec < min ? "(" + s + ")" : s;
  }

  // The where section: each binding once, in label order (a binding first read inside another
  // one gets the next label as that one is printed).
  void bindings() {
    if (!labeled.empty()) os << "  where\n";
    for (size_t l = 0; l < labeled.size(); ++l)
      os << "    %" << l << " = " << term(labeled[l]).first << "\n";
  }

  std::pair<std::string, int> term(ExprId id) {
    const Expr& e = k.expr(id);
    switch (e.kind) {
      case ExprKind::Const:
        return {scalar_text(e.value, e.dtype), kAtom};
      case ExprKind::Var:
        return {var(e.var), kAtom};
      case ExprKind::Load: {
        std::string s = "load " + buffer_name(e.buffer) + "[" + expr(e.a[0]) + "]";
        if (e.a[1] >= 0)  // a masked load is one unit: always parenthesized
          s = "(" + s + " if " + expr(e.a[1], kSelect) + " else " + scalar_text(e.value, e.dtype) +
              ")";
        return {s, kAtom};
      }
      case ExprKind::Unary:
        return {std::string(op_name(e.op)) + "(" + expr(e.a[0]) + ")", kAtom};
      case ExprKind::Cast:
        return {std::string(dtype_name(e.dtype)) + "(" + expr(e.a[0]) + ")", kAtom};
      case ExprKind::Binary: {
        const Infix* in = nullptr;
        for (const Infix& x : kInfix)
          if (x.op == e.op) in = &x;
        if (!in)
          return {std::string(op_name(e.op)) + "(" + expr(e.a[0]) + ", " + expr(e.a[1]) + ")",
                  kAtom};
        // Left-associative; comparisons do not chain.
        int prec = in->prec;
        return {expr(e.a[0], prec == kCmp ? prec + 1 : prec) + in->sym + expr(e.a[1], prec + 1),
                prec};
      }
      case ExprKind::IDiv:
        return {expr(e.a[0], kMul) + " // " + expr(e.a[1], kMul + 1), kMul};
      case ExprKind::IMod:
        return {expr(e.a[0], kMul) + " % " + expr(e.a[1], kMul + 1), kMul};
      case ExprKind::Select:
        return {expr(e.a[0], kOr) + " ? " + expr(e.a[1], kOr) + " : " + expr(e.a[2], kSelect),
                kSelect};
      case ExprKind::Rand:
        return {"rand(" + std::to_string(e.seed) + ", " + expr(e.a[0]) + ", " + expr(e.a[1]) +
                    (e.dtype == DType::f32 ? "" : std::string(", ") + dtype_name(e.dtype)) + ")",
                kAtom};
      case ExprKind::Word:
        return {std::string(word_op_name(e.word)) + "(" + expr(e.a[0]) + ", " + expr(e.a[1]) + ")",
                kAtom};
      case ExprKind::Seed:
        return {std::string(e.value != 0 ? "seed_hi(" : "seed_lo(") + std::to_string(e.seed) +
                    ", " + std::to_string(e.var) + ")",
                kAtom};
    }
    return {"?", kAtom};
  }

  std::string axes(const std::vector<Axis>& a) {
    std::string s;
    for (size_t i = 0; i < a.size(); ++i)
      s += (i ? ", " : "") + var(a[i].var) + " in 0.." + std::to_string(a[i].extent);
    return s;
  }

  void stmts(const std::vector<Stmt>& body, int indent) {
    for (const Stmt& s : body) {
      std::string pad(static_cast<size_t>(indent), ' ');
      switch (s.kind) {
        case Stmt::Kind::Let:
          os << pad << var(s.var) << " = " << expr(s.value) << "\n";
          break;
        case Stmt::Kind::Reduce:
          os << pad << var(s.var) << " = reduce " << (s.reduce_op == Op::ReduceMax ? "max" : "sum")
             << " " << axes(s.axes);
          if (s.body.empty()) {
            os << " of " << expr(s.value) << "\n";
          } else {
            os << " {\n";
            stmts(s.body, indent + 2);
            os << pad << "  yield " << expr(s.value) << "\n" << pad << "}\n";
          }
          break;
        case Stmt::Kind::Loop:
          os << pad << "for " << axes(s.axes) << ":\n";
          stmts(s.body, indent + 2);
          break;
        case Stmt::Kind::Store:
          os << pad << "store " << buffer_name(s.buffer) << "[" << expr(s.index)
             << "] = " << expr(s.value) << "\n";
          break;
      }
    }
  }

  std::string buffer_decl(BufferId b) {
    const Buffer& buf = p.buffers[static_cast<size_t>(b)];
    return name_text(buf.name) + ": " + dtype_name(buf.dtype) + buf.shape.str();
  }

  void kernel() {
    choose_bindings();
    os << "kernel " << name_text(k.name) << "(";
    // Buffers the kernel only reads, then those it writes ("out"), or reads and writes ("inout").
    bool first = true;
    auto has = [](const std::vector<BufferId>& v, BufferId b) {
      return std::find(v.begin(), v.end(), b) != v.end();
    };
    for (BufferId b : k.reads) {
      if (has(k.writes, b)) continue;
      os << (first ? "" : ", ") << buffer_decl(b);
      first = false;
    }
    for (BufferId b : k.writes) {
      os << (first ? "" : ", ") << (has(k.reads, b) ? "inout " : "out ") << buffer_decl(b);
      first = false;
    }
    os << ") {\n";
    if (k.is_contraction) {
      const Contraction& c = k.contraction;
      std::vector<Axis> all = c.batch;
      all.insert(all.end(), k.parallel.end() - 2, k.parallel.end());
      all.push_back(c.k);
      os << "  contract " << axes(all) << ":  " << var(c.acc) << " += " << expr(c.a, kMul) << " * "
         << expr(c.b, kMul + 1) << "\n";
      os << "  epilogue:\n";
      stmts(k.body, 4);
    } else {
      os << "  " << (k.sequential ? "sequential " : "parallel ")
         << (k.parallel.empty() ? "(one point)" : axes(k.parallel)) << "\n";
      stmts(k.body, 4);
    }
    bindings();
    os << "}\n";
  }
};

}  // namespace

std::vector<int64_t> kernel_seeds(const Kernel& k) {
  std::vector<int64_t> seeds;
  for (const Expr& e : k.exprs)
    if (e.kind == ExprKind::Rand) seeds.push_back(e.seed);
  if (!seeds.empty()) return seeds;
  for (const Expr& e : k.exprs) {
    if (e.kind != ExprKind::Seed || e.var < 0) continue;
    auto draw = static_cast<size_t>(e.var);
    if (seeds.size() <= draw) seeds.resize(draw + 1, 0);
    seeds[draw] = e.seed;
  }
  return seeds;
}

std::vector<int64_t> rand_seeds(const Program& p) {
  std::vector<int64_t> seeds;
  for (const Kernel& k : p.kernels) {
    std::vector<int64_t> s = kernel_seeds(k);
    seeds.insert(seeds.end(), s.begin(), s.end());
  }
  return seeds;
}

int64_t first_seed_slot(const Program& p, size_t k) {
  int64_t slot = 0;
  for (size_t i = 0; i < k && i < p.kernels.size(); ++i)
    slot += static_cast<int64_t>(kernel_seeds(p.kernels[i]).size());
  return slot;
}

const char* kind_name(Buffer::Kind k) {
  switch (k) {
    case Buffer::Kind::Input:
      return "input";
    case Buffer::Kind::Param:
      return "param";
    case Buffer::Kind::Output:
      return "output";
    case Buffer::Kind::Temp:
      return "temp";
    case Buffer::Kind::Constant:
      return "const";
  }
  return "?";
}

std::string print_kernel(const Program& p, const Kernel& k) {
  Printer pr{p, k, {}};
  pr.kernel();
  return pr.os.str();
}

std::string print_program(const Program& p, bool all_data) {
  std::ostringstream os;
  os << "program {\n  buffers:\n";
  for (size_t i = 0; i < p.buffers.size(); ++i) {
    const Buffer& b = p.buffers[i];
    os << "    " << name_text(b.name) << ": " << kind_name(b.kind) << " " << dtype_name(b.dtype)
       << b.shape.str();
    if (b.kind == Buffer::Kind::Temp && b.offset >= 0) os << " @" << b.offset;
    if (b.kind == Buffer::Kind::Constant) {
      // One value is a splat; long data is elided after a few values unless all are wanted.
      const size_t shown = all_data ? b.data.size() : 8;
      if (b.data.size() == 1) {
        os << " = " << scalar_text(b.data[0], b.dtype);
      } else {
        os << " = [";
        for (size_t j = 0; j < b.data.size() && j < shown; ++j)
          os << (j ? ", " : "") << scalar_text(b.data[j], b.dtype);
        if (b.data.size() > shown) os << ", ... (" << b.data.size() << " values)";
        os << "]";
      }
    }
    os << "\n";
  }
  os << "  outputs:";
  for (BufferId b : p.outputs) os << " " << name_text(p.buffers[static_cast<size_t>(b)].name);
  os << "\n";
  for (auto& [param, value] : p.updates)
    os << "  update " << name_text(p.buffers[static_cast<size_t>(param)].name) << " <- "
       << name_text(p.buffers[static_cast<size_t>(value)].name)
       << (param == value ? " (in place)" : "") << "\n";
  os << "  arena: " << p.arena_bytes << " bytes (" << p.unplanned_bytes << " without reuse)\n}\n";
  for (const Kernel& k : p.kernels) os << print_kernel(p, k);
  return os.str();
}

}  // namespace soma::kir
