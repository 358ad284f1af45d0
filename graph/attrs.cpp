#include "graph/attrs.h"

#include <algorithm>
#include <bit>
#include <functional>

#include "graph/error.h"

namespace soma {

Attrs::Attrs(std::initializer_list<std::pair<std::string, AttrValue>> init) {
  for (auto& [k, v] : init) set(k, v);
}

void Attrs::set(const std::string& key, AttrValue v) {
  auto it = std::lower_bound(items_.begin(), items_.end(), key,
                             [](const auto& item, const std::string& k) { return item.first < k; });
  if (it != items_.end() && it->first == key)
    it->second = std::move(v);
  else
    items_.insert(it, {key, std::move(v)});
}

const AttrValue* Attrs::find(const std::string& key) const {
  for (auto& [k, v] : items_)
    if (k == key) return &v;
  return nullptr;
}

bool Attrs::has(const std::string& key) const {
  return find(key) != nullptr;
}

namespace {
template <typename T>
const T& get_typed(const Attrs& a, const std::string& key, const char* type_name) {
  const AttrValue* v = a.find(key);
  if (!v) SOMA_THROW(ValueError, "missing attribute '" << key << "'");
  const T* t = std::get_if<T>(v);
  if (!t) SOMA_THROW(ValueError, "attribute '" << key << "' must be " << type_name);
  return *t;
}
}  // namespace

int64_t Attrs::get_int(const std::string& key) const {
  return get_typed<int64_t>(*this, key, "an integer");
}

double Attrs::get_float(const std::string& key) const {
  const AttrValue* v = find(key);
  if (v)
    if (auto* i = std::get_if<int64_t>(v)) return static_cast<double>(*i);
  return get_typed<double>(*this, key, "a number");
}

const std::vector<int64_t>& Attrs::get_ints(const std::string& key) const {
  return get_typed<std::vector<int64_t>>(*this, key, "a list of integers");
}

const std::vector<double>& Attrs::get_floats(const std::string& key) const {
  // The text form cannot tell an empty float list from an empty int list; `[]` parses as ints.
  static const std::vector<double> kEmpty;
  const AttrValue* v = find(key);
  if (v)
    if (auto* i = std::get_if<std::vector<int64_t>>(v); i && i->empty()) return kEmpty;
  return get_typed<std::vector<double>>(*this, key, "a list of numbers");
}

const std::string& Attrs::get_str(const std::string& key) const {
  return get_typed<std::string>(*this, key, "a string");
}

size_t Attrs::hash() const {
  size_t h = 0x9e3779b97f4a7c15ull;
  auto mix = [&](size_t v) { h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
  for (auto& [k, v] : items_) {
    mix(std::hash<std::string>{}(k));
    mix(v.index());
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, int64_t>) {
            mix(static_cast<size_t>(x));
          } else if constexpr (std::is_same_v<T, double>) {
            mix(std::bit_cast<uint64_t>(x));
          } else if constexpr (std::is_same_v<T, std::string>) {
            mix(std::hash<std::string>{}(x));
          } else {
            for (auto e : x) {
              if constexpr (std::is_same_v<decltype(e), double>)
                mix(std::bit_cast<uint64_t>(e));
              else
                mix(static_cast<size_t>(e));
            }
          }
        },
        v);
  }
  return h;
}

}  // namespace soma
