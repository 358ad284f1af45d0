// The evaluator: statements and expressions of the script language, run against a Session.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include "frontend/script/builtins.h"
#include "frontend/script/commands.h"
#include "frontend/script/index_array.h"
#include "frontend/script/interrupt.h"
#include "frontend/script/session.h"

namespace soma::script {

namespace {

// A key identifying a value for memoization, or nullopt when the value cannot be part of one
// (objects, functions).
std::optional<std::string> value_key(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::None:
      return "N";
    case Value::Kind::Bool:
      return v.as_bool() ? "b1" : "b0";
    case Value::Kind::Int:
      return "i" + std::to_string(v.as_int());
    case Value::Kind::Float: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "f%a", v.as_float());
      return std::string(buf);
    }
    case Value::Kind::Str:
      return "s" + std::to_string(v.as_str().size()) + ":" + v.as_str();
    case Value::Kind::List: {
      std::string k = "[";
      for (const Value& item : v.as_list()) {
        auto ik = value_key(item);
        if (!ik) return std::nullopt;
        k += *ik + ",";
      }
      return k + "]";
    }
    case Value::Kind::Tensor:
      return "t" + std::to_string(v.as_tensor().id());
    default:
      return std::nullopt;
  }
}

// How deeply lists nest inside `v` (stopping past `limit`).
int list_depth(const Value& v, int limit) {
  if (!v.is_list() || limit < 0) return 0;
  int d = 0;
  for (const Value& item : v.as_list())
    if (item.is_list()) d = std::max(d, list_depth(item, limit - 1));
  return d + 1;
}

// A list value, refusing absurd nesting (a loop of `a = [a]`), which printing, comparing and
// freeing would otherwise recurse through until the stack overflows.
constexpr int kMaxListDepth = 100;
Value checked_list(std::vector<Value> items, const Location& loc) {
  Value v = Value::list(std::move(items));
  if (list_depth(v, kMaxListDepth + 1) > kMaxListDepth)
    throw ScriptError(loc, "lists nested more than " + std::to_string(kMaxListDepth) +
                               " levels deep are not supported");
  return v;
}

bool is_tensorish(const Value& v) {
  return v.is_tensor() || v.is_array();
}

// Python's floor division and modulo for ints.
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Names of tensor methods: x.sum(axis=1) is sum(x, axis=1).
const std::set<std::string>& tensor_methods() {
  static const std::set<std::string> m = {
      "sum",         "mean",         "max",  "min",     "argmax",    "argmin",
      "logsumexp",   "var",          "std",  "reshape", "transpose", "flatten",
      "squeeze",     "unsqueeze",    "cast", "clip",    "exp",       "log",
      "sqrt",        "abs",          "tanh", "sigmoid", "relu",      "softmax",
      "log_softmax", "broadcast_to", "flip", "square",  "sign",      "neg"};
  return m;
}

}  // namespace

// ---- statements ------------------------------------------------------------------------------

void Session::exec(const Stmt& s) {
  check_interrupt();
  collect_graph();
  try {
    switch (s.kind) {
      case StmtKind::Expr: {
        Value v = eval(*s.value);
        if (options_.echo && !v.is_none()) {
          std::string text = repr(v, s.value->loc);
          *out_ << text << "\n";
          out_->flush();
        }
        return;
      }
      case StmtKind::Assign: {
        Value v = eval(*s.value);
        if (s.targets.size() == 1 && s.targets[0].object) {
          set_attribute(s.targets[0], v);
          return;
        }
        if (s.targets.size() == 1) {
          bind(s.targets[0].name, std::move(v), s.targets[0].loc);
          return;
        }
        if (!v.is_list())
          throw ScriptError(s.value->loc, "cannot unpack " + v.a_type_name() + " into " +
                                              std::to_string(s.targets.size()) +
                                              " names (a list is needed)");
        const auto& items = v.as_list();
        if (items.size() != s.targets.size())
          throw ScriptError(s.value->loc, "cannot unpack " + std::to_string(items.size()) +
                                              " value" + (items.size() == 1 ? "" : "s") + " into " +
                                              std::to_string(s.targets.size()) + " names");
        for (size_t i = 0; i < items.size(); ++i)
          bind(s.targets[i].name, items[i], s.targets[i].loc);
        return;
      }
      case StmtKind::AugAssign:
        exec_aug_assign(s);
        return;
      case StmtKind::For:
        exec_for(s);
        return;
      case StmtKind::Command:
        run_command(*this, s.text, s.loc);
        return;
      case StmtKind::Def:
        exec_def(s);
        return;
      case StmtKind::Return:
        throw ReturnValue{s.value ? eval(*s.value) : Value::none()};
      case StmtKind::If:
        for (const StmtPtr& b : truthy(eval(*s.value), s.value->loc) ? s.body : s.orelse) exec(*b);
        return;
      case StmtKind::While:
        exec_while(s);
        return;
      case StmtKind::Break:
        throw LoopBreak{};
      case StmtKind::Continue:
        throw LoopContinue{};
    }
  } catch (const ScriptError&) {
    throw;
  } catch (const Interrupted&) {
    throw;
  } catch (const Error& e) {
    throw ScriptError(s.loc, e.what());
  } catch (const std::bad_alloc&) {
    throw ScriptError(s.loc, "out of memory");
  }
}

