// The vulkan backend's Executable: device buffers for a program, its recorded command sequence,
// parameter mirrors, and the backend object (see vulkan_backend.h).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>

#include "backends/vulkan/context.h"
#include "backends/vulkan/glsl_emit.h"
#include "backends/vulkan/memory.h"
#include "backends/vulkan/pipeline.h"
#include "backends/vulkan/sequence.h"
#include "backends/vulkan/spirv.h"
#include "backends/vulkan/vulkan_backend.h"
#include "graph/error.h"

namespace soma {

namespace vulkan {
namespace {

using kir::Buffer;
using kir::BufferId;

int debug_level() {
  const char* d = std::getenv("SOMA_DEBUG");
  return d && *d ? std::atoi(d) : 0;
}

VkDeviceSize align_down(VkDeviceSize x, VkDeviceSize a) {
  return x / a * a;
}
VkDeviceSize align_up(VkDeviceSize x, VkDeviceSize a) {
  return (x + a - 1) / a * a;
}

// ---- device mirrors of parameter stores ----

struct DeviceParam {
  vulkan::Buffer buffer;
  DType dtype = DType::f32;
  int64_t numel = 0;
  // The store version at which this copy was last known to equal the host's (none: never).
  uint64_t synced = UINT64_MAX;
};

struct DeviceParams {
  std::map<std::string, std::shared_ptr<DeviceParam>> entries;
};

// The mirror of `store`, shared by every executable compiled against it (guarded by
// Context::run_mutex once executables exist; the registry has its own lock).
std::shared_ptr<DeviceParams> device_params_for(const std::shared_ptr<ParamStore>& store) {
  struct Entry {
    std::weak_ptr<ParamStore> store;
    std::weak_ptr<DeviceParams> mirror;
  };
  static std::mutex mu;
  static std::map<const ParamStore*, Entry> registry;
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = registry.begin(); it != registry.end();)
    it = it->second.store.expired() || it->second.mirror.expired() ? registry.erase(it)
                                                                   : std::next(it);
  auto it = registry.find(store.get());
  if (it != registry.end()) return it->second.mirror.lock();
  auto m = std::make_shared<DeviceParams>();
  registry[store.get()] = {store, m};
  return m;
}

// Copies host bytes into a device buffer (mapped memcpy, or a staging copy on discrete GPUs).
void upload(const vulkan::Buffer& dst, VkDeviceSize offset, const void* src, size_t bytes) {
  if (!bytes) return;
  if (Allocator::get().device_memory_mappable()) {
    std::memcpy(dst.mapped() + offset, src, bytes);
    return;
  }
  vulkan::Buffer staging(bytes, MemoryUse::Upload, "an upload staging buffer");
  std::memcpy(staging.mapped(), src, bytes);
  Sequence seq;
  seq.begin();
  seq.copy(staging.handle(), 0, dst.handle(), offset, bytes);
  seq.barrier(VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
              VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
              VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT);
  seq.end();
  seq.run();
}

ShaderFeatures shader_features(const Context& ctx) {
  ShaderFeatures f;
  f.int8_storage = ctx.int8_storage;
  f.float64 = ctx.float64;
  f.subgroup_arithmetic = ctx.subgroup_arithmetic;
  f.nan_preserve_f32 = ctx.nan_preserve_f32;
  f.nan_preserve_f64 = ctx.nan_preserve_f64;
  // On a CPU device a workgroup runs on one thread: splitting a point's reduction over a
  // workgroup only adds barriers.
  f.workgroup_reduce = !ctx.is_cpu();
  f.tiled_matmul = true;
  f.max_shared_bytes = ctx.props.limits.maxComputeSharedMemorySize;
  // A CPU device (lavapipe) runs a workgroup's invocations in SIMD lanes of one thread: bigger
  // register tiles and fewer, larger workgroups pay there (measured on lavapipe: 7.8 against 3.4
  // GFLOP/s for a 1024^2 sgemm).
  if (ctx.is_cpu()) f.tiles = MatmulTiles{128, 64, 32, 16, 8};
  if (const char* force = std::getenv("SOMA_VULKAN_FORCE")) {
    std::string s = force;
    f.force_workgroup_reduce = s.find("workgroup_reduce") != std::string::npos;
    f.force_tiled_matmul = s.find("tiled_matmul") != std::string::npos;
    if (s.find("no_tiled") != std::string::npos) f.tiled_matmul = false;
    if (s.find("no_subgroups") != std::string::npos) f.subgroup_arithmetic = false;
  }
  if (const char* t = std::getenv("SOMA_VULKAN_TILES")) {  // tuning: bm,bn,bk,tm,tn
    MatmulTiles m;
    if (std::sscanf(t, "%d,%d,%d,%d,%d", &m.bm, &m.bn, &m.bk, &m.tm, &m.tn) == 5 && m.tm > 0 &&
        m.tn > 0 && m.bm % m.tm == 0 && m.bn % m.tn == 0 && m.bk > 0 &&
        (m.bm / m.tm) * (m.bn / m.tn) <= 1024)
      f.tiles = m;
  }
  return f;
}

uint32_t env_u32(const char* name, uint32_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  long x = std::atol(v);
  return x > 0 ? static_cast<uint32_t>(x) : fallback;
}

std::mutex& profile_mutex() {
  static std::mutex m;
  return m;
}
std::vector<KernelTime>& last_profile_store() {
  static std::vector<KernelTime> p;
  return p;
}

bool profiling() {
  const char* p = std::getenv("SOMA_VULKAN_PROFILE");
  return (p && std::string(p) == "1") || debug_level() >= 1;
}

// ---- the executable ----

struct CompiledKernel {
  KernelShader shader;
  const Pipeline* pipeline = nullptr;
  uint32_t local_size = 0;
  uint32_t groups = 0;    // workgroups in x
  uint32_t groups_y = 1;  // and in y (Points kernels)
};

class VulkanExecutable : public Executable {
 public:
  VulkanExecutable(const kir::Program& p, std::vector<CompiledKernel> kernels,
                   std::shared_ptr<ParamStore> params)
      : ctx_(Context::get()),
        params_(std::move(params)),
        mirror_(device_params_for(params_)),
        kernels_(std::move(kernels)),
        outputs_(p.outputs),
        updates_(p.updates) {
    ++Context::live_objects;  // before anything that may throw: the destructor is not run then
    struct Undo {
      bool armed = true;
      ~Undo() {
        if (armed) --Context::live_objects;
      }
    } undo;
    const size_t nb = p.buffers.size();
    slots_.resize(nb);
    for (size_t i = 0; i < nb; ++i) {
      const Buffer& b = p.buffers[i];
      Slot& s = slots_[i];
      s.kind = b.kind;
      s.type = TensorType{b.dtype, b.shape};
      s.name = b.name;
      s.bytes = b.bytes();
      SOMA_CHECK(!b.name.empty() ||
                 (b.kind != Buffer::Kind::Input && b.kind != Buffer::Kind::Param))
          << "input/param buffer " << i << " has no name";
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
    {
      std::lock_guard<std::mutex> lock(ctx_.run_mutex);  // the parameter mirror is shared
      allocate(p);
    }
    write_descriptors();
    record();
    undo.armed = false;
  }

  ~VulkanExecutable() override {
    if (pool_) vk.vkDestroyDescriptorPool(ctx_.device, pool_, nullptr);
    --Context::live_objects;
  }

  std::vector<Array> run(const Feeds& feeds) override {
    std::lock_guard<std::mutex> lock(ctx_.run_mutex);
    sync_params();
    bind_inputs(feeds);
    seq_->run();
    if (!timed_.empty()) report_profile();
    std::vector<Array> out;
    out.reserve(outputs_.size());
    for (size_t o = 0; o < outputs_.size(); ++o) {
      const Slot& s = slots_[static_cast<size_t>(outputs_[o])];
      Array a(s.type.dtype, s.type.shape);
      if (s.bytes) std::memcpy(a.raw(), output_src_[o], static_cast<size_t>(s.bytes));
      out.push_back(std::move(a));
    }
    write_back_updates();
    return out;
  }

 private:
  struct Slot {
    Buffer::Kind kind = Buffer::Kind::Temp;
    TensorType type;
    std::string name;
    int64_t bytes = 0;
  };
  // Where a kir buffer lives on the device.
  struct Place {
    const vulkan::Buffer* buffer = nullptr;
    VkDeviceSize offset = 0;
  };

  Context& ctx_;
  std::shared_ptr<ParamStore> params_;
  std::shared_ptr<DeviceParams> mirror_;
  std::vector<CompiledKernel> kernels_;
  std::vector<BufferId> outputs_;
  std::vector<std::pair<BufferId, BufferId>> updates_;
  std::vector<Slot> slots_;
  std::vector<Place> place_;
  std::vector<std::shared_ptr<DeviceParam>> param_of_;  // by buffer id (Param buffers)
  std::deque<vulkan::Buffer> own_;  // inputs, outputs, constants, snapshots (stable addresses)
  vulkan::Buffer arena_;
  vulkan::Buffer staging_, readback_;     // uploads of inputs, copies of outputs / updated params
  std::vector<VkDeviceSize> staging_at_;  // by buffer id: offset in staging_ (inputs)
  std::vector<const std::byte*> output_src_;  // by output: host address to read after a run
  std::vector<std::pair<BufferId, const std::byte*>> updated_src_;  // param, host address
  std::vector<std::pair<BufferId, VkDeviceSize>> snapshots_;  // update value params -> scratch
  std::vector<VkDescriptorSet> sets_;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  std::unique_ptr<Sequence> seq_;

  bool mappable() const { return Allocator::get().device_memory_mappable(); }

  std::string label(BufferId b) const {
    const Slot& s = slots_[static_cast<size_t>(b)];
    const char* kind = s.kind == Buffer::Kind::Input    ? "input"
                       : s.kind == Buffer::Kind::Param  ? "parameter"
                       : s.kind == Buffer::Kind::Output ? "output"
                       : s.kind == Buffer::Kind::Temp   ? "temporary"
                                                        : "constant";
    return std::string(kind) + " buffer '" + s.name + "' (" + s.type.str() + ")";
  }

  void allocate(const kir::Program& p) {
    const size_t nb = slots_.size();
    place_.assign(nb, {});
    param_of_.assign(nb, nullptr);
    staging_at_.assign(nb, 0);
    // Temporaries: planned ones at their arena offsets, unplanned ones after them.
    VkDeviceSize arena = static_cast<VkDeviceSize>(std::max<int64_t>(p.arena_bytes, 0));
    VkDeviceSize end = arena;
    std::vector<VkDeviceSize> at(nb, 0);
    for (size_t i = 0; i < nb; ++i) {
      const Buffer& b = p.buffers[i];
      if (b.kind != Buffer::Kind::Temp) continue;
      if (b.offset >= 0) {
        SOMA_CHECK(static_cast<VkDeviceSize>(b.offset + b.bytes()) <= arena)
            << "temp buffer " << b.name << " overflows the arena";
        at[i] = static_cast<VkDeviceSize>(b.offset);
      } else {
        end = align_up(end, 256);
        at[i] = end;
        end += static_cast<VkDeviceSize>(b.bytes());
      }
    }
    if (end > 0) {
      arena_ = vulkan::Buffer(
          end + 16, MemoryUse::Device,
          "the arena of temporaries (" + format_bytes(static_cast<int64_t>(end)) + ")");
    }
    VkDeviceSize staging_bytes = 0;
    for (size_t i = 0; i < nb; ++i) {
      const Buffer& b = p.buffers[i];
      const BufferId id = static_cast<BufferId>(i);
      const Slot& s = slots_[i];
      switch (b.kind) {
        case Buffer::Kind::Temp:
          place_[i] = {&arena_, at[i]};
          break;
        case Buffer::Kind::Param: {
          std::shared_ptr<DeviceParam> e;
          if (auto it = mirror_->entries.find(b.name); it != mirror_->entries.end()) e = it->second;
          if (!e || e->dtype != b.dtype || e->numel != b.numel()) {
            // A new mirror (the first use of this parameter, or a new type): executables that
            // hold the old one keep it.
            e = std::make_shared<DeviceParam>();
            e->buffer =
                vulkan::Buffer(static_cast<VkDeviceSize>(s.bytes), MemoryUse::Device, label(id));
            e->dtype = b.dtype;
            e->numel = b.numel();
            mirror_->entries[b.name] = e;
          }
          param_of_[i] = e;
          place_[i] = {&e->buffer, 0};
          break;
        }
        case Buffer::Kind::Input:
          own_.emplace_back(static_cast<VkDeviceSize>(s.bytes), MemoryUse::Device, label(id));
          place_[i] = {&own_.back(), 0};
          if (!mappable()) {
            staging_at_[i] = staging_bytes;
            staging_bytes = align_up(staging_bytes + static_cast<VkDeviceSize>(s.bytes), 16);
          }
          break;
        case Buffer::Kind::Output:
          own_.emplace_back(static_cast<VkDeviceSize>(s.bytes), MemoryUse::Device, label(id));
          place_[i] = {&own_.back(), 0};
          break;
        case Buffer::Kind::Constant: {
          own_.emplace_back(static_cast<VkDeviceSize>(s.bytes), MemoryUse::Device, label(id));
          place_[i] = {&own_.back(), 0};
          Array c(b.dtype, b.shape);
          int64_t n = c.numel();
          SOMA_CHECK(b.data.size() == static_cast<size_t>(n) || b.data.size() == 1 || n == 0)
              << "constant buffer " << b.name << " has " << b.data.size() << " values for " << n
              << " elements";
          for (int64_t j = 0; j < n; ++j)
            c.set(j, b.data.size() == 1 ? b.data[0] : b.data[static_cast<size_t>(j)]);
          upload(own_.back(), 0, c.raw(), c.nbytes());
          break;
        }
      }
    }
    if (staging_bytes) staging_ = vulkan::Buffer(staging_bytes, MemoryUse::Upload, "input staging");

    // Snapshots: an update whose value is another parameter reads it before any update writes.
    for (auto& [pb, vb] : updates_)
      if (pb != vb && slots_[static_cast<size_t>(vb)].kind == Buffer::Kind::Param) {
        own_.emplace_back(static_cast<VkDeviceSize>(slots_[static_cast<size_t>(vb)].bytes),
                          MemoryUse::Device, "a snapshot of " + label(vb));
        snapshots_.push_back({vb, 0});
        snapshot_buffers_.push_back(&own_.back());
      }

    // Readback: outputs that are parameters (read before the updates overwrite them), and on
    // devices without mappable memory every output and updated parameter.
    VkDeviceSize rb = 0;
    std::vector<VkDeviceSize> out_at(outputs_.size(), UINT64_MAX);
    for (size_t o = 0; o < outputs_.size(); ++o) {
      const Slot& s = slots_[static_cast<size_t>(outputs_[o])];
      if (!mappable() || s.kind == Buffer::Kind::Param) {
        out_at[o] = rb;
        rb = align_up(rb + static_cast<VkDeviceSize>(s.bytes), 16);
      }
    }
    std::vector<VkDeviceSize> upd_at;
    std::vector<BufferId> updated;
    for (auto& [pb, vb] : updates_) {
      (void)vb;
      if (std::find(updated.begin(), updated.end(), pb) != updated.end()) continue;
      updated.push_back(pb);
      upd_at.push_back(UINT64_MAX);
      if (!mappable()) {
        upd_at.back() = rb;
        rb = align_up(rb + static_cast<VkDeviceSize>(slots_[static_cast<size_t>(pb)].bytes), 16);
      }
    }
    if (rb) readback_ = vulkan::Buffer(rb, MemoryUse::Readback, "readback staging");
    readback_out_ = out_at;
    readback_upd_ = upd_at;
    output_src_.resize(outputs_.size());
    for (size_t o = 0; o < outputs_.size(); ++o) {
      const Place& pl = place_[static_cast<size_t>(outputs_[o])];
      output_src_[o] = out_at[o] != UINT64_MAX ? readback_.mapped() + out_at[o]
                                               : pl.buffer->mapped() + pl.offset;
    }
    for (size_t u = 0; u < updated.size(); ++u) {
      const Place& pl = place_[static_cast<size_t>(updated[u])];
      updated_src_.push_back({updated[u], upd_at[u] != UINT64_MAX
                                              ? readback_.mapped() + upd_at[u]
                                              : pl.buffer->mapped() + pl.offset});
    }
  }

  std::vector<const vulkan::Buffer*> snapshot_buffers_;
  std::vector<VkDeviceSize> readback_out_, readback_upd_;

  void write_descriptors() {
    uint32_t total = 0, sets = 0;
    for (const CompiledKernel& k : kernels_)
      if (!k.shader.bindings.empty()) {
        total += static_cast<uint32_t>(k.shader.bindings.size());
        ++sets;
      }
    sets_.assign(kernels_.size(), VK_NULL_HANDLE);
    push_.assign(kernels_.size(), {});
    if (!sets) return;
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, total};
    VkDescriptorPoolCreateInfo pi{};
    pi.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO;
    pi.maxSets = sets;
    pi.poolSizeCount = 1;
    pi.pPoolSizes = &size;
    Context::check(vk.vkCreateDescriptorPool(ctx_.device, &pi, nullptr, &pool_),
                   "vkCreateDescriptorPool");
    const VkDeviceSize align =
        std::max<VkDeviceSize>(ctx_.props.limits.minStorageBufferOffsetAlignment, 4);
    const VkDeviceSize max_range = ctx_.props.limits.maxStorageBufferRange;
    std::vector<VkDescriptorBufferInfo> infos;
    std::vector<VkWriteDescriptorSet> writes;
    infos.reserve(total);
    for (size_t ki = 0; ki < kernels_.size(); ++ki) {
      CompiledKernel& k = kernels_[ki];
      if (k.shader.bindings.empty()) continue;
      VkDescriptorSetAllocateInfo ai{};
      ai.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO;
      ai.descriptorPool = pool_;
      ai.descriptorSetCount = 1;
      ai.pSetLayouts = &k.pipeline->set_layout;
      Context::check(vk.vkAllocateDescriptorSets(ctx_.device, &ai, &sets_[ki]),
                     "vkAllocateDescriptorSets");
      for (size_t bi = 0; bi < k.shader.bindings.size(); ++bi) {
        BufferId b = k.shader.bindings[bi].buffer;
        const Place& pl = place_[static_cast<size_t>(b)];
        const Slot& s = slots_[static_cast<size_t>(b)];
        const VkDeviceSize esize = dtype_size(s.type.dtype);
        VkDeviceSize base = align_down(pl.offset, align);
        VkDeviceSize shift = pl.offset - base;
        VkDeviceSize range = align_up(shift + static_cast<VkDeviceSize>(s.bytes), 4);
        range = std::min(std::max<VkDeviceSize>(range, 4), pl.buffer->size() - base);
        if (range > max_range)
          SOMA_THROW(BackendError,
                     "vulkan: " << label(b) << " of kernel " << k.shader.name << " spans "
                                << format_bytes(static_cast<int64_t>(range))
                                << ", more than the device's largest storage "
                                   "buffer binding ("
                                << format_bytes(static_cast<int64_t>(max_range)) << " on "
                                << ctx_.name() << "); use smaller tensors or another backend");
        infos.push_back({pl.buffer->handle(), base, range});
        push_[ki].push_back(static_cast<int32_t>(shift / esize));
      }
    }
    size_t at = 0;
    for (size_t ki = 0; ki < kernels_.size(); ++ki) {
      const CompiledKernel& k = kernels_[ki];
      if (k.shader.bindings.empty()) continue;
      for (size_t bi = 0; bi < k.shader.bindings.size(); ++bi) {
        VkWriteDescriptorSet w{};
        w.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
        w.dstSet = sets_[ki];
        w.dstBinding = static_cast<uint32_t>(bi);
        w.descriptorCount = 1;
        w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        w.pBufferInfo = &infos[at++];
        writes.push_back(w);
      }
    }
    vk.vkUpdateDescriptorSets(ctx_.device, static_cast<uint32_t>(writes.size()), writes.data(), 0,
                              nullptr);
  }

