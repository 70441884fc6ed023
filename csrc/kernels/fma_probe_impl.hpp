// FMA throughput probe of a kernel family: independent multiply-add chains on float32 vectors,
// enough of them to cover the FMA latency on every pipe (12 x 256-bit for AVX2, 24 x 512-bit
// for AVX-512). The benchmark divides achieved GFLOP/s by what this measures, so "% of peak"
// reflects the clock the cores actually run at (turbo included), not a nominal one.
// Included by one translation unit per family, after Simd<T>.
#include <cstdint>

#include "kernels/kernels.hpp"

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {

float fma_probe(std::int64_t iterations, int* flops_per_iteration) noexcept {
  using S = Simd<float>;
  constexpr int chains = simd_registers >= 32 ? 24 : 12;
  typename S::vec acc[chains];
  for (int c = 0; c < chains; ++c) acc[c] = S::set1(0.001f * float(c));
  const typename S::vec scale = S::set1(0.999999f), offset = S::set1(1e-7f);
  for (std::int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 24
    for (int c = 0; c < chains; ++c) acc[c] = S::fma(acc[c], scale, offset);
  }
  float lanes[S::lanes];
  float sink = 0.0f;
  for (int c = 0; c < chains; ++c) {
    S::store(lanes, acc[c]);
    sink += lanes[0];
  }
  *flops_per_iteration = chains * S::lanes * 2;
  return sink;  // keeps the chains alive
}

}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
