// Core built-ins: printing, Python conveniences (len, range, float, int, str, type), data files,
// feeds and parameter assignment.
#include <cmath>
#include <cstdlib>

#include "frontend/data/csv.h"
#include "frontend/script/builtins.h"
#include "frontend/script/session.h"
#include "runtime/npy.h"

namespace soma::script {

namespace {

class RangeObject : public Object {
 public:
  RangeObject(int64_t start, int64_t stop, int64_t step)
      : start_(start), stop_(stop), step_(step) {}
  std::string type_name() const override { return "range"; }
  std::optional<Value> attr(const std::string& name) override {
    if (name == "start") return Value::integer(start_);
    if (name == "stop") return Value::integer(stop_);
    if (name == "step") return Value::integer(step_);
    return std::nullopt;
  }
  std::vector<std::string> attr_names() const override { return {"start", "stop", "step"}; }
  std::string repr() const override {
    return "range(" + std::to_string(start_) + ", " + std::to_string(stop_) +
           (step_ != 1 ? ", " + std::to_string(step_) : "") + ")";
  }
  std::optional<int64_t> length() const override {
    if (step_ > 0) return stop_ > start_ ? (stop_ - start_ + step_ - 1) / step_ : 0;
    return start_ > stop_ ? (start_ - stop_ - step_ - 1) / (-step_) : 0;
  }
  Value item(int64_t i) override { return Value::integer(start_ + i * step_); }
  std::optional<Value> index(const Value& key) override {
    auto i = to_int(key);
    int64_t n = *length();
    if (!i) return std::nullopt;
    int64_t k = *i < 0 ? *i + n : *i;
    if (k < 0 || k >= n) SOMA_THROW(ValueError, "range index " << *i << " out of range");
    return item(k);
  }

