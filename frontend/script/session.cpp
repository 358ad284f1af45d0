#include "frontend/script/session.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "backends/backend.h"
#include "frontend/script/builtins.h"
#include "frontend/script/interrupt.h"
#include "frontend/script/parser.h"
#include "runtime/file_io.h"

namespace soma::script {

Session::Session(SessionOptions options)
    : options_(std::move(options)),
      out_(options_.out ? options_.out : &std::cout),
      err_(options_.err ? options_.err : &std::cerr),
      ctx_(std::make_shared<Context>()),
      backend_(options_.backend.empty() ? default_backend_name() : options_.backend) {}

Session::~Session() = default;

// ---- running code ------------------------------------------------------------------------------

void Session::run(const SourcePtr& source) {
  std::vector<StmtPtr> program = parse_program(source);
  for (const StmtPtr& s : program) exec(*s);
}

void Session::run_file(const std::string& path, const Location& from) {
  std::string text;
  try {
    text = read_file(path, "script", kMaxScriptBytes);
  } catch (const IOError& e) {
    throw ScriptError(from, e.what());
  }
  if (load_depth_ >= 32)
    throw ScriptError(from, "files load each other more than 32 levels deep (a :load loop?)");
  ++load_depth_;
  try {
    run(std::make_shared<const Source>(path, std::move(text)));
  } catch (...) {
    --load_depth_;
    throw;
  }
  --load_depth_;
}

// ---- variables ---------------------------------------------------------------------------------

std::optional<Value> Session::lookup(const std::string& name) const {
  if (!frames_.empty()) {
    auto local = frames_.back().find(name);
    if (local != frames_.back().end()) return local->second;
  }
  auto it = vars_.find(name);
  if (it != vars_.end()) return it->second;
  if (FunctionPtr f = find_builtin(name)) return Value::function(f);
  return std::nullopt;
}

void Session::bind(const std::string& name, Value v, const Location&) {
  if (!frames_.empty()) {  // inside a function: a local variable
    frames_.back()[name] = std::move(v);
    return;
  }
  auto [it, fresh] = vars_.insert_or_assign(name, std::move(v));
  (void)it;
  if (fresh) var_order_.push_back(name);
  last_assigned_ = name;
}

namespace {

// Levenshtein distance, for "did you mean".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::vector<std::string> Session::similar_names(const std::string& name) const {
  std::vector<std::pair<size_t, std::string>> scored;
  auto consider = [&](const std::string& n) {
    size_t d = edit_distance(name, n);
    // One edit in three characters (a one-letter name is too short to guess from).
    size_t limit = std::min(name.size(), n.size()) / 3;
    if (d <= std::max<size_t>(limit, name.size() >= 3 ? 1 : 0) && d > 0) scored.emplace_back(d, n);
  };
  for (const std::string& n : var_order_) consider(n);
  for (const auto& [n, f] : builtins()) consider(n);
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (auto& [d, n] : scored)
    if (out.size() < 3 && std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  return out;
}

Value Session::lookup_or_fail(const std::string& name, const Location& loc) const {
  if (auto v = lookup(name)) return *v;
  std::string msg = "name '" + name + "' is not defined";
  std::vector<std::string> close = similar_names(name);
  if (!close.empty()) {
    msg += "; did you mean ";
    for (size_t i = 0; i < close.size(); ++i)
      msg += (i ? (i + 1 == close.size() ? " or " : ", ") : "") + ("'" + close[i] + "'");
    msg += "?";
  }
  throw ScriptError(loc, msg);
}

// ---- tensors
// -------------------------------------------------------------------------------------

namespace {

// Nested lists of numbers: their shape, and whether any element is a float / all are bools.
void list_shape(const Value& v, int depth, std::vector<int64_t>& shape, bool& any_float,
                bool& all_bool, std::vector<double>& flat, const Location& loc,
                const std::string& what) {
  if (v.is_list()) {
    const auto& items = v.as_list();
    if (static_cast<int>(shape.size()) == depth) {
      if (depth >= kMaxRank)
        throw ScriptError(loc, what + ": lists nested deeper than soma's maximum rank " +
                                   std::to_string(kMaxRank));
      shape.push_back(static_cast<int64_t>(items.size()));
    } else if (static_cast<int>(shape.size()) < depth ||
               shape[static_cast<size_t>(depth)] != static_cast<int64_t>(items.size())) {
      throw ScriptError(loc, what + ": the nested lists are ragged (lists at depth " +
                                 std::to_string(depth) + " have different lengths)");
    }
    for (const Value& item : items)
      list_shape(item, depth + 1, shape, any_float, all_bool, flat, loc, what);
    return;
  }
  if (!v.is_number())
    throw ScriptError(loc, what + ": a list of numbers is needed, but it holds a " + v.type_name());
  if (static_cast<int>(shape.size()) != depth)
    throw ScriptError(loc, what + ": the nested lists are ragged (a number where a list of " +
                               std::to_string(shape.size() > static_cast<size_t>(depth)
                                                  ? shape[static_cast<size_t>(depth)]
                                                  : 0) +
                               " was expected)");
  any_float = any_float || v.is_float();
  all_bool = all_bool && v.is_bool();
  flat.push_back(v.as_number());
}

}  // namespace

Tensor Session::array_input(const Array& a) {
  if (foreign_ > 0) {  // a model's graph feeds only its own inputs: the array is a constant there
    ContextScope scope(ctx_);
    return soma::constant(a);
  }
  auto it = array_inputs_.find(reinterpret_cast<const void*>(a.raw()));
  if (it != array_inputs_.end() && it->second.first.type_str() == a.type_str() &&
      it->second.first.shares_storage(a))
    return it->second.second;
  std::string name = "@array" + std::to_string(++array_counter_);
  Tensor t;
  {
    ContextScope scope(ctx_);
    t = soma::input(name, a.shape(), a.dtype());
  }
  auto_feeds_[name] = a;
  array_inputs_[reinterpret_cast<const void*>(a.raw())] = {a, t};
  return t;
}

Tensor Session::to_tensor(const Value& v, const Location& loc, const std::string& what) {
  ContextScope scope(ctx_);
  switch (v.kind()) {
    case Value::Kind::Tensor:
      if (v.as_tensor().context_ptr() != ctx_ && foreign_ > 0)
        throw ScriptError(loc, what +
                                   ": this tensor belongs to the session's graph, not to the "
                                   "model's that is being built; inside a loss or metric use "
                                   "y_true, y_pred, numbers and arrays");
      if (v.as_tensor().context_ptr() != ctx_)
        throw ScriptError(loc, what +
                                   ": this tensor belongs to an earlier session (before "
                                   ":reset) and cannot be used");
      return v.as_tensor();
    case Value::Kind::Array:
      return array_input(v.as_array());
    case Value::Kind::Bool:
      return soma::scalar(v.as_bool() ? 1 : 0, DType::boolean);
    case Value::Kind::Int:
      return soma::scalar(static_cast<double>(v.as_int()), DType::i32);
    case Value::Kind::Float:
      return soma::scalar(v.as_float(), DType::f32);
    case Value::Kind::List: {
      std::vector<int64_t> shape;
      bool any_float = false, all_bool = true;
      std::vector<double> flat;
      list_shape(v, 0, shape, any_float, all_bool, flat, loc, what);
      DType t = any_float ? DType::f32 : (all_bool && !flat.empty()) ? DType::boolean : DType::i32;
      if (flat.empty()) t = DType::f32;
      return soma::constant(flat, Shape(shape), t);
    }
    default:
      throw ScriptError(loc, what +
                                 " must be a tensor (or an array, a number or a list of "
                                 "numbers), not " +
                                 v.type_name());
  }
}

std::string Session::cache_key(const std::string& backend, const std::vector<Tensor>& outputs,
                               const std::vector<std::pair<Tensor, Tensor>>& updates) {
  std::string key = backend + "|";
  for (const Tensor& t : outputs) key += std::to_string(t.id()) + ",";
  key += "|";
  for (const auto& [p, v] : updates)
    key += std::to_string(p.id()) + ":" + std::to_string(v.id()) + ",";
  return key;
}

// A loop that builds new nodes every step (x = rand(..., seed=i)) would grow the session's graph
// without end: once it has doubled since the last collection, the nodes no value refers to are
// dropped. Between statements no node id is held outside a tensor, but the memo and the
// compiled cache are keyed by ids: the memo is dropped, the cache keyed again.
void Session::collect_graph() {
  // A function's locals are not roots of the collection: collect between top-level statements.
  if (!frames_.empty() || foreign_ > 0) return;
  if (ctx_->graph().size() < collect_at_) return;
  memo_.clear();
  const int kept = ctx_->collect();
  std::map<std::string, std::shared_ptr<Entry>> cache;
  for (auto& [key, entry] : cache_)
    cache[cache_key(entry->backend, entry->outputs, entry->updates)] = entry;
  cache_ = std::move(cache);
  collect_at_ = std::max(2 * kept, kept + kCollectNodes);
  ++collections_;
}

const Compiled& Session::compiled(const std::vector<Tensor>& outputs,
                                  const std::vector<std::pair<Tensor, Tensor>>& updates,
                                  const Location& loc, const std::string& backend,
                                  CompileStats* stats) {
  std::string be = backend.empty() ? backend_ : backend;
  const std::string key = cache_key(be, outputs, updates);
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    if (stats) *stats = {it->second->compile_ms, true};
    it->second->last_use = ++uses_;
    return it->second->exe;
  }
  auto entry = std::make_shared<Entry>();
  entry->backend = be;
  entry->outputs = outputs;
  entry->updates = updates;
  auto t0 = std::chrono::steady_clock::now();
  try {
    CompileOptions o;
    o.backend = be;
    entry->exe = soma::compile(outputs, o, updates);
  } catch (const ScriptError&) {
    throw;
  } catch (const Error& e) {
    throw ScriptError(loc, e.what());
  }
  entry->compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ++compile_count_;
  if (stats) *stats = {entry->compile_ms, false};
  entry->last_use = ++uses_;
  while (cache_.size() >= kMaxCompiled) {
    auto oldest = cache_.begin();
    for (auto e = cache_.begin(); e != cache_.end(); ++e)
      if (e->second->last_use < oldest->second->last_use) oldest = e;
    cache_.erase(oldest);
  }
  return (cache_[key] = entry)->exe;
}

Feeds Session::feeds_for(const Compiled& c, const Location& loc, bool random_for_missing) {
  Feeds feeds;
  std::mt19937_64 rng(12345);
  for (const auto& [name, type] : c.inputs()) {
    if (auto a = auto_feeds_.find(name); a != auto_feeds_.end()) {
      feeds[name] = a->second;
      continue;
    }
    if (auto f = feeds_.find(name); f != feeds_.end()) {
      const Array& v = f->second.value;
      if (v.dtype() != type.dtype || v.shape() != type.shape)
        throw ScriptError(loc, "input '" + name + "' is " + type.str() + " but its feed (" +
                                   f->second.origin + ") holds " + v.type_str());
      f->second.used = true;
      feeds[name] = v;
      continue;
    }
    if (random_for_missing) {
      Array r(type.dtype, type.shape);
      std::uniform_real_distribution<double> u(0.0, 1.0);
      for (int64_t i = 0; i < r.numel(); ++i) {
        if (is_float(type.dtype))
          r.set(i, u(rng));
        else if (type.dtype == DType::boolean)
          r.set(i, u(rng) < 0.5 ? 0 : 1);
      }
      feeds[name] = r;
      continue;
    }
    std::vector<Diagnostic> notes;
    if (auto d = declared_.find(name); d != declared_.end())
      notes.push_back({d->second.second, "note", "input '" + name + "' is declared here"});
    throw ScriptError(loc,
                      "input '" + name + "' (" + type.str() +
                          ") has no value; give one with --feed " + name + "=FILE.npy or feed(\"" +
                          name + "\", value)",
                      notes);
  }
  return feeds;
}

Array Session::evaluate(const Tensor& t, const Location& loc) {
  if (foreign_ > 0)
    throw ScriptError(loc,
                      "a value cannot be computed here: a model is building its graph, and "
                      "the tensors this function gets (y_true, y_pred, ...) are symbolic; "
                      "return a tensor expression instead");
  if (t.context_ptr() != ctx_)
    throw ScriptError(loc, "this tensor belongs to an earlier session (before :reset)");
  const Compiled& c = compiled({t}, {}, loc);
  Feeds feeds = feeds_for(c, loc);
  try {
    return c.run(feeds).at(0);
  } catch (const ScriptError&) {
    throw;
  } catch (const Error& e) {
    throw ScriptError(loc, e.what());
  }
}

Array Session::to_array(const Value& v, const Location& loc, const std::string& what) {
  if (v.is_array()) return v.as_array();
  if (v.is_tensor()) return evaluate(v.as_tensor(), loc);
  if (v.is_number() || v.is_list()) return evaluate(to_tensor(v, loc, what), loc);
  throw ScriptError(loc, what + " must be an array or a tensor, not " + v.type_name());
}

void Session::assign(const std::vector<std::pair<Tensor, Tensor>>& updates, const Location& loc) {
  for (const auto& [p, v] : updates) {
    if (p.context_ptr() != ctx_ || v.context_ptr() != ctx_)
      throw ScriptError(loc, "assign: a tensor of an earlier session (before :reset)");
    if (p.node().op != Op::Param)
      throw ScriptError(loc,
                        "assign: only parameters (made by param()) can be assigned; this "
                        "is a " +
                            std::string(op_name(p.node().op)) + " node");
    if (p.type() != v.type())
      throw ScriptError(loc, "assign: parameter '" + p.node().attrs.get_str("name") + "' is " +
                                 p.type().str() + " but the new value is " + v.type().str());
  }
  // The new values are computed as outputs (fresh arrays, never aliasing a parameter's storage)
  // and then copied into the parameters, so that assign([a, b], [b, a]) swaps.
  std::vector<Tensor> values;
  for (const auto& [p, v] : updates) values.push_back(v);
  const Compiled& c = compiled(values, {}, loc);
  Feeds feeds = feeds_for(c, loc);
  try {
    std::vector<Array> out = c.run(feeds);
    for (size_t i = 0; i < updates.size(); ++i)
      ctx_->params().assign(updates[i].first.node().attrs.get_str("name"), out.at(i));
  } catch (const ScriptError&) {
    throw;
  } catch (const Error& e) {
    throw ScriptError(loc, e.what());
  }
}

// ---- inputs and feeds --------------------------------------------------------------------------

void Session::set_feed(const std::string& name, Array value, const std::string& origin) {
  if (auto d = declared_.find(name); d != declared_.end()) {
    const TensorType& t = d->second.first;
    if (value.dtype() != t.dtype || value.shape() != t.shape)
      SOMA_THROW(ShapeError, "input '" << name << "' is declared as " << t.str() << " but "
                                       << origin << " holds " << value.type_str());
  }
  feeds_[name] = UserFeed{std::move(value), origin, declared_.count(name) != 0};
}

void Session::declare_input(const std::string& name, const TensorType& type, const Location& loc) {
  if (auto f = feeds_.find(name); f != feeds_.end()) {
    const Array& v = f->second.value;
    if (v.dtype() != type.dtype || v.shape() != type.shape) {
      std::string what = v.shape() != type.shape && v.dtype() != type.dtype ? "shape and dtype"
                         : v.shape() != type.shape                          ? "shape"
                                                                            : "dtype";
      throw ScriptError(loc, "input '" + name + "' is declared as " + type.str() + " but " +
                                 f->second.origin + " holds " + v.type_str() + " (the " + what +
                                 " differ)");
    }
    f->second.used = true;
  }
  declared_[name] = {type, loc};
}

std::vector<std::string> Session::unused_feeds() const {
  std::vector<std::string> out;
  for (const auto& [name, f] : feeds_)
    if (!f.used && !declared_.count(name)) out.push_back(name);
  return out;
}

// ---- backend ------------------------------------------------------------------------------------

void Session::set_backend(const std::string& name) {
  get_backend(name);  // throws BackendError listing the available ones
  backend_ = name;
}

// ---- printing
// ------------------------------------------------------------------------------------

namespace {

std::string python_str_repr(const std::string& s) {
  char q = s.find('\'') != std::string::npos && s.find('"') == std::string::npos ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + q;
}

}  // namespace

std::string Session::repr(const Value& v, const Location& loc) {
  switch (v.kind()) {
    case Value::Kind::None:
      return "";
    case Value::Kind::Bool:
      return v.as_bool() ? "True" : "False";
    case Value::Kind::Int:
      return std::to_string(v.as_int());
    case Value::Kind::Float:
      return python_float(v.as_float());
    case Value::Kind::Str:
      return python_str_repr(v.as_str());
    case Value::Kind::List: {
      std::string out = "[";
      bool first = true;
      for (const Value& item : v.as_list()) {
        if (!first) out += ", ";
        first = false;
        out += item.is_none() ? "None" : repr(item, loc);
      }
      return out + "]";
    }
    case Value::Kind::Tensor:
      return format_array_repr(evaluate(v.as_tensor(), loc), print_options_);
    case Value::Kind::Array:
      return format_array_repr(v.as_array(), print_options_);
    case Value::Kind::Object:
      return v.as_object()->repr();
    case Value::Kind::Function:
      return "<built-in function " + v.as_function()->signature + ">";
  }
  return "";
}

std::string Session::str(const Value& v, const Location& loc, const PrintOptions* options) {
  const PrintOptions& o = options ? *options : print_options_;
  switch (v.kind()) {
    case Value::Kind::None:
      return "None";
    case Value::Kind::Str:
      return v.as_str();
    case Value::Kind::Tensor:
      return format_array_str(evaluate(v.as_tensor(), loc), o);
    case Value::Kind::Array:
      return format_array_str(v.as_array(), o);
    default:
      return repr(v, loc);
  }
}

// ---- reset and memo
// ------------------------------------------------------------------------------

void Session::reset() {
  ctx_ = std::make_shared<Context>();
  vars_.clear();
  var_order_.clear();
  last_assigned_.clear();
  cache_.clear();
  memo_.clear();
  collect_at_ = kCollectNodes;
  declared_.clear();
  array_inputs_.clear();
  auto_feeds_.clear();
  for (auto& [name, f] : feeds_) f.used = false;
}

std::optional<Value> Session::memo_get(const std::string& key) const {
  auto it = memo_.find(key);
  if (it == memo_.end()) return std::nullopt;
  return it->second;
}

void Session::memo_put(const std::string& key, const Value& v) {
  memo_[key] = v;
}

}  // namespace soma::script
