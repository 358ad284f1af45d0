#include "frontend/script/interrupt.h"

#include <atomic>

#include "frontend/script/source.h"

namespace soma::script {

namespace {
std::atomic<bool> g_interrupt{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");
}  // namespace

void request_interrupt() {
  g_interrupt.store(true, std::memory_order_relaxed);
}

bool interrupt_requested() {
  return g_interrupt.load(std::memory_order_relaxed);
}

void clear_interrupt() {
  g_interrupt.store(false, std::memory_order_relaxed);
}

void check_interrupt() {
  if (g_interrupt.exchange(false, std::memory_order_relaxed)) throw Interrupted();
}

}  // namespace soma::script