void Session::set_attribute(const Target& t, const Value& v) {
  Value base = eval(*t.object);
  if (!base.is_object())
    throw ScriptError(t.loc, "cannot set attribute '" + t.name + "' of " + base.a_type_name());
  const ObjectPtr& o = base.as_object();
  try {
    if (o->set_attr(t.name, v)) return;
  } catch (const Error& e) {
    throw ScriptError(t.loc, e.what());
  }
  std::string names;
  for (const std::string& n : o->settable_attrs()) names += (names.empty() ? "" : ", ") + n;
  throw ScriptError(t.loc, "cannot set attribute '" + t.name + "' of '" + o->type_name() + "'" +
                               (names.empty() ? std::string(" (none of its attributes can be set)")
                                              : " (settable: " + names + ")"));
}

void Session::exec_aug_assign(const Stmt& s) {
  const Target& t = s.targets[0];
  if (t.object) {
    Value cur = attribute(eval(*t.object), t.name, t.loc);
    Value rhs = eval(*s.value);
    set_attribute(t, binary_op(s.text, cur, rhs, t.loc));
    return;
  }
  Value cur = lookup_or_fail(t.name, t.loc);
  Value rhs = eval(*s.value);
  Value next = binary_op(s.text, cur, rhs, t.loc);
  if (cur.is_tensor() && cur.as_tensor().node().op == Op::Param) {
    // An update of the parameter's stored value (hand-written gradient descent).
    Tensor nt = to_tensor(next, t.loc, "'" + s.text + "='");
    assign({{cur.as_tensor(), nt}}, t.loc);
    return;
  }
  bind(t.name, std::move(next), t.loc);
}

void Session::exec_for(const Stmt& s) {
  Value seq = eval(*s.value);
  ++loop_depth_;
  struct Leave {
    int& depth;
    ~Leave() { --depth; }
  } leave{loop_depth_};
  auto run_body = [&](const Value& item) {
    check_interrupt();
    if (s.targets.size() == 1) {
      bind(s.targets[0].name, item, s.targets[0].loc);
    } else {
      if (!item.is_list() || item.as_list().size() != s.targets.size())
        throw ScriptError(s.targets[0].loc, "cannot unpack a loop item into " +
                                                std::to_string(s.targets.size()) + " names");
      for (size_t i = 0; i < s.targets.size(); ++i)
        bind(s.targets[i].name, item.as_list()[i], s.targets[i].loc);
    }
    try {
      for (const StmtPtr& b : s.body) exec(*b);
    } catch (const LoopContinue&) {
    }
  };
  try {
    if (seq.is_list()) {
      for (const Value& item : seq.as_list()) run_body(item);
      return;
    }
    if (seq.is_object()) {
      if (auto n = seq.as_object()->length()) {
        for (int64_t i = 0; i < *n; ++i) run_body(seq.as_object()->item(i));
        return;
      }
    }
  } catch (const LoopBreak&) {
    return;
  }
  throw ScriptError(s.value->loc,
                    "cannot loop over " + seq.a_type_name() + " (loop over a list or range(n))");
}

