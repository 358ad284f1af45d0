// The llvm backend's Executable: binds the program's buffers in host memory and applies its
// updates (backends/host_buffers.h), launches the compiled kernels in order over the thread
// pool. No LLVM headers here.
#include <memory>
#include <mutex>

#include "backends/host_buffers.h"
#include "backends/llvm/jit.h"
#include "backends/llvm/llvm_backend.h"
#include "graph/error.h"

namespace soma {

namespace {

class LlvmExecutable : public Executable {
 public:
  LlvmExecutable(const kir::Program& p, std::shared_ptr<const jit::CompiledProgram> code,
                 std::shared_ptr<ParamStore> params, const CompileOptions& options)
      : code_(std::move(code)),
        params_(std::move(params)),
        layout_(p, 64),
        host_(layout_, 0),
        launcher_(options.threads) {
    SOMA_CHECK(code_->kernels.size() == p.kernels.size()) << "compiled kernel count mismatch";
    if (profile::enabled()) {
      std::vector<std::string> labels;
      for (const auto& k : code_->kernels) labels.push_back(k.info.symbol);
      profile_ = std::make_unique<profile::ProgramProfile>("llvm:" + code_->key.substr(0, 8),
                                                           std::move(labels));
    }
  }

  std::vector<Array> run(const Feeds& feeds) override {
    std::lock_guard<std::mutex> lock(mu_);  // the arena is shared by all calls
    struct Release {
      HostBuffers& host;
      ~Release() { host.release(); }  // hold no feed, parameter or output past the call
    } release{host_};
    host_.bind(feeds, *params_);
    launcher_.run_all(*code_, host_.pointers(), profile_.get());
    std::vector<Array> out = host_.outputs();
    host_.apply_updates(*params_);
    return out;
  }

  void run_into(const Feeds& feeds, std::vector<Array>& outputs) override {
    std::lock_guard<std::mutex> lock(mu_);
    struct Release {
      HostBuffers& host;
      ~Release() { host.release(); }
    } release{host_};
    host_.bind_into(feeds, *params_, outputs);
    launcher_.run_all(*code_, host_.pointers(), profile_.get());
    host_.stage_outputs();
    host_.apply_updates(*params_);
    host_.outputs_into(outputs);
  }

 private:
  std::shared_ptr<const jit::CompiledProgram> code_;
  std::shared_ptr<ParamStore> params_;
  ProgramLayout layout_;
  HostBuffers host_;
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
