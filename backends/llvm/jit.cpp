// The ORC LLJIT wrapper: the host target machine, the O3 pipeline, the in-process memo and the
// on-disk object cache.
//
// One LLJIT serves the process; each compiled program lives in its own JITDylib (removed when the
// last executable using it goes away). Compilation goes through SomaCompiler, an IRCompiler that
// first asks the disk cache (an llvm::ObjectCache) for the module's object and only on a miss
// runs the O3 pipeline and the code generator, so a cache hit costs only the IR construction.
#include "backends/llvm/jit.h"

#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/ObjectCache.h>
#include <llvm/ExecutionEngine/Orc/CompileUtils.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/ErrorHandling.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/SmallVectorMemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/TargetParser/Host.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>

#include "backends/llvm/codegen.h"
#include "backends/llvm/program_key.h"
#include "graph/error.h"
#include "runtime/disk_cache.h"
#include "runtime/env.h"
#include "runtime/sha256.h"
#include "runtime/thread_pool.h"

#ifndef SOMA_VERSION_STRING
#define SOMA_VERSION_STRING "0"
#endif

namespace soma::jit {

namespace {

// Changes to the code generator or the pipeline must never meet stale cached objects: the cache
// key includes the build time of this file and of codegen.cpp (see codegen_stamp()).
constexpr const char* kJitStamp = __DATE__ " " __TIME__;
// Programs the in-process memo keeps (least recently used ones are dropped first).
constexpr size_t kMemoPrograms = 64;

struct Counters {
  std::atomic<int64_t> compiles{0}, memory_hits{0}, disk_hits{0}, disk_misses{0}, disk_rejects{0},
      disk_writes{0};
};
Counters& counters() {
  static Counters c;
  return c;
}

[[noreturn]] void fail(const std::string& what, llvm::Error err) {
  SOMA_THROW(BackendError, "llvm backend: " << what << ": " << llvm::toString(std::move(err)));
}

template <typename T>
T check(llvm::Expected<T> v, const std::string& what) {
  if (!v) fail(what, v.takeError());
  return std::move(*v);
}

// ---- the host target ----

struct HostTarget {
  std::string triple, cpu, features, data_layout;
  bool avx512 = false;
  int vector_bits = 128;
  llvm::orc::JITTargetMachineBuilder builder() const {
    llvm::orc::JITTargetMachineBuilder b{llvm::Triple(triple)};
    b.setCPU(cpu);
    std::vector<std::string> f;
    std::stringstream ss(features);
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) f.push_back(item);
    b.addFeatures(f);
    b.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
    return b;
  }
};

HostTarget detect_host() {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::InitializeNativeTargetAsmParser();
  HostTarget h;
  h.triple = llvm::sys::getProcessTriple();
  h.cpu = llvm::sys::getHostCPUName().str();
  std::vector<std::string> feats;
  for (const auto& f : llvm::sys::getHostCPUFeatures()) {
    std::string item(1, f.second ? '+' : '-');
    item += f.first().str();
    feats.push_back(std::move(item));
    if (f.first() == "avx512f" && f.second) h.avx512 = true;
    if (f.first() == "avx" && f.second && h.vector_bits < 256) h.vector_bits = 256;
  }
  std::sort(feats.begin(), feats.end());
  for (const std::string& f : feats) h.features += (h.features.empty() ? "" : ",") + f;
  if (h.avx512) h.vector_bits = 512;
  return h;
}

const HostTarget& host() {
  static const HostTarget h = detect_host();
  return h;
}

std::unique_ptr<llvm::TargetMachine> make_target_machine() {
  return check(host().builder().createTargetMachine(), "cannot create a target machine");
}

// ---- optimization and code generation ----

void optimize(llvm::Module& m, llvm::TargetMachine& tm) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = true;
  pto.SLPVectorization = true;
  pto.LoopInterleaving = true;
  pto.LoopUnrolling = true;
  llvm::PassBuilder pb(&tm, pto);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  mpm.run(m, mam);
}

llvm::SmallVector<char, 0> emit_file(llvm::Module& m, llvm::TargetMachine& tm,
                                     llvm::CodeGenFileType type) {
  llvm::SmallVector<char, 0> out;
  llvm::raw_svector_ostream os(out);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr, type))
    SOMA_THROW(BackendError, "llvm backend: the target cannot emit this file type");
  pm.run(m);
  return out;
}

std::string print_module(const llvm::Module& m) {
  std::string s;
  llvm::raw_string_ostream os(s);
  m.print(os, nullptr);
  os.flush();
  return s;
}

