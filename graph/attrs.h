// Node attributes: a small ordered map from names to ints, floats, int lists, float lists or
// strings. Each op's attributes are checked by its shape rule (graph/infer.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace soma {

using AttrValue =
    std::variant<int64_t, double, std::vector<int64_t>, std::vector<double>, std::string>;

class Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<std::string, AttrValue>> init);

  void set(const std::string& key, AttrValue v);
  bool has(const std::string& key) const;
  const AttrValue* find(const std::string& key) const;

  // Typed accessors; a missing key or a wrong type throws ValueError naming the key.
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;  // accepts an int too
  const std::vector<int64_t>& get_ints(const std::string& key) const;
  const std::vector<double>& get_floats(const std::string& key) const;  // `[]` (ints) too
  const std::string& get_str(const std::string& key) const;

  const std::vector<std::pair<std::string, AttrValue>>& items() const { return items_; }
  bool empty() const { return items_.empty(); }
  bool operator==(const Attrs& o) const { return items_ == o.items_; }
  size_t hash() const;

 private:
  std::vector<std::pair<std::string, AttrValue>> items_;  // sorted by key
};

}  // namespace soma
