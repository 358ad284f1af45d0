#include "runtime/param_store.h"

#include <cstring>

#include "graph/error.h"

namespace soma {

Array& ParamStore::get(const std::string& name) {
  auto it = values_.find(name);
  if (it == values_.end()) SOMA_THROW(NameError, "no parameter named '" << name << "'");
  return it->second;
}

const Array& ParamStore::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) SOMA_THROW(NameError, "no parameter named '" << name << "'");
  return it->second;
}

void ParamStore::set(const std::string& name, Array value) {
  values_[name] = std::move(value);
  ++version_;
}

void ParamStore::assign(const std::string& name, const Array& value) {
  Array& dst = get(name);
  if (dst.dtype() != value.dtype() || dst.shape() != value.shape())
    SOMA_THROW(ShapeError, "parameter '" << name << "' is " << dst.type_str()
                                         << "; cannot assign a value of type " << value.type_str());
  if (!dst.shares_storage(value) && dst.nbytes()) std::memcpy(dst.raw(), value.raw(), dst.nbytes());
  ++version_;
}

std::vector<std::string> ParamStore::names() const {
  std::vector<std::string> out;
  for (auto& [k, v] : values_) out.push_back(k);
  return out;
}

}  // namespace soma
