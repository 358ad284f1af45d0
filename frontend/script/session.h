// Session: the state of a running script or REPL — variables, the graph context that script
// tensors live in, feeds, the current backend, and the cache of compiled executables — and the
// evaluator that runs statements against it (evaluator.cpp).
//
// Tensors are symbolic: `y = x @ w + b` only adds graph nodes. A tensor is compiled and run when
// its value is needed (printed, fetched, converted to a number or an array). Compilation is lazy
// and cached by (graph node, backend); pure operations are memoized, so re-evaluating an
// unchanged expression yields the same node and never recompiles.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "frontend/compile.h"
#include "frontend/script/array_format.h"
#include "frontend/script/ast.h"
#include "frontend/script/call.h"
#include "frontend/script/value.h"

namespace soma::script {

// Thrown by `return` inside a user function and caught by its call (not an error).
struct ReturnValue {
  Value value;
};
// Thrown by break and continue, caught by the innermost loop.
struct LoopBreak {};
struct LoopContinue {};

struct SessionOptions {
  std::string backend;          // "" : $SOMA_BACKEND, else the default backend
  std::ostream* out = nullptr;  // results and print(); nullptr: std::cout
  std::ostream* err = nullptr;  // warnings; nullptr: std::cerr
  bool echo = true;             // print the value of bare expression statements
  bool tty = false;             // output goes to a terminal (progress bars redraw in place)
};

class Session {
 public:
  explicit Session(SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // ---- running code ----------------------------------------------------------------------------

  // Parses the whole source, then runs its statements in order. Throws ScriptError at the first
  // error (the state keeps what ran before it), Interrupted on Ctrl-C, QuitRequest on :quit.
  void run(const SourcePtr& source);
  // Reads and runs a file; `from` is where it was asked for (:load), for the error when it
  // cannot be read.
  void run_file(const std::string& path, const Location& from = {});
  void exec(const Stmt& s);
  Value eval(const Expr& e);
  // Calls a function with evaluated arguments (a built-in, a bound method).
  Value call(const FunctionPtr& f, std::vector<Arg> args, const Location& loc);

  // ---- variables -------------------------------------------------------------------------------

  std::optional<Value> lookup(const std::string& name) const;
  void bind(const std::string& name, Value v, const Location& loc);
  // Variable names in the order they were first bound.
  const std::vector<std::string>& var_names() const { return var_order_; }
  // The most recently assigned variable (bench's and emit's default), "" if none.
  const std::string& last_assigned() const { return last_assigned_; }
  // A variable's value or a ScriptError listing close names ("did you mean ...").
  Value lookup_or_fail(const std::string& name, const Location& loc) const;
  // The built-in or variable names closest to `name` (for "did you mean").
  std::vector<std::string> similar_names(const std::string& name) const;

  // ---- tensors and arrays ----------------------------------------------------------------------

  std::shared_ptr<Context> context() const { return ctx_; }
  // A value as a tensor: tensors as they are, arrays as automatically fed inputs, numbers as
  // scalars (f32 for floats, i32 for ints), nested lists of numbers as constants.
  Tensor to_tensor(const Value& v, const Location& loc, const std::string& what);
  // Compiles (or finds in the cache) and runs `t` on the current backend.
  Array evaluate(const Tensor& t, const Location& loc);
  // A value as an array (tensors are evaluated).
  Array to_array(const Value& v, const Location& loc, const std::string& what);

  struct CompileStats {
    double compile_ms = 0;
    bool cached = false;
  };
  // The executable computing `outputs` and applying `updates` on `backend` ("" : the current
  // one), from the cache when it was compiled before.
  const Compiled& compiled(const std::vector<Tensor>& outputs,
                           const std::vector<std::pair<Tensor, Tensor>>& updates,
                           const Location& loc, const std::string& backend = "",
                           CompileStats* stats = nullptr);
  // The feeds that `c` needs: --feed files, feed(), arrays used in expressions. An input with no
  // value is an error naming it and where it was declared, unless `random_for_missing` (bench),
  // which feeds U[0,1) floats, zero integers and random bools.
  Feeds feeds_for(const Compiled& c, const Location& loc, bool random_for_missing = false);
  // Writes new values into parameters (all computed before any is written).
  void assign(const std::vector<std::pair<Tensor, Tensor>>& updates, const Location& loc);
  // The status exit(n) / quit(n) asked the tool to end with (0 until then).
  int exit_status() const { return exit_status_; }
  void set_exit_status(int status) { exit_status_ = status; }
  // Executables compiled so far (cache misses), for tests and :time.
  int compile_count() const { return compile_count_; }
  // Collections of the session's graph so far (nodes no value refers to dropped), for tests.
  int graph_collections() const { return collections_; }

  // ---- inputs and feeds ------------------------------------------------------------------------

  // Binds input NAME to a value (--feed, feed()); checked against input() declarations.
  void set_feed(const std::string& name, Array value, const std::string& origin);
  // Called by input(): records the declaration and checks it against a feed of that name.
  void declare_input(const std::string& name, const TensorType& type, const Location& loc);
  // Feed names that no input() declared (for the warning after a run).
  std::vector<std::string> unused_feeds() const;

  // ---- backend ---------------------------------------------------------------------------------

  const std::string& backend() const { return backend_; }
  // Throws BackendError when `name` is not available.
  void set_backend(const std::string& name);

  // ---- printing --------------------------------------------------------------------------------

  // How the REPL echoes a value (Python's repr; tensors are evaluated), "" for None.
  std::string repr(const Value& v, const Location& loc);
  // print()'s form (Python's str).
  std::string str(const Value& v, const Location& loc, const PrintOptions* options = nullptr);
  PrintOptions& print_options() { return print_options_; }
  std::ostream& out() { return *out_; }
  std::ostream& err() { return *err_; }
  bool tty() const { return options_.tty; }
  void set_echo(bool echo) { options_.echo = echo; }

  // Forgets every variable, tensor, input, compiled executable and parameter value (the backend,
  // the --feed files and the print options stay).
  void reset();

  // Calls `f` with positional `args` while a model builds its graph in `ctx` (a custom loss,
  // metric or layer): tensor operations of the body go into `ctx`; computing a value there is an
  // error. The session's own graph, memo and variables are as they were afterwards.
  Value call_in_context(const std::shared_ptr<Context>& ctx, const FunctionPtr& f,
                        std::vector<Value> args, const Location& loc);
  // Calls `f` (a number-valued callback such as a learning-rate schedule) with `args`.
  Value call_function(const FunctionPtr& f, std::vector<Value> args, const Location& loc);

  // Memoization of pure operations: the cached result of `key`, or nullopt.
  std::optional<Value> memo_get(const std::string& key) const;
  void memo_put(const std::string& key, const Value& v);

 private:
  bool truthy(const Value& v, const Location& loc);
  Value eval_binary(const Expr& e);
  Value eval_unary(const Expr& e);
  Value eval_call(const Expr& e);
  Value eval_attr(const Expr& e);
  // target.object.name = v
  void set_attribute(const Target& t, const Value& v);
  Value eval_index(const Expr& e);
  Value binary_op(const std::string& op, const Value& a, const Value& b, const Location& loc);
  Value attribute(const Value& base, const std::string& name, const Location& loc);
  void exec_for(const Stmt& s);
  void exec_while(const Stmt& s);
  void exec_aug_assign(const Stmt& s);
  // def: binds the function; calling it runs the body in a frame of its own (functions.cpp).
  void exec_def(const Stmt& s);
  Value call_user_function(const std::shared_ptr<const FunctionDef>& def, Call& c);
  Tensor array_input(const Array& a);

  SessionOptions options_;
  std::ostream* out_;
  std::ostream* err_;
  std::shared_ptr<Context> ctx_;
  std::map<std::string, Value> vars_;
  std::vector<std::string> var_order_;
  std::string last_assigned_;
  std::string backend_;
  PrintOptions print_options_;

  struct Entry {
    Compiled exe;
    std::string backend;  // what it was compiled from: its key is made again after a collection
    std::vector<Tensor> outputs;
    std::vector<std::pair<Tensor, Tensor>> updates;
    double compile_ms = 0;
    uint64_t last_use = 0;
  };
  // Compiled executables by outputs and updates; the least recently used are dropped beyond
  // kMaxCompiled (a loop that builds a new graph every iteration must not grow without bound).
  static constexpr size_t kMaxCompiled = 64;
  std::map<std::string, std::shared_ptr<Entry>> cache_;
  uint64_t uses_ = 0;
  int compile_count_ = 0;
  std::map<std::string, Value> memo_;
  static std::string cache_key(const std::string& backend, const std::vector<Tensor>& outputs,
                               const std::vector<std::pair<Tensor, Tensor>>& updates);
  void collect_graph();
  // The graph's size that starts the next collection (at least kCollectNodes more than it kept).
  static constexpr int kCollectNodes = 4096;
  int collect_at_ = kCollectNodes;
  int collections_ = 0;
  int exit_status_ = 0;
  int loop_depth_ = 0;  // for loops being run (slices in them take their start at run time)
  // The local variables of the user functions being run, innermost last.
  std::vector<std::map<std::string, Value>> frames_;
  int foreign_ = 0;  // > 0 while a model's graph is being built through call_in_context

  // Inputs: user feeds (with where they came from), declarations, arrays fed automatically.
  struct UserFeed {
    Array value;
    std::string origin;
    bool used = false;
  };
  std::map<std::string, UserFeed> feeds_;
  std::map<std::string, std::pair<TensorType, Location>> declared_;
  std::map<const void*, std::pair<Array, Tensor>> array_inputs_;  // by storage
  std::map<std::string, Array> auto_feeds_;
  int array_counter_ = 0;
  int load_depth_ = 0;  // :load nesting (a file that loads itself must not overflow the stack)
};

}  // namespace soma::script
