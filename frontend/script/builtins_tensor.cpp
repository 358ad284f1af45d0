// The tensor built-ins of SCRIPT.md: each is a thin binding of frontend/tensor.h with numpy's
// and PyTorch's argument names.
#include <cmath>

#include "frontend/script/builtins.h"
#include "frontend/script/session.h"

namespace soma::script {

namespace {

Value T(Tensor t) {
  return Value::tensor(std::move(t));
}

// Padding of conv2d: an int, a pair, or "same"/"valid".
std::pair<int64_t, int64_t> int_or_pair(Call& c, const std::string& p) {
  return c.pair(p);
}

void add_unary(Registry& r, const std::string& name, Tensor (*fn)(const Tensor&),
               const std::string& doc) {
  add_builtin(
      r, name + "(x)", doc, [fn](Call& c) { return T(fn(c.tensor("x"))); }, true);
}

using Reduce = Tensor (*)(const Tensor&, std::vector<int64_t>, bool);

void add_reduce(Registry& r, const std::string& name, Reduce fn, const std::string& doc) {
  add_builtin(
      r, name + "(x, axis=None, keepdims=False)", doc,
      [fn](Call& c) { return T(fn(c.tensor("x"), c.axes("axis"), c.boolean("keepdims"))); }, true);
}

}  // namespace

void register_tensor_builtins(Registry& r) {
  // ---- creation ------------------------------------------------------------------------------
  add_builtin(r, "input(name, shape, dtype='f32')",
              "A named placeholder, given a value at run time by --feed NAME=FILE.npy or "
              "feed(NAME, value).",
              [](Call& c) {
                std::string name = c.str("name");
                if (name.empty()) c.value_error("name", "must not be empty");
                Shape s = c.shape("shape");
                DType t = c.dtype("dtype");
                c.session().declare_input(name, TensorType{t, s}, c.loc());
                return T(soma::input(name, s, t));
              });
  add_builtin(r, "param(name, shape, init='glorot_uniform', seed=0, dtype='f32', reuse=False)",
              "A new trainable parameter whose value persists across runs (and is updated by "
              "assign and -=). init: zeros, ones, glorot_uniform, glorot_normal, he_uniform, "
              "he_normal, lecun_normal, orthogonal, uniform, normal, or a list/array of initial "
              "values. A name that exists is an error; reuse=True continues with that "
              "parameter's values (same shape and dtype) and ignores init.",
              [](Call& c) {
                std::string name = c.str("name");
                if (name.empty()) c.value_error("name", "must not be empty");
                Shape s = c.shape("shape");
                DType t = c.dtype("dtype");
                bool reuse = c.boolean("reuse");
                Context& ctx = *Context::current();
                if (ctx.params().has(name)) {
                  const Array& old = ctx.params().peek(name);
                  if (!reuse)
                    c.value_error("name", "a parameter named \"" + name + "\" already exists (" +
                                              old.type_str() +
                                              "); pass reuse=True to continue with its values, "
                                              "or give the new parameter another name");
                  if (old.shape() != s || old.dtype() != t)
                    c.value_error("shape", "reuse=True: parameter \"" + name + "\" is " +
                                               old.type_str() + ", not " + TensorType{t, s}.str());
                  return T(soma::reuse_param(name, s, "zeros", 0, t));
                }
                const Value& init = c["init"];
                if (!init.is_str()) {
                  Array a = c.array("init");
                  if (a.shape() != s)
                    c.value_error("init", "the initial value is " + a.type_str() +
                                              " but the shape is " + s.str());
                  if (a.dtype() != t) {
                    std::vector<double> v = a.to_doubles();
                    a = Array::from_doubles(t, s, v);
                  }
                  return T(soma::param(name, a));
                }
                int64_t seed = c.integer("seed");
                if (seed < 0) c.value_error("seed", "must not be negative");
                return T(soma::param(name, s, init.as_str(), static_cast<uint64_t>(seed), t));
              });
  add_builtin(
      r, "const(value, dtype=None)",
      "A constant tensor from a number, a (nested) list or an array: ints give i32, floats f32, "
      "as numpy (with 32-bit types).",
      [](Call& c) {
        Tensor t = c.tensor("value");
        if (auto d = c.opt_dtype("dtype")) t = soma::cast(t, *d);
        return T(t);
      },
      true);
  add_builtin(
      r, "zeros(shape, dtype='f32')", "A tensor of zeros.",
      [](Call& c) { return T(soma::zeros(c.shape("shape"), c.dtype("dtype"))); }, true);
  add_builtin(
      r, "ones(shape, dtype='f32')", "A tensor of ones.",
      [](Call& c) { return T(soma::ones(c.shape("shape"), c.dtype("dtype"))); }, true);
  add_builtin(
      r, "full(shape, value, dtype=None)",
      "A tensor filled with `value` (dtype from the value when not given: i32 for an int, f32 "
      "for a float, bool for True/False).",
      [](Call& c) {
        const Value& v = c["value"];
        if (!v.is_number()) c.type_error("value", "a number");
        DType t = v.is_float() ? DType::f32 : v.is_bool() ? DType::boolean : DType::i32;
        if (auto d = c.opt_dtype("dtype")) t = *d;
        return T(soma::full(c.shape("shape"), v.as_number(), t));
      },
      true);
  add_builtin(
      r, "arange(start, stop=None, step=1)",
      "numpy's arange: start, start+step, ... below stop (arange(n) is 0..n-1); i32 for ints, "
      "f32 otherwise.",
      [](Call& c) {
        double a = c.number("start"), step = c.number("step");
        if (step == 0) c.value_error("step", "must not be zero");
        if (c.is_none("stop")) return T(soma::arange(0, a, step));
        return T(soma::arange(a, c.number("stop"), step));
      },
      true);
  add_builtin(
      r, "rand(shape, seed=0)", "U[0, 1) samples (the same on every backend for a seed).",
      [](Call& c) {
        int64_t seed = c.integer("seed");
        if (seed < 0) c.value_error("seed", "must not be negative");
        return T(soma::rand(c.shape("shape"), static_cast<uint64_t>(seed)));
      },
      true);
  add_builtin(
      r, "randn(shape, seed=0)", "N(0, 1) samples (the same on every backend for a seed).",
      [](Call& c) {
        int64_t seed = c.integer("seed");
        if (seed < 0) c.value_error("seed", "must not be negative");
        return T(soma::randn(c.shape("shape"), static_cast<uint64_t>(seed)));
      },
      true);

  // ---- elementwise -----------------------------------------------------------------------------
  // The OP_FN rows of graph/ops.def.
#define OP(name, mnemonic, arity, traits)
#define OP_FN(name, function, traits, help) add_unary(r, #function, soma::function, help);
#include "graph/ops.def"
#undef OP_FN
#undef OP
  add_unary(r, "square", soma::square, "x * x.");
  add_unary(r, "relu", soma::relu, "max(x, 0).");
  add_unary(r, "softplus", soma::softplus, "log(1 + exp(x)), computed stably.");
  add_unary(r, "stop_gradient", soma::stop_gradient, "x, with a zero gradient.");
  add_builtin(
      r, "leaky_relu(x, alpha=0.01)", "x where x > 0, else alpha * x.",
      [](Call& c) { return T(soma::leaky_relu(c.tensor("x"), c.number("alpha"))); }, true);
  add_builtin(
      r, "elu(x, alpha=1.0)", "x where x > 0, else alpha * (exp(x) - 1).",
      [](Call& c) { return T(soma::elu(c.tensor("x"), c.number("alpha"))); }, true);
  add_builtin(
      r, "gelu(x, approximate=False)",
      "x * Phi(x) (the exact form; approximate=True: the tanh approximation).",
      [](Call& c) { return T(soma::gelu(c.tensor("x"), c.boolean("approximate"))); }, true);
  add_builtin(
      r, "maximum(a, b)", "The elementwise maximum (broadcasting).",
      [](Call& c) { return T(soma::maximum(c.tensor("a"), c.tensor("b"))); }, true);
  add_builtin(
      r, "minimum(a, b)", "The elementwise minimum (broadcasting).",
      [](Call& c) { return T(soma::minimum(c.tensor("a"), c.tensor("b"))); }, true);
  add_builtin(
      r, "pow(a, b)", "a ** b.", [](Call& c) { return T(soma::pow(c.tensor("a"), c.tensor("b"))); },
      true);
  add_builtin(
      r, "where(cond, a, b)", "a where cond (a bool tensor) is true, else b (broadcasting).",
      [](Call& c) { return T(soma::where(c.tensor("cond"), c.tensor("a"), c.tensor("b"))); }, true);
  add_builtin(
      r, "clip(x, lo, hi)", "x limited to [lo, hi].",
      [](Call& c) { return T(soma::clip(c.tensor("x"), c.number("lo"), c.number("hi"))); }, true);
  add_builtin(
      r, "cast(x, dtype)", "x converted to dtype: \"f32\", \"f64\", \"i32\" or \"bool\".",
      [](Call& c) { return T(soma::cast(c.tensor("x"), c.dtype("dtype"))); }, true);

  // ---- reductions ------------------------------------------------------------------------------
  add_reduce(r, "sum", soma::sum, "The sum over `axis` (None: all axes).");
  add_reduce(r, "mean", soma::mean, "The mean over `axis` (None: all axes).");
  add_reduce(r, "max", soma::max, "The maximum over `axis` (for two tensors use maximum).");
  add_reduce(r, "min", soma::min, "The minimum over `axis` (for two tensors use minimum).");
  add_reduce(r, "logsumexp", soma::logsumexp, "log(sum(exp(x))) over `axis`, computed stably.");
  add_builtin(
      r, "var(x, axis=None, keepdims=False, ddof=0)",
      "The variance over `axis` (ddof=1: the unbiased estimate).",
      [](Call& c) {
        int64_t ddof = c.integer("ddof");
        if (ddof != 0 && ddof != 1) c.value_error("ddof", "must be 0 or 1");
        return T(soma::var(c.tensor("x"), c.axes("axis"), c.boolean("keepdims"),
                           static_cast<int>(ddof)));
      },
      true);
  add_builtin(
      r, "std(x, axis=None, keepdims=False, ddof=0)", "The standard deviation over `axis`.",
      [](Call& c) {
        int64_t ddof = c.integer("ddof");
        if (ddof != 0 && ddof != 1) c.value_error("ddof", "must be 0 or 1");
        return T(soma::sqrt(soma::var(c.tensor("x"), c.axes("axis"), c.boolean("keepdims"),
                                      static_cast<int>(ddof))));
      },
      true);
  add_builtin(
      r, "all(x, axis=None, keepdims=False)",
      "Whether every element along `axis` (None: all) is true (non-zero); a bool tensor.",
      [](Call& c) {
        Tensor x = c.tensor("x");
        // No zero along the axis (true over no elements, as numpy's all).
        return T(soma::sum(soma::cast(x == 0.0, DType::f32), c.axes("axis"),
                           c.boolean("keepdims")) == 0.0);
      },
      true);
  add_builtin(
      r, "any(x, axis=None, keepdims=False)",
      "Whether some element along `axis` (None: all) is true (non-zero); a bool tensor.",
      [](Call& c) {
        Tensor x = c.tensor("x");
        // Some non-zero along the axis (false over no elements, as numpy's any).
        return T(soma::sum(soma::cast(x != 0.0, DType::f32), c.axes("axis"),
                           c.boolean("keepdims")) > 0.0);
      },
      true);
  add_builtin(
      r, "argmax(x, axis=None, keepdims=False)",
      "The index of the first maximum along `axis` (None: of the flattened tensor); i32.",
      [](Call& c) {
        return T(soma::argmax(c.tensor("x"), c.opt_integer("axis"), c.boolean("keepdims")));
      },
      true);
  add_builtin(
      r, "argmin(x, axis=None, keepdims=False)",
      "The index of the first minimum along `axis` (None: of the flattened tensor); i32.",
      [](Call& c) {
        return T(soma::argmin(c.tensor("x"), c.opt_integer("axis"), c.boolean("keepdims")));
      },
      true);

  // ---- linear algebra and shapes
  // -----------------------------------------------------------------
  add_builtin(
      r, "matmul(a, b)", "numpy's matmul (a @ b): batched, vectors promoted.",
      [](Call& c) { return T(soma::matmul(c.tensor("a"), c.tensor("b"))); }, true);
  add_builtin(
      r, "transpose(x, perm=None)", "The axes permuted by `perm` (None: reversed, as x.T).",
      [](Call& c) {
        Tensor x = c.tensor("x");
        return T(soma::transpose(x, c.is_none("perm") ? std::vector<int64_t>{} : c.ints("perm")));
      },
      true);
  add_builtin(
      r, "reshape(x, shape)", "The same elements in another shape; one -1 stands for the rest.",
      [](Call& c) { return T(soma::reshape(c.tensor("x"), c.ints("shape"))); }, true);
  add_builtin(
      r, "flatten(x, start=1, end=-1)", "Axes start..end merged into one.",
      [](Call& c) { return T(soma::flatten(c.tensor("x"), c.integer("start"), c.integer("end"))); },
      true);
  add_builtin(
      r, "broadcast_to(x, shape)", "x broadcast to `shape` (numpy's rule).",
      [](Call& c) { return T(soma::broadcast_to(c.tensor("x"), c.shape("shape"))); }, true);
  add_builtin(
      r, "concat(tensors, axis=0)", "The tensors joined along an existing axis.",
      [](Call& c) { return T(soma::concat(c.tensors("tensors"), c.integer("axis"))); }, true);
  add_builtin(
      r, "stack(tensors, axis=0)", "The tensors joined along a new axis.",
      [](Call& c) { return T(soma::stack(c.tensors("tensors"), c.integer("axis"))); }, true);
  add_builtin(
      r, "pad(x, widths, value=0.0)",
      "numpy's pad with a constant: widths is [[before, after], ...] per axis, one [before, "
      "after] pair for every axis, or one int.",
      [](Call& c) {
        const Value& w = c["widths"];
        std::vector<std::pair<int64_t, int64_t>> widths;
        if (auto i = to_int(w)) {
          widths.emplace_back(*i, *i);
        } else if (w.is_list()) {
          for (const Value& item : w.as_list()) {
            auto p = to_ints(item);
            if (!p || p->size() != 2 || !item.is_list()) {
              auto flat = to_ints(w);
              if (flat && flat->size() == 2 && widths.empty()) {
                widths.emplace_back((*flat)[0], (*flat)[1]);
                break;
              }
              c.type_error("widths", "[[before, after], ...], [before, after] or an int");
            }
            widths.emplace_back((*p)[0], (*p)[1]);
          }
        } else {
          c.type_error("widths", "[[before, after], ...], [before, after] or an int");
        }
        return T(soma::pad(c.tensor("x"), widths, c.number("value")));
      },
      true);
  add_builtin(
      r, "unsqueeze(x, axis)", "A new axis of size 1 at `axis`.",
      [](Call& c) { return T(soma::unsqueeze(c.tensor("x"), c.integer("axis"))); }, true);
  add_builtin(
      r, "squeeze(x, axis=None)", "The size-1 axis `axis` removed (None: every size-1 axis).",
      [](Call& c) { return T(soma::squeeze(c.tensor("x"), c.opt_integer("axis"))); }, true);
  add_builtin(
      r, "flip(x, axis)", "The elements reversed along the axes.",
      [](Call& c) { return T(soma::flip(c.tensor("x"), c.ints("axis"))); }, true);

  // ---- neural
  // --------------------------------------------------------------------------------------
  add_builtin(
      r, "softmax(x, axis=-1)", "exp(x) / sum(exp(x)) along `axis`, computed stably.",
      [](Call& c) { return T(soma::softmax(c.tensor("x"), c.integer("axis"))); }, true);
  add_builtin(
      r, "log_softmax(x, axis=-1)", "log(softmax(x)) along `axis`, computed stably.",
      [](Call& c) { return T(soma::log_softmax(c.tensor("x"), c.integer("axis"))); }, true);
  add_builtin(
      r, "conv2d(x, w, bias=None, stride=1, padding=0, dilation=1)",
      "2-D convolution (cross-correlation) of an NCHW input with an OIHW weight. padding: "
      "pixels per side (an int or [h, w]) or \"same\"/\"valid\".",
      [](Call& c) {
        Tensor x = c.tensor("x"), w = c.tensor("w");
        std::optional<Tensor> bias = c.opt_tensor("bias");
        auto stride = int_or_pair(c, "stride");
        if (c["padding"].is_str()) {
          std::string p = c.str("padding");
          if (p != "same" && p != "valid")
            c.value_error("padding",
                          "must be \"same\", \"valid\", an int or [h, w], not '" + p + "'");
          if (c.given("dilation") && c.pair("dilation") != std::pair<int64_t, int64_t>{1, 1})
            c.value_error("dilation", "with padding=\"" + p + "\" only dilation 1 is supported");
          return T(soma::conv2d(x, w, bias, stride, p));
        }
        return T(soma::conv2d(x, w, bias, stride, int_or_pair(c, "padding"),
                              int_or_pair(c, "dilation")));
      },
      true);
  add_builtin(
      r, "max_pool2d(x, k, stride=None, padding=0)",
      "Max pooling of NCHW input with a k x k (or [kh, kw]) window; stride defaults to k.",
      [](Call& c) {
        auto k = c.pair("k");
        auto s = c.is_none("stride") ? std::pair<int64_t, int64_t>{0, 0} : c.pair("stride");
        return T(soma::max_pool2d(c.tensor("x"), k, s, c.pair("padding")));
      },
      true);
  add_builtin(
      r, "avg_pool2d(x, k, stride=None, padding=0)",
      "Average pooling of NCHW input with a k x k (or [kh, kw]) window; stride defaults to k.",
      [](Call& c) {
        auto k = c.pair("k");
        auto s = c.is_none("stride") ? std::pair<int64_t, int64_t>{0, 0} : c.pair("stride");
        return T(soma::avg_pool2d(c.tensor("x"), k, s, c.pair("padding")));
      },
      true);
  add_builtin(
      r, "dropout(x, p, seed=0)",
      "Inverted dropout: each element kept with probability 1 - p and scaled by 1 / (1 - p).",
      [](Call& c) {
        double p = c.number("p");
        if (!(p >= 0 && p < 1)) c.value_error("p", "must be in [0, 1)");
        int64_t seed = c.integer("seed");
        if (seed < 0) c.value_error("seed", "must not be negative");
        return T(soma::dropout(c.tensor("x"), p, static_cast<uint64_t>(seed)));
      },
      true);
  add_builtin(
      r, "one_hot(labels, n)", "f32 one-hot vectors of length n along a new last axis.",
      [](Call& c) { return T(soma::one_hot(c.tensor("labels"), c.integer("n"))); }, true);
  add_builtin(
      r, "embedding(ids, table)", "Rows of `table` selected by the integer `ids`.",
      [](Call& c) { return T(soma::embedding(c.tensor("ids"), c.tensor("table"))); }, true);
  add_builtin(
      r, "layer_norm(x, normalized_rank=1, eps=1e-5)",
      "x normalized to mean 0 and variance 1 over its last `normalized_rank` axes.",
      [](Call& c) {
        return T(soma::layer_norm(c.tensor("x"), static_cast<int>(c.integer("normalized_rank")),
                                  c.number("eps")));
      },
      true);

  // ---- losses
  // --------------------------------------------------------------------------------------
  add_builtin(
      r, "mse(pred, target)", "The mean squared error.",
      [](Call& c) { return T(soma::mse(c.tensor("pred"), c.tensor("target"))); }, true);
  add_builtin(
      r, "binary_cross_entropy(p, target)",
      "The mean binary cross-entropy of probabilities p (logs clamped at -100, as PyTorch).",
      [](Call& c) { return T(soma::binary_cross_entropy(c.tensor("p"), c.tensor("target"))); },
      true);
  add_builtin(
      r, "cross_entropy(logits, labels)",
      "The mean cross-entropy of logits [N, C] with integer labels [N] (or probabilities [N, C]).",
      [](Call& c) { return T(soma::cross_entropy(c.tensor("logits"), c.tensor("labels"))); }, true);

  // ---- autodiff
  // ------------------------------------------------------------------------------------
  add_builtin(
      r, "grad(y, x)",
      "The gradient of a one-element y with respect to x (a tensor, or a list of tensors: then a "
      "list). Gradients are tensors, so grad of grad works.",
      [](Call& c) {
        Tensor y = c.tensor("y");
        if (c["x"].is_list()) {
          std::vector<Value> out;
          for (const Tensor& g : soma::grad(y, c.tensors("x"))) out.push_back(T(g));
          return Value::list(std::move(out));
        }
        return T(soma::grad(y, c.tensor("x")));
      },
      true);
  add_builtin(
      r, "vjp(y, x, v)",
      "The vector-Jacobian product d(sum(v * y)) / dx (x a tensor or a list of tensors).",
      [](Call& c) {
        Tensor y = c.tensor("y"), v = c.tensor("v");
        if (c["x"].is_list()) {
          std::vector<Value> out;
          for (const Tensor& g : soma::vjp(y, c.tensors("x"), v)) out.push_back(T(g));
          return Value::list(std::move(out));
        }
        return T(soma::vjp(y, c.tensor("x"), v));
      },
      true);
}

}  // namespace soma::script