// ---- the disk cache ----
//
// Entries in the runtime's checked format (runtime/disk_cache.h), kind "llvm-object": the key is
// the program's full codegen key and the target description, the producer soma's and LLVM's
// versions and this file's build stamp; the payload an ELF object. An entry is also rejected when
// its payload does not parse as an object for this architecture.

class DiskCache : public llvm::ObjectCache {
 public:
  // Called before a module is compiled: where its entry lives and its full key.
  void expect(const std::string& id, const std::string& dir, CacheKey key) {
    std::lock_guard<std::mutex> lock(mu_);
    expected_[id] = Entry{dir, std::move(key)};
  }
  void forget(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    expected_.erase(id);
  }

  std::unique_ptr<llvm::MemoryBuffer> getObject(const llvm::Module* m) override {
    Entry e;
    if (!lookup(m->getModuleIdentifier(), e)) return nullptr;
    CacheLookup r = read_cache_entry(e.dir, e.key);
    if (r.status == CacheLookup::Status::Miss) {
      ++counters().disk_misses;
      return nullptr;
    }
    if (r.status == CacheLookup::Status::Hit && !valid_object(r.payload)) {
      std::cerr << "soma: warning: ignoring the llvm-object cache entry '" << e.dir << "/"
                << e.key.file_name() << "': not an object file for this machine; it is rebuilt\n";
      r.status = CacheLookup::Status::Rejected;
    }
    if (r.status == CacheLookup::Status::Rejected) {
      ++counters().disk_rejects;
      return nullptr;
    }
    ++counters().disk_hits;
    return llvm::MemoryBuffer::getMemBufferCopy(r.payload, m->getModuleIdentifier());
  }

  void notifyObjectCompiled(const llvm::Module* m, llvm::MemoryBufferRef obj) override {
    Entry e;
    if (!lookup(m->getModuleIdentifier(), e)) return;
    if (write_cache_entry(e.dir, e.key,
                          std::string_view(obj.getBufferStart(), obj.getBufferSize())))
      ++counters().disk_writes;
  }

 private:
  struct Entry {
    std::string dir;
    CacheKey key;
  };

  bool lookup(const std::string& id, Entry& e) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = expected_.find(id);
    if (it == expected_.end() || it->second.dir.empty()) return false;
    e = it->second;
    return true;
  }

  static bool valid_object(const std::string& data) {
    auto obj = llvm::object::ObjectFile::createObjectFile(llvm::MemoryBufferRef(data, "cached"));
    if (!obj) {
      llvm::consumeError(obj.takeError());
      return false;
    }
    return (*obj)->makeTriple().getArch() == llvm::Triple(host().triple).getArch();
  }

  std::mutex mu_;
  std::map<std::string, Entry> expected_;
};

// ---- the compiler that LLJIT calls ----

class SomaCompiler : public llvm::orc::IRCompileLayer::IRCompiler {
 public:
  SomaCompiler(std::unique_ptr<llvm::TargetMachine> tm, DiskCache& cache)
      : IRCompiler(llvm::orc::irManglingOptionsFromTargetOptions(tm->Options)),
        tm_(std::move(tm)),
        cache_(cache) {}

  // Runs inside LLVM (built without exceptions): a C++ exception must not unwind through it, so
  // every failure becomes an llvm::Error that compile_program turns into a BackendError.
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> operator()(llvm::Module& m) override {
    try {
      return compile(m);
    } catch (const std::bad_alloc&) {
      return llvm::make_error<llvm::StringError>("out of memory compiling the module",
                                                 llvm::inconvertibleErrorCode());
    } catch (const std::exception& e) {
      return llvm::make_error<llvm::StringError>(e.what(), llvm::inconvertibleErrorCode());
    }
  }

 private:
  std::unique_ptr<llvm::MemoryBuffer> compile(llvm::Module& m) {
    if (auto cached = cache_.getObject(&m)) return cached;
    ++counters().compiles;
    auto t0 = std::chrono::steady_clock::now();
    optimize(m, *tm_);
    auto t1 = std::chrono::steady_clock::now();
    if (debug_level() >= 4)
      std::cerr << "; soma: optimized LLVM IR\n" << print_module(m) << std::flush;
    auto obj = std::make_unique<llvm::SmallVectorMemoryBuffer>(
        emit_file(m, *tm_, llvm::CodeGenFileType::ObjectFile), m.getModuleIdentifier(), false);
    auto t2 = std::chrono::steady_clock::now();
    if (debug_level() >= 1) {
      auto ms = [](auto a, auto b) {
        return std::chrono::duration<double, std::milli>(b - a).count();
      };
      std::cerr << "soma: llvm compiled " << m.getModuleIdentifier().substr(0, 12) << ": O3 "
                << ms(t0, t1) << " ms, codegen " << ms(t1, t2) << " ms\n";
    }
    cache_.notifyObjectCompiled(&m, obj->getMemBufferRef());
    return std::unique_ptr<llvm::MemoryBuffer>(std::move(obj));
  }

