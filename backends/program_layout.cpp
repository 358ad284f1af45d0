#include "backends/program_layout.h"

#include <algorithm>

#include "graph/error.h"

namespace soma {

using kir::Buffer;
using kir::BufferId;

ProgramLayout::ProgramLayout(const kir::Program& p, int64_t align)
    : outputs_(p.outputs), seeds_(kir::rand_seeds(p)) {
  const size_t nb = p.buffers.size();
  slots_.resize(nb);
  data_.resize(nb);
  const int64_t planned = std::max<int64_t>(p.arena_bytes, 0);
  int64_t end = planned;
  for (size_t i = 0; i < nb; ++i) {
    const Buffer& b = p.buffers[i];
    Slot& s = slots_[i];
    s.kind = b.kind;
    s.type = TensorType{b.dtype, b.shape};
    s.name = b.name;
    s.bytes = b.bytes();
    if (b.kind == Buffer::Kind::Constant) data_[i] = b.data;
    if (b.kind != Buffer::Kind::Temp) continue;
    if (b.offset >= 0) {
      s.arena_offset = b.offset;  // inside the planned arena (the verifier checks it)
    } else {
      end = (end + align - 1) / align * align;
      s.arena_offset = end;
      end += s.bytes;
    }
  }
  arena_bytes_ = end;
  for (auto& [pb, vb] : p.updates) {
    updates_.push_back({pb, vb, pb == vb, pb != vb && slot(vb).kind == Buffer::Kind::Param});
    if (std::find(updated_.begin(), updated_.end(), pb) == updated_.end()) updated_.push_back(pb);
  }
}

std::string ProgramLayout::label(BufferId b) const {
  const Slot& s = slot(b);
  const char* kind = s.kind == Buffer::Kind::Input    ? "input"
                     : s.kind == Buffer::Kind::Param  ? "parameter"
                     : s.kind == Buffer::Kind::Output ? "output"
                     : s.kind == Buffer::Kind::Temp   ? "temporary"
                                                      : "constant";
  return std::string(kind) + " buffer '" + s.name + "' (" + s.type.str() + ")";
}

Array ProgramLayout::constant(BufferId b) const {
  const Slot& s = slot(b);
  const std::vector<double>& data = data_[static_cast<size_t>(b)];
  Array c(s.type.dtype, s.type.shape);
  for (int64_t j = 0; j < c.numel(); ++j)
    c.set(j, data.size() == 1 ? data[0] : data[static_cast<size_t>(j)]);
  return c;
}

const Array& ProgramLayout::feed(const Feeds& feeds, BufferId b) const {
  const Slot& s = slot(b);
  check_feed(s.name, s.type, feeds);
  return feeds.at(s.name);
}

Array& ProgramLayout::param(ParamStore& params, BufferId b) const {
  const Slot& s = slot(b);
  Array& a = params.get(s.name);
  if (a.dtype() != s.type.dtype || a.shape() != s.type.shape)
    SOMA_THROW(ShapeError, "parameter '" << s.name << "' holds " << a.type_str()
                                         << " but the program declares " << s.type.str());
  return a;
}

}  // namespace soma
