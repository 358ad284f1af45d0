#include "graph/error.h"

#include <cstdio>
#include <cstdlib>

namespace soma::detail {

CheckFailure::CheckFailure(const char* file, int line, const char* cond) {
  os_ << "soma internal error: check failed at " << file << ":" << line << ": " << cond << "\n";
}

CheckFailure::~CheckFailure() {
  std::fputs(os_.str().c_str(), stderr);
  std::fputs("\nThis is a bug in soma, not in your program; please report it.\n", stderr);
  std::abort();
}

}  // namespace soma::detail
