// The llvm backend's Executable: binds buffers, launches the compiled kernels in order over the
// thread pool, applies parameter updates. No LLVM headers here.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>

#include "backends/llvm/jit.h"
#include "backends/llvm/llvm_backend.h"
#include "graph/error.h"
#include "runtime/host_memory.h"

namespace soma {

namespace {

using kir::Buffer;
using kir::BufferId;

class LlvmExecutable : public Executable {
 public:
  LlvmExecutable(const kir::Program& p, std::shared_ptr<const jit::CompiledProgram> code,
                 std::shared_ptr<ParamStore> params, const CompileOptions& options)
      : code_(std::move(code)),
        params_(std::move(params)),
        outputs_(p.outputs),
        updates_(p.updates),
        launcher_(options.threads) {
    if (profile::enabled()) {
      std::vector<std::string> labels;
      for (const auto& k : code_->kernels) labels.push_back(k.info.symbol);
      profile_ = std::make_unique<profile::ProgramProfile>("llvm:" + code_->key.substr(0, 8),
                                                           std::move(labels));
    }
    SOMA_CHECK(code_->kernels.size() == p.kernels.size()) << "compiled kernel count mismatch";
    const size_t nb = p.buffers.size();
    slots_.resize(nb);
    ptrs_.assign(nb, nullptr);
    fresh_.resize(nb);
    // Temporaries: planned ones at their arena offsets, unplanned ones (offset -1) after them.
    int64_t arena = std::max<int64_t>(p.arena_bytes, 0);
    int64_t extra = arena;
    std::vector<int64_t> at(nb, -1);
    for (size_t i = 0; i < nb; ++i) {
      const Buffer& b = p.buffers[i];
      Slot& s = slots_[i];
      s.kind = b.kind;
      s.type = TensorType{b.dtype, b.shape};
      s.name = b.name;
      s.bytes = b.bytes();
      if (b.kind == Buffer::Kind::Temp) {
        if (b.offset >= 0) {
          SOMA_CHECK(b.offset + s.bytes <= arena)
              << "temp buffer " << b.name << " at " << b.offset << " (+" << s.bytes
              << " bytes) overflows the arena of " << arena << " bytes";
          at[i] = b.offset;
        } else {
          extra = (extra + 63) / 64 * 64;
          at[i] = extra;
          extra += s.bytes;
        }
      }
      if (b.kind == Buffer::Kind::Output) output_slots_.push_back(i);
      SOMA_CHECK(!b.name.empty() ||
                 (b.kind != Buffer::Kind::Input && b.kind != Buffer::Kind::Param))
          << "input/param buffer " << i << " has no name";
    }
    // A program that cannot fit is refused now, with what it needs, rather than failing later.
    uint64_t planned = static_cast<uint64_t>(extra);
    for (size_t i : output_slots_) planned += static_cast<uint64_t>(slots_[i].bytes);
    check_fits_in_memory(planned, "this program (its planned temporaries and outputs)");
    arena_ = allocate_zeroed(static_cast<size_t>(extra), "the arena of the program's temporaries");
    for (size_t i = 0; i < nb; ++i) {
      const Buffer& b = p.buffers[i];
      if (b.kind == Buffer::Kind::Temp) ptrs_[i] = arena_.get() + at[i];
      if (b.kind == Buffer::Kind::Constant) {
        Array c(b.dtype, b.shape);
        int64_t n = c.numel();
        SOMA_CHECK(b.data.size() == static_cast<size_t>(n) || b.data.size() == 1 || n == 0)
            << "constant buffer " << b.name << " has " << b.data.size() << " values for " << n
            << " elements";
        for (int64_t j = 0; j < n; ++j)
          c.set(j, b.data.size() == 1 ? b.data[0] : b.data[static_cast<size_t>(j)]);
        ptrs_[i] = c.raw();
        constants_.push_back(std::move(c));
      }
    }
    for (BufferId o : outputs_) SOMA_CHECK(o >= 0 && static_cast<size_t>(o) < nb) << "bad output";
    for (auto& [pb, vb] : updates_) {
      SOMA_CHECK(pb >= 0 && static_cast<size_t>(pb) < nb && vb >= 0 && static_cast<size_t>(vb) < nb)
          << "bad update";
      const Slot &ps = slots_[static_cast<size_t>(pb)], &vs = slots_[static_cast<size_t>(vb)];
      SOMA_CHECK(ps.kind == Buffer::Kind::Param)
          << "update target " << ps.name << " is not a param";
      if (ps.type.dtype != vs.type.dtype || ps.type.shape.numel() != vs.type.shape.numel())
        SOMA_THROW(TypeError, "update of parameter '" << ps.name << "' (" << ps.type.str()
                                                      << ") with a value of type "
                                                      << vs.type.str());
    }
  }

  std::vector<Array> run(const Feeds& feeds) override {
    std::lock_guard<std::mutex> lock(mu_);  // the arena is shared by all calls
    bind(feeds);
    launcher_.run_all(*code_, ptrs_.data(), profile_.get());

    std::vector<Array> out;
    out.reserve(outputs_.size());
    for (BufferId o : outputs_) {
      size_t i = static_cast<size_t>(o);
      if (slots_[i].kind == Buffer::Kind::Output) {
        out.push_back(*fresh_[i]);
      } else {  // never alias inputs, params (updated below) or the arena
        Array a(slots_[i].type.dtype, slots_[i].type.shape);
        if (slots_[i].bytes) std::memcpy(a.raw(), ptrs_[i], static_cast<size_t>(slots_[i].bytes));
        out.push_back(std::move(a));
      }
    }
    apply_updates();
    for (size_t i : output_slots_) fresh_[i].reset();
    return out;
  }

