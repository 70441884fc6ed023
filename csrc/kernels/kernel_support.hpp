// Small helpers every kernel implementation shares. Included inside a kernel family's
// translation unit (after FIELDCONV_KERNEL_FAMILY is defined): everything here has internal
// linkage in that family's namespace, so no copy compiled with SIMD flags is shared.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.hpp"

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {

using i64 = std::int64_t;

#define FIELDCONV_STRINGIFY_NAME(name) #name
#define FIELDCONV_STRINGIFY(name) FIELDCONV_STRINGIFY_NAME(name)
// This family's ISA, as kernel_list.inc spells it (the entry structs carry it).
constexpr const char* kernel_isa_name = FIELDCONV_STRINGIFY(FIELDCONV_KERNEL_FAMILY);

inline i64 min_i64(i64 a, i64 b) { return a < b ? a : b; }
inline i64 max_i64(i64 a, i64 b) { return a > b ? a : b; }
inline i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }
inline i64 round_up(i64 a, i64 b) { return ceil_div(a, b) * b; }

// RAII over allocate_workspace (defined outside the kernel families). get() is null when the
// allocation failed; kernels check before any parallel region.
class Workspace {
 public:
  explicit Workspace(std::size_t bytes) : memory_(bytes ? allocate_workspace(bytes) : nullptr) {}
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() { free_workspace(memory_); }
  void* get() const { return memory_; }

 private:
  void* memory_;
};

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