 private:
  int64_t start_, stop_, step_;
};

// A one-element value as a double (tensors are evaluated).
double scalar_of(Call& c, const std::string& p) {
  const Value& v = c[p];
  if (v.is_number()) return v.as_number();
  if (v.is_str()) {
    const std::string& s = v.as_str();
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0') c.value_error(p, "could not convert '" + s + "' to a number");
    return d;
  }
  if (v.is_tensor() || v.is_array()) {
    Array a = c.array(p);
    if (a.numel() != 1)
      c.value_error(p, "only one-element tensors convert to a number; this one is " + a.type_str());
    return a.get(0);
  }
  c.type_error(p, "a number, a string or a one-element tensor");
}

}  // namespace

void register_core_builtins(Registry& r) {
  for (const char* name : {"exit", "quit"})
    add_builtin(r, std::string(name) + "(status=0)",
                "Stops the script (or leaves the REPL) with the exit status given, as Python's "
                "exit(); :quit does the same.",
                [](Call& c) -> Value {
                  const int64_t status = c.integer("status");
                  if (status < 0 || status > 255) c.value_error("status", "must be in 0..255");
                  throw QuitRequest(static_cast<int>(status));
                });
  add_builtin(r, "print(*values, sep=' ', end='\\n', full=False)",
              "Prints the values (tensors are computed first) separated by `sep`. full=True "
              "prints every element with all its digits.",
              [](Call& c) {
                Session& s = c.session();
                PrintOptions full = s.print_options().full();
                bool f = c.boolean("full");
                std::string sep = c.str("sep"), end = c.str("end");
                std::string out;
                for (size_t i = 0; i < c.rest().size(); ++i) {
                  if (i) out += sep;
                  out += s.str(c.rest()[i].value, c.rest()[i].loc, f ? &full : nullptr);
                }
                s.out() << out << end;
                s.out().flush();
                return Value::none();
              });
  add_builtin(r, "len(x)", "The length of a list or string, or the size of a tensor's first axis.",
              [](Call& c) {
                const Value& v = c["x"];
                if (v.is_list()) return Value::integer(static_cast<int64_t>(v.as_list().size()));
                if (v.is_str()) return Value::integer(static_cast<int64_t>(v.as_str().size()));
                if (v.is_tensor() || v.is_array()) {
                  Shape s = v.is_tensor() ? v.as_tensor().shape() : v.as_array().shape();
                  if (s.rank() == 0) c.value_error("x", "len() of a 0-d tensor");
                  return Value::integer(s[0]);
                }
                if (v.is_object())
                  if (auto n = v.as_object()->length()) return Value::integer(*n);
                c.type_error("x", "a list, a string or a tensor");
              });
  add_builtin(r, "range(start, stop=None, step=1)",
              "The integers start, start+step, ... below stop (range(n) is 0..n-1), for loops.",
              [](Call& c) {
                int64_t a = c.integer("start");
                int64_t step = c.integer("step");
                if (step == 0) c.value_error("step", "must not be zero");
                if (c.is_none("stop")) return Value::object(std::make_shared<RangeObject>(0, a, 1));
                return Value::object(std::make_shared<RangeObject>(a, c.integer("stop"), step));
              });
  add_builtin(r, "float(x)", "A number, string or one-element tensor as a float.",
              [](Call& c) { return Value::number(scalar_of(c, "x")); });
  add_builtin(r, "int(x)", "A number, string or one-element tensor as an int (truncated).",
              [](Call& c) {
                double d = scalar_of(c, "x");
                if (!std::isfinite(d) || std::fabs(d) >= 9.2e18)
                  c.value_error("x", "cannot convert " + python_float(d) + " to an int");
                return Value::integer(static_cast<int64_t>(d));
              });
  add_builtin(r, "str(x)", "The value as text, as print shows it.",
              [](Call& c) { return Value::str(c.session().str(c["x"], c.loc_of("x"))); });
  add_builtin(r, "type(x)", "The name of the value's type: 'tensor', 'array', 'int', ...",
              [](Call& c) { return Value::str(c["x"].type_name()); });
  add_builtin(r, "array(x, dtype=None)",
              "Computes a tensor now and returns its value as an array (a snapshot: later "
              "parameter updates do not change it), optionally converted to `dtype`.",
              [](Call& c) {
                Array a = c.array("x");
                if (auto t = c.opt_dtype("dtype"); t && *t != a.dtype()) {
                  std::vector<double> v = a.to_doubles();
                  return Value::array(Array::from_doubles(*t, a.shape(), v));
                }
                return Value::array(a.clone());
              });
  add_builtin(r, "feed(name, value)",
              "Gives input(name, ...) a value (an array, a tensor or a list), as --feed does.",
              [](Call& c) {
                std::string name = c.str("name");
                Array a = c.array("value");
                try {
                  c.session().set_feed(name, a, "feed(\"" + name + "\")");
                } catch (const Error& e) {
                  throw ScriptError(c.loc_of("value"), e.what());
                }
                return Value::none();
              });
  add_builtin(r, "load_csv(path, delimiter=',', header=True, usecols=None, dtype='f32')",
              "Reads a CSV file of numbers as a 2-D array [rows, columns]. header=True: the "
              "first line names the columns; usecols: the columns to read, by index or name; "
              "delimiter ' ' splits on runs of spaces and tabs.",
              [](Call& c) {
                data::CsvOptions o;
                std::string d = c.str("delimiter");
                if (d.size() != 1) c.value_error("delimiter", "must be one character");
                o.delimiter = d[0];
                o.header = c.boolean("header");
                if (!c.is_none("usecols"))
                  for (const Value& v : c.list("usecols")) {
                    if (v.is_str())
                      o.columns.emplace_back(v.as_str());
                    else if (auto k = to_int(v))
                      o.columns.emplace_back(*k);
                    else
                      c.type_error("usecols", "a list of column indices or names");
                  }
                o.dtype = c.dtype("dtype");
                try {
                  return Value::array(data::load_csv(c.str("path"), o).values);
                } catch (const Error& e) {
                  throw ScriptError(c.loc_of("path"), e.what());
                }
              });
  add_builtin(r, "save_csv(path, x, header=None, delimiter=',')",
              "Writes a 2-D (or 1-D) tensor or array as a CSV file, with an optional header "
              "(a list of column names); numbers read back exactly.",
              [](Call& c) {
                Array a = c.array("x");
                std::vector<std::string> header;
                if (!c.is_none("header"))
                  for (const Value& v : c.list("header")) {
                    if (!v.is_str()) c.type_error("header", "a list of column names");
                    header.push_back(v.as_str());
                  }
                std::string d = c.str("delimiter");
                if (d.size() != 1) c.value_error("delimiter", "must be one character");
                try {
                  data::save_csv(c.str("path"), a, header, d[0]);
                } catch (const Error& e) {
                  throw ScriptError(c.loc_of("path"), e.what());
                }
                return Value::none();
              });
  add_builtin(r, "load_npy(path, mmap_mode=None)",
              "Reads a numpy .npy file as an array: float16/32/64, int8..int64, uint8..uint64 "
              "and bool in either byte order (integers become i32, float16 f32; a value that "
              "does not fit is an error). mmap_mode='r' (or 'c') maps the file instead: pages "
              "are read as they are used, so fit can stream arrays larger than memory "
              "(float32, float64, int32, bool files; writes never reach the file).",
              [](Call& c) {
                std::optional<std::string> mode = c.opt_str("mmap_mode");
                if (mode && *mode != "r" && *mode != "c")
                  c.value_error("mmap_mode", "must be None, 'r' or 'c' (copy-on-write)");
                try {
                  if (mode) return Value::array(map_npy(c.str("path")));
                  return Value::array(load_npy(c.str("path")));
                } catch (const Error& e) {
                  throw ScriptError(c.loc_of("path"), e.what());
                }
              });
  add_builtin(r, "save_npy(path, x)", "Writes a tensor's or array's value as a numpy .npy file.",
              [](Call& c) {
                Array a = c.array("x");
                try {
                  save_npy(c.str("path"), a);
                } catch (const Error& e) {
                  throw ScriptError(c.loc_of("path"), e.what());
                }
                return Value::none();
              });
  add_builtin(r, "assign(target, value)",
              "Writes new values into parameters: assign(w, w - 0.1 * gw), or several at once "
              "with lists, assign([w, b], [w - lr * gw, b - lr * gb]) (all new values are "
              "computed before any is written).",
              [](Call& c) {
                std::vector<Tensor> targets, values;
                if (c["target"].is_list()) {
                  targets = c.tensors("target");
                  if (!c["value"].is_list()) c.type_error("value", "a list (as the targets are)");
                  values = c.tensors("value");
                  if (values.size() != targets.size())
                    c.value_error("value", std::to_string(values.size()) + " values for " +
                                               std::to_string(targets.size()) + " targets");
                } else {
                  targets = {c.tensor("target")};
                  values = {c.tensor("value")};
                }
                std::vector<std::pair<Tensor, Tensor>> updates;
                for (size_t i = 0; i < targets.size(); ++i)
                  updates.emplace_back(targets[i], values[i]);
                c.session().assign(updates, c.loc());
                return Value::none();
              });
  add_builtin(r, "set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None)",
              "How tensors print (numpy's names and defaults: precision 8, threshold 1000 "
              "elements before summarizing, edgeitems 3, linewidth 75).",
              [](Call& c) {
                PrintOptions& o = c.session().print_options();
                if (auto p = c.opt_integer("precision")) {
                  if (*p < 0 || *p > 17) c.value_error("precision", "must be in 0..17");
                  o.precision = static_cast<int>(*p);
                }
                if (auto t = c.opt_integer("threshold")) {
                  if (*t < 0) c.value_error("threshold", "must not be negative");
                  o.threshold = *t;
                }
                if (auto e = c.opt_integer("edgeitems")) {
                  if (*e < 1 || *e > 1000) c.value_error("edgeitems", "must be in 1..1000");
                  o.edgeitems = static_cast<int>(*e);
                }
                if (auto l = c.opt_integer("linewidth")) {
                  if (*l < 10 || *l > 100000) c.value_error("linewidth", "must be in 10..100000");
                  o.linewidth = static_cast<int>(*l);
                }
                return Value::none();
              });
}

}  // namespace soma::script
