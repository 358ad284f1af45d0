#include "frontend/nn/functional.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <sstream>

#include "frontend/nn/config_util.h"
#include "frontend/nn/model_util.h"

namespace soma::nn {

using namespace detail;

namespace detail {

struct SymbolicNode {
  uint64_t id = 0;                     // creation order: inputs are always older than outputs
  LayerPtr layer;                      // null for an Input
  std::vector<SymbolicTensor> inputs;  // what the layer was called on
  bool list_call = false;              // called with a list (merge layers)
  std::string name;                    // an Input's name ("" = named by the model)
  TensorType type;                     // an Input's per-sample type
  std::optional<TensorType> inferred;  // a layer output's, once a model containing it is built

  SymbolicNode() = default;
  SymbolicNode(const SymbolicNode&) = delete;
  SymbolicNode& operator=(const SymbolicNode&) = delete;
  // Iterative: a node that is the last owner of its inputs hands them to a work list before it
  // goes, so that dropping a chain of 100,000 layer calls does not recurse 100,000 deep.
  ~SymbolicNode() {
    std::vector<SymbolicTensor> pending = std::move(inputs);
    while (!pending.empty()) {
      SymbolicTensor t = std::move(pending.back());
      pending.pop_back();
      if (t.node() && t.node().use_count() == 1) {
        for (SymbolicTensor& i : t.node()->inputs) pending.push_back(std::move(i));
        t.node()->inputs.clear();
      }
    }  // each t goes here, with no inputs left to destroy in turn
  }
};

}  // namespace detail

namespace {

uint64_t next_id() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

// The per-sample output type of a call, known before any model is made (Keras users read
// `h.shape` as they build): a copy of the layer (from its config, initializers set to zeros so
// that copying costs no random draws: Layer::probe_copy) is built and called on batch-1 inputs in
// a scratch context.
// nullopt when an input type is unknown, the layer cannot be copied (a C++ layer class that
// layer_from_config does not know) or the call fails: the model reports that failure when it is
// made, with the layer's final name.
std::optional<TensorType> probe_type(const Layer& layer, const std::vector<SymbolicTensor>& args,
                                     bool list_call) {
  std::vector<TensorType> types;
  for (const SymbolicTensor& a : args) {
    std::optional<TensorType> t = a.type();
    if (!t) return std::nullopt;
    types.push_back(*t);
  }
  try {
    LayerPtr copy = layer.probe_copy();
    if (copy->name().empty()) copy->set_name(default_layer_name(copy->class_name()));
    ContextScope scope(std::make_shared<Context>());
    std::vector<Tensor> xs;
    for (size_t i = 0; i < types.size(); ++i)
      xs.push_back(input("p" + std::to_string(i), with_batch(1, types[i].shape), types[i].dtype));
    CallContext cc;
    Tensor y = build_and_call(*copy, xs, list_call, 0, cc);
    return TensorType{y.dtype(), Shape(sample_dims(y.shape()))};
  } catch (const Error&) {
    return std::nullopt;
  }
}

// Records a call of `layer` on `args`.
SymbolicTensor record_call(Layer& layer, const std::vector<SymbolicTensor>& args, bool list_call) {
  std::shared_ptr<Layer> self = layer.weak_from_this().lock();
  if (!self)
    SOMA_THROW(ValueError, layer.class_name()
                               << ": a layer called on model inputs must be held by a "
                                  "shared_ptr (std::make_shared), so the model can keep it");
  for (const SymbolicTensor& a : args)
    if (!a.defined())
      SOMA_THROW(ValueError, layer.class_name() << ": called on an undefined symbolic tensor");
  auto node = std::make_shared<SymbolicNode>();
  node->id = next_id();
  node->layer = self;
  node->inputs = args;
  node->list_call = list_call;
  node->inferred = probe_type(layer, args, list_call);
  return SymbolicTensor(node);
}

const std::string kEmpty;
const std::vector<SymbolicTensor> kNoInputs;
const LayerPtr kNoLayer;

}  // namespace

// ---- SymbolicTensor and Input -------------------------------------------------------------------

bool SymbolicTensor::is_input() const {
  return node_ && !node_->layer;
}
const std::string& SymbolicTensor::input_name() const {
  return node_ ? node_->name : kEmpty;
}
const LayerPtr& SymbolicTensor::layer() const {
  return node_ ? node_->layer : kNoLayer;
}
const std::vector<SymbolicTensor>& SymbolicTensor::inputs() const {
  return node_ ? node_->inputs : kNoInputs;
}
std::optional<TensorType> SymbolicTensor::type() const {
  if (!node_) return std::nullopt;
  if (!node_->layer) return node_->type;
  return node_->inferred;
}
std::string SymbolicTensor::str() const {
  auto t = type();
  return t ? keras_shape(t->shape) : "(None, ?)";
}

SymbolicTensor Input(const Shape& shape, DType dtype, const std::string& name) {
  for (int64_t d : shape.dims())
    if (d < 1)
      SOMA_THROW(ValueError, "Input: shape " << fmt_list(shape.dims())
                                             << " (without the batch axis) has a size < 1");
  if (!name.empty() && !valid_name(name))
    SOMA_THROW(ValueError,
               "Input: invalid name '" << name << "': use letters, digits, '_', '.' and '-'");
  auto node = std::make_shared<SymbolicNode>();
  node->id = next_id();
  node->name = name;
  node->type = TensorType{dtype, shape};
  return SymbolicTensor(node);
}

SymbolicTensor Layer::operator()(const SymbolicTensor& x) {
  if (takes_list())
    SOMA_THROW(ValueError, class_name() << " takes a list of tensors, e.g. " << class_name()
                                        << "()([a, b]); got one tensor");
  return record_call(*this, {x}, false);
}

SymbolicTensor Layer::operator()(const std::vector<SymbolicTensor>& xs) {
  if (!takes_list()) {
    if (xs.size() != 1)
      SOMA_THROW(ValueError, class_name() << " takes one input, got a list of " << xs.size()
                                          << " (merge tensors first, e.g. with Concatenate or "
                                             "Add)");
    return record_call(*this, xs, false);
  }
  if (xs.size() < 2)
    SOMA_THROW(ValueError, class_name()
                               << " needs a list of at least 2 tensors, got " << xs.size());
  return record_call(*this, xs, true);
}

// ---- Functional ---------------------------------------------------------------------------------

Functional::Functional(SymbolicTensors inputs, SymbolicTensors outputs, std::string name,
                       uint64_t seed)
    : Model(name.empty() ? "model" : name, seed),
      inputs_(std::move(inputs)),
      outputs_(std::move(outputs)) {
  connect();
  std::vector<TensorType> types;
  for (const SymbolicTensor& x : inputs_) types.push_back(x.node()->type);
  try {
    build_types(types);
  } catch (...) {
    for (const LayerPtr& l : layers_)
      if (!l->built()) l->set_owner(nullptr);
    throw;
  }
}

void Functional::connect() {
  if (inputs_.empty()) SOMA_THROW(ValueError, "Model: needs at least one input");
  if (outputs_.empty()) SOMA_THROW(ValueError, "Model: needs at least one output");
  std::map<const SymbolicNode*, size_t> input_pos;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const SymbolicTensor& x = inputs_[i];
    if (!x.defined()) SOMA_THROW(ValueError, "Model: input " << i << " is undefined");
    if (!x.is_input()) {
      const Layer& l = *x.layer();
      SOMA_THROW(ValueError, "Model: input " << i << " is the output of "
                                             << (l.name().empty() ? "a " + l.class_name() + " layer"
                                                                  : "layer '" + l.name() + "' (" +
                                                                        l.class_name() + ")")
                                             << "; model inputs must come from Input(...)");
    }
    if (!input_pos.emplace(x.node().get(), i).second)
      SOMA_THROW(ValueError, "Model: input " << i << " is listed twice");
  }
  // Every node the outputs depend on, stopping at the model's inputs.
  std::map<const SymbolicNode*, std::shared_ptr<SymbolicNode>> seen;
  std::vector<std::shared_ptr<SymbolicNode>> stack;
  for (size_t j = 0; j < outputs_.size(); ++j) {
    if (!outputs_[j].defined()) SOMA_THROW(ValueError, "Model: output " << j << " is undefined");
    stack.push_back(outputs_[j].node());
  }
  while (!stack.empty()) {
    std::shared_ptr<SymbolicNode> n = stack.back();
    stack.pop_back();
    if (!seen.emplace(n.get(), n).second) continue;
    if (!n->layer) {
      if (!input_pos.count(n.get())) {
        std::string which = n->name.empty() ? "an Input" : "Input '" + n->name + "'";
        SOMA_THROW(ValueError, "Model: graph disconnected: the outputs depend on "
                                   << which << " of shape " << keras_shape(n->type.shape)
                                   << " that is not among the model's inputs; add it to "
                                      "inputs=[...]");
      }
      continue;
    }
    for (const SymbolicTensor& a : n->inputs) stack.push_back(a.node());
  }
  for (size_t i = 0; i < inputs_.size(); ++i)
    if (!seen.count(inputs_[i].node().get())) {
      const std::string& n = inputs_[i].input_name();
      SOMA_THROW(ValueError, "Model: input " << i << (n.empty() ? "" : " ('" + n + "')")
                                             << " of shape " << inputs_[i].str()
                                             << " is not connected to any output: no layer "
                                                "call leads from it to the outputs");
    }
  for (auto& [p, n] : seen) nodes_.push_back(n);
  std::sort(nodes_.begin(), nodes_.end(),
            [](const auto& a, const auto& b) { return a->id < b->id; });
  std::map<const SymbolicNode*, size_t> index;
  for (size_t i = 0; i < nodes_.size(); ++i) index[nodes_[i].get()] = i;