void Session::exec_while(const Stmt& s) {
  ++loop_depth_;
  struct Leave {
    int& depth;
    ~Leave() { --depth; }
  } leave{loop_depth_};
  try {
    while (truthy(eval(*s.value), s.value->loc)) {
      check_interrupt();
      try {
        for (const StmtPtr& b : s.body) exec(*b);
      } catch (const LoopContinue&) {
      }
    }
  } catch (const LoopBreak&) {
  }
}

// ---- expressions -----------------------------------------------------------------------------

Value Session::eval(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Name:
      return lookup_or_fail(e.text, e.loc);
    case ExprKind::Int:
      return Value::integer(e.int_value);
    case ExprKind::Float:
      return Value::number(e.float_value);
    case ExprKind::String:
      return Value::str(e.text);
    case ExprKind::Bool:
      return Value::boolean(e.int_value != 0);
    case ExprKind::None:
      return Value::none();
    case ExprKind::Ellipsis:
      throw ScriptError(e.loc, "'...' can only be used inside an index, as in x[..., 0]");
    case ExprKind::List: {
      std::vector<Value> items;
      for (const ExprPtr& i : e.items) items.push_back(eval(*i));
      return checked_list(std::move(items), e.loc);
    }
    case ExprKind::Unary:
      return eval_unary(e);
    case ExprKind::Binary:
      return eval_binary(e);
    case ExprKind::Call:
      return eval_call(e);
    case ExprKind::Attr:
      return eval_attr(e);
    case ExprKind::IfElse:
      return eval(truthy(eval(*e.items[1]), e.items[1]->loc) ? *e.items[0] : *e.items[2]);
    case ExprKind::Index:
      return eval_index(e);
    case ExprKind::Slice:
      throw ScriptError(e.loc, "a slice (a:b) can only be used inside an index");
  }
  throw ScriptError(e.loc, "cannot evaluate this expression");
}

Value Session::eval_unary(const Expr& e) {
  Value v = eval(*e.items[0]);
  const std::string& op = e.text;
  if (op == "not") return Value::boolean(!truthy(v, e.items[0]->loc));
  if (is_tensorish(v)) {
    Tensor t = to_tensor(v, e.loc, "operand of '" + op + "'");
    std::string key = "u" + op + "|" + std::to_string(t.id());
    if (auto m = memo_get(key)) return *m;
    ContextScope scope(ctx_);
    Value r;
    try {
      if (op == "-")
        r = Value::tensor(-t);
      else if (op == "+")
        r = Value::tensor(t);
      else if (t.dtype() != DType::boolean)
        throw ScriptError(e.loc,
                          "'~' needs a bool tensor (elementwise not), got " + t.type().str());
      else
        r = Value::tensor(!t);
    } catch (const ScriptError&) {
      throw;
    } catch (const Error& err) {
      throw ScriptError(e.loc, err.what());
    }
    memo_put(key, r);
    return r;
  }
  if (op == "-" || op == "+") {
    if (v.is_float()) return Value::number(op == "-" ? -v.as_float() : v.as_float());
    if (v.is_int() || v.is_bool()) {
      int64_t i = v.is_int() ? v.as_int() : v.as_bool();
      if (op == "-" && i == INT64_MIN) throw ScriptError(e.loc, "integer overflow");
      return Value::integer(op == "-" ? -i : i);
    }
    if (v.is_list()) {  // -[1, 2] on a list of numbers: as a tensor (numpy would)
      Tensor t = to_tensor(v, e.items[0]->loc, "operand of '" + op + "'");
      ContextScope scope(ctx_);
      return Value::tensor(op == "-" ? -t : t);
    }
  }
  if (op == "~" && (v.is_int() || v.is_bool()))
    return Value::integer(~(v.is_int() ? v.as_int() : static_cast<int64_t>(v.as_bool())));
  throw ScriptError(e.loc, "bad operand type for unary '" + op + "': " + v.type_name());
}

