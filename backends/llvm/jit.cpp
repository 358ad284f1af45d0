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
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/SHA256.h>
#include <llvm/Support/SmallVectorMemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Support/xxhash.h>
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
#include "runtime/thread_pool.h"

#ifndef SOMA_VERSION_STRING
#define SOMA_VERSION_STRING "0"
#endif

namespace soma::jit {

namespace {

// Changes to the code generator or the pipeline must never meet stale cached objects: the cache
// key includes the build time of this file and of codegen.cpp (see codegen_stamp()).
constexpr const char* kJitStamp = __DATE__ " " __TIME__;

struct Counters {
  std::atomic<int64_t> compiles{0}, memory_hits{0}, disk_hits{0}, disk_misses{0}, disk_rejects{0},
      disk_writes{0};
};
Counters& counters() {
  static Counters c;
  return c;
}

int debug_level() {
  const char* d = std::getenv("SOMA_DEBUG");
  return d && *d ? std::atoi(d) : 0;
}

std::string to_hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
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
// File <dir>/<digest>.o: "SOMAOBJ1", u64 header length, header (the full description of what
// the key covers), u64 payload length, u64 xxh3 of the payload, payload (an ELF object). An
// entry is used only when all of it checks out and the payload parses as an object file.

constexpr char kMagic[8] = {'S', 'O', 'M', 'A', 'O', 'B', 'J', '1'};

class DiskCache : public llvm::ObjectCache {
 public:
  // Called before a module is compiled: where its entry lives and what its header must say.
  void expect(const std::string& id, const std::string& dir, const std::string& header) {
    std::lock_guard<std::mutex> lock(mu_);
    expected_[id] = Entry{dir, header};
  }

  std::unique_ptr<llvm::MemoryBuffer> getObject(const llvm::Module* m) override {
    Entry e;
    if (!lookup(m->getModuleIdentifier(), e)) return nullptr;
    std::string path = e.dir + "/" + m->getModuleIdentifier() + ".o";
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      ++counters().disk_misses;
      return nullptr;
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string payload;
    if (!parse(bytes, e.header, payload)) {
      ++counters().disk_rejects;
      if (debug_level() >= 1) std::cerr << "soma: ignoring a corrupt cache entry " << path << "\n";
      std::remove(path.c_str());
      return nullptr;
    }
    ++counters().disk_hits;
    return llvm::MemoryBuffer::getMemBufferCopy(payload, m->getModuleIdentifier());
  }

  void notifyObjectCompiled(const llvm::Module* m, llvm::MemoryBufferRef obj) override {
    Entry e;
    if (!lookup(m->getModuleIdentifier(), e)) return;
    if (llvm::sys::fs::create_directories(e.dir)) return;  // best effort
    std::string out(kMagic, sizeof kMagic);
    auto u64 = [&](uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
    u64(e.header.size());
    out += e.header;
    u64(obj.getBufferSize());
    u64(llvm::xxh3_64bits(obj.getBuffer()));
    out.append(obj.getBufferStart(), obj.getBufferSize());
    // Atomic: write a private temporary in the same folder, then rename over the entry.
    static std::atomic<uint64_t> seq{0};
    std::string path = e.dir + "/" + m->getModuleIdentifier() + ".o";
    std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(++seq);
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      if (!f) return;
      f.write(out.data(), static_cast<std::streamsize>(out.size()));
      f.close();
      if (!f) {
        std::remove(tmp.c_str());
        return;
      }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      std::remove(tmp.c_str());
      return;
    }
    ++counters().disk_writes;
  }

 private:
  struct Entry {
    std::string dir, header;
  };

  bool lookup(const std::string& id, Entry& e) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = expected_.find(id);
    if (it == expected_.end() || it->second.dir.empty()) return false;
    e = it->second;
    return true;
  }

