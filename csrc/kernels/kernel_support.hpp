// Small helpers every kernel implementation shares. Included inside a kernel family's
// translation unit (after FIELDCONV_KERNEL_FAMILY and the family's simd header): everything here
// has internal linkage in that family's namespace, so no copy compiled with SIMD flags is shared.
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

// dst[j] = src[j], j < n, by the family's vectors (the family's simd header comes first in its
// translation unit). glibc's memcpy measured slower for rows of a few KiB: correlate1d's rows,
// and filter2d's strip rows (128^3 float64 3x3x3, 2 threads, medians of 8 alternating runs:
// 2.25 ms against 2.8; float32 1.3 against 1.5).
template <class A>
void vector_copy(const A* src, A* dst, i64 n) {
  using S = Simd<A>;
  constexpr i64 L = S::lanes;
  i64 j = 0;
  for (; j + 4 * L <= n; j += 4 * L) {
    const typename S::vec v0 = S::load(src + j), v1 = S::load(src + j + L);
    const typename S::vec v2 = S::load(src + j + 2 * L), v3 = S::load(src + j + 3 * L);
    S::store(dst + j, v0);
    S::store(dst + j + L, v1);
    S::store(dst + j + 2 * L, v2);
    S::store(dst + j + 3 * L, v3);
  }
  for (; j + L <= n; j += L) S::store(dst + j, S::load(src + j));
  for (; j < n; ++j) dst[j] = src[j];
}

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

// Workspace kept by the calling thread between calls (declare one `thread_local` per use):
// fresh pages fault, and a few MB allocated per call cost milliseconds (measured ~10% of a
// 64@56 Winograd layer). Only up to retained_bytes is kept after a call (trim()), so one huge
// call does not pin up to 1 GiB per thread for the life of every thread that ever made one.
// Freed when the thread exits.
struct CachedWorkspace {
  static constexpr std::size_t retained_bytes = std::size_t{64} << 20;
  void* memory = nullptr;
  std::size_t bytes = 0;
  CachedWorkspace() = default;
  CachedWorkspace(const CachedWorkspace&) = delete;
  CachedWorkspace& operator=(const CachedWorkspace&) = delete;
  ~CachedWorkspace() { free_workspace(memory); }
  // At least `wanted` bytes (null if they cannot be allocated); the contents are not kept.
  void* get(std::size_t wanted) {
    if (wanted > bytes) {
      free_workspace(memory);
      memory = allocate_workspace(wanted);
      bytes = memory != nullptr ? wanted : 0;
    }
    return memory;
  }
  // Called when the call is done with the memory.
  void trim() {
    if (bytes > retained_bytes) {
      free_workspace(memory);
      memory = nullptr;
      bytes = 0;
    }
  }
};

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
