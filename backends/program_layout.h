// The run-time side of a kernel program, shared by the three executors of the kernel IR (the
// evaluator `interp-kernels`, llvm and vulkan): what each buffer is, where the temporaries live
// in the arena, the constants' values, how feeds and parameters are checked, and the update
// plan. An executor adds only its device work: where the bytes live, how kernels are launched
// and how values move (backends/host_buffers.h does it for the host executors).
//
// The update plan (the same on every backend): the outputs are read first, so that they see the
// parameters as the run found them; then every new value is written into its parameter, a value
// that is itself a parameter from a snapshot taken before any update writes (so that every
// update sees the old values); then each updated parameter's version in the ParamStore is
// bumped (an in-place update's values are in the parameter already), so that every holder of a
// copy (a device mirror) knows it changed.
#pragma once

#include <string>
#include <vector>

#include "backends/backend.h"
#include "graph/kernel_ir.h"
#include "runtime/array.h"
#include "runtime/param_store.h"

namespace soma {

class ProgramLayout {
 public:
  struct Slot {
    kir::Buffer::Kind kind = kir::Buffer::Kind::Temp;
    TensorType type;
    std::string name;
    int64_t bytes = 0;
    int64_t arena_offset = -1;  // a temporary: where in the arena
  };
  struct Update {
    kir::BufferId param = -1, value = -1;
    bool in_place = false;  // param == value: nothing to copy
    bool snapshot = false;  // the value is a parameter: read it before any update writes
  };

  // `program` has passed kir::verify. Temporaries that memory planning left without a place go
  // after the planned arena, each aligned to `align` bytes.
  ProgramLayout(const kir::Program& program, int64_t align);

  size_t size() const { return slots_.size(); }
  const Slot& slot(kir::BufferId b) const { return slots_[static_cast<size_t>(b)]; }
  int64_t arena_bytes() const { return arena_bytes_; }
  const std::vector<kir::BufferId>& outputs() const { return outputs_; }
  const std::vector<Update>& updates() const { return updates_; }
  const std::vector<kir::BufferId>& updated_params() const { return updated_; }  // each once
  // The seeds of the program's rand expressions (kir::rand_seeds), for code that reads them at
  // run time.
  const std::vector<int64_t>& seeds() const { return seeds_; }

  // "input buffer 'x' (f32[2,3])", for errors.
  std::string label(kir::BufferId b) const;
  // A constant buffer's values.
  Array constant(kir::BufferId b) const;
  // An input buffer's feed, checked (check_feed's errors).
  const Array& feed(const Feeds& feeds, kir::BufferId b) const;
  // A parameter buffer's value in the store, checked against the program's type (ShapeError).
  Array& param(ParamStore& params, kir::BufferId b) const;

 private:
  std::vector<Slot> slots_;
  std::vector<std::vector<double>> data_;  // constants' values, by buffer
  int64_t arena_bytes_ = 0;
  std::vector<kir::BufferId> outputs_;
  std::vector<Update> updates_;
  std::vector<kir::BufferId> updated_;
  std::vector<int64_t> seeds_;
};

}  // namespace soma
