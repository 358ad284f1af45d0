#include "frontend/context.h"

namespace soma {

namespace {
thread_local std::shared_ptr<Context> g_current;
}

std::shared_ptr<Context> Context::current() {
  if (!g_current) g_current = std::make_shared<Context>();
  return g_current;
}

std::shared_ptr<Context> Context::set_current(std::shared_ptr<Context> ctx) {
  std::swap(g_current, ctx);
  return ctx;
}

}  // namespace soma
