#include "frontend/pipeline_env.h"

#include "runtime/env.h"

namespace soma {

PipelineOptions pipeline_options_from_env() {
  PipelineOptions o;
  o.debug_level = debug_level();
  o.dump_dir = env_value("SOMA_DUMP_DIR").value_or("");
  for (std::string& name : env_list("SOMA_DISABLE_PASSES")) o.disabled.insert(std::move(name));
  return o;
}

}  // namespace soma
