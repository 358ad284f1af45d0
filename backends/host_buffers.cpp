#include "backends/host_buffers.h"

#include <cstring>

#include "graph/error.h"

namespace soma {

using kir::Buffer;
using kir::BufferId;

HostBuffers::HostBuffers(const ProgramLayout& layout, unsigned char fill)
    : layout_(layout), fill_(fill) {
  const size_t nb = layout.size();
  held_.resize(nb);
  ptrs_.assign(nb, nullptr);
  in_place_.assign(nb, 0);
  for (const ProgramLayout::Update& u : layout.updates())
    if (u.in_place) in_place_[static_cast<size_t>(u.param)] = 1;
  for (const int64_t& seed : layout.seeds()) ptrs_.push_back(const_cast<int64_t*>(&seed));
  uint64_t needed = static_cast<uint64_t>(layout.arena_bytes());
  for (BufferId o : layout.outputs()) needed += static_cast<uint64_t>(layout.slot(o).bytes);
  check_fits_in_memory(needed, "this program (its planned temporaries and outputs)");
  const size_t arena = static_cast<size_t>(layout.arena_bytes());
  arena_ = allocate_zeroed(arena, "the arena of the program's temporaries");
  if (fill_ && arena) std::memset(arena_.get(), fill_, arena);
  for (size_t i = 0; i < nb; ++i) {
    const BufferId b = static_cast<BufferId>(i);
    const ProgramLayout::Slot& s = layout.slot(b);
    if (s.kind == Buffer::Kind::Temp) ptrs_[i] = arena_.get() + s.arena_offset;
    if (s.kind == Buffer::Kind::Constant) {
      ptrs_[i] = held_[i].emplace(layout.constant(b)).raw();
    }
  }
}

Array HostBuffers::fresh(const ProgramLayout::Slot& s) const {
  // Kernels write every element of an output before anything reads it (the kernel-IR evaluator
  // runs every program with outputs poisoned, so a read before a write shows in its parity
  // tests): no zero fill, which would be one more pass over each output per run.
  AlignedBytes p =
      allocate_uninitialized(static_cast<size_t>(s.bytes), "an output " + s.type.str());
  if (fill_ && s.bytes) std::memset(p.get(), fill_, static_cast<size_t>(s.bytes));
  AlignedFree free_it = p.get_deleter();
  return Array::from_storage(s.type.dtype, s.type.shape,
                             std::shared_ptr<std::byte[]>(p.release(), free_it));
}

void HostBuffers::bind(const Feeds& feeds, ParamStore& params, bool keep_params) {
  bind_sources(feeds, params, keep_params);
  for (size_t i = 0; i < layout_.size(); ++i) {
    const ProgramLayout::Slot& s = layout_.slot(static_cast<BufferId>(i));
    if (s.kind == Buffer::Kind::Output) ptrs_[i] = held_[i].emplace(fresh(s)).raw();
  }
}

void HostBuffers::bind_into(const Feeds& feeds, ParamStore& params,
                            const std::vector<Array>& into) {
  bind_sources(feeds, params, false);
  const auto& outs = layout_.outputs();
  SOMA_CHECK(into.size() == outs.size())
      << into.size() << " arrays for " << outs.size() << " outputs";
  // Memory the run reads or writes besides the output buffers: the feeds and the parameters.
  std::vector<std::pair<const std::byte*, size_t>> busy;
  for (size_t i = 0; i < layout_.size(); ++i) {
    const ProgramLayout::Slot& s = layout_.slot(static_cast<BufferId>(i));
    if ((s.kind == Buffer::Kind::Input || s.kind == Buffer::Kind::Param) && s.bytes)
      busy.push_back({static_cast<const std::byte*>(ptrs_[i]), static_cast<size_t>(s.bytes)});
  }
  auto overlaps = [](const Array& a, const std::byte* p, size_t n) {
    const std::byte* q = static_cast<const std::byte*>(a.raw());
    return a.nbytes() && n && q < p + n && p < q + a.nbytes();
  };
  for (size_t o = 0; o < outs.size(); ++o) {
    const size_t b = static_cast<size_t>(outs[o]);
    if (layout_.slot(outs[o]).kind != Buffer::Kind::Output || held_[b]) continue;
    bool alone = true;
    for (const auto& [p, n] : busy) alone = alone && !overlaps(into[o], p, n);
    for (size_t q = 0; q < outs.size(); ++q)
      if (q != o)
        alone = alone &&
                !overlaps(into[o], static_cast<const std::byte*>(into[q].raw()), into[q].nbytes());
    if (alone) ptrs_[b] = held_[b].emplace(into[o]).raw();  // computed in place
  }
  // The other outputs get buffers of their own, copied into the caller's arrays after the run.
  for (size_t i = 0; i < layout_.size(); ++i) {
    const ProgramLayout::Slot& s = layout_.slot(static_cast<BufferId>(i));
    if (s.kind == Buffer::Kind::Output && !held_[i]) ptrs_[i] = held_[i].emplace(fresh(s)).raw();
  }
}

void HostBuffers::stage_outputs() {
  const auto& outs = layout_.outputs();
  staged_.assign(outs.size(), std::nullopt);
  for (size_t o = 0; o < outs.size(); ++o) {
    const ProgramLayout::Slot& s = layout_.slot(outs[o]);
    if (s.kind == Buffer::Kind::Output) continue;  // the run's own: still as computed later
    Array& a = staged_[o].emplace(s.type.dtype, s.type.shape);
    if (s.bytes) std::memcpy(a.raw(), at(outs[o]), static_cast<size_t>(s.bytes));
  }
}

void HostBuffers::outputs_into(std::vector<Array>& into) {
  const auto& outs = layout_.outputs();
  for (size_t o = 0; o < outs.size(); ++o) {
    const size_t n = static_cast<size_t>(layout_.slot(outs[o]).bytes);
    const void* from = o < staged_.size() && staged_[o] ? staged_[o]->raw() : at(outs[o]);
    // An array computed in place is skipped; any other is copied into (a buffer listed twice
    // is read from the first array it went into, final by now).
    if (n && from != into[o].raw()) std::memmove(into[o].raw(), from, n);
  }
  staged_.clear();
}

void HostBuffers::bind_sources(const Feeds& feeds, ParamStore& params, bool keep_params) {
  for (size_t i = 0; i < layout_.size(); ++i) {
    const BufferId b = static_cast<BufferId>(i);
    const ProgramLayout::Slot& s = layout_.slot(b);
    switch (s.kind) {
      case Buffer::Kind::Input:
        // Read-only by contract: the verifier refuses kernels that store to inputs.
        ptrs_[i] = held_[i].emplace(layout_.feed(feeds, b)).raw();
        break;
      case Buffer::Kind::Param: {
        Array& a = layout_.param(params, b);
        ptrs_[i] = held_[i].emplace(keep_params && in_place_[i] ? a.clone() : a).raw();
        break;
      }
      case Buffer::Kind::Output:  // by bind or bind_into
      case Buffer::Kind::Temp:
      case Buffer::Kind::Constant:
        break;  // placed once, at construction
    }
  }
}

std::vector<Array> HostBuffers::outputs() {
  std::vector<Array> out;
  out.reserve(layout_.outputs().size());
  std::vector<uint8_t> handed(layout_.size(), 0);
  for (BufferId o : layout_.outputs()) {
    const size_t i = static_cast<size_t>(o);
    const ProgramLayout::Slot& s = layout_.slot(o);
    if (s.kind == Buffer::Kind::Output && !handed[i]) {
      out.push_back(*held_[i]);
      handed[i] = 1;
    } else {
      Array a(s.type.dtype, s.type.shape);
      if (s.bytes) std::memcpy(a.raw(), ptrs_[i], static_cast<size_t>(s.bytes));
      out.push_back(std::move(a));
    }
  }
  return out;
}

void HostBuffers::apply_updates(ParamStore& params) {
  const auto& updates = layout_.updates();
  std::vector<std::optional<Array>> snapshots(updates.size());
  for (size_t u = 0; u < updates.size(); ++u) {
    if (!updates[u].snapshot) continue;
    const ProgramLayout::Slot& vs = layout_.slot(updates[u].value);
    snapshots[u].emplace(vs.type.dtype, vs.type.shape);
    if (vs.bytes)
      std::memcpy(snapshots[u]->raw(), at(updates[u].value), static_cast<size_t>(vs.bytes));
  }
  for (size_t u = 0; u < updates.size(); ++u) {
    const ProgramLayout::Update& up = updates[u];
    const ProgramLayout::Slot& ps = layout_.slot(up.param);
    if (!up.in_place && ps.bytes) {
      const void* src = up.snapshot ? snapshots[u]->raw() : at(up.value);
      std::memcpy(at(up.param), src, static_cast<size_t>(ps.bytes));
    }
  }
  // No copy: assigning the store's own array bumps its version.
  for (BufferId pb : layout_.updated_params()) {
    const std::string& name = layout_.slot(pb).name;
    params.assign(name, params.get(name));
  }
}

void HostBuffers::release() {
  for (size_t i = 0; i < layout_.size(); ++i) {
    const Buffer::Kind k = layout_.slot(static_cast<BufferId>(i)).kind;
    if (k == Buffer::Kind::Input || k == Buffer::Kind::Param || k == Buffer::Kind::Output) {
      held_[i].reset();
      ptrs_[i] = nullptr;
    }
  }
}

}  // namespace soma
