#include "frontend/script/value.h"

#include <cctype>

#include "frontend/script/parser.h"

namespace soma::script {

Value Value::list(std::vector<Value> items) {
  return Value(Rep(std::make_shared<const std::vector<Value>>(std::move(items))));
}

double Value::as_number() const {
  switch (kind()) {
    case Kind::Bool:
      return as_bool() ? 1.0 : 0.0;
    case Kind::Int:
      return static_cast<double>(as_int());
    case Kind::Float:
      return as_float();
    default:
      return 0.0;
  }
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::Str:
      return "str";
    case Kind::List:
      return "list";
    case Kind::Tensor:
      return "tensor";
    case Kind::Array:
      return "array";
    case Kind::Object:
      return as_object()->type_name();
    case Kind::Function:
      return "function";
  }
  return "?";
}

std::string Value::a_type_name() const {
  std::string t = type_name();
  bool vowel = !t.empty() && std::string("aeiouAEIOU").find(t[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + t;
}

std::optional<Value> Object::index(const Value&) {
  return std::nullopt;
}

std::string Object::repr() const {
  return std::string("<").append(type_name()) + ">";
}

namespace {

// The value of a literal default ("None", "1", "-1", "'valid'", "[1, 1]", "True").
Value literal_value(const Expr& e) {
  switch (e.kind) {
    case ExprKind::None:
      return Value::none();
    case ExprKind::Bool:
      return Value::boolean(e.int_value != 0);
    case ExprKind::Int:
      return Value::integer(e.int_value);
    case ExprKind::Float:
      return Value::number(e.float_value);
    case ExprKind::String:
      return Value::str(e.text);
    case ExprKind::List: {
      std::vector<Value> items;
      for (const ExprPtr& i : e.items) items.push_back(literal_value(*i));
      return Value::list(std::move(items));
    }
    case ExprKind::Unary:
      if (e.text == "-" && e.items[0]->kind == ExprKind::Int)
        return Value::integer(-e.items[0]->int_value);
      if (e.text == "-" && e.items[0]->kind == ExprKind::Float)
        return Value::number(-e.items[0]->float_value);
      break;
    default:
      break;
  }
  SOMA_THROW(ValueError, "a built-in's default value is not a literal: " << to_string(e));
}

}  // namespace

FunctionPtr make_function(const std::string& signature, std::string doc,
                          std::function<Value(Call&)> body) {
  auto f = std::make_shared<Function>();
  f->signature = signature;
  f->doc = std::move(doc);
  f->body = std::move(body);
  size_t open = signature.find('(');
  if (open == std::string::npos || signature.back() != ')')
    SOMA_THROW(ValueError, "malformed built-in signature: " << signature);
  f->name = signature.substr(0, open);
  // "*rest" is not an expression: replace it by a marker name before parsing.
  std::string text = signature;
  size_t star = text.find('*');
  std::string rest_name;
  if (star != std::string::npos) {
    size_t e = star + 1;
    while (e < text.size() && (std::isalnum(static_cast<unsigned char>(text[e])) || text[e] == '_'))
      ++e;
    rest_name = text.substr(star + 1, e - star - 1);
    text.replace(star, e - star, "__varargs__");
  }
  auto src = std::make_shared<const Source>("<signature>", text);
  ExprPtr call = parse_expression(src, 0, text.size());
  if (call->kind != ExprKind::Call) SOMA_THROW(ValueError, "malformed signature: " << signature);
  for (size_t i = 1; i < call->items.size(); ++i) {
    const Expr& p = *call->items[i];
    if (p.kind != ExprKind::Name) SOMA_THROW(ValueError, "malformed signature: " << signature);
    if (p.text == "__varargs__") {
      f->varargs = static_cast<int>(f->params.size());
      f->params.push_back({rest_name, Value::list({})});
    } else {
      f->params.push_back({p.text, std::nullopt});
    }
  }
  for (const Keyword& k : call->keywords) f->params.push_back({k.name, literal_value(*k.value)});
  return f;
}

FunctionPtr bind_method(const FunctionPtr& f, Value self) {
  auto b = std::make_shared<Function>(*f);
  b->self = std::move(self);
  return b;
}

}  // namespace soma::script
