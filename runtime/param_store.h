// ParamStore: the persistent values of a model's parameters (and optimizer state), by name.
// Executables read parameters from it and write updates back into the same storage, so every
// executable compiled against one store (a training step, predict, evaluate) sees one set of
// weights.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/array.h"

namespace soma {

class ParamStore {
 public:
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  // Throws NameError naming the parameter when it is missing.
  Array& get(const std::string& name);
  const Array& get(const std::string& name) const;
  // Adds or replaces a parameter's value.
  void set(const std::string& name, Array value);
  // Overwrites the existing storage of `name` with `value` (same dtype and shape required), so
  // that every holder of the old Array sees the new values.
  void assign(const std::string& name, const Array& value);
  void erase(const std::string& name) { values_.erase(name); }
  std::vector<std::string> names() const;
  // Bumped on every set/assign; backends that mirror parameters elsewhere use it to resync.
  uint64_t version() const { return version_; }

 private:
  std::map<std::string, Array> values_;
  uint64_t version_ = 0;
};

}  // namespace soma