// Python's truth value; a one-element tensor or array is its element's (as in numpy), any other
// tensor is ambiguous and an error.
bool Session::truthy(const Value& v, const Location& loc) {
  switch (v.kind()) {
    case Value::Kind::None:
      return false;
    case Value::Kind::Bool:
      return v.as_bool();
    case Value::Kind::Int:
      return v.as_int() != 0;
    case Value::Kind::Float:
      return v.as_float() != 0;
    case Value::Kind::Str:
      return !v.as_str().empty();
    case Value::Kind::List:
      return !v.as_list().empty();
    case Value::Kind::Tensor:
    case Value::Kind::Array: {
      const int64_t n = v.is_array() ? v.as_array().numel() : v.as_tensor().shape().numel();
      if (n != 1)
        throw ScriptError(loc, "the truth value of a " +
                                   std::string(v.is_array() ? "array" : "tensor") +
                                   " with more than one element is ambiguous; use any(...) or "
                                   "all(...) of it, or & | ~ for elementwise logic");
      const double x = to_array(v, loc, "a condition").get(0);
      if (std::isnan(x)) return true;  // as in Python and numpy: NaN is truthy
      return x != 0;
    }
    default:
      return true;
  }
}

Value Session::eval_binary(const Expr& e) {
  const std::string& op = e.text;
  if (op == "and" || op == "or") {
    Value a = eval(*e.items[0]);
    bool ta = truthy(a, e.items[0]->loc);
    if (op == "and" ? !ta : ta) return a;
    Value b = eval(*e.items[1]);
    truthy(b, e.items[1]->loc);  // rejects tensors of many elements
    return b;
  }
  Value a = eval(*e.items[0]);
  Value b = eval(*e.items[1]);
  return binary_op(op, a, b, e.loc);
}