  std::unique_ptr<llvm::TargetMachine> tm_;
  DiskCache& cache_;
};

// ---- process-wide state ----

struct JitState {
  std::mutex mu;
  DiskCache cache;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<llvm::TargetMachine> tool_tm;  // for emit_llvm_ir / emit_asm
  struct MemoEntry {
    std::shared_ptr<const CompiledProgram> program;
    uint64_t last_use = 0;
  };
  std::map<std::string, MemoEntry> memo;  // full key -> program, at most kMemoPrograms
  uint64_t uses = 0;
  uint64_t dylibs = 0;
};

// LLVM reports running out of memory, and errors it cannot recover from, to handlers that must
// not return into LLVM: say so clearly and end the process (LLVM's own handler aborts with
// "LLVM ERROR: ...").
[[noreturn]] void llvm_out_of_memory(void*, const char* reason, bool) {
  std::fprintf(stderr, "soma: error: out of memory in the LLVM backend (%s)\n",
               reason ? reason : "allocation failed");
  std::fflush(stderr);
  std::_Exit(1);
}

[[noreturn]] void llvm_fatal(void*, const char* reason, bool) {
  std::fprintf(stderr, "soma: error: the LLVM backend failed: %s\n", reason ? reason : "?");
  std::fflush(stderr);
  std::_Exit(1);
}

JitState& state() {
  // Never destroyed: executables may outlive static destruction order.
  static JitState* s = [] {
    llvm::install_bad_alloc_error_handler(llvm_out_of_memory);
    llvm::install_fatal_error_handler(llvm_fatal);
    auto* st = new JitState;
    const HostTarget& h = host();
    auto jit =
        llvm::orc::LLJITBuilder()
            .setJITTargetMachineBuilder(h.builder())
            .setCompileFunctionCreator(
                [st](llvm::orc::JITTargetMachineBuilder jtmb)
                    -> llvm::Expected<std::unique_ptr<llvm::orc::IRCompileLayer::IRCompiler>> {
                  auto tm = jtmb.createTargetMachine();
                  if (!tm) return tm.takeError();
                  return std::make_unique<SomaCompiler>(std::move(*tm), st->cache);
                })
            .create();
    st->jit = check(std::move(jit), "cannot create the JIT");
    st->tool_tm = make_target_machine();
    return st;
  }();
  return *s;
}

CodegenTarget codegen_target(const CompileOptions& options) {
  const HostTarget& h = host();
  CodegenTarget t;
  t.triple = h.triple;
  t.cpu = h.cpu;
  t.features = h.features;
  t.vector_bits = h.vector_bits;
  t.fast_math = options.fast_math;
  t.parallelism = options.threads > 0 ? options.threads : ThreadPool::default_size();
  return t;
}

// The producer of cache entries: what made the object code, on one line.
std::string producer() {
  return std::string("soma ") + SOMA_VERSION_STRING + " jit " + kJitStamp + " codegen " +
         codegen_stamp() + " llvm " + LLVM_VERSION_STRING;
}

std::string target_description(const CompileOptions& options) {
  const HostTarget& h = host();
  std::ostringstream os;
  os << "soma " << SOMA_VERSION_STRING << " (jit " << kJitStamp << ", codegen " << codegen_stamp()
     << ")\nllvm " << LLVM_VERSION_STRING << "\ntriple " << h.triple << "\ncpu " << h.cpu
     << "\nfeatures " << h.features << "\nfast_math " << (options.fast_math ? 1 : 0)
     << "\nparallelism " << codegen_target(options).parallelism << "\n";
  return os.str();
}

std::unique_ptr<llvm::Module> build_module(const kir::Program& program,
                                           const CompileOptions& options, llvm::LLVMContext& ctx,
                                           std::vector<KernelInfo>& info) {
  CodegenTarget t = codegen_target(options);
  t.data_layout = state().jit->getDataLayout().getStringRepresentation();
  return generate_module(program, t, ctx, info);
}

}  // namespace

