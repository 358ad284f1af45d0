// The vulkan backend's Executable (see executable.h).
#include "backends/vulkan/executable.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>

#include "backends/program_layout.h"
#include "backends/vulkan/context.h"
#include "backends/vulkan/memory.h"
#include "backends/vulkan/param_mirror.h"
#include "backends/vulkan/sequence.h"
#include "backends/vulkan/spirv.h"
#include "backends/vulkan/vulkan_backend.h"
#include "graph/error.h"
#include "runtime/env.h"
#include "runtime/kernel_profile.h"
#include "runtime/sha256.h"

namespace soma::vulkan {
namespace {

using kir::Buffer;
using kir::BufferId;

VkDeviceSize align_down(VkDeviceSize x, VkDeviceSize a) {
  return x / a * a;
}
VkDeviceSize align_up(VkDeviceSize x, VkDeviceSize a) {
  return (x + a - 1) / a * a;
}

std::mutex& profile_mutex() {
  static std::mutex m;
  return m;
}
std::vector<KernelTime>& last_profile_store() {
  static std::vector<KernelTime> p;
  return p;
}

// Timestamps around every kernel: SOMA_VULKAN_PROFILE=1, SOMA_PROFILE=1 or SOMA_DEBUG >= 1.
bool profiling() {
  return env_flag("SOMA_VULKAN_PROFILE", false) || profile::enabled() || debug_level() >= 1;
}

class VulkanExecutable : public Executable {
 public:
  VulkanExecutable(const kir::Program& p, std::vector<CompiledKernel> kernels,
                   std::shared_ptr<ParamStore> params)
      : ctx_(Context::get()),
        params_(std::move(params)),
        mirror_(device_params_for(params_)),
        kernels_(std::move(kernels)),
        layout_(p, 256) {
    for (size_t ki = 0; ki < p.kernels.size(); ++ki)
      first_seed_.push_back(static_cast<size_t>(kir::first_seed_slot(p, ki)));
    ++Context::live_objects;  // before anything that may throw: the destructor is not run then
    struct Undo {
      bool armed = true;
      ~Undo() {
        if (armed) --Context::live_objects;
      }
    } undo;
    {
      std::lock_guard<std::mutex> lock(ctx_.run_mutex);  // the parameter mirror is shared
      allocate();
    }
    write_descriptors();
    record();
    if (profile::enabled()) {
      std::vector<std::string> labels;
      std::string glsl;
      for (const CompiledKernel& k : kernels_) {
        labels.push_back(k.shader.name);
        glsl += k.shader.glsl;
      }
      profile_ = std::make_unique<profile::ProgramProfile>(
          "vulkan:" + sha256_hex(glsl).substr(0, 8), std::move(labels));
    }
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
    mark_updates();
    if (!timed_.empty()) report_profile();
    std::vector<Array> out;
    out.reserve(layout_.outputs().size());
    for (size_t o = 0; o < layout_.outputs().size(); ++o) {
      const ProgramLayout::Slot& s = layout_.slot(layout_.outputs()[o]);
      Array a(s.type.dtype, s.type.shape);
      if (s.bytes) std::memcpy(a.raw(), output_src_[o], static_cast<size_t>(s.bytes));
      out.push_back(std::move(a));
    }
    return out;
  }

 private:
  // Where a kir buffer lives on the device.
  struct Place {
    const vulkan::Buffer* buffer = nullptr;
    VkDeviceSize offset = 0;
  };

  Context& ctx_;
  std::shared_ptr<ParamStore> params_;
  std::shared_ptr<DeviceParams> mirror_;
  std::vector<CompiledKernel> kernels_;
  ProgramLayout layout_;
  std::vector<Place> place_;
  std::vector<std::shared_ptr<DeviceParam>> param_of_;  // by buffer id (Param buffers)
  std::deque<vulkan::Buffer> own_;  // inputs, outputs, constants, snapshots (stable addresses)
  vulkan::Buffer arena_;
  vulkan::Buffer staging_, readback_;         // uploads of inputs, copies of outputs
  std::vector<VkDeviceSize> staging_at_;      // by buffer id: offset in staging_ (inputs)
  std::vector<const std::byte*> output_src_;  // by output: host address to read after a run
  std::vector<VkDescriptorSet> sets_;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  std::unique_ptr<Sequence> seq_;
  std::unique_ptr<profile::ProgramProfile> profile_;  // SOMA_PROFILE=1 only