  std::vector<std::vector<int32_t>> push_;  // per kernel: the bindings' element offsets
  std::vector<size_t> timed_;  // kernels with a timestamp after their dispatch (profiling)

  void report_profile() {
    std::vector<double> t = seq_->timestamps_ms();
    if (t.size() < timed_.size()) return;
    std::vector<KernelTime> prof;
    double prev = 0;
    for (size_t i = 0; i < timed_.size(); ++i) {
      prof.push_back({kernels_[timed_[i]].shader.name, t[i] - prev});
      prev = t[i];
    }
    if (debug_level() >= 2) {
      std::cerr << "soma: vulkan run: " << prev << " ms on the device\n";
      for (const KernelTime& k : prof) std::cerr << "  " << k.kernel << ": " << k.ms << " ms\n";
    }
    std::lock_guard<std::mutex> lock(profile_mutex());
    last_profile_store() = std::move(prof);
  }

  void record() {
    constexpr VkPipelineStageFlags kCompute = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT;
    constexpr VkPipelineStageFlags kTransfer = VK_PIPELINE_STAGE_TRANSFER_BIT;
    constexpr VkAccessFlags kShaderRW = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    constexpr VkAccessFlags kTransferRW =
        VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    seq_ = std::make_unique<Sequence>();
    Sequence& s = *seq_;
    if (profiling()) {
      for (size_t ki = 0; ki < kernels_.size(); ++ki)
        if (kernels_[ki].groups) timed_.push_back(ki);
      s.enable_timestamps(static_cast<uint32_t>(timed_.size() + 1));
      if (!ctx_.timestamps) timed_.clear();
    }
    s.begin();
    // The previous run's writes (kernels and update copies) come before this run's accesses.
    s.barrier(kTransfer | kCompute, VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT,
              kTransfer | kCompute, kTransferRW | kShaderRW);
    // Inputs through staging (devices without mappable memory).
    if (staging_) {
      for (size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].kind == Buffer::Kind::Input)
          s.copy(staging_.handle(), staging_at_[i], place_[i].buffer->handle(), place_[i].offset,
                 static_cast<VkDeviceSize>(slots_[i].bytes));
      s.barrier(kTransfer, VK_ACCESS_TRANSFER_WRITE_BIT, kCompute, kShaderRW);
    }
    // The kernels, in program order, each waiting for the writes of the ones before.
    uint32_t stamp = 0;
    s.timestamp(stamp++);
    bool first = true;
    for (size_t ki = 0; ki < kernels_.size(); ++ki) {
      const CompiledKernel& k = kernels_[ki];
      const std::vector<int32_t>& push = push_[ki];
      if (k.groups == 0) continue;
      if (!first) s.barrier(kCompute, VK_ACCESS_SHADER_WRITE_BIT, kCompute, kShaderRW);
      first = false;
      s.dispatch(*k.pipeline, sets_[ki], push.data(), static_cast<uint32_t>(push.size() * 4),
                 k.groups, k.groups_y);
      s.timestamp(stamp++);
    }
    s.barrier(kCompute, VK_ACCESS_SHADER_WRITE_BIT, kTransfer | VK_PIPELINE_STAGE_HOST_BIT,
              kTransferRW | VK_ACCESS_HOST_READ_BIT);
    // Outputs that need a copy, before the updates change parameters.
    for (size_t o = 0; o < outputs_.size(); ++o)
      if (readback_out_[o] != UINT64_MAX) {
        const Place& pl = place_[static_cast<size_t>(outputs_[o])];
        s.copy(pl.buffer->handle(), pl.offset, readback_.handle(), readback_out_[o],
               static_cast<VkDeviceSize>(slots_[static_cast<size_t>(outputs_[o])].bytes));
      }
    // Parameter updates: snapshots of parameter-valued updates first, then every copy.
    bool copies = false;
    for (size_t i = 0; i < snapshots_.size(); ++i) {
      BufferId vb = snapshots_[i].first;
      const Place& pl = place_[static_cast<size_t>(vb)];
      s.copy(pl.buffer->handle(), pl.offset, snapshot_buffers_[i]->handle(), 0,
             static_cast<VkDeviceSize>(slots_[static_cast<size_t>(vb)].bytes));
      copies = true;
    }
    if (copies || !updates_.empty())
      s.barrier(kTransfer | kCompute, kTransferRW | VK_ACCESS_SHADER_WRITE_BIT, kTransfer,
                kTransferRW);
    size_t snap = 0;
    bool updated = false;
    for (auto& [pb, vb] : updates_) {
      if (pb == vb) continue;
      const Place& dst = place_[static_cast<size_t>(pb)];
      const VkDeviceSize bytes = static_cast<VkDeviceSize>(slots_[static_cast<size_t>(pb)].bytes);
      if (slots_[static_cast<size_t>(vb)].kind == Buffer::Kind::Param) {
        s.copy(snapshot_buffers_[snap++]->handle(), 0, dst.buffer->handle(), dst.offset, bytes);
      } else {
        const Place& src = place_[static_cast<size_t>(vb)];
        s.copy(src.buffer->handle(), src.offset, dst.buffer->handle(), dst.offset, bytes);
      }
      updated = true;
    }
    if (updated && readback_) {
      s.barrier(kTransfer, VK_ACCESS_TRANSFER_WRITE_BIT, kTransfer, VK_ACCESS_TRANSFER_READ_BIT);
    }
    if (!mappable())
      for (size_t u = 0; u < updated_src_.size(); ++u) {
        BufferId pb = updated_src_[u].first;
        const Place& pl = place_[static_cast<size_t>(pb)];
        s.copy(pl.buffer->handle(), pl.offset, readback_.handle(), readback_upd_[u],
               static_cast<VkDeviceSize>(slots_[static_cast<size_t>(pb)].bytes));
      }
    // Everything written is visible to the host after the fence; the next run's kernels wait for
    // this run's copies.
    s.barrier(kTransfer | kCompute, kTransferRW | VK_ACCESS_SHADER_WRITE_BIT,
              VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    s.end();
  }