std::shared_ptr<const CompiledProgram> compile_program(const kir::Program& program,
                                                       const CompileOptions& options) {
  JitState& st = state();
  std::string description = target_description(options);
  std::string full_key = codegen_key(program) + '\0' + description;

  // Declared before the lock, so that whatever they hold is released after it: releasing a
  // program locks st.mu (its JITDylib is removed), also when an exception unwinds from here.
  std::shared_ptr<CompiledProgram> cp;
  std::vector<std::shared_ptr<const CompiledProgram>> evicted;
  std::unique_lock<std::mutex> lock(st.mu);
  if (auto it = st.memo.find(full_key); it != st.memo.end()) {
    ++counters().memory_hits;
    it->second.last_use = ++st.uses;
    return it->second.program;
  }

  std::string digest = sha256_hex(full_key);
  auto ctx = std::make_unique<llvm::LLVMContext>();
  std::vector<KernelInfo> info;
  std::unique_ptr<llvm::Module> module = build_module(program, options, *ctx, info);
  module->setModuleIdentifier(digest);
  CacheKey cache_key{"llvm-object", producer(), full_key};
  st.cache.expect(digest, disk_cache_dir(), cache_key);
  struct Forget {
    DiskCache& c;
    const std::string& id;
    ~Forget() { c.forget(id); }
  } forget{st.cache, digest};
  if (debug_level() >= 4)
    std::cerr << "; soma: generated LLVM IR\n" << print_module(*module) << std::flush;

  llvm::orc::LLJIT& jit = *st.jit;
  std::string dylib_name = "soma." + digest.substr(0, 16) + "." + std::to_string(++st.dylibs);
  auto jd_or = jit.createJITDylib(dylib_name);
  if (!jd_or) fail("cannot create a JITDylib", jd_or.takeError());
  llvm::orc::JITDylib& jd = *jd_or;
  cp = std::make_shared<CompiledProgram>();
  cp->key = digest;
  cp->cache_file = cache_key.file_name();
  llvm::orc::JITDylib* jdp = &jd;
  cp->jit_resources = std::shared_ptr<void>(jdp, [](void* p) {
    JitState& s = state();
    std::lock_guard<std::mutex> l(s.mu);
    llvm::consumeError(
        s.jit->getExecutionSession().removeJITDylib(*static_cast<llvm::orc::JITDylib*>(p)));
  });
  jd.addGenerator(check(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                            jit.getDataLayout().getGlobalPrefix()),
                        "cannot search the process for symbols"));
  if (auto err =
          jit.addIRModule(jd, llvm::orc::ThreadSafeModule(std::move(module), std::move(ctx))))
    fail("cannot add the module", std::move(err));
  for (KernelInfo& ki : info) {
    auto addr = jit.lookup(jd, ki.symbol);
    if (!addr) fail("cannot compile kernel " + ki.symbol, addr.takeError());
    cp->kernels.push_back(CompiledKernel{addr->toPtr<KernelFn>(), std::move(ki)});
  }
  // The memo keeps the most recently used programs (executables keep theirs alive anyway).
  while (st.memo.size() >= kMemoPrograms) {
    auto oldest = st.memo.begin();
    for (auto it = st.memo.begin(); it != st.memo.end(); ++it)
      if (it->second.last_use < oldest->second.last_use) oldest = it;
    evicted.push_back(std::move(oldest->second.program));
    st.memo.erase(oldest);
  }
  st.memo[full_key] = JitState::MemoEntry{cp, ++st.uses};
  return cp;
}

std::string emit_llvm_ir(const kir::Program& program, const CompileOptions& options) {
  JitState& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  llvm::LLVMContext ctx;
  std::vector<KernelInfo> info;
  auto m = build_module(program, options, ctx, info);
  optimize(*m, *st.tool_tm);
  return print_module(*m);
}

std::string emit_asm(const kir::Program& program, const CompileOptions& options) {
  JitState& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  llvm::LLVMContext ctx;
  std::vector<KernelInfo> info;
  auto m = build_module(program, options, ctx, info);
  optimize(*m, *st.tool_tm);
  auto text = emit_file(*m, *st.tool_tm, llvm::CodeGenFileType::AssemblyFile);
  return std::string(text.data(), text.size());
}

JitStats jit_stats() {
  Counters& c = counters();
  return JitStats{c.compiles.load(),    c.memory_hits.load(),  c.disk_hits.load(),
                  c.disk_misses.load(), c.disk_rejects.load(), c.disk_writes.load()};
}

void reset_jit_stats() {
  Counters& c = counters();
  c.compiles = c.memory_hits = c.disk_hits = c.disk_misses = c.disk_rejects = c.disk_writes = 0;
}

void clear_memory_cache() {
  JitState& st = state();
  std::map<std::string, JitState::MemoEntry> old;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    old.swap(st.memo);
  }
  // `old` is destroyed here, outside the lock (releasing a program takes the lock).
}

size_t memory_cache_size() {
  JitState& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  return st.memo.size();
}

std::string disk_cache_dir() {
  return cache_dir("llvm");
}

std::string host_cpu_name() {
  return host().cpu;
}
bool host_has_avx512() {
  return host().avx512;
}

}  // namespace soma::jit
