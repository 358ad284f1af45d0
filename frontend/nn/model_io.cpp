// Model checkpoints: save_weights / load_weights / save, and load_model for every model kind.
#include <map>
#include <sstream>

#include "frontend/nn/checkpoint.h"
#include "frontend/nn/config_util.h"
#include "frontend/nn/functional.h"
#include "frontend/nn/model.h"
#include "frontend/nn/model_util.h"

namespace soma::nn {

using namespace detail;

namespace {

const char* kSlotPrefix = "optimizer/";

// Checks every model weight against the checkpoint, then assigns them all (or nothing).
void load_into(Model& m, const Checkpoint& ck, const std::string& path) {
  std::map<std::string, const Array*> found;
  for (const auto& [name, a] : ck.tensors)
    if (name.rfind(kSlotPrefix, 0) != 0) found[name] = &a;
  std::vector<Weight> ws = m.weights();
  for (const Weight& w : ws) {
    auto it = found.find(w.name);
    if (it == found.end()) {
      std::string have;
      for (const auto& [n, a] : found) have += (have.empty() ? "" : ", ") + n;
      SOMA_THROW(ValueError, "load_weights: checkpoint '"
                                 << path << "' has no weight '" << w.name
                                 << "' (it holds: " << (have.empty() ? "nothing" : have)
                                 << "); was it saved from another architecture?");
    }
    const Array& a = *it->second;
    if (a.dtype() != w.tensor.dtype())
      SOMA_THROW(TypeError, "load_weights: weight '" << w.name << "' is " << w.tensor.type().str()
                                                     << " in the model but " << a.type_str()
                                                     << " in checkpoint '" << path << "'");
    if (a.shape() != w.tensor.shape())
      SOMA_THROW(ShapeError, "load_weights: weight '"
                                 << w.name << "' is " << w.tensor.type().str()
                                 << " in the model but " << a.type_str() << " in checkpoint '"
                                 << path << "'; was it saved from another architecture?");
    found.erase(it);
  }
  if (!found.empty())
    SOMA_THROW(ValueError, "load_weights: checkpoint '"
                               << path << "' holds weight '" << found.begin()->first
                               << "' that model '" << m.name()
                               << "' does not have; was it saved from another architecture?");
  std::map<std::string, const Array*> all;
  for (const auto& [name, a] : ck.tensors) all[name] = &a;
  for (const Weight& w : ws) m.params().assign(w.name, *all.at(w.name));
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// The metadata every checkpoint has: model name and class, the input types.
void describe(const Model& m, Checkpoint& ck) {
  ck.meta["model"] = m.name();
  ck.meta["class"] = m.class_name();
  std::vector<std::string> types;
  for (const TensorType& t : m.input_types()) types.push_back(t.str());
  if (types.size() == 1)
    ck.meta["input"] = types[0];
  else
    ck.meta["inputs"] = joined(types);
}

std::string from_logits_text(const Loss& l) {
  return l.from_logits() ? "true" : "false";
}

// Files written before from_logits followed Keras say "auto" there: read as false, so a model
// whose output is unbounded logits gets the loss's error (naming from_logits=True) on its next
// fit rather than a silently different loss.
LossPtr loss_from_meta(const std::string& name, const std::string& fl) {
  const bool from_logits = fl == "true";
  if (name == "binary_crossentropy") return std::make_shared<BinaryCrossentropy>(from_logits);
  if (name == "sparse_categorical_crossentropy")
    return std::make_shared<SparseCategoricalCrossentropy>(from_logits);
  if (name == "categorical_crossentropy")
    return std::make_shared<CategoricalCrossentropy>(from_logits);
  return get_loss(name);
}

}  // namespace

void Model::save_weights(const std::string& path) const {
  Checkpoint ck;
  describe(*this, ck);  // requires built
  for (const Weight& w : weights()) ck.tensors.emplace_back(w.name, ctx_->params().get(w.name));
  write_checkpoint(path, ck);
}

void Model::load_weights(const std::string& path) {
  Checkpoint ck = read_checkpoint(path);
  if (!built_) {
    auto it = ck.meta.find("input");
    std::optional<TensorType> t;
    if (it != ck.meta.end()) t = parse_type(it->second);
    if (!t)
      SOMA_THROW(ValueError, "load_weights: model '"
                                 << name_ << "' is not built and checkpoint '" << path
                                 << "' does not say the input type; call build(input_shape) "
                                    "first");
    build(t->shape, t->dtype);
  }
  load_into(*this, ck, path);
}

void Model::save(const std::string& path) const {
  Checkpoint ck;
  describe(*this, ck);
  ck.architecture = architecture();
  for (const Weight& w : weights()) ck.tensors.emplace_back(w.name, ctx_->params().get(w.name));
  if (optimizer_) {
    ck.meta["optimizer"] = optimizer_->name();
    std::string cfg;
    for (const auto& [k, v] : optimizer_->config())
      cfg += (cfg.empty() ? "" : ",") + k + "=" + fmt_double(v);
    ck.meta["optimizer_config"] = cfg;
    std::vector<std::string> names, logits, weights;
    for (const LossPtr& l : losses_) {
      names.push_back((l->is_custom() ? "custom:" : "") + l->name());
      logits.push_back(from_logits_text(*l));
    }
    bool same = true;
    for (size_t j = 1; j < names.size(); ++j)
      same = same && names[j] == names[0] && logits[j] == logits[0];
    if (same) {
      names.resize(1);
      logits.resize(1);
    }
    ck.meta["loss"] = joined(names);
    if (names != std::vector<std::string>(names.size(), "mean_squared_error"))
      ck.meta["loss_from_logits"] = joined(logits);
    bool unit = true;
    for (double w : loss_weights_) {
      weights.push_back(fmt_double(w));
      unit = unit && w == 1.0;
    }
    if (!unit) ck.meta["loss_weights"] = joined(weights);
    // One list for all outputs ("metrics"), or Keras's list of lists ("output_metrics": the
    // outputs' lists separated by ';').
    bool uniform = true;
    for (const auto& r : metric_requests_) uniform = uniform && r == metric_requests_[0];
    if (uniform) {
      ck.meta["metrics"] = metric_requests_.empty() ? "" : joined(metric_requests_[0]);
    } else {
      std::string lists;
      for (size_t j = 0; j < metric_requests_.size(); ++j)
        lists += (j ? ";" : "") + joined(metric_requests_[j]);
      ck.meta["output_metrics"] = lists;
    }
    ck.meta["iterations"] = std::to_string(iterations_);
    ck.meta["backend"] = backend_;
    for (const Weight& w : trainable_weights())
      for (const std::string& s : optimizer_->slot_names()) {
        std::string n = w.name + "/" + s;
        if (ctx_->params().has(n)) ck.tensors.emplace_back(kSlotPrefix + n, ctx_->params().get(n));
      }
  }
  write_checkpoint(path, ck);
}

std::shared_ptr<Model> load_model(const std::string& path, const std::string& backend,
                                  const CustomObjects& custom) {
  Checkpoint ck = read_checkpoint(path);
  if (ck.architecture.empty())
    SOMA_THROW(IOError, "cannot load model '" << path
                                              << "': it holds weights only (saved by "
                                                 "save_weights); create the model in code and "
                                                 "call load_weights");
  std::shared_ptr<Model> m;
  try {
    CustomObjectScope scope(custom);
    std::string kind = ck.architecture.substr(0, ck.architecture.find(' '));
    if (kind == "Functional")
      m = Functional::from_architecture(ck.architecture);
    else
      m = Sequential::from_architecture(ck.architecture);
  } catch (const Error& e) {
    SOMA_THROW(IOError, "cannot load model '" << path << "': " << e.what());
  }
  if (!m->built()) {
    auto it = ck.meta.find("input");
    std::optional<TensorType> t;
    if (it != ck.meta.end()) t = parse_type(it->second);
    if (!t) SOMA_THROW(IOError, "cannot load model '" << path << "': no input type");
    m->build(t->shape, t->dtype);
  }
  load_into(*m, ck, path);
  auto opt = ck.meta.find("optimizer");
  if (opt == ck.meta.end()) return m;
  std::map<std::string, double> cfg;
  for (const std::string& item : split(ck.meta["optimizer_config"])) {
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    LayerConfig c{{key, eq == std::string::npos ? "" : item.substr(eq + 1)}};
    cfg[key] = cfg_double(c, "optimizer", key, 0);
  }
  std::vector<std::string> names = split(ck.meta["loss"]), fls = split(ck.meta["loss_from_logits"]);
  // A loss of the user's own is code, not data: given again in `custom`, or the model comes back
  // uncompiled (fit says so).
  std::vector<LossPtr> losses;
  for (size_t j = 0; j < names.size(); ++j) {
    if (names[j].rfind("custom:", 0) == 0) {
      auto it = custom.losses.find(names[j].substr(7));
      if (it == custom.losses.end()) return m;
      losses.push_back(it->second);
      continue;
    }
    losses.push_back(loss_from_meta(names[j], j < fls.size() ? fls[j] : "auto"));
  }
  std::vector<double> weights;
  for (const std::string& w : split(ck.meta["loss_weights"])) {
    LayerConfig c{{"w", w}};
    weights.push_back(cfg_double(c, "model", "w", 1.0));
  }
  try {
    if (auto om = ck.meta.find("output_metrics"); om != ck.meta.end()) {
      Model::OutputMetrics per({});
      std::stringstream ss(om->second);
      for (std::string list; std::getline(ss, list, ';');) per.per_output.push_back(split(list));
      if (om->second.empty() || om->second.back() == ';') per.per_output.emplace_back();
      m->compile(optimizer_from_config(opt->second, cfg), losses, per, backend, weights);
    } else {
      m->compile(optimizer_from_config(opt->second, cfg), losses, split(ck.meta["metrics"]),
                 backend, weights);
    }
  } catch (const ValueError& e) {
    SOMA_THROW(IOError, "cannot load model '" << path << "': " << e.what());
  }
  for (const auto& [name, a] : ck.tensors)
    if (name.rfind(kSlotPrefix, 0) == 0)
      m->params().set(name.substr(std::string(kSlotPrefix).size()), a.clone());
  LayerConfig it{{"i", ck.meta["iterations"]}};
  m->set_iterations(cfg_int(it, "model", "i", 0));
  return m;
}

std::shared_ptr<Sequential> Sequential::load(const std::string& path, const std::string& backend,
                                             const CustomObjects& custom) {
  std::shared_ptr<Model> m = load_model(path, backend, custom);
  auto s = std::dynamic_pointer_cast<Sequential>(m);
  if (!s)
    SOMA_THROW(ValueError, "Sequential.load: '" << path << "' holds a " << m->class_name()
                                                << " model; load it with load_model");
  return s;
}

}  // namespace soma::nn