  static bool parse(const std::string& bytes, const std::string& header, std::string& payload) {
    size_t pos = 0;
    auto u64 = [&](uint64_t& v) {
      if (bytes.size() - pos < sizeof v) return false;
      std::memcpy(&v, bytes.data() + pos, sizeof v);
      pos += sizeof v;
      return true;
    };
    if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
      return false;
    pos = sizeof kMagic;
    uint64_t hlen = 0, plen = 0, hash = 0;
    if (!u64(hlen) || hlen != header.size() || bytes.size() - pos < hlen) return false;
    if (bytes.compare(pos, hlen, header) != 0) return false;
    pos += hlen;
    if (!u64(plen) || !u64(hash) || bytes.size() - pos != plen) return false;
    llvm::StringRef data(bytes.data() + pos, plen);
    if (llvm::xxh3_64bits(data) != hash) return false;
    auto obj = llvm::object::ObjectFile::createObjectFile(llvm::MemoryBufferRef(data, "cached"));
    if (!obj) {
      llvm::consumeError(obj.takeError());
      return false;
    }
    if ((*obj)->makeTriple().getArch() != llvm::Triple(host().triple).getArch()) return false;
    payload.assign(data.data(), data.size());
    return true;
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

  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> operator()(llvm::Module& m) override {
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

 private:
  std::unique_ptr<llvm::TargetMachine> tm_;
  DiskCache& cache_;
};

// ---- process-wide state ----

struct JitState {
  std::mutex mu;
  DiskCache cache;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::unique_ptr<llvm::TargetMachine> tool_tm;  // for emit_llvm_ir / emit_asm
  std::map<std::string, std::shared_ptr<const CompiledProgram>> memo;
  uint64_t dylibs = 0;
};

JitState& state() {
  // Never destroyed: executables may outlive static destruction order.
  static JitState* s = [] {
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

  std::unique_lock<std::mutex> lock(st.mu);
  if (auto it = st.memo.find(full_key); it != st.memo.end()) {
    ++counters().memory_hits;
    return it->second;
  }

  llvm::SHA256 sha;
  sha.update(llvm::StringRef(full_key));
  auto digest_bytes = sha.final();
  std::string digest = to_hex(digest_bytes.data(), digest_bytes.size());

  auto ctx = std::make_unique<llvm::LLVMContext>();
  std::vector<KernelInfo> info;
  std::unique_ptr<llvm::Module> module = build_module(program, options, *ctx, info);
  module->setModuleIdentifier(digest);
  st.cache.expect(digest, disk_cache_dir(), description + "key " + digest + "\n");
  if (debug_level() >= 4)
    std::cerr << "; soma: generated LLVM IR\n" << print_module(*module) << std::flush;

  llvm::orc::LLJIT& jit = *st.jit;
  std::string dylib_name = "soma." + digest.substr(0, 16) + "." + std::to_string(++st.dylibs);
  auto jd_or = jit.createJITDylib(dylib_name);
  if (!jd_or) fail("cannot create a JITDylib", jd_or.takeError());
  llvm::orc::JITDylib& jd = *jd_or;
  jd.addGenerator(check(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
                            jit.getDataLayout().getGlobalPrefix()),
                        "cannot search the process for symbols"));
  if (auto err =
          jit.addIRModule(jd, llvm::orc::ThreadSafeModule(std::move(module), std::move(ctx))))
    fail("cannot add the module", std::move(err));

  auto cp = std::make_shared<CompiledProgram>();
  cp->key = digest;
  llvm::orc::JITDylib* jdp = &jd;
  cp->jit_resources = std::shared_ptr<void>(jdp, [](void* p) {
    JitState& s = state();
    std::lock_guard<std::mutex> l(s.mu);
    llvm::consumeError(
        s.jit->getExecutionSession().removeJITDylib(*static_cast<llvm::orc::JITDylib*>(p)));
  });
  for (KernelInfo& ki : info) {
    auto addr = jit.lookup(jd, ki.symbol);
    if (!addr) {
      lock.unlock();
      cp.reset();  // removes the dylib
      fail("cannot compile kernel " + ki.symbol, addr.takeError());
    }
    cp->kernels.push_back(CompiledKernel{addr->toPtr<KernelFn>(), std::move(ki)});
  }
  st.memo[full_key] = cp;
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
  std::map<std::string, std::shared_ptr<const CompiledProgram>> old;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    old.swap(st.memo);
  }
  // `old` is destroyed here, outside the lock (releasing a program takes the lock).
}

std::string disk_cache_dir() {
  if (const char* off = std::getenv("SOMA_DISK_CACHE"); off && std::string(off) == "0") return "";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x == '/')
    return std::string(x) + "/soma";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/soma";
  return "";
}

std::string host_cpu_name() {
  return host().cpu;
}
bool host_has_avx512() {
  return host().avx512;
}

}  // namespace soma::jit