  // Names: the inputs' ("input_1", ... when not given), then the layers' (explicit names first,
  // then Keras's defaults in call order), all unique in the model.
  std::set<std::string> taken;
  std::vector<std::string> names(inputs_.size());
  for (size_t i = 0; i < inputs_.size(); ++i)
    if (!inputs_[i].input_name().empty()) {
      names[i] = inputs_[i].input_name();
      if (!taken.insert(names[i]).second)
        SOMA_THROW(ValueError, "Model: two inputs are named '" << names[i] << "'");
    }
  for (size_t i = 0, k = 1; i < inputs_.size(); ++i)
    if (names[i].empty()) {
      do names[i] = "input_" + std::to_string(k++);
      while (taken.count(names[i]));
      taken.insert(names[i]);
    }
  std::map<const Layer*, int> calls;
  for (const auto& n : nodes_)
    if (n->layer && calls[n->layer.get()]++ == 0) layers_.push_back(n->layer);
  for (const LayerPtr& l : layers_)
    if (!l->name().empty() && !taken.insert(l->name()).second)
      SOMA_THROW(ValueError, "Model: two layers (or a layer and an input) are named '"
                                 << l->name() << "'; names must be unique in a model");
  for (const LayerPtr& l : layers_) {
    if (l->built() && l->owner() != this)
      SOMA_THROW(ValueError, l->class_name() << " layer '" << l->name()
                                             << "' is already built in another model; layers "
                                                "cannot be shared between models");
  }
  for (const LayerPtr& l : layers_) l->set_owner(this);
  for (const LayerPtr& l : layers_)
    if (l->name().empty()) {
      std::string base = default_layer_name(l->class_name()), name = base;
      for (int i = 1; taken.count(name); ++i) name = base + "_" + std::to_string(i);
      taken.insert(name);
      l->set_name(name);
    }

