// User functions: `def name(params): body` makes a function value; a call binds the arguments
// (positional or by keyword, defaults evaluated once, at the def, as in Python) in a frame of
// local variables, runs the body, and gives the value of its `return` (None without one).
// Names read in a body are looked up in its frame, then in the session's variables; names
// assigned there are local. Models call functions back while they build their graphs (custom
// losses) through call_in_context.
#include <sstream>

#include "frontend/script/session.h"

namespace soma::script {

namespace {

constexpr size_t kMaxCallDepth = 200;

std::string signature_of(const FunctionDef& d) {
  std::string s = d.name + "(";
  for (size_t i = 0; i < d.params.size(); ++i) {
    s += (i ? ", " : "") + d.params[i].name;
    if (d.defaults[i]) s += "=" + to_string(*d.defaults[i]);
  }
  return s + ")";
}

}  // namespace

void Session::exec_def(const Stmt& s) {
  std::shared_ptr<const FunctionDef> def = s.def;
  auto f = std::make_shared<Function>();
  f->name = def->name;
  f->signature = signature_of(*def);
  f->doc = "A function defined at " + def->loc.str() + ".";
  for (size_t i = 0; i < def->params.size(); ++i) {
    Param p{def->params[i].name, std::nullopt};
    if (def->defaults[i]) p.default_value = eval(*def->defaults[i]);
    f->params.push_back(std::move(p));
  }
  f->body = [this, def](Call& c) { return call_user_function(def, c); };
  bind(def->name, Value::function(f), def->loc);
}

Value Session::call_user_function(const std::shared_ptr<const FunctionDef>& def, Call& c) {
  if (frames_.size() >= kMaxCallDepth)
    throw ScriptError(c.loc(), "functions call each other more than " +
                                   std::to_string(kMaxCallDepth) +
                                   " levels deep (endless recursion?)");
  std::map<std::string, Value> frame;
  for (const Target& p : def->params) frame[p.name] = c[p.name];
  frames_.push_back(std::move(frame));
  struct Pop {
    std::vector<std::map<std::string, Value>>& frames;
    ~Pop() { frames.pop_back(); }
  } pop{frames_};
  try {
    for (const StmtPtr& st : def->body) exec(*st);
  } catch (ReturnValue& r) {
    return std::move(r.value);
  } catch (const ScriptError& e) {
    if (e.loc().source == c.loc().source && e.loc().line == c.loc().line) throw;
    std::vector<Diagnostic> notes = e.notes();
    notes.push_back(Diagnostic{c.loc(), "note", "in " + def->name + "(), called here"});
    ScriptError wrapped(e.loc(), e.message(), std::move(notes));
    wrapped.incomplete = e.incomplete;
    throw wrapped;
  }
  return Value::none();
}

Value Session::call_function(const FunctionPtr& f, std::vector<Value> args, const Location& loc) {
  std::vector<Arg> a;
  for (Value& v : args) a.push_back(Arg{std::move(v), loc, ""});
  return call(f, std::move(a), loc);
}

Value Session::call_in_context(const std::shared_ptr<Context>& ctx, const FunctionPtr& f,
                               std::vector<Value> args, const Location& loc) {
  // The model's graph becomes the session's for the call; the memo (keyed by node ids of one
  // graph) starts empty and the session's own comes back afterwards.
  struct Swap {
    Session& s;
    std::shared_ptr<Context> ctx;
    std::map<std::string, Value> memo;
    Swap(Session& session, std::shared_ptr<Context> c) : s(session), ctx(std::move(c)) {
      std::swap(s.ctx_, ctx);
      std::swap(s.memo_, memo);
      ++s.foreign_;
    }
    ~Swap() {
      --s.foreign_;
      std::swap(s.ctx_, ctx);
      std::swap(s.memo_, memo);
    }
  } swap(*this, ctx);
  return call_function(f, std::move(args), loc);
}

}  // namespace soma::script
