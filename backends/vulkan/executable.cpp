// The vulkan backend's Executable (see executable.h).
#include "backends/vulkan/executable.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>

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
    out.reserve(outputs_.size());
    for (size_t o = 0; o < outputs_.size(); ++o) {
      const Slot& s = slots_[static_cast<size_t>(outputs_[o])];
      Array a(s.type.dtype, s.type.shape);
      if (s.bytes) std::memcpy(a.raw(), output_src_[o], static_cast<size_t>(s.bytes));
      out.push_back(std::move(a));
    }
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
  std::vector<BufferId> updated_;                       // parameters the program updates, each once
  std::deque<vulkan::Buffer> own_;  // inputs, outputs, constants, snapshots (stable addresses)
  vulkan::Buffer arena_;
  vulkan::Buffer staging_, readback_;         // uploads of inputs, copies of outputs
  std::vector<VkDeviceSize> staging_at_;      // by buffer id: offset in staging_ (inputs)
  std::vector<const std::byte*> output_src_;  // by output: host address to read after a run
  std::vector<std::pair<BufferId, VkDeviceSize>> snapshots_;  // update value params -> scratch
  std::vector<VkDescriptorSet> sets_;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  std::unique_ptr<Sequence> seq_;
  std::unique_ptr<profile::ProgramProfile> profile_;  // SOMA_PROFILE=1 only

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
            e = std::make_shared<DeviceParam>(static_cast<VkDeviceSize>(s.bytes), b.dtype,
                                              b.numel(), label(id));
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
    // devices without mappable memory every output. Updated parameters stay on the device.
    VkDeviceSize rb = 0;
    std::vector<VkDeviceSize> out_at(outputs_.size(), UINT64_MAX);
    for (size_t o = 0; o < outputs_.size(); ++o) {
      const Slot& s = slots_[static_cast<size_t>(outputs_[o])];
      if (!mappable() || s.kind == Buffer::Kind::Param) {
        out_at[o] = rb;
        rb = align_up(rb + static_cast<VkDeviceSize>(s.bytes), 16);
      }
    }
    if (rb) readback_ = vulkan::Buffer(rb, MemoryUse::Readback, "readback staging");
    readback_out_ = out_at;
    output_src_.resize(outputs_.size());
    for (size_t o = 0; o < outputs_.size(); ++o) {
      const Place& pl = place_[static_cast<size_t>(outputs_[o])];
      output_src_[o] = out_at[o] != UINT64_MAX ? readback_.mapped() + out_at[o]
                                               : pl.buffer->mapped() + pl.offset;
    }
    for (auto& [pb, vb] : updates_) {
      (void)vb;
      if (std::find(updated_.begin(), updated_.end(), pb) == updated_.end()) updated_.push_back(pb);
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
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].kind != Buffer::Kind::Param) continue;
      const Slot& s = slots_[i];
      DeviceParam& d = *param_of_[i];
      if (d.synced == params_->version(s.name)) continue;
      const Array& a = params_->get(s.name);
      if (a.dtype() != s.type.dtype || a.shape() != s.type.shape)
        SOMA_THROW(ShapeError, "parameter '" << s.name << "' holds " << a.type_str()
                                             << " but the program declares " << s.type.str());
      upload_param(d, a);
      d.synced = params_->version(s.name);
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

  // The updated parameters' newest values are on the device now: their host copies are stale
  // until the host reads them (the store then downloads them, param_mirror.h).
  void mark_updates() {
    for (BufferId pb : updated_) {
      const std::shared_ptr<DeviceParam>& d = param_of_[static_cast<size_t>(pb)];
      d->synced = params_->mark_host_stale(slots_[static_cast<size_t>(pb)].name, fetch_from(d));
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
