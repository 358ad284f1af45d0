#include "frontend/pipeline_env.h"

#include "frontend/fold.h"
#include "runtime/env.h"

namespace soma {

PipelineOptions pipeline_options_from_env() {
  PipelineOptions o;
  o.debug_level = debug_level();
  o.dump_dir = env_value("SOMA_DUMP_DIR").value_or("");
  for (std::string& name : env_list("SOMA_DISABLE_PASSES")) o.disabled.insert(std::move(name));
  return o;
}

PipelineOptions pipeline_options_for(const Backend* backend) {
  PipelineOptions o = pipeline_options_from_env();
  o.fold = make_interp_fold_fn();
  if (backend) o.max_serial_extent = backend->max_serial_extent();
  return o;
}

}  // namespace soma