 private:
  struct Slot {
    Buffer::Kind kind = Buffer::Kind::Temp;
    TensorType type;
    std::string name;
    int64_t bytes = 0;
  };

  void bind(const Feeds& feeds) {
    for (size_t i = 0; i < slots_.size(); ++i) {
      const Slot& s = slots_[i];
      switch (s.kind) {
        case Buffer::Kind::Input: {
          check_feed(s.name, s.type, feeds);
          // Read-only by contract: kernels never store to input buffers.
          ptrs_[i] = const_cast<void*>(feeds.at(s.name).raw());
          break;
        }
        case Buffer::Kind::Param: {
          Array& a = params_->get(s.name);
          if (a.dtype() != s.type.dtype || a.shape() != s.type.shape)
            SOMA_THROW(ShapeError, "parameter '" << s.name << "' holds " << a.type_str()
                                                 << " but the program declares " << s.type.str());
          ptrs_[i] = a.raw();
          break;
        }
        case Buffer::Kind::Output: {
          ptrs_[i] = fresh_[i].emplace(s.type.dtype, s.type.shape).raw();
          break;
        }
        case Buffer::Kind::Temp:
        case Buffer::Kind::Constant:
          break;  // bound once at construction
      }
    }
  }

  void apply_updates() {
    // Every new value is computed; now write them into the parameters. A value buffer that is
    // itself a parameter is copied first, so that every update sees the old values.
    std::vector<std::optional<Array>> snapshots(updates_.size());  // allocates no Array
    for (size_t u = 0; u < updates_.size(); ++u) {
      auto [pb, vb] = updates_[u];
      const Slot& vs = slots_[static_cast<size_t>(vb)];
      if (pb == vb || vs.kind != Buffer::Kind::Param) continue;
      snapshots[u].emplace(vs.type.dtype, vs.type.shape);
      std::memcpy(snapshots[u]->raw(), ptrs_[static_cast<size_t>(vb)],
                  static_cast<size_t>(vs.bytes));
    }
    for (size_t u = 0; u < updates_.size(); ++u) {
      auto [pb, vb] = updates_[u];
      const Slot& ps = slots_[static_cast<size_t>(pb)];
      if (pb != vb && ps.bytes) {
        bool snap = slots_[static_cast<size_t>(vb)].kind == Buffer::Kind::Param;
        const void* src = snap ? snapshots[u]->raw() : ptrs_[static_cast<size_t>(vb)];
        std::memcpy(ptrs_[static_cast<size_t>(pb)], src, static_cast<size_t>(ps.bytes));
      }
      // Bump the store's version (no copy: the value shares the parameter's storage), so that
      // backends mirroring parameters see the change.
      params_->assign(ps.name, params_->get(ps.name));
    }
  }

  std::shared_ptr<const jit::CompiledProgram> code_;
  std::shared_ptr<ParamStore> params_;
  std::vector<BufferId> outputs_;
  std::vector<std::pair<BufferId, BufferId>> updates_;
  std::vector<Slot> slots_;
  std::vector<void*> ptrs_;
  std::vector<std::optional<Array>> fresh_;  // this call's output arrays, by buffer
  std::vector<size_t> output_slots_;         // the Output buffers
  std::vector<Array> constants_;
  AlignedBytes arena_;
  jit::Launcher launcher_;
  std::unique_ptr<profile::ProgramProfile> profile_;  // SOMA_PROFILE=1 only
  std::mutex mu_;
};

class LlvmBackend : public Backend {
 public:
  std::string name() const override { return "llvm"; }
  std::unique_ptr<Executable> compile(const CompileRequest& req,
                                      std::shared_ptr<ParamStore> params) override {
    if (!req.program)
      SOMA_THROW(BackendError,
                 "the llvm backend compiles lowered kernel programs, but this request "
                 "carries none (CompileRequest::program is null); run the lowering "
                 "passes first or use the interp backend");
    auto code = jit::compile_program(*req.program, req.options);
    return std::make_unique<LlvmExecutable>(*req.program, std::move(code), std::move(params),
                                            req.options);
  }
  std::vector<CodeStage> code_stages() const override {
    return {{"llvm", "the LLVM IR of the llvm backend"},
            {"asm", "the host assembly of the llvm backend"}};
  }
  std::string emit_code(const std::string& stage, const kir::Program& p,
                        const CompileOptions& options) override {
    if (stage == "llvm") return jit::emit_llvm_ir(p, options);
    if (stage == "asm") return jit::emit_asm(p, options);
    return Backend::emit_code(stage, p, options);
  }
};

}  // namespace

std::unique_ptr<Backend> make_llvm_backend() {
  return std::make_unique<LlvmBackend>();
}

std::string emit_llvm_ir(const kir::Program& program, const CompileOptions& options) {
  return jit::emit_llvm_ir(program, options);
}

std::string emit_asm(const kir::Program& program, const CompileOptions& options) {
  return jit::emit_asm(program, options);
}

}  // namespace soma
