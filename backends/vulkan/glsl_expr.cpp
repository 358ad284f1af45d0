// The GLSL emitter's values: literals, conversions, buffer loads and stores, and expressions
// (unary, binary, casts, selects, integer division, 32-bit word ops, seed words).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "backends/vulkan/glsl_emitter.h"

namespace soma::vulkan {

using kir::BufferId;
using kir::Expr;
using kir::ExprId;
using kir::ExprKind;

std::string Emitter::literal(double v, DType t) {
  switch (t) {
    case DType::boolean:
      return v != 0 ? "true" : "false";
    case DType::i32: {
      double c = std::isnan(v) ? 0 : std::clamp(std::trunc(v), -2147483648.0, 2147483647.0);
      return int_lit(static_cast<int64_t>(c));
    }
    case DType::f32:
    case DType::f64: {
      bool dbl = t == DType::f64;
      double x = dbl ? v : static_cast<double>(static_cast<float>(v));
      std::string sfx(1, type_suffix(t));
      if (std::isnan(x)) {
        helpers_.insert("nan_" + sfx);
        return "soma_nan_" + sfx + "()";
      }
      if (std::isinf(x)) {
        helpers_.insert("nan_" + sfx);
        return std::string(x < 0 ? "(-" : "(") + "soma_inf_" + sfx + "())";
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, dbl ? "%.17g" : "%.9g", x);
      std::string s = buf;
      if (s.find_first_of(".e") == std::string::npos) s += ".0";
      if (dbl) s += "LF";
      return x < 0 || std::signbit(x) ? "(" + s + ")" : s;
    }
  }
  return "?";
}

std::string Emitter::convert(const std::string& x, DType from, DType to) {
  if (from == to) return x;
  if (to == DType::boolean) {
    if (from == DType::i32) return "(" + x + " != 0)";
    return "!(" + x + " == " + literal(0, from) + ")";  // NaN -> true
  }
  if (to == DType::i32) {
    if (from == DType::boolean) return "int(" + x + ")";
    std::string h = std::string("f2i_") + type_suffix(from);
    helpers_.insert(h);
    return "soma_" + h + "(" + x + ")";
  }
  return glsl_type(to) + "(" + x + ")";
}

std::string Emitter::buffer_ref(int binding, const std::string& index) {
  std::string n = std::to_string(binding);
  return "b" + n + ".d[pc.o[" + n + "] + " + index + "]";
}

std::string Emitter::load_text(BufferId b, const std::string& index) {
  int k = binding_of_.at(b);
  if (buffer(b).dtype != DType::boolean) return buffer_ref(k, index);
  if (f_.int8_storage) return "(uint(" + buffer_ref(k, index) + ") != 0u)";
  std::string q = fresh("q");
  std::string n = std::to_string(k);
  line("int " + q + " = pc.o[" + n + "] + " + index + ";");
  return "(((b" + n + ".d[" + q + " >> 2] >> (8u * uint(" + q + " & 3))) & 0xffu) != 0u)";
}

void Emitter::store_text(BufferId b, const std::string& index, const std::string& value) {
  int k = binding_of_.at(b);
  if (buffer(b).dtype != DType::boolean) {
    line(buffer_ref(k, index) + " = " + value + ";");
  } else if (f_.int8_storage) {
    line(buffer_ref(k, index) + " = uint8_t(" + value + " ? 1u : 0u);");
  } else {
    // Four bools share a word: clear and set this byte atomically (neighbours belong to other
    // points).
    std::string n = std::to_string(k), q = fresh("q"), sh = fresh("sh");
    line("int " + q + " = pc.o[" + n + "] + " + index + ";");
    line("uint " + sh + " = 8u * uint(" + q + " & 3);");
    line("atomicAnd(b" + n + ".d[" + q + " >> 2], ~(0xffu << " + sh + "));");
    line("if (" + value + ") atomicOr(b" + n + ".d[" + q + " >> 2], 1u << " + sh + ");");
  }
}

const std::string* Emitter::cached(ExprId id) const {
  for (size_t i = fn_->scopes.size(); i-- > 0;) {
    auto it = fn_->scopes[i].find(id);
    if (it != fn_->scopes[i].end()) return &it->second;
  }
  return nullptr;
}

void Emitter::invalidate_loads() {
  for (auto& scope : fn_->scopes)
    for (auto it = scope.begin(); it != scope.end();)
      it = has_load_[static_cast<size_t>(it->first)] ? scope.erase(it) : std::next(it);
}

std::string Emitter::val(ExprId id) {
  const Expr& e = expr(id);
  if (e.kind == ExprKind::Const) return literal(e.value, e.dtype);
  if (e.kind == ExprKind::Var) return var_name(e.var);
  if (const std::string* c = cached(id)) return *c;
  std::string name = fresh("t");
  std::string T = glsl_type(e.dtype);
  if (e.kind == ExprKind::Load) {
    if (e.a[1] >= 0) {
      std::string m = val(e.a[1]);
      line(T + " " + name + " = " + literal(e.value, e.dtype) + ";");
      open("if (" + m + ")");
      std::string idx = val(e.a[0]);
      line(name + " = " + load_text(e.buffer, idx) + ";");
      close();
    } else {
      std::string idx = val(e.a[0]);
      line(T + " " + name + " = " + load_text(e.buffer, idx) + ";");
    }
  } else {
    line(decl_type(e.dtype) + " " + name + " = " + rhs(e) + ";");
  }
  fn_->scopes.back()[id] = name;
  return name;
}

std::string Emitter::call(const std::string& helper, const std::string& fn,
                          const std::string& args) {
  helpers_.insert(helper);
  return fn + "(" + args + ")";
}

std::string Emitter::unary(const Expr& e) {
  std::string x = val(e.a[0]);
  DType t = e.dtype;
  if (e.op == Op::Not) return "!" + x;
  if (t == DType::i32) {
    switch (e.op) {
      case Op::Neg:
        return "-" + x;
      case Op::Abs:
        return "abs(" + x + ")";
      case Op::Sign:
        return "sign(" + x + ")";
      default:
        unsupported(std::string("i32 ") + op_name(e.op));
    }
  }
  if (!is_float(t)) unsupported(std::string(dtype_name(t)) + " " + op_name(e.op));
  const bool d = t == DType::f64;
  const std::string s = d ? "d" : "f";
  auto h = [&](const std::string& base) {
    return call(base + "_" + s, "soma_" + base + "_" + s, x);
  };
  switch (e.op) {
    case Op::Neg:
      return "-" + x;
    case Op::Abs:
      return "abs(" + x + ")";
    case Op::Sign:
      return h("sign");
    case Op::Floor:
      return "floor(" + x + ")";
    case Op::Exp:
      if (!d) return "exp(" + x + ")";
      break;
    case Op::Log:
      if (!d) return h("log");
      break;
    case Op::Sqrt:
      return h("sqrt");
    case Op::Rsqrt:
      return literal(1, t) + " / " + h("sqrt");
    case Op::Sin:
      if (!d) return "sin(" + x + ")";
      break;
    case Op::Cos:
      if (!d) return "cos(" + x + ")";
      break;
    default:
      break;
  }
  // The composite functions were expanded before emission (graph/kernel_math.h).
  unsupported(std::string("unary ") + op_name(e.op) + " on " + dtype_name(t));
}

std::string Emitter::binary(const Expr& e) {
  std::string x = val(e.a[0]), y = val(e.a[1]);
  DType t = expr(e.a[0]).dtype;
  if (e.op == Op::And) return "(" + x + " && " + y + ")";
  if (e.op == Op::Or) return "(" + x + " || " + y + ")";
  if (t == DType::boolean) {  // arithmetic on bools: as 0/1 ints, then != 0
    if (e.op == Op::Eq) return "(" + x + " == " + y + ")";
    if (e.op == Op::Ne) return "(" + x + " != " + y + ")";
    x = "int(" + x + ")";
    y = "int(" + y + ")";
    t = DType::i32;
    if (!is_comparison(e.op)) {
      std::string r = int_binary(e.op, x, y);
      return "(" + r + " != 0)";
    }
  }
  if (is_comparison(e.op)) {
    const char* sym = "";
    switch (e.op) {
      case Op::Lt:
        sym = " < ";
        break;
      case Op::Le:
        sym = " <= ";
        break;
      case Op::Gt:
        sym = " > ";
        break;
      case Op::Ge:
        sym = " >= ";
        break;
      case Op::Eq:
        sym = " == ";
        break;
      case Op::Ne:
        // x != x is the NaN test (the expansions use it): isnan, which no compiler folds away.
        if (e.a[0] == e.a[1] && is_float(t)) return "isnan(" + x + ")";
        // !(x == y): true for NaN operands, whatever the compiler picks for !=.
        return "!(" + x + " == " + y + ")";
      default:
        break;
    }
    return "(" + x + sym + y + ")";
  }
  if (t == DType::i32) return int_binary(e.op, x, y);
  const std::string s = t == DType::f64 ? "d" : "f";
  switch (e.op) {
    case Op::Add:
      return "(" + x + " + " + y + ")";
    case Op::Sub:
      return "(" + x + " - " + y + ")";
    case Op::Mul:
      return "(" + x + " * " + y + ")";
    case Op::Div:
      return "(" + x + " / " + y + ")";
    case Op::Pow:  // f64: expanded before emission (graph/kernel_math.h)
      if (t == DType::f32) return call("pow_f", "soma_pow_f", x + ", " + y);
      break;
    case Op::Max:
      return call("max_" + s, "soma_max_" + s, x + ", " + y);
    case Op::Min:
      return call("max_" + s, "soma_min_" + s, x + ", " + y);
    default:
      break;
  }
  unsupported(std::string("binary ") + op_name(e.op) + " on " + dtype_name(t));
}

std::string Emitter::int_binary(Op op, const std::string& x, const std::string& y) {
  switch (op) {
    case Op::Add:
      return "(" + x + " + " + y + ")";
    case Op::Sub:
      return "(" + x + " - " + y + ")";
    case Op::Mul:
      return "(" + x + " * " + y + ")";
    case Op::Max:
      return "max(" + x + ", " + y + ")";
    case Op::Min:
      return "min(" + x + ", " + y + ")";
    default:
      unsupported(std::string("i32 ") + op_name(op));
  }
}

std::string Emitter::rhs(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Unary:
      return unary(e);
    case ExprKind::Cast:
      return convert(val(e.a[0]), expr(e.a[0]).dtype, e.dtype);
    case ExprKind::Binary:
      return binary(e);
    case ExprKind::IDiv:
      return call("idiv", "soma_idiv", val(e.a[0]) + ", " + val(e.a[1]));
    case ExprKind::IMod:
      return call("idiv", "soma_imod", val(e.a[0]) + ", " + val(e.a[1]));
    case ExprKind::Select: {
      std::string c = val(e.a[0]), x = val(e.a[1]), y = val(e.a[2]);
      return "(" + c + " ? " + x + " : " + y + ")";
    }
    case ExprKind::Word: {
      std::string x = val(e.a[0]), y = val(e.a[1]);
      switch (e.word) {
        case kir::WordOp::Add:
          return "int(uint(" + x + ") + uint(" + y + "))";
        case kir::WordOp::Mul:
          return "int(uint(" + x + ") * uint(" + y + "))";
        case kir::WordOp::MulHi:
          return call("mulhi", "soma_mulhi", x + ", " + y);
        case kir::WordOp::Xor:
          return "(" + x + " ^ " + y + ")";
        case kir::WordOp::Shr:
          return "int(uint(" + x + ") >> uint(" + y + "))";
      }
      break;
    }
    case ExprKind::Seed: {
      if (seed_words_)  // pushed at run time (KernelShader::seed_words)
        return "pc.o[" +
               std::to_string(bindings_.size() + 2 * static_cast<size_t>(e.var) +
                              (e.value != 0 ? 1 : 0)) +
               "]";
      auto seed = static_cast<uint64_t>(e.seed);
      return "int(" + uint_lit(e.value != 0 ? seed >> 32 : seed & 0xffffffffu) + ")";
    }
    default:
      break;
  }
  unsupported("an expression kind");
}

}  // namespace soma::vulkan
