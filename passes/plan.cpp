#include "passes/plan.h"

#include <algorithm>
#include <functional>
#include <map>

namespace soma {

namespace {

using kir::BufferId;
using kir::ExprId;

// A temporary's bytes in the arena: 64-byte aligned blocks (a cache line, an AVX-512 vector).
int64_t arena_size(const kir::Buffer& b) {
  return (std::max<int64_t>(b.bytes(), 1) + 63) / 64 * 64;
}

// Every load of `b` in kernel k, with its index expression, and every store.
void collect_access(const kir::Kernel& k, BufferId b, std::vector<ExprId>& load_idx,
                    std::vector<ExprId>& store_idx) {
  for (const kir::Expr& e : k.exprs)
    if (e.kind == kir::ExprKind::Load && e.buffer == b) load_idx.push_back(e.a[0]);
  std::function<void(const std::vector<kir::Stmt>&)> walk =
      [&](const std::vector<kir::Stmt>& body) {
        for (const kir::Stmt& s : body) {
          if (s.kind == kir::Stmt::Kind::Store && s.buffer == b) store_idx.push_back(s.index);
          walk(s.body);
        }
      };
  walk(k.body);
}

bool reads(const kir::Kernel& k, BufferId b) {
  return std::find(k.reads.begin(), k.reads.end(), b) != k.reads.end();
}

int writer_of(const kir::Program& p, BufferId b) {
  for (size_t i = 0; i < p.kernels.size(); ++i)
    if (std::find(p.kernels[i].writes.begin(), p.kernels[i].writes.end(), b) !=
        p.kernels[i].writes.end())
      return static_cast<int>(i);
  return -1;
}

// Moves the kernels that compute parameter updates (and that no other kernel reads) to the end,
// so that every reader of a parameter's old value runs before the parameter is overwritten.
void sink_update_kernels(kir::Program& p) {
  std::vector<BufferId> updates_param(p.kernels.size(), -1);
  for (auto& [param, value] : p.updates) {
    int w = writer_of(p, value);
    if (w < 0 || p.kernels[static_cast<size_t>(w)].writes.size() != 1) continue;
    bool read_later = false;
    for (size_t i = 0; i < p.kernels.size(); ++i)
      if (static_cast<int>(i) != w && reads(p.kernels[i], value)) read_later = true;
    if (!read_later) updates_param[static_cast<size_t>(w)] = param;
  }
  std::vector<kir::Kernel> front;
  std::vector<size_t> back;
  for (size_t i = 0; i < p.kernels.size(); ++i)
    if (updates_param[i] < 0)
      front.push_back(std::move(p.kernels[i]));
    else
      back.push_back(i);
  // Among the sunk kernels, one that overwrites a parameter goes after those that read it.
  while (!back.empty()) {
    size_t pick = 0;
    for (size_t c = 0; c < back.size(); ++c) {
      BufferId param = updates_param[back[c]];
      bool read_by_other = false;
      for (size_t o = 0; o < back.size(); ++o)
        if (o != c && reads(p.kernels[back[o]], param)) read_by_other = true;
      if (!read_by_other) {
        pick = c;
        break;
      }
    }
    front.push_back(std::move(p.kernels[back[pick]]));
    back.erase(back.begin() + static_cast<long>(pick));
  }
  p.kernels = std::move(front);
}

void plan_in_place_updates(kir::Program& p) {
  sink_update_kernels(p);
  for (auto& [param, value] : p.updates) {
    if (param == value || p.buffers[static_cast<size_t>(value)].kind != kir::Buffer::Kind::Temp)
      continue;
    int writer = writer_of(p, value);
    if (writer < 0) continue;
    const kir::Kernel& w = p.kernels[static_cast<size_t>(writer)];
    if (w.sequential || w.writes.size() != 1) continue;
    // No later kernel may read the parameter's old value. Later readers of the new value are
    // fine (Adam's weight update reads its new moments): they are redirected to the parameter.
    bool safe = true;
    for (size_t i = static_cast<size_t>(writer) + 1; i < p.kernels.size() && safe; ++i)
      if (reads(p.kernels[i], param)) safe = false;
    // Other updates must not read this parameter's old value after it is overwritten, nor take
    // the same value (which would no longer be stored).
    for (auto& [p2, v2] : p.updates)
      if (p2 != param && (v2 == param || v2 == value)) safe = false;
    for (BufferId o : p.outputs)
      if (o == value) safe = false;
    if (!safe) continue;
    std::vector<ExprId> loads, stores;
    collect_access(w, param, loads, stores);
    std::vector<ExprId> vloads, vstores;
    collect_access(w, value, vloads, vstores);
    if (vstores.size() != 1 || !vloads.empty()) continue;
    for (ExprId l : loads)
      if (l != vstores[0]) safe = false;
    if (!safe) continue;
    // Redirect the kernel's store of `value` to the parameter.
    kir::Kernel& wk = p.kernels[static_cast<size_t>(writer)];
    std::function<void(std::vector<kir::Stmt>&)> redirect = [&](std::vector<kir::Stmt>& body) {
      for (kir::Stmt& s : body) {
        if (s.kind == kir::Stmt::Kind::Store && s.buffer == value) s.buffer = param;
        redirect(s.body);
      }
    };
    redirect(wk.body);
    wk.writes = {param};
    for (size_t i = static_cast<size_t>(writer) + 1; i < p.kernels.size(); ++i) {
      kir::Kernel& k = p.kernels[i];
      if (!reads(k, value)) continue;
      for (kir::Expr& e : k.exprs)
        if (e.kind == kir::ExprKind::Load && e.buffer == value) e.buffer = param;
      std::replace(k.reads.begin(), k.reads.end(), value, param);  // k did not read param
    }
    value = param;
  }
}

}  // namespace

void plan_memory(kir::Program& p) {
  plan_in_place_updates(p);
  const size_t nb = p.buffers.size();
  std::vector<int> first(nb, -1), last(nb, -1);
  for (size_t i = 0; i < p.kernels.size(); ++i) {
    int ki = static_cast<int>(i);
    for (BufferId b : p.kernels[i].writes) {
      size_t k = static_cast<size_t>(b);
      if (first[k] < 0) first[k] = ki;
      last[k] = std::max(last[k], ki);
    }
    for (BufferId b : p.kernels[i].reads)
      last[static_cast<size_t>(b)] = std::max(last[static_cast<size_t>(b)], ki);
  }
  // Update values are read after the last kernel.
  for (auto& [param, value] : p.updates)
    last[static_cast<size_t>(value)] = static_cast<int>(p.kernels.size());

  struct Block {
    int64_t offset, size;
    int free_after;  // the kernel index after which the block is free
  };
  std::vector<Block> blocks;
  int64_t end = 0, unplanned = 0;
  for (size_t i = 0; i < p.kernels.size(); ++i) {
    for (BufferId b : p.kernels[i].writes) {
      kir::Buffer& buf = p.buffers[static_cast<size_t>(b)];
      if (buf.kind != kir::Buffer::Kind::Temp || buf.offset >= 0 ||
          first[static_cast<size_t>(b)] != static_cast<int>(i))
        continue;
      int64_t size = arena_size(buf);
      unplanned += size;
      // First fit among blocks whose buffer died before this kernel.
      int best = -1;
      for (size_t j = 0; j < blocks.size(); ++j)
        if (blocks[j].free_after < static_cast<int>(i) && blocks[j].size >= size &&
            (best < 0 || blocks[j].size < blocks[static_cast<size_t>(best)].size))
          best = static_cast<int>(j);
      if (best >= 0) {
        Block bl = blocks[static_cast<size_t>(best)];
        if (bl.size > size) blocks.push_back({bl.offset + size, bl.size - size, bl.free_after});
        blocks[static_cast<size_t>(best)] = {bl.offset, size, last[static_cast<size_t>(b)]};
        buf.offset = bl.offset;
      } else {
        buf.offset = end;
        blocks.push_back({end, size, last[static_cast<size_t>(b)]});
        end += size;
      }
    }
  }
  p.arena_bytes = end;
  p.unplanned_bytes = unplanned;
}

void place_without_reuse(kir::Program& p) {
  int64_t end = 0;
  for (kir::Buffer& b : p.buffers) {
    if (b.kind != kir::Buffer::Kind::Temp || b.offset >= 0) continue;
    b.offset = end;
    end += arena_size(b);
  }
  p.arena_bytes = end;
  p.unplanned_bytes = end;
}

}  // namespace soma