Value Session::binary_op(const std::string& op, const Value& a, const Value& b,
                         const Location& loc) {
  auto type_error = [&]() -> ScriptError {
    return ScriptError(loc, "unsupported operand types for '" + op + "': " + a.type_name() +
                                " and " + b.type_name());
  };
  bool tensor_op =
      is_tensorish(a) || is_tensorish(b) ||
      ((a.is_list() || b.is_list()) && op != "+" && op != "*" && op != "==" && op != "!=");
  if (a.is_list() && b.is_list() && op != "+" && op != "==" && op != "!=") tensor_op = true;
  if (a.is_list() && b.is_int() && op == "*") tensor_op = false;
  auto convertible = [](const Value& v) {
    return v.is_tensor() || v.is_array() || v.is_number() || v.is_list();
  };
  if (tensor_op && (!convertible(a) || !convertible(b))) throw type_error();
  if (tensor_op) {
    // Python numbers stay "weak" scalars that take the tensor's dtype (numpy's rule).
    auto key_a = value_key(a), key_b = value_key(b);
    if (a.is_array()) key_a = "t" + std::to_string(array_input(a.as_array()).id());
    if (b.is_array()) key_b = "t" + std::to_string(array_input(b.as_array()).id());
    std::optional<std::string> key;
    if (key_a && key_b) key = "b" + op + "|" + *key_a + "|" + *key_b;
    if (key)
      if (auto m = memo_get(*key)) return *m;
    ContextScope scope(ctx_);
    Value r;
    try {
      bool sa = a.is_int() || a.is_float() || a.is_bool();
      bool sb = b.is_int() || b.is_float() || b.is_bool();
      auto ta = [&] { return to_tensor(a, loc, "left operand of '" + op + "'"); };
      auto tb = [&] { return to_tensor(b, loc, "right operand of '" + op + "'"); };
      double na = sa ? a.as_number() : 0, nb = sb ? b.as_number() : 0;
      Tensor t;
      if (op == "+")
        t = sa ? na + tb() : sb ? ta() + nb : ta() + tb();
      else if (op == "-")
        t = sa ? na - tb() : sb ? ta() - nb : ta() - tb();
      else if (op == "*")
        t = sa ? na * tb() : sb ? ta() * nb : ta() * tb();
      else if (op == "/")
        t = sa ? na / tb() : sb ? ta() / nb : ta() / tb();
      else if (op == "**")
        t = sa ? soma::pow(na, tb()) : sb ? soma::pow(ta(), nb) : soma::pow(ta(), tb());
      else if (op == "@")
        t = soma::matmul(ta(), tb());
      else if (op == "<")
        t = sa ? tb() > na : sb ? ta() < nb : ta() < tb();
      else if (op == "<=")
        t = sa ? tb() >= na : sb ? ta() <= nb : ta() <= tb();
      else if (op == ">")
        t = sa ? tb() < na : sb ? ta() > nb : ta() > tb();
      else if (op == ">=")
        t = sa ? tb() <= na : sb ? ta() >= nb : ta() >= tb();
      else if (op == "==")
        t = sa ? tb() == na : sb ? ta() == nb : ta() == tb();
      else if (op == "!=")
        t = sa ? tb() != na : sb ? ta() != nb : ta() != tb();
      else if (op == "&" || op == "|") {
        Tensor x = ta(), y = tb();
        if (x.dtype() != DType::boolean || y.dtype() != DType::boolean)
          throw ScriptError(loc, "'" + op + "' needs bool tensors (elementwise " +
                                     (op == "&" ? "and" : "or") + "), got " + x.type().str() +
                                     " and " + y.type().str());
        t = op == "&" ? (x && y) : (x || y);
      } else if (op == "//" || op == "%") {
        Tensor x = ta(), y = tb();
        DType common = promote(x.dtype(), y.dtype());
        Tensor q = soma::floor(x / y);
        Tensor r2 = op == "//" ? q : x - q * y;
        t = is_float(common) ? r2 : soma::cast(r2, common == DType::boolean ? DType::i32 : common);
      } else {
        throw type_error();
      }
      r = Value::tensor(t);
    } catch (const ScriptError&) {
      throw;
    } catch (const Error& err) {
      throw ScriptError(loc, err.what());
    }
    if (key) memo_put(*key, r);
    return r;
  }

  // Python scalars.
  bool na = a.is_number(), nb = b.is_number();
  if (na && nb) {
    bool ints = !a.is_float() && !b.is_float();
    if (ints) {
      int64_t x = a.is_int() ? a.as_int() : a.as_bool(), y = b.is_int() ? b.as_int() : b.as_bool();
      int64_t r = 0;
      if (op == "+" || op == "-" || op == "*") {
        bool overflow = op == "+"   ? __builtin_add_overflow(x, y, &r)
                        : op == "-" ? __builtin_sub_overflow(x, y, &r)
                                    : __builtin_mul_overflow(x, y, &r);
        if (overflow) throw ScriptError(loc, "integer overflow in '" + op + "'");
        return Value::integer(r);
      }
      if (op == "//" || op == "%") {
        if (y == 0) throw ScriptError(loc, "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) throw ScriptError(loc, "integer overflow in '" + op + "'");
        int64_t q = floor_div(x, y);
        return Value::integer(op == "//" ? q : x - q * y);
      }
      if (op == "**" && y >= 0) {
        int64_t p = 1;
        for (int64_t i = 0; i < y; ++i)
          if (__builtin_mul_overflow(p, x, &p)) throw ScriptError(loc, "integer overflow in '**'");
        return Value::integer(p);
      }
      if (op == "&" && a.is_bool() && b.is_bool()) return Value::boolean(x & y);
      if (op == "|" && a.is_bool() && b.is_bool()) return Value::boolean(x | y);
      if (op == "&") return Value::integer(x & y);
      if (op == "|") return Value::integer(x | y);
    }
    double x = a.as_number(), y = b.as_number();
    if (op == "+") return Value::number(x + y);
    if (op == "-") return Value::number(x - y);
    if (op == "*") return Value::number(x * y);
    if (op == "/") {
      if (y == 0) throw ScriptError(loc, "division by zero");
      return Value::number(x / y);
    }
    if (op == "//" || op == "%") {
      if (y == 0) throw ScriptError(loc, "float division or modulo by zero");
      double q = std::floor(x / y);
      return Value::number(op == "//" ? q : x - q * y);
    }
    if (op == "**") {
      if (x == 0 && y < 0) throw ScriptError(loc, "0.0 cannot be raised to a negative power");
      return Value::number(std::pow(x, y));
    }
    if (op == "<") return Value::boolean(x < y);
    if (op == "<=") return Value::boolean(x <= y);
    if (op == ">") return Value::boolean(x > y);
    if (op == ">=") return Value::boolean(x >= y);
    if (op == "==") return Value::boolean(x == y);
    if (op == "!=") return Value::boolean(x != y);
    throw type_error();
  }
  if (a.is_str() && b.is_str()) {
    if (op == "+") return Value::str(a.as_str() + b.as_str());
    if (op == "==") return Value::boolean(a.as_str() == b.as_str());
    if (op == "!=") return Value::boolean(a.as_str() != b.as_str());
    if (op == "<") return Value::boolean(a.as_str() < b.as_str());
    if (op == "<=") return Value::boolean(a.as_str() <= b.as_str());
    if (op == ">") return Value::boolean(a.as_str() > b.as_str());
    if (op == ">=") return Value::boolean(a.as_str() >= b.as_str());
  }
  if (op == "*" && ((a.is_str() && b.is_int()) || (a.is_list() && b.is_int()))) {
    int64_t n = std::max<int64_t>(0, b.as_int());
    if (a.is_str()) {
      if (static_cast<double>(a.as_str().size()) * static_cast<double>(n) > 1e8)
        throw ScriptError(loc, "the repeated string would be too long");
      std::string s;
      for (int64_t i = 0; i < n; ++i) s += a.as_str();
      return Value::str(s);
    }
    if (static_cast<double>(a.as_list().size()) * static_cast<double>(n) > 1e7)
      throw ScriptError(loc, "the repeated list would be too long");
    std::vector<Value> items;
    for (int64_t i = 0; i < n; ++i)
      items.insert(items.end(), a.as_list().begin(), a.as_list().end());
    return checked_list(std::move(items), loc);
  }
  if (op == "+" && a.is_list() && b.is_list()) {
    std::vector<Value> items = a.as_list();
    items.insert(items.end(), b.as_list().begin(), b.as_list().end());
    return checked_list(std::move(items), loc);
  }
  if (op == "==" || op == "!=") {
    bool eq;
    if (a.is_none() || b.is_none())
      eq = a.is_none() && b.is_none();
    else if (a.kind() != b.kind())
      eq = false;
    else if (a.is_list()) {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      eq = x.size() == y.size();
      for (size_t i = 0; eq && i < x.size(); ++i) {
        Value r = binary_op("==", x[i], y[i], loc);
        eq = r.is_bool() && r.as_bool();
      }
    } else if (a.is_object())
      eq = a.as_object() == b.as_object();
    else if (a.is_function())
      eq = a.as_function() == b.as_function();
    else
      eq = false;
    return Value::boolean(op == "==" ? eq : !eq);
  }
  throw type_error();
}

Value Session::call(const FunctionPtr& f, std::vector<Arg> args, const Location& loc) {
  Call c(*this, *f, std::move(args), loc);
  std::optional<std::string> key;
  if (f->pure) {
    std::string k = "c" + f->name + "(";
    bool ok = true;
    auto add = [&](const Value& v) {
      std::optional<std::string> vk =
          v.is_array()
              ? std::optional<std::string>("t" + std::to_string(array_input(v.as_array()).id()))
              : value_key(v);
      if (!vk)
        ok = false;
      else
        k += *vk + ",";
    };
    for (const Param& p : f->params) add(c[p.name]);
    for (const Arg& a : c.rest()) add(a.value);
    if (ok) key = k + ")";
  }
  if (key)
    if (auto m = memo_get(*key)) return *m;
  Value r;
  try {
    ContextScope scope(ctx_);
    r = f->body(c);
  } catch (const ScriptError&) {
    throw;
  } catch (const Interrupted&) {
    throw;
  } catch (const Error& e) {
    throw ScriptError(loc, e.what());
  } catch (const std::bad_alloc&) {
    throw ScriptError(loc, f->name + "(): out of memory");
  }
  if (key) memo_put(*key, r);
  return r;
}

Value Session::eval_call(const Expr& e) {
  Value callee = eval(*e.items[0]);
  if (callee.is_object())  // a callable object (a layer: Dense(10)(x)) has a __call__ method
    if (auto f = callee.as_object()->attr("__call__"); f && f->is_function()) callee = *f;
  if (!callee.is_function())
    throw ScriptError(e.loc, "'" + callee.type_name() + "' object is not callable");
  std::vector<Arg> args;
  for (size_t i = 1; i < e.items.size(); ++i)
    args.push_back(Arg{eval(*e.items[i]), e.items[i]->loc, ""});
  for (const Keyword& k : e.keywords) args.push_back(Arg{eval(*k.value), k.loc, k.name});
  return call(callee.as_function(), std::move(args), e.loc);
}

Value Session::eval_attr(const Expr& e) {
  Value base = eval(*e.items[0]);
  return attribute(base, e.text, e.loc);
}

Value Session::attribute(const Value& base, const std::string& name, const Location& loc) {
  if (base.is_tensor() || base.is_array()) {
    TensorType type = base.is_tensor()
                          ? base.as_tensor().type()
                          : TensorType{base.as_array().dtype(), base.as_array().shape()};
    if (name == "shape") {
      std::vector<Value> dims;
      for (int64_t d : type.shape.dims()) dims.push_back(Value::integer(d));
      return Value::list(std::move(dims));
    }
    if (name == "dtype") return Value::str(dtype_name(type.dtype));
    if (name == "ndim") return Value::integer(type.shape.rank());
    if (name == "size") return Value::integer(type.shape.numel());
    if (name == "T") {
      Tensor t = to_tensor(base, loc, "x.T");
      std::string key = "T|" + std::to_string(t.id());
      if (auto m = memo_get(key)) return *m;
      ContextScope scope(ctx_);
      Value r = Value::tensor(t.T());
      memo_put(key, r);
      return r;
    }
    std::string target = name == "astype" ? "cast" : name;
    if (tensor_methods().count(target) || name == "item" || name == "numpy")
      if (FunctionPtr f = find_builtin(name == "item"    ? "float"
                                       : name == "numpy" ? "array"
                                                         : target))
        return Value::function(bind_method(f, base));
    throw ScriptError(loc, base.a_type_name() + " has no attribute '" + name +
                               "' (it has shape, dtype, ndim, size, T, item(), and the methods "
                               "sum, mean, max, min, reshape, transpose, astype, ...)");
  }
  if (base.is_object()) {
    const ObjectPtr& o = base.as_object();
    if (auto v = o->attr(name)) return *v;
    std::string names;
    for (const std::string& n : o->attr_names()) names += (names.empty() ? "" : ", ") + n;
    throw ScriptError(loc, "'" + o->type_name() + "' object has no attribute '" + name + "'" +
                               (names.empty() ? "" : " (it has: " + names + ")"));
  }
  if (base.is_function()) {
    for (const auto& [n, f] : base.as_function()->attrs)
      if (n == name) return Value::function(f);
  }
  throw ScriptError(loc, "'" + base.type_name() + "' object has no attribute '" + name + "'");
}

Value Session::eval_index(const Expr& e) {
  Value base = eval(*e.items[0]);
  if (base.is_list() || base.is_str()) {
    if (e.items.size() != 2) throw ScriptError(e.loc, "a " + base.type_name() + " takes one index");
    const Expr& ix = *e.items[1];
    int64_t n = base.is_list() ? static_cast<int64_t>(base.as_list().size())
                               : static_cast<int64_t>(base.as_str().size());
    if (ix.kind == ExprKind::Slice) {
      auto bound = [&](const ExprPtr& p) -> std::optional<int64_t> {
        if (!p) return std::nullopt;
        Value v = eval(*p);
        if (v.is_none()) return std::nullopt;
        auto i = to_int(v);
        if (!i) throw ScriptError(p->loc, "slice bounds must be ints, not " + v.type_name());
        return *i;
      };
      std::optional<int64_t> b = bound(ix.items[0]), en = bound(ix.items[1]),
                             st = bound(ix.items[2]);
      int64_t step = st.value_or(1);
      if (step == 0) throw ScriptError(ix.loc, "slice step cannot be zero");
      auto clampi = [&](std::optional<int64_t> v, int64_t dflt, int64_t lo, int64_t hi) {
        if (!v) return dflt;
        int64_t w = *v < 0 ? *v + n : *v;
        return std::clamp(w, lo, hi);
      };
      int64_t lo = step > 0 ? clampi(b, 0, 0, n) : clampi(b, n - 1, -1, n - 1);
      int64_t hi = step > 0 ? clampi(en, n, 0, n) : clampi(en, -1, -1, n - 1);
      std::vector<Value> items;
      std::string s;
      for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) {
        if (base.is_list())
          items.push_back(base.as_list()[static_cast<size_t>(i)]);
        else
          s += base.as_str()[static_cast<size_t>(i)];
      }
      return base.is_list() ? Value::list(std::move(items)) : Value::str(s);
    }
    Value v = eval(ix);
    auto i = to_int(v);
    if (!i) throw ScriptError(ix.loc, "list indices must be ints, not " + v.type_name());
    int64_t k = *i < 0 ? *i + n : *i;
    if (k < 0 || k >= n)
      throw ScriptError(ix.loc, "index " + std::to_string(*i) + " is out of range for a " +
                                    base.type_name() + " of length " + std::to_string(n));
    if (base.is_list()) return base.as_list()[static_cast<size_t>(k)];
    return Value::str(std::string(1, base.as_str()[static_cast<size_t>(k)]));
  }
  if (base.is_object()) {
    if (e.items.size() != 2) throw ScriptError(e.loc, "this object takes one index");
    Value key = eval(*e.items[1]);
    if (auto v = base.as_object()->index(key)) return *v;
    throw ScriptError(e.loc, "'" + base.type_name() + "' object is not subscriptable");
  }
  if (!is_tensorish(base))
    throw ScriptError(e.loc, "'" + base.type_name() + "' object is not subscriptable");
  std::vector<Index> items;
  std::string key;
  for (size_t i = 1; i < e.items.size(); ++i) {
    const Expr& ix = *e.items[i];
    if (ix.kind == ExprKind::Ellipsis) {
      items.push_back(Ellipsis{});
      key += "E,";
      continue;
    }
    if (ix.kind == ExprKind::Slice) {
      Slice sl;
      std::optional<int64_t>* parts[3] = {&sl.start, &sl.stop, &sl.step};
      for (int k = 0; k < 3; ++k) {
        if (!ix.items[static_cast<size_t>(k)]) continue;
        Value v = eval(*ix.items[static_cast<size_t>(k)]);
        if (v.is_none()) continue;
        auto n = to_int(v);
        if (!n)
          throw ScriptError(ix.items[static_cast<size_t>(k)]->loc,
                            "slice bounds must be ints, not " + v.type_name());
        *parts[k] = *n;
      }
      items.push_back(sl);
      auto o = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "_"; };
      key += "S" + o(sl.start) + ":" + o(sl.stop) + ":" + o(sl.step) + ",";
      continue;
    }
    Value v = eval(ix);
    if (v.is_none()) {
      items.push_back(NewAxis{});
      key += "N,";
      continue;
    }
    auto n = to_int(v);
    if (!n)
      throw ScriptError(
          ix.loc,
          "tensors take basic indices (ints, slices, ..., None), not " + v.a_type_name() +
              (v.is_tensor() || v.is_list() ? "; to gather rows by index use embedding(ids, table)"
                                            : ""));
    items.push_back(*n);
    key += "I" + std::to_string(*n) + ",";
  }
  // An array is indexed on the host, as numpy does: no graph, no compiled program per index.
  if (base.is_array()) return Value::array(index_array(base.as_array(), items, e.loc));
  Tensor t = to_tensor(base, e.loc, "indexed value");
  key = "x|" + std::to_string(t.id()) + "|" + key;
  if (auto m = memo_get(key)) return *m;
  ContextScope scope(ctx_);
  Value r;
  try {
    // Inside a loop, a proper slice of the first axis (x[i*n:(i+1)*n], a mini-batch) takes its
    // start at run time, so that the loop's steps share one compiled program.
    const Slice* first = items.empty() ? nullptr : std::get_if<Slice>(&items[0]);
    if (loop_depth_ > 0 && first && t.rank() >= 1 && (!first->step || *first->step == 1)) {
      const int64_t dim = t.shape()[0];
      auto bound = [&](const std::optional<int64_t>& b, int64_t dflt) {
        if (!b) return dflt;
        return std::clamp(*b < 0 ? *b + dim : *b, int64_t{0}, dim);
      };
      const int64_t start = bound(first->start, 0), stop = std::max(start, bound(first->stop, dim));
      if (stop - start < dim && start > 0) {
        std::vector<Index> rest = items;
        rest[0] = Slice{};
        r = Value::tensor(soma::index(soma::dynamic_rows(t, start, stop - start), rest));
      }
    }
    if (r.is_none()) r = Value::tensor(soma::index(t, items));
  } catch (const Error& err) {
    throw ScriptError(e.loc, err.what());
  }
  memo_put(key, r);
  return r;
}

}  // namespace soma::script