  args_.assign(nodes_.size(), {});
  call_index_.assign(nodes_.size(), 0);
  std::map<const Layer*, int> seen_calls;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (const SymbolicTensor& a : nodes_[i]->inputs) args_[i].push_back(index.at(a.node().get()));
    if (nodes_[i]->layer) call_index_[i] = seen_calls[nodes_[i]->layer.get()]++;
  }
  for (const SymbolicTensor& x : inputs_) input_nodes_.push_back(index.at(x.node().get()));
  for (const SymbolicTensor& y : outputs_) output_nodes_.push_back(index.at(y.node().get()));

  num_inputs_ = inputs_.size();
  num_outputs_ = outputs_.size();
  input_names_ = names;
  output_names_.clear();
  std::map<std::string, int> used;
  for (size_t j = 0; j < outputs_.size(); ++j) {
    const SymbolicNode& n = *nodes_[output_nodes_[j]];
    std::string base;
    if (n.layer)
      base = n.layer->name();
    else
      base = names[static_cast<size_t>(
          std::find(input_nodes_.begin(), input_nodes_.end(), output_nodes_[j]) -
          input_nodes_.begin())];
    int k = used[base]++;
    output_names_.push_back(k == 0 ? base : base + "_" + std::to_string(k));
  }
}

void Functional::build_layers(const std::vector<TensorType>& batch_inputs) {
  std::vector<Tensor> values(nodes_.size());
  for (size_t i = 0; i < input_nodes_.size(); ++i)
    values[input_nodes_[i]] =
        input("x" + std::to_string(i), batch_inputs[i].shape, batch_inputs[i].dtype);
  CallContext cc;
  node_shapes_.assign(nodes_.size(), Shape{});
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const SymbolicNode& n = *nodes_[i];
    if (n.layer) {
      std::vector<Tensor> args;
      for (size_t a : args_[i]) args.push_back(values[a]);
      Layer& l = *n.layer;
      values[i] = build_and_call(l, args, n.list_call,
                                 l.seed() ? *l.seed() : mix_seed(seed_, l.name()), cc);
    }
    node_shapes_[i] = Shape(sample_dims(values[i].shape()));
  }
  output_types_.clear();
  for (size_t j : output_nodes_)
    output_types_.push_back(TensorType{values[j].dtype(), node_shapes_[j]});
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->layer) nodes_[i]->inferred = TensorType{values[i].dtype(), node_shapes_[i]};
}

