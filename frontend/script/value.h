// The values a script computes with: Python's scalars, strings and lists, symbolic tensors
// (graph nodes, evaluated when printed or fetched), host arrays (data: a dataset, predictions),
// opaque objects with attributes and methods (models, layers, optimizers, datasets, histories)
// and functions (built-ins and bound methods).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "frontend/tensor.h"
#include "runtime/array.h"

namespace soma::script {

class Value;
class Object;
struct Function;
class Call;
using ObjectPtr = std::shared_ptr<Object>;
using FunctionPtr = std::shared_ptr<const Function>;
using ListPtr = std::shared_ptr<const std::vector<Value>>;

class Value {
 public:
  enum class Kind { None, Bool, Int, Float, Str, List, Tensor, Array, Object, Function };

  Value() = default;  // None
  static Value none() { return Value(); }
  static Value boolean(bool b) { return Value(Rep(b)); }
  static Value integer(int64_t i) { return Value(Rep(i)); }
  static Value number(double d) { return Value(Rep(d)); }
  static Value str(std::string s) { return Value(Rep(std::move(s))); }
  static Value list(std::vector<Value> items);
  static Value tensor(Tensor t) { return Value(Rep(std::move(t))); }
  static Value array(Array a) { return Value(Rep(std::move(a))); }
  static Value object(ObjectPtr o) { return Value(Rep(std::move(o))); }
  static Value function(FunctionPtr f) { return Value(Rep(std::move(f))); }

  Kind kind() const { return static_cast<Kind>(rep_.index()); }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_str() const { return kind() == Kind::Str; }
  bool is_list() const { return kind() == Kind::List; }
  bool is_tensor() const { return kind() == Kind::Tensor; }
  bool is_array() const { return kind() == Kind::Array; }
  bool is_object() const { return kind() == Kind::Object; }
  bool is_function() const { return kind() == Kind::Function; }

  bool as_bool() const { return std::get<bool>(rep_); }
  int64_t as_int() const { return std::get<int64_t>(rep_); }
  double as_float() const { return std::get<double>(rep_); }
  // A bool, int or float as a double.
  double as_number() const;
  const std::string& as_str() const { return std::get<std::string>(rep_); }
  const std::vector<Value>& as_list() const { return *std::get<ListPtr>(rep_); }
  const Tensor& as_tensor() const { return std::get<Tensor>(rep_); }
  const Array& as_array() const { return std::get<Array>(rep_); }
  const ObjectPtr& as_object() const { return std::get<ObjectPtr>(rep_); }
  const FunctionPtr& as_function() const { return std::get<FunctionPtr>(rep_); }

  // "int", "tensor", "Sequential", ... (for error messages and :vars)
  std::string type_name() const;
  // The type name with its article: "an int", "a tensor".
  std::string a_type_name() const;

 private:
  using Rep = std::variant<std::monostate, bool, int64_t, double, std::string, ListPtr, Tensor,
                           Array, ObjectPtr, FunctionPtr>;
  explicit Value(Rep r) : rep_(std::move(r)) {}
  Rep rep_;
};

// A model, layer, optimizer, dataset, ...: named attributes (values or bound methods).
class Object : public std::enable_shared_from_this<Object> {
 public:
  virtual ~Object() = default;
  virtual std::string type_name() const = 0;
  // The attribute `name`, or nullopt when there is none (the evaluator then reports the names
  // that exist).
  virtual std::optional<Value> attr(const std::string& name) = 0;
  // The attribute names, for tab completion and error messages.
  virtual std::vector<std::string> attr_names() const = 0;
  // obj.name = v: false when `name` cannot be set (the evaluator then lists those that can);
  // a bad value throws.
  virtual bool set_attr(const std::string& /*name*/, const Value& /*v*/) { return false; }
  virtual std::vector<std::string> settable_attrs() const { return {}; }
  // obj[key] (e.g. history["loss"]); nullopt when the object cannot be indexed.
  virtual std::optional<Value> index(const Value& key);
  // How the REPL shows it: "<Sequential 'sequential': 3 layers>".
  virtual std::string repr() const;
  // Iteration (for loops): the number of items, or nullopt when the object is not iterable.
  virtual std::optional<int64_t> length() const { return std::nullopt; }
  virtual Value item(int64_t /*i*/) { return Value(); }
};

// A built-in function or a bound method. The signature is written like a Python def's
// parameters, e.g. "sum(x, axis=None, keepdims=False)", and parsed once at registration; `*name`
// collects extra positional arguments.
struct Param {
  std::string name;
  std::optional<Value> default_value;  // nullopt: required
};

struct Function {
  std::string name;
  std::string signature;  // "sum(x, axis=None, keepdims=False)"
  std::string doc;        // one paragraph
  std::vector<Param> params;
  int varargs = -1;  // index of the `*rest` parameter, or -1
  std::function<Value(Call&)> body;
  // Attributes of the function itself (static methods, e.g. Sequential.load).
  std::vector<std::pair<std::string, FunctionPtr>> attrs;
  // Pure: the same arguments always give an equivalent result (tensor operations), so the
  // evaluator may reuse an earlier result instead of adding new graph nodes.
  bool pure = false;
  // A bound method (x.sum): the value passed as the first positional argument.
  std::optional<Value> self;
  // What a method's body refers to (its object), kept alive as long as the method value.
  std::shared_ptr<const void> keepalive;
};

// `f` bound to `self` (a method of a tensor: x.sum(axis=1) is sum(x, axis=1)).
FunctionPtr bind_method(const FunctionPtr& f, Value self);

// Builds a Function from its signature text; throws ValueError on a malformed signature (a bug in
// a built-in's registration, caught by the tests).
FunctionPtr make_function(const std::string& signature, std::string doc,
                          std::function<Value(Call&)> body);

}  // namespace soma::script
