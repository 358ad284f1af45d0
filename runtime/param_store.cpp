#include "runtime/param_store.h"

#include <cstring>
#include <utility>

#include "graph/error.h"

namespace soma {

ParamStore::Entry& ParamStore::entry(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) SOMA_THROW(NameError, "no parameter named '" << name << "'");
  return it->second;
}

ParamStore::Fetch ParamStore::refresh(Entry& e) const {
  if (!e.fetch) return nullptr;
  e.fetch(e.value);  // on an exception the host copy stays stale
  ++fetches_;
  return std::exchange(e.fetch, nullptr);
}

uint64_t ParamStore::bump() {
  return ++version_;
}

bool ParamStore::has(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return values_.count(name) != 0;
}

Array& ParamStore::get(const std::string& name) {
  return const_cast<Array&>(std::as_const(*this).get(name));
}

const Array& ParamStore::get(const std::string& name) const {
  Fetch used;  // destroyed after the lock is released (it may own device memory)
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entry(name);
  used = refresh(e);
  return e.value;
}

const Array& ParamStore::peek(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return entry(name).value;
}

void ParamStore::set(const std::string& name, Array value) {
  Fetch dropped;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = values_[name];
  e.value = std::move(value);
  dropped = std::exchange(e.fetch, nullptr);
  e.version = bump();
}

void ParamStore::assign(const std::string& name, const Array& value) {
  Fetch dropped;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entry(name);
  Array& dst = e.value;
  if (dst.dtype() != value.dtype() || dst.shape() != value.shape())
    SOMA_THROW(ShapeError, "parameter '" << name << "' is " << dst.type_str()
                                         << "; cannot assign a value of type " << value.type_str());
  if (!dst.shares_storage(value) && dst.nbytes()) std::memcpy(dst.raw(), value.raw(), dst.nbytes());
  dropped = std::exchange(e.fetch, nullptr);
  e.version = bump();
}

void ParamStore::erase(const std::string& name) {
  Fetch dropped;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = values_.find(name);
  if (it == values_.end()) return;
  dropped = std::move(it->second.fetch);
  values_.erase(it);
  bump();
}

std::vector<std::string> ParamStore::names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (auto& [k, v] : values_) out.push_back(k);
  return out;
}

uint64_t ParamStore::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

uint64_t ParamStore::version(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return entry(name).version;
}

uint64_t ParamStore::mark_host_stale(const std::string& name, Fetch fetch) {
  Fetch dropped;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entry(name);
  dropped = std::exchange(e.fetch, std::move(fetch));
  return e.version = bump();
}

bool ParamStore::host_current(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return !entry(name).fetch;
}

void ParamStore::sync_host() const {
  std::vector<Fetch> used;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, e] : values_)
    if (Fetch f = refresh(e)) used.push_back(std::move(f));
}

int64_t ParamStore::fetch_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

}  // namespace soma
