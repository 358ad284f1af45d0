// Whether the test runs under AddressSanitizer (make test-asan). The sanitizer runs look for
// memory errors in soma's host code: tests whose cost is data volume on a device or in generated
// code (2^24-element grids, every case of a shape sweep) run a representative subset there; the
// release run covers them whole.
#pragma once

namespace soma::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace soma::testing
