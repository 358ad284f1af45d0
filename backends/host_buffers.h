// One kernel program's memory on the host, for the executors that run there (llvm and the
// kernel-IR evaluator): the arena of temporaries and the constants, made once; each run's
// inputs, parameters and fresh outputs; then the outputs and the update plan of
// backends/program_layout.h, done the same way for both.
#pragma once

#include <optional>
#include <vector>

#include "backends/program_layout.h"
#include "runtime/host_memory.h"

namespace soma {

class HostBuffers {
 public:
  // `fill`: the byte the arena and each run's fresh outputs start as (0; the evaluator uses a
  // poison pattern, so that a read before a write shows). Refuses (ResourceError) a program
  // whose temporaries and outputs cannot fit in this process's memory, before allocating.
  HostBuffers(const ProgramLayout& layout, unsigned char fill);

  // Binds one run's buffers: the feeds (checked; read in place, never written), the
  // parameters (checked; the store's own arrays, or with `keep_params` copies of those updated
  // in place, so that the run leaves the store as it was) and fresh outputs.
  void bind(const Feeds& feeds, ParamStore& params, bool keep_params = false);
  // bind, with the outputs written into the caller's arrays (`into`, one per listed output,
  // types checked by the caller): an output buffer computes straight into its array unless that
  // array shares memory with a feed, a parameter or another listed output (then it gets a fresh
  // buffer, copied by outputs_into).
  void bind_into(const Feeds& feeds, ParamStore& params, const std::vector<Array>& into);

  // Where each buffer's bytes are, by buffer id (valid after bind), then where each rand
  // expression's seed is (the layout's seeds: the argument compiled llvm kernels take).
  void* const* pointers() const { return ptrs_.data(); }
  std::byte* at(kir::BufferId b) const {
    return static_cast<std::byte*>(ptrs_[static_cast<size_t>(b)]);
  }

  // The run's outputs, before any update: an output buffer's own array is handed out (once: a
  // buffer listed twice is copied the second time); anything else (inputs, parameters,
  // constants, temporaries) is copied, so that no output aliases memory the program reuses.
  std::vector<Array> outputs();
  // After a bind_into, in this order: stage_outputs() before apply_updates (copies of the
  // outputs that are not the run's own buffers, e.g. a parameter as the run found it), then
  // outputs_into() after it: copies into the caller's arrays what was not computed in them.
  // Last, so that the updates read the feeds and parameters the run read, whatever memory the
  // arrays share (as when run() is followed by a copy).
  void stage_outputs();
  void outputs_into(std::vector<Array>& into);
  // The update plan: new values into their parameters (snapshots first), versions bumped.
  void apply_updates(ParamStore& params);
  // Releases what the run bound (feeds, parameters, outputs).
  void release();

 private:
  Array fresh(const ProgramLayout::Slot& s) const;
  // Binds the feeds and parameters (the outputs: bind or bind_into).
  void bind_sources(const Feeds& feeds, ParamStore& params, bool keep_params);

  const ProgramLayout& layout_;
  unsigned char fill_;
  AlignedBytes arena_;
  std::vector<std::optional<Array>> held_;  // by buffer: constants (kept), this run's arrays
  std::vector<void*> ptrs_;
  std::vector<uint8_t> in_place_;             // by buffer: a parameter the program updates in place
  std::vector<std::optional<Array>> staged_;  // by listed output: see stage_outputs
};

}  // namespace soma