  bool mappable() const { return Allocator::get().device_memory_mappable(); }

  const ProgramLayout::Slot& slot(BufferId b) const { return layout_.slot(b); }
  VkDeviceSize bytes(BufferId b) const { return static_cast<VkDeviceSize>(slot(b).bytes); }

  void allocate() {
    const size_t nb = layout_.size();
    place_.assign(nb, {});
    param_of_.assign(nb, nullptr);
    staging_at_.assign(nb, 0);
    const VkDeviceSize arena = static_cast<VkDeviceSize>(layout_.arena_bytes());
    if (arena > 0)
      arena_ = vulkan::Buffer(
          arena + 16, MemoryUse::Device,
          "the arena of temporaries (" + format_bytes(static_cast<int64_t>(arena)) + ")");
    VkDeviceSize staging_bytes = 0;
    for (size_t i = 0; i < nb; ++i) {
      const BufferId id = static_cast<BufferId>(i);
      const ProgramLayout::Slot& s = slot(id);
      switch (s.kind) {
        case Buffer::Kind::Temp:
          place_[i] = {&arena_, static_cast<VkDeviceSize>(s.arena_offset)};
          break;
        case Buffer::Kind::Param: {
          std::shared_ptr<DeviceParam> e;
          if (auto it = mirror_->entries.find(s.name); it != mirror_->entries.end()) e = it->second;
          if (!e || e->dtype != s.type.dtype || e->numel != s.type.shape.numel()) {
            // A new mirror (the first use of this parameter, or a new type): executables that
            // hold the old one keep it.
            e = std::make_shared<DeviceParam>(bytes(id), s.type.dtype, s.type.shape.numel(),
                                              layout_.label(id));
            mirror_->entries[s.name] = e;
          }
          param_of_[i] = e;
          place_[i] = {&e->buffer, 0};
          break;
        }
        case Buffer::Kind::Input:
          own_.emplace_back(bytes(id), MemoryUse::Device, layout_.label(id));
          place_[i] = {&own_.back(), 0};
          if (!mappable()) {
            staging_at_[i] = staging_bytes;
            staging_bytes = align_up(staging_bytes + bytes(id), 16);
          }
          break;
        case Buffer::Kind::Output:
          own_.emplace_back(bytes(id), MemoryUse::Device, layout_.label(id));
          place_[i] = {&own_.back(), 0};
          break;
        case Buffer::Kind::Constant: {
          own_.emplace_back(bytes(id), MemoryUse::Device, layout_.label(id));
          place_[i] = {&own_.back(), 0};
          const Array c = layout_.constant(id);
          upload(own_.back(), 0, c.raw(), c.nbytes());
          break;
        }
      }
    }
    if (staging_bytes) staging_ = vulkan::Buffer(staging_bytes, MemoryUse::Upload, "input staging");

    // Snapshots of parameter-valued updates (the update plan, backends/program_layout.h).
    for (const ProgramLayout::Update& u : layout_.updates())
      if (u.snapshot) {
        own_.emplace_back(bytes(u.value), MemoryUse::Device,
                          "a snapshot of " + layout_.label(u.value));
        snapshot_buffers_.push_back(&own_.back());
      }

    // Readback: outputs that are parameters (read before the updates overwrite them), and on
    // devices without mappable memory every output. Updated parameters stay on the device.
    const std::vector<BufferId>& outputs = layout_.outputs();
    VkDeviceSize rb = 0;
    std::vector<VkDeviceSize> out_at(outputs.size(), UINT64_MAX);
    for (size_t o = 0; o < outputs.size(); ++o) {
      if (!mappable() || slot(outputs[o]).kind == Buffer::Kind::Param) {
        out_at[o] = rb;
        rb = align_up(rb + bytes(outputs[o]), 16);
      }
    }
    if (rb) readback_ = vulkan::Buffer(rb, MemoryUse::Readback, "readback staging");
    readback_out_ = out_at;
    output_src_.resize(outputs.size());
    for (size_t o = 0; o < outputs.size(); ++o) {
      const Place& pl = place_[static_cast<size_t>(outputs[o])];
      output_src_[o] = out_at[o] != UINT64_MAX ? readback_.mapped() + out_at[o]
                                               : pl.buffer->mapped() + pl.offset;
    }
  }