std::vector<ModelOutput> Functional::forward(const std::vector<Tensor>& xs, CallContext& ctx) {
  ContextScope scope(ctx_);
  std::vector<ModelOutput> values(nodes_.size());
  for (size_t i = 0; i < input_nodes_.size(); ++i) values[input_nodes_[i]].value = xs.at(i);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const SymbolicNode& n = *nodes_[i];
    if (!n.layer) continue;
    std::vector<Tensor> args;
    for (size_t a : args_[i]) args.push_back(values[a].value);
    const bool one = args_[i].size() == 1;
    ctx.input_logits = one ? values[args_[i][0]].logits : Tensor();
    ctx.input_activation = one ? values[args_[i][0]].logits_activation : std::string();
    ctx.logits = Tensor();
    ctx.logits_activation.clear();
    values[i].value = n.list_call ? n.layer->call_list(args, ctx) : n.layer->call(args[0], ctx);
    values[i].logits = ctx.logits;
    values[i].logits_activation = ctx.logits_activation;
  }
  std::vector<ModelOutput> out;
  for (size_t j : output_nodes_) out.push_back(values[j]);
  return out;
}

// ---- summary ------------------------------------------------------------------------------------

bool Functional::summary_connections() const {
  // A plain chain (one input, one output, each layer called once on the previous node) reads
  // like a Sequential table.
  if (inputs_.size() != 1 || outputs_.size() != 1) return true;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]->layer) continue;
    if (call_index_[i] > 0 || args_[i].size() != 1 || args_[i][0] + 1 != i) return true;
  }
  return output_nodes_[0] + 1 != nodes_.size();
}

std::vector<Model::SummaryRow> Functional::summary_rows() const {
  auto ref = [&](size_t node) {
    const SymbolicNode& n = *nodes_[node];
    if (!n.layer) {
      size_t k = static_cast<size_t>(std::find(input_nodes_.begin(), input_nodes_.end(), node) -
                                     input_nodes_.begin());
      return input_names_[k] + "[0][0]";
    }
    return n.layer->name() + "[" + std::to_string(call_index_[node]) + "][0]";
  };
  std::vector<SummaryRow> rows;
  for (size_t k = 0; k < input_nodes_.size(); ++k)
    rows.push_back(SummaryRow{input_names_[k] + " (InputLayer)",
                              "[" + keras_shape(node_shapes_[input_nodes_[k]]) + "]", 0, "[]"});
  for (const LayerPtr& l : layers_) {
    std::string shape, connected;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i]->layer != l) continue;
      std::string s = keras_shape(node_shapes_[i]);
      shape = shape.empty() || shape == s ? s : "multiple";
      for (size_t a : args_[i]) connected += (connected.empty() ? "'" : ", '") + ref(a) + "'";
    }
    rows.push_back(SummaryRow{l->name() + " (" + l->class_name() + ")", shape, l->count_params(),
                              "[" + connected + "]"});
  }
  return rows;
}

