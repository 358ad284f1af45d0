#include "backends/backend.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "backends/interp/interp.h"
#include "backends/interp/kernel_eval.h"
#include "backends/llvm/llvm_backend.h"
#include "backends/vulkan/vulkan_backend.h"
#include "graph/error.h"
#include "runtime/env.h"

namespace soma {

namespace {
using Factory = std::function<std::unique_ptr<Backend>()>;

const std::vector<std::pair<std::string, Factory>>& factories() {
  static const std::vector<std::pair<std::string, Factory>> table = {
      {"interp", make_interp_backend},
      {"interp-kernels", make_kernel_interp_backend},
      {"llvm", make_llvm_backend},
      {"vulkan", make_vulkan_backend},
  };
  return table;
}
}  // namespace

Backend& get_backend(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Backend>> instances;
  std::lock_guard<std::mutex> lock(mu);
  auto it = instances.find(name);
  if (it != instances.end()) return *it->second;
  for (auto& [n, make] : factories())
    if (n == name) return *(instances[name] = make());
  std::string list;
  for (auto& [n, make] : factories()) list += (list.empty() ? "" : ", ") + n;
  SOMA_THROW(BackendError, "unknown backend '" << name << "'; available: " << list);
}

void Executable::run_into(const Feeds& feeds, std::vector<Array>& outputs) {
  std::vector<Array> r = run(feeds);
  SOMA_CHECK(r.size() == outputs.size())
      << "run_into: " << outputs.size() << " arrays for " << r.size() << " outputs";
  for (size_t i = 0; i < r.size(); ++i) {
    SOMA_CHECK(r[i].nbytes() == outputs[i].nbytes()) << "run_into: output " << i << " size";
    if (r[i].nbytes() && r[i].raw() != outputs[i].raw())
      std::memcpy(outputs[i].raw(), r[i].raw(), r[i].nbytes());
  }
}

std::string Backend::emit_code(const std::string& stage, const kir::Program&,
                               const CompileOptions&) {
  std::string known;
  for (const CodeStage& c : code_stages()) known += (known.empty() ? "" : ", ") + c.name;
  SOMA_THROW(ValueError, "the " << name() << " backend shows no code stage '" << stage << "'"
                                << (known.empty() ? "" : "; its stages: " + known));
}

std::vector<std::string> backend_names() {
  std::vector<std::string> out;
  for (auto& [n, make] : factories()) out.push_back(n);
  return out;
}

std::string default_backend_name() {
  auto env = env_value("SOMA_BACKEND");
  if (!env) return "llvm";
  std::vector<std::string> names = backend_names();
  if (std::find(names.begin(), names.end(), *env) == names.end()) {
    std::string all;
    for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
    SOMA_THROW(NameError, "environment variable SOMA_BACKEND='" << *env
                                                                << "' names no backend; the "
                                                                   "backends are: "
                                                                << all);
  }
  return *env;
}

void check_feed(const std::string& name, const TensorType& expected, const Feeds& feeds) {
  auto it = feeds.find(name);
  if (it == feeds.end()) {
    std::string given;
    for (auto& [k, v] : feeds) given += (given.empty() ? "" : ", ") + k;
    SOMA_THROW(ValueError, "input '" << name << "' (" << expected.str() << ") was not fed"
                                     << (given.empty() ? "" : "; feeds given: " + given));
  }
  const Array& a = it->second;
  if (a.dtype() != expected.dtype)
    SOMA_THROW(TypeError, "input '" << name << "' expects " << expected.str() << " but was fed "
                                    << a.type_str());
  if (a.shape() != expected.shape)
    SOMA_THROW(ShapeError, "input '" << name << "' expects " << expected.str() << " but was fed "
                                     << a.type_str());
}

}  // namespace soma