  // Uploads parameters whose device copy is stale (the host changed them since the last sync).
  void sync_params() {
    const uint64_t v = params_->version();
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].kind != Buffer::Kind::Param) continue;
      const Slot& s = slots_[i];
      Array& a = params_->get(s.name);
      if (a.dtype() != s.type.dtype || a.shape() != s.type.shape)
        SOMA_THROW(ShapeError, "parameter '" << s.name << "' holds " << a.type_str()
                                             << " but the program declares " << s.type.str());
      DeviceParam& d = *param_of_[i];
      if (d.synced == v) continue;
      upload(d.buffer, 0, a.raw(), a.nbytes());
      d.synced = v;
    }
  }

  void bind_inputs(const Feeds& feeds) {
    for (size_t i = 0; i < slots_.size(); ++i) {
      const Slot& s = slots_[i];
      if (s.kind != Buffer::Kind::Input) continue;
      check_feed(s.name, s.type, feeds);
      const Array& a = feeds.at(s.name);
      if (!a.nbytes()) continue;
      if (staging_)
        std::memcpy(staging_.mapped() + staging_at_[i], a.raw(), a.nbytes());
      else
        std::memcpy(place_[i].buffer->mapped() + place_[i].offset, a.raw(), a.nbytes());
    }
  }

  // The host copies of updated parameters, so that the ParamStore is current.
  void write_back_updates() {
    if (updated_src_.empty()) return;
    const uint64_t before = params_->version();
    for (auto& [pb, src] : updated_src_) {
      const Slot& s = slots_[static_cast<size_t>(pb)];
      Array& a = params_->get(s.name);
      if (s.bytes) std::memcpy(a.raw(), src, static_cast<size_t>(s.bytes));
      params_->assign(s.name, a);  // same storage: only bumps the version
    }
    // Every device copy that was current before still is (the host now holds what the device
    // computed).
    const uint64_t after = params_->version();
    for (auto& [name, e] : mirror_->entries)
      if (e->synced == before) e->synced = after;
  }
};