  std::vector<const vulkan::Buffer*> snapshot_buffers_;
  std::vector<VkDeviceSize> readback_out_;

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
        const ProgramLayout::Slot& s = slot(b);
        const VkDeviceSize esize = dtype_size(s.type.dtype);
        VkDeviceSize base = align_down(pl.offset, align);
        VkDeviceSize shift = pl.offset - base;
        VkDeviceSize range = align_up(shift + static_cast<VkDeviceSize>(s.bytes), 4);
        range = std::min(std::max<VkDeviceSize>(range, 4), pl.buffer->size() - base);
        if (range > max_range)
          SOMA_THROW(BackendError,
                     "vulkan: " << layout_.label(b) << " of kernel " << k.shader.name << " spans "
                                << format_bytes(static_cast<int64_t>(range))
                                << ", more than the device's largest storage "
                                   "buffer binding ("
                                << format_bytes(static_cast<int64_t>(max_range)) << " on "
                                << ctx_.name() << "); use smaller tensors or another backend");
        infos.push_back({pl.buffer->handle(), base, range});
        push_[ki].push_back(static_cast<int32_t>(shift / esize));
      }
      for (size_t d = 0; d < k.shader.seed_words / 2; ++d) {  // the draws' seeds, low word first
        const auto seed = static_cast<uint64_t>(layout_.seeds()[first_seed_[ki] + d]);
        push_[ki].push_back(static_cast<int32_t>(static_cast<uint32_t>(seed)));
        push_[ki].push_back(static_cast<int32_t>(static_cast<uint32_t>(seed >> 32)));
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

  std::vector<std::vector<int32_t>> push_;  // per kernel: the bindings' element offsets, seeds
  std::vector<size_t> first_seed_;          // per kernel: its first draw's slot in the seeds
  std::vector<size_t> timed_;  // kernels with a timestamp after their dispatch (profiling)

  void report_profile() {
    std::vector<double> t = seq_->timestamps_ms();
    if (t.size() < timed_.size()) return;
    std::vector<KernelTime> prof;
    double prev = 0;
    for (size_t i = 0; i < timed_.size(); ++i) {
      prof.push_back({kernels_[timed_[i]].shader.name, t[i] - prev});
      if (profile_)
        profile_->add(timed_[i],
                      std::chrono::nanoseconds(static_cast<int64_t>((t[i] - prev) * 1e6)));
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
      for (size_t i = 0; i < layout_.size(); ++i)
        if (slot(static_cast<BufferId>(i)).kind == Buffer::Kind::Input)
          s.copy(staging_.handle(), staging_at_[i], place_[i].buffer->handle(), place_[i].offset,
                 bytes(static_cast<BufferId>(i)));
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
      if (k.shader.chunk) {
        // A chunked sequential kernel: one dispatch per chunk of points, in order, each given
        // its first point after the bindings' offsets.
        std::vector<int32_t> chunk_push = push;
        chunk_push.push_back(0);
        const uint64_t points = k.shader.points;
        for (uint64_t first_point = 0; first_point < points; first_point += k.shader.chunk) {
          if (first_point) s.barrier(kCompute, VK_ACCESS_SHADER_WRITE_BIT, kCompute, kShaderRW);
          chunk_push.back() = static_cast<int32_t>(first_point);
          s.dispatch(*k.pipeline, sets_[ki], chunk_push.data(),
                     static_cast<uint32_t>(chunk_push.size() * 4), k.groups, k.groups_y);
        }
      } else {
        s.dispatch(*k.pipeline, sets_[ki], push.data(), static_cast<uint32_t>(push.size() * 4),
                   k.groups, k.groups_y);
      }
      s.timestamp(stamp++);
    }
    s.barrier(kCompute, VK_ACCESS_SHADER_WRITE_BIT, kTransfer | VK_PIPELINE_STAGE_HOST_BIT,
              kTransferRW | VK_ACCESS_HOST_READ_BIT);
    // Outputs that need a copy, before the updates change parameters.
    const std::vector<BufferId>& outputs = layout_.outputs();
    for (size_t o = 0; o < outputs.size(); ++o)
      if (readback_out_[o] != UINT64_MAX) {
        const Place& pl = place_[static_cast<size_t>(outputs[o])];
        s.copy(pl.buffer->handle(), pl.offset, readback_.handle(), readback_out_[o],
               bytes(outputs[o]));
      }
    // The update plan: snapshots of parameter-valued updates first, then every copy.
    const std::vector<ProgramLayout::Update>& updates = layout_.updates();
    size_t snap = 0;
    for (const ProgramLayout::Update& u : updates)
      if (u.snapshot) {
        const Place& pl = place_[static_cast<size_t>(u.value)];
        s.copy(pl.buffer->handle(), pl.offset, snapshot_buffers_[snap++]->handle(), 0,
               bytes(u.value));
      }
    if (!updates.empty())
      s.barrier(kTransfer | kCompute, kTransferRW | VK_ACCESS_SHADER_WRITE_BIT, kTransfer,
                kTransferRW);
    snap = 0;
    for (const ProgramLayout::Update& u : updates) {
      if (u.in_place) continue;
      const Place& dst = place_[static_cast<size_t>(u.param)];
      if (u.snapshot) {
        s.copy(snapshot_buffers_[snap++]->handle(), 0, dst.buffer->handle(), dst.offset,
               bytes(u.param));
      } else {
        const Place& src = place_[static_cast<size_t>(u.value)];
        s.copy(src.buffer->handle(), src.offset, dst.buffer->handle(), dst.offset, bytes(u.param));
      }
    }
    // Everything written is visible to the host after the fence (outputs, and parameters for a
    // later download); the next run's kernels wait for this run's copies.
    s.barrier(kTransfer | kCompute, kTransferRW | VK_ACCESS_SHADER_WRITE_BIT,
              VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    s.end();
  }

  // Uploads the parameters whose device copy is not the newest value: the store's version of the
  // parameter changed since the copy was last in sync (a host write, or another holder's update,
  // which get() fetches first). A copy this mirror updated last is current: nothing moves.
  void sync_params() {
    for (size_t i = 0; i < layout_.size(); ++i) {
      const BufferId b = static_cast<BufferId>(i);
      if (slot(b).kind != Buffer::Kind::Param) continue;
      DeviceParam& d = *param_of_[i];
      const std::string& name = slot(b).name;
      if (d.synced == params_->version(name)) continue;
      upload_param(d, layout_.param(*params_, b));
      d.synced = params_->version(name);
    }
  }

  void bind_inputs(const Feeds& feeds) {
    for (size_t i = 0; i < layout_.size(); ++i) {
      const BufferId b = static_cast<BufferId>(i);
      if (slot(b).kind != Buffer::Kind::Input) continue;
      const Array& a = layout_.feed(feeds, b);
      if (!a.nbytes()) continue;
      if (staging_)
        std::memcpy(staging_.mapped() + staging_at_[i], a.raw(), a.nbytes());
      else
        std::memcpy(place_[i].buffer->mapped() + place_[i].offset, a.raw(), a.nbytes());
    }
  }

  // The updated parameters' newest values are on the device now: their host copies are stale
  // until the host reads them (the store then downloads them, param_mirror.h).
  void mark_updates() {
    for (BufferId pb : layout_.updated_params()) {
      const std::shared_ptr<DeviceParam>& d = param_of_[static_cast<size_t>(pb)];
      d->synced = params_->mark_host_stale(slot(pb).name, fetch_from(d));
    }
  }
};

}  // namespace

std::unique_ptr<Executable> make_executable(const kir::Program& program,
                                            std::vector<CompiledKernel> kernels,
                                            std::shared_ptr<ParamStore> params) {
  return std::make_unique<VulkanExecutable>(program, std::move(kernels), std::move(params));
}

std::vector<KernelTime> last_profile() {
  std::lock_guard<std::mutex> lock(profile_mutex());
  return last_profile_store();
}

}  // namespace soma::vulkan
