// Call: the arguments of one call of a built-in, bound to its parameters by position and keyword
// (Python's rules), with conversions that report a wrong argument at the argument's location:
//
//   sum(x, axis="a")
//           ^ error: sum: argument 'axis' must be None, an int or a list of ints, not str
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "frontend/script/source.h"
#include "frontend/script/value.h"

namespace soma::script {

class Session;

struct Arg {
  Value value;
  Location loc;
  std::string keyword;  // "" for a positional argument
};

class Call {
 public:
  // Binds `args` to f's parameters; throws ScriptError for a missing, repeated or unknown
  // argument or too many positional arguments.
  Call(Session& session, const Function& f, std::vector<Arg> args, Location loc);

  Session& session() { return session_; }
  const Location& loc() const { return loc_; }
  const std::string& name() const { return f_.name; }

  // The argument of parameter `param` (its default when not given).
  const Value& operator[](const std::string& param) const;
  bool given(const std::string& param) const;
  bool is_none(const std::string& param) const { return (*this)[param].is_none(); }
  Location loc_of(const std::string& param) const;
  // The extra positional arguments collected by `*rest`.
  const std::vector<Arg>& rest() const { return rest_; }

  // Conversions (each throws ScriptError at the argument, naming the function and parameter).
  Tensor tensor(const std::string& p);                     // tensor, array, number or list
  std::optional<Tensor> opt_tensor(const std::string& p);  // None -> nullopt
  double number(const std::string& p) const;
  std::optional<double> opt_number(const std::string& p) const;
  int64_t integer(const std::string& p) const;
  std::optional<int64_t> opt_integer(const std::string& p) const;
  bool boolean(const std::string& p) const;
  std::string str(const std::string& p) const;
  std::optional<std::string> opt_str(const std::string& p) const;
  Shape shape(const std::string& p) const;                       // [2, 3] or 3
  std::vector<int64_t> ints(const std::string& p) const;         // a list of ints, or one int
  std::vector<int64_t> axes(const std::string& p) const;         // None -> {} (all), int or list
  std::pair<int64_t, int64_t> pair(const std::string& p) const;  // 2 or [2, 3]
  DType dtype(const std::string& p) const;                       // "f32", "float32", ...
  std::optional<DType> opt_dtype(const std::string& p) const;
  std::vector<Value> list(const std::string& p) const;  // a list (or one value as a list)
  std::vector<Tensor> tensors(const std::string& p);    // a list of tensors
  Array array(const std::string& p);                    // evaluates a tensor if needed

  // A ScriptError at argument `p`: "NAME: argument 'p' must be WHAT, not TYPE".
  [[noreturn]] void type_error(const std::string& p, const std::string& what) const;
  [[noreturn]] void value_error(const std::string& p, const std::string& msg) const;

 private:
  const Arg& arg(const std::string& p) const;
  Session& session_;
  const Function& f_;
  Location loc_;
  std::vector<std::optional<Arg>> bound_;  // per parameter
  std::vector<Arg> rest_;
  std::vector<Arg> defaults_;
};

// Python-style conversions shared with the evaluator.
std::optional<int64_t> to_int(const Value& v);  // an int or bool (not a float)
std::optional<std::vector<int64_t>> to_ints(const Value& v);

}  // namespace soma::script