class VulkanBackend : public Backend {
 public:
  std::string name() const override { return "vulkan"; }

  std::unique_ptr<Executable> compile(const CompileRequest& req,
                                      std::shared_ptr<ParamStore> params) override {
    if (!req.program)
      SOMA_THROW(BackendError,
                 "the vulkan backend compiles lowered kernel programs, but this request "
                 "carries none (CompileRequest::program is null); run the lowering "
                 "passes first or use the interp backend");
    Context& ctx = Context::get();
    const auto t0 = std::chrono::steady_clock::now();
    const kir::Program& p = *req.program;
    const ShaderFeatures features = shader_features(ctx);
    const VkPhysicalDeviceLimits& lim = ctx.props.limits;
    // Points kernels: the workgroup size, and a cap on the workgroups of their 2-D grid (the
    // shader's grid-stride loop covers the rest). SOMA_VULKAN_LOCAL_SIZE and
    // SOMA_VULKAN_MAX_GROUPS override them (tuning).
    const uint32_t local = std::min(env_u32("SOMA_VULKAN_LOCAL_SIZE", ctx.is_cpu() ? 64 : 256),
                                    lim.maxComputeWorkGroupInvocations);
    const uint64_t max_groups = env_u32("SOMA_VULKAN_MAX_GROUPS", 1u << 22);
    const auto before = spirv_stats();
    std::vector<CompiledKernel> kernels;
    kernels.reserve(p.kernels.size());
    const char* dump_dir = std::getenv("SOMA_DUMP_DIR");
    for (const kir::Kernel& k : p.kernels) {
      CompiledKernel ck;
      ck.shader = emit_kernel(p, k, features);
      const size_t nbind = ck.shader.bindings.size();
      if (nbind > lim.maxPerStageDescriptorStorageBuffers || nbind * 4 > lim.maxPushConstantsSize)
        SOMA_THROW(BackendError, "vulkan: kernel "
                                     << k.name << " uses " << nbind
                                     << " buffers; the device allows "
                                     << std::min<uint32_t>(lim.maxPerStageDescriptorStorageBuffers,
                                                           lim.maxPushConstantsSize / 4));
      for (const ShaderBinding& b : ck.shader.bindings) {
        const kir::Buffer& buf = p.buffers[static_cast<size_t>(b.buffer)];
        if (static_cast<uint64_t>(buf.bytes()) > lim.maxStorageBufferRange)
          SOMA_THROW(BackendError,
                     "vulkan: buffer '"
                         << buf.name << "' (" << dtype_name(buf.dtype) << buf.shape.str() << ", "
                         << format_bytes(buf.bytes()) << ") of kernel " << k.name
                         << " is larger than the device's largest storage buffer "
                            "binding ("
                         << format_bytes(lim.maxStorageBufferRange) << " on " << ctx.name()
                         << "); use smaller tensors or another backend");
      }
      if (debug_level() >= 4)
        std::cerr << "soma: vulkan kernel " << k.name << " (" << launch_mode_name(ck.shader.mode)
                  << "):\n"
                  << ck.shader.glsl;
      if (dump_dir && *dump_dir) {
        std::error_code ec;
        std::filesystem::create_directories(dump_dir, ec);
        std::ofstream(std::string(dump_dir) + "/vulkan_" + k.name + ".comp") << ck.shader.glsl;
      }
      auto spirv = compile_glsl(ck.shader.glsl, k.name);
      ck.local_size = ck.shader.fixed_local_size;
      if (!ck.local_size) {
        // Per kernel: the device's size, smaller for kernels with few points (down to a
        // subgroup), so tiny kernels do not launch mostly idle invocations.
        uint32_t floor = std::max<uint32_t>(ctx.subgroup_size, 8);
        ck.local_size = floor;
        while (ck.local_size < local && ck.local_size < ck.shader.work) ck.local_size *= 2;
        ck.local_size = std::min(ck.local_size, local);
      }
      ck.pipeline = &get_pipeline(*spirv, static_cast<uint32_t>(nbind), ck.local_size, k.name);
      if (ck.shader.mode == LaunchMode::Points) {
        // A 2-D grid: up to maxComputeWorkGroupCount[0] workgroups per row.
        uint64_t groups =
            std::min<uint64_t>((ck.shader.work + ck.local_size - 1) / ck.local_size, max_groups);
        ck.groups =
            static_cast<uint32_t>(std::min<uint64_t>(groups, lim.maxComputeWorkGroupCount[0]));
        if (ck.groups)
          ck.groups_y = static_cast<uint32_t>(std::min<uint64_t>(
              (groups + ck.groups - 1) / ck.groups, lim.maxComputeWorkGroupCount[1]));
      } else {
        ck.groups = static_cast<uint32_t>(
            std::min<uint64_t>(ck.shader.work, lim.maxComputeWorkGroupCount[0]));
      }
      kernels.push_back(std::move(ck));
    }
    save_pipeline_cache();
    auto exe = std::make_unique<VulkanExecutable>(p, std::move(kernels), std::move(params));
    if (debug_level() >= 1) {
      auto after = spirv_stats();
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::cerr << "soma: vulkan: compiled " << p.kernels.size() << " kernels in " << ms
                << " ms (glslang " << after.compiles - before.compiles << ", disk cache "
                << after.disk_hits - before.disk_hits << ", memory cache "
                << after.memory_hits - before.memory_hits << ") on " << ctx.describe() << "\n";
    }
    return exe;
  }
};

}  // namespace
}  // namespace vulkan

