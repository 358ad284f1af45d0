#include "frontend/script/call.h"

#include "frontend/script/session.h"

namespace soma::script {

std::optional<int64_t> to_int(const Value& v) {
  if (v.is_int()) return v.as_int();
  if (v.is_bool()) return v.as_bool() ? 1 : 0;
  return std::nullopt;
}

std::optional<std::vector<int64_t>> to_ints(const Value& v) {
  if (auto i = to_int(v)) return std::vector<int64_t>{*i};
  if (!v.is_list()) return std::nullopt;
  std::vector<int64_t> out;
  for (const Value& item : v.as_list()) {
    auto i = to_int(item);
    if (!i) return std::nullopt;
    out.push_back(*i);
  }
  return out;
}

Call::Call(Session& session, const Function& f, std::vector<Arg> args, Location loc)
    : session_(session), f_(f), loc_(std::move(loc)), bound_(f.params.size()) {
  if (f.self) args.insert(args.begin(), Arg{*f.self, loc_, ""});
  size_t positional_slots = f.varargs >= 0 ? static_cast<size_t>(f.varargs) : f.params.size();
  size_t npos = 0;
  for (Arg& a : args) {
    if (!a.keyword.empty()) continue;
    if (npos < positional_slots) {
      bound_[npos] = std::move(a);
    } else if (f.varargs >= 0) {
      rest_.push_back(std::move(a));
    } else {
      size_t given = 0;
      for (const Arg& b : args) given += b.keyword.empty() ? 1 : 0;
      if (f.self) --given, --positional_slots;
      throw ScriptError(
          a.loc, f.name + "() takes " +
                     (positional_slots == 0
                          ? std::string("no positional arguments")
                          : "at most " + std::to_string(positional_slots) + " positional argument" +
                                (positional_slots == 1 ? "" : "s")) +
                     " (" + std::to_string(given) + " given); usage: " + f.signature);
    }
    ++npos;
  }
  for (Arg& a : args) {
    if (a.keyword.empty()) continue;
    size_t k = 0;
    while (k < f.params.size() &&
           (f.params[k].name != a.keyword || static_cast<int>(k) == f.varargs))
      ++k;
    if (k == f.params.size()) {
      std::string names;
      for (size_t i = 0; i < f.params.size(); ++i)
        if (static_cast<int>(i) != f.varargs && !(f.self && i == 0))
          names += (names.empty() ? "" : ", ") + f.params[i].name;
      throw ScriptError(a.loc, f.name + "() got an unexpected keyword argument '" + a.keyword +
                                   "'" + (names.empty() ? "" : " (its arguments: " + names + ")"));
    }
    if (bound_[k])
      throw ScriptError(a.loc, f.name + "() got multiple values for argument '" + a.keyword + "'");
    bound_[k] = std::move(a);
  }
  for (size_t k = 0; k < f.params.size(); ++k) {
    if (bound_[k] || f.params[k].default_value) continue;
    throw ScriptError(loc_, f.name + "() missing required argument '" + f.params[k].name +
                                "'; usage: " + f.signature);
  }
  defaults_.resize(f.params.size());
  for (size_t k = 0; k < f.params.size(); ++k)
    if (!bound_[k]) defaults_[k] = Arg{*f.params[k].default_value, loc_, ""};
}

const Arg& Call::arg(const std::string& p) const {
  for (size_t k = 0; k < f_.params.size(); ++k)
    if (f_.params[k].name == p) return bound_[k] ? *bound_[k] : defaults_[k];
  SOMA_THROW(ValueError, "built-in " << f_.name << " has no parameter '" << p << "'");
}

const Value& Call::operator[](const std::string& p) const {
  return arg(p).value;
}

bool Call::given(const std::string& p) const {
  for (size_t k = 0; k < f_.params.size(); ++k)
    if (f_.params[k].name == p) return bound_[k].has_value();
  return false;
}

Location Call::loc_of(const std::string& p) const {
  return arg(p).loc;
}

void Call::type_error(const std::string& p, const std::string& what) const {
  const Arg& a = arg(p);
  throw ScriptError(
      a.loc, f_.name + "(): argument '" + p + "' must be " + what + ", not " + a.value.type_name());
}

void Call::value_error(const std::string& p, const std::string& msg) const {
  throw ScriptError(arg(p).loc, f_.name + "(): argument '" + p + "': " + msg);
}

Tensor Call::tensor(const std::string& p) {
  const Arg& a = arg(p);
  return session_.to_tensor(a.value, a.loc, f_.name + "(): argument '" + p + "'");
}

std::optional<Tensor> Call::opt_tensor(const std::string& p) {
  if (is_none(p)) return std::nullopt;
  return tensor(p);
}

double Call::number(const std::string& p) const {
  const Value& v = (*this)[p];
  if (!v.is_number()) type_error(p, "a number");
  return v.as_number();
}

std::optional<double> Call::opt_number(const std::string& p) const {
  if (is_none(p)) return std::nullopt;
  return number(p);
}

int64_t Call::integer(const std::string& p) const {
  auto i = to_int((*this)[p]);
  if (!i) type_error(p, "an int");
  return *i;
}

std::optional<int64_t> Call::opt_integer(const std::string& p) const {
  if (is_none(p)) return std::nullopt;
  return integer(p);
}

bool Call::boolean(const std::string& p) const {
  const Value& v = (*this)[p];
  if (v.is_bool()) return v.as_bool();
  if (v.is_int()) return v.as_int() != 0;
  type_error(p, "True or False");
}

std::string Call::str(const std::string& p) const {
  const Value& v = (*this)[p];
  if (!v.is_str()) type_error(p, "a string");
  return v.as_str();
}

std::optional<std::string> Call::opt_str(const std::string& p) const {
  if (is_none(p)) return std::nullopt;
  return str(p);
}

Shape Call::shape(const std::string& p) const {
  auto v = to_ints((*this)[p]);
  if (!v) type_error(p, "a shape (a list of ints, or an int)");
  if (v->size() > static_cast<size_t>(kMaxRank))
    value_error(p, "rank " + std::to_string(v->size()) + " exceeds soma's maximum rank " +
                       std::to_string(kMaxRank));
  for (int64_t d : *v)
    if (d < 0) value_error(p, "negative dimension " + std::to_string(d) + " in a shape");
  return Shape(*v);
}

std::vector<int64_t> Call::ints(const std::string& p) const {
  auto v = to_ints((*this)[p]);
  if (!v) type_error(p, "an int or a list of ints");
  return *v;
}

std::vector<int64_t> Call::axes(const std::string& p) const {
  if (is_none(p)) return {};
  auto v = to_ints((*this)[p]);
  if (!v) type_error(p, "None, an int or a list of ints");
  if ((*this)[p].is_list() && v->empty())
    value_error(p, "an empty list of axes (use None for all axes)");
  return *v;
}

std::pair<int64_t, int64_t> Call::pair(const std::string& p) const {
  auto v = to_ints((*this)[p]);
  if (!v || v->empty() || v->size() > 2) type_error(p, "an int or a list of two ints");
  return v->size() == 1 ? std::pair{(*v)[0], (*v)[0]} : std::pair{(*v)[0], (*v)[1]};
}

DType Call::dtype(const std::string& p) const {
  const Value& v = (*this)[p];
  if (!v.is_str()) type_error(p, "a dtype name (\"f32\", \"f64\", \"i32\" or \"bool\")");
  auto t = parse_dtype(v.as_str());
  if (!t)
    value_error(p, "unknown dtype '" + v.as_str() +
                       "' (known: f32, f64, i32, bool, float32, "
                       "float64, int32)");
  return *t;
}

std::optional<DType> Call::opt_dtype(const std::string& p) const {
  if (is_none(p)) return std::nullopt;
  return dtype(p);
}

std::vector<Value> Call::list(const std::string& p) const {
  const Value& v = (*this)[p];
  if (v.is_list()) return v.as_list();
  return {v};
}

std::vector<Tensor> Call::tensors(const std::string& p) {
  const Arg& a = arg(p);
  if (!a.value.is_list()) type_error(p, "a list of tensors");
  std::vector<Tensor> out;
  size_t i = 0;
  for (const Value& v : a.value.as_list())
    out.push_back(session_.to_tensor(
        v, a.loc, f_.name + "(): element " + std::to_string(i++) + " of argument '" + p + "'"));
  return out;
}

Array Call::array(const std::string& p) {
  const Arg& a = arg(p);
  return session_.to_array(a.value, a.loc, f_.name + "(): argument '" + p + "'");
}

}  // namespace soma::script
