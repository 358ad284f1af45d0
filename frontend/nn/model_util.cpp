#include "frontend/nn/model_util.h"

#include "frontend/nn/config_util.h"
#include "frontend/nn/layer_registry.h"

namespace soma::nn::detail {

std::vector<int64_t> sample_dims(const Shape& s) {
  return std::vector<int64_t>(s.dims().begin() + 1, s.dims().end());
}

Shape with_batch(int64_t batch, const Shape& per_sample) {
  std::vector<int64_t> d{batch};
  d.insert(d.end(), per_sample.dims().begin(), per_sample.dims().end());
  return Shape(d);
}

std::string keras_shape(const Shape& per_sample) {
  std::string s = "(None";
  for (int64_t d : per_sample.dims()) s += ", " + std::to_string(d);
  return s + ")";
}

std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out = v < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string default_layer_name(const std::string& cls) {
  if (const LayerKind* k = find_layer_kind(cls); k && !k->default_name.empty())
    return k->default_name;
  std::string out;
  for (size_t i = 0; i < cls.size(); ++i) {
    char c = cls[i];
    if (c >= 'A' && c <= 'Z') {
      if (i > 0) out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<TensorType> parse_type(const std::string& s) {
  size_t b = s.find('[');
  if (b == std::string::npos || s.empty() || s.back() != ']') return std::nullopt;
  auto dt = parse_dtype(s.substr(0, b));
  if (!dt) return std::nullopt;
  LayerConfig c{{"t", s.substr(b)}};
  try {
    return TensorType{*dt, Shape(cfg_list(c, "input", "t", {}))};
  } catch (const Error&) {
    return std::nullopt;
  }
}

Array convert(const Array& a, DType to) {
  if (a.dtype() == to) return a;
  Array out(to, a.shape());
  int64_t n = a.numel();
  if (to == DType::f32 && a.dtype() == DType::i32) {
    const int32_t* p = a.data<int32_t>();
    float* q = out.data<float>();
    for (int64_t i = 0; i < n; ++i) q[i] = static_cast<float>(p[i]);
    return out;
  }
  for (int64_t i = 0; i < n; ++i) out.set(i, a.get(i));
  return out;
}

namespace {

template <class E>
[[noreturn]] void rethrow_with(const E& e, const std::string& prefix) {
  throw E(prefix + e.what());
}

}  // namespace

Tensor build_and_call(Layer& layer, const std::vector<Tensor>& xs, bool list_call, uint64_t seed,
                      CallContext& cc) {
  auto prefix = [&]() {
    std::string shapes;
    for (const Tensor& x : xs)
      shapes += (shapes.empty() ? "" : ", ") + keras_shape(Shape(sample_dims(x.shape())));
    if (list_call) shapes = "[" + shapes + "]";
    return "layer '" + layer.name() + "' (" + layer.class_name() + ") on input " + shapes + ": ";
  };
  auto names_layer = [&](const Error& e) {
    return std::string(e.what()).find("'" + layer.name() + "'") != std::string::npos;
  };
  try {
    if (list_call) {
      std::vector<TensorType> types;
      for (const Tensor& x : xs) types.push_back(x.type());
      layer.build_list(types, seed);
      return layer.call_list(xs, cc);
    }
    layer.build(xs.at(0).type(), seed);
    return layer.call(xs[0], cc);
  } catch (const ShapeError& e) {
    if (names_layer(e)) throw;
    rethrow_with(e, prefix());
  } catch (const TypeError& e) {
    if (names_layer(e)) throw;
    rethrow_with(e, prefix());
  } catch (const ValueError& e) {
    if (names_layer(e)) throw;
    rethrow_with(e, prefix());
  }
}

ArchitectureReader::ArchitectureReader(const std::string& text, const std::string& cls)
    : in_(text) {
  std::string line;
  if (!std::getline(in_, line)) fail("empty architecture");
  ++line_no_;
  std::istringstream head(line);
  std::string c, item;
  head >> c >> name_;
  if (c != cls) fail("expected \"" + cls + " NAME ...\", got \"" + line + "\"");
  while (head >> item) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) fail("unknown model setting '" + item + "'");
    settings_.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
}

bool ArchitectureReader::next(std::istringstream& line) {
  std::string text;
  while (std::getline(in_, text)) {
    ++line_no_;
    if (text.empty()) continue;
    line.clear();
    line.str(text);
    return true;
  }
  return false;
}

LayerConfig ArchitectureReader::config(std::istream& line) const {
  LayerConfig c;
  std::string item;
  while (line >> item) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) fail("expected key=value, got '" + item + "'");
    c[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return c;
}

void ArchitectureReader::fail(const std::string& why) const {
  SOMA_THROW(ValueError, "architecture line " << line_no_ << ": " << why);
}

}  // namespace soma::nn::detail