// ---- architecture -------------------------------------------------------------------------------

std::string Functional::architecture() const {
  std::ostringstream os;
  os << "Functional " << name_ << " seed=" << seed_ << "\n";
  for (size_t k = 0; k < input_nodes_.size(); ++k)
    os << "input " << input_names_[k] << " " << nodes_[input_nodes_[k]]->type.str() << "\n";
  for (const LayerPtr& l : layers_) {
    os << "layer " << l->class_name();
    for (const auto& [k, v] : l->config()) {
      SOMA_CHECK(v.find_first_of(" \n") == std::string::npos)
          << "config value with a space: " << k << "=" << v;
      os << " " << k << "=" << v;
    }
    os << "\n";
  }
  auto ref = [&](size_t node) {
    const SymbolicNode& n = *nodes_[node];
    if (!n.layer)
      return input_names_[static_cast<size_t>(
          std::find(input_nodes_.begin(), input_nodes_.end(), node) - input_nodes_.begin())];
    return n.layer->name() + ":" + std::to_string(call_index_[node]);
  };
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const SymbolicNode& n = *nodes_[i];
    if (!n.layer) continue;
    os << "call " << n.layer->name();
    if (n.list_call) {
      os << " [";
      for (size_t a = 0; a < args_[i].size(); ++a) os << (a ? "," : "") << ref(args_[i][a]);
      os << "]";
    } else {
      os << " " << ref(args_[i][0]);
    }
    os << "\n";
  }
  os << "outputs";
  for (size_t j : output_nodes_) os << " " << ref(j);
  os << "\n";
  return os.str();
}

std::shared_ptr<Functional> Functional::from_architecture(const std::string& text) {
  detail::ArchitectureReader r(text, "Functional");
  auto fail = [&](const std::string& why) { r.fail(why); };
  uint64_t seed = 0;
  for (const auto& [key, value] : r.settings()) {
    if (key != "seed") fail("unknown model setting '" + key + "=" + value + "'");
    seed = cfg_seed(LayerConfig{{"seed", value}}, "Functional").value_or(0);
  }
  std::string item;
  std::vector<SymbolicTensor> inputs, outputs;
  std::map<std::string, SymbolicTensor> refs;
  std::map<std::string, LayerPtr> layers;
  std::map<std::string, int> calls;
  auto lookup = [&](const std::string& r) {
    auto it = refs.find(r);
    if (it == refs.end()) fail("unknown tensor '" + r + "'");
    return it->second;
  };
  for (std::istringstream ls; r.next(ls);) {
    std::string kind;
    ls >> kind;
    if (kind == "input") {
      std::string iname, type;
      ls >> iname >> type;
      auto t = parse_type(type);
      if (!t) fail("bad input type '" + type + "'");
      inputs.push_back(Input(t->shape, t->dtype, iname));
      refs[iname] = inputs.back();
    } else if (kind == "layer") {
      std::string lcls;
      ls >> lcls;
      LayerPtr l = layer_from_config(lcls, r.config(ls));
      if (l->name().empty()) fail("a layer without a name");
      layers[l->name()] = l;
    } else if (kind == "call") {
      std::string lname, args;
      ls >> lname >> args;
      auto it = layers.find(lname);
      if (it == layers.end()) fail("unknown layer '" + lname + "'");
      SymbolicTensor out;
      if (args.size() >= 2 && args.front() == '[' && args.back() == ']') {
        std::vector<SymbolicTensor> xs;
        std::stringstream ss(args.substr(1, args.size() - 2));
        while (std::getline(ss, item, ',')) xs.push_back(lookup(item));
        out = (*it->second)(xs);
      } else {
        out = (*it->second)(lookup(args));
      }
      refs[lname + ":" + std::to_string(calls[lname]++)] = out;
    } else if (kind == "outputs") {
      while (ls >> item) outputs.push_back(lookup(item));
    } else {
      fail("unknown line '" + ls.str() + "'");
    }
  }
  return std::make_shared<Functional>(inputs, outputs, r.name(), seed);
}

}  // namespace soma::nn