std::unique_ptr<Backend> make_vulkan_backend() {
  return std::make_unique<vulkan::VulkanBackend>();
}

namespace {

std::string comment_lines(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += "// " + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string emit_glsl(const kir::Program& program) {
  vulkan::ShaderFeatures f;
  std::string out;
  for (const kir::Kernel& k : program.kernels) {
    vulkan::KernelShader s = vulkan::emit_kernel(program, k, f);
    out += "// ---- kernel " + k.name + " (" + vulkan::launch_mode_name(s.mode) + ") ----\n";
    out += comment_lines(kir::print_kernel(program, k));
    out += "// bindings:";
    for (size_t i = 0; i < s.bindings.size(); ++i) {
      out += ' ';
      out += std::to_string(i);
      out += '=';
      out += program.buffers[static_cast<size_t>(s.bindings[i].buffer)].name;
    }
    out += '\n';
    out += s.glsl;
    out += '\n';
  }
  return out;
}

std::string emit_spirv_text(const kir::Program& program) {
  vulkan::ShaderFeatures f;
  std::string out;
  for (const kir::Kernel& k : program.kernels) {
    vulkan::KernelShader s = vulkan::emit_kernel(program, k, f);
    auto spirv = vulkan::compile_glsl(s.glsl, k.name);
    out += "; ---- kernel " + k.name + " (" + vulkan::launch_mode_name(s.mode) + ", " +
           std::to_string(spirv->size()) + " words) ----\n";
    out += vulkan::disassemble(*spirv) + "\n";
  }
  return out;
}

namespace vulkan {

std::string device_description() {
  return Context::get().describe();
}

bool validation_enabled() {
  try {
    return Context::get().validation;
  } catch (const BackendError&) {
    return false;
  }
}

int64_t validation_error_count() {
  try {
    return Context::get().validation_errors.load();
  } catch (const BackendError&) {
    return 0;
  }
}

std::vector<KernelTime> last_profile() {
  std::lock_guard<std::mutex> lock(profile_mutex());
  return last_profile_store();
}

std::vector<std::string> validation_errors() {
  try {
    return Context::get().validation_messages();
  } catch (const BackendError&) {
    return {};
  }
}

}  // namespace vulkan

}  // namespace soma
