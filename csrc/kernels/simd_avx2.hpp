// AVX2 + FMA vector traits (one 256-bit register). Include only from files compiled with
// -mavx2 -mfma, inside an anonymous namespace of the avx2 kernel family. Every family defines the
// same names (listed in simd_generic.hpp); Float8 and PoolVec come from simd_ymm.hpp.
#pragma once

#include <cstdint>

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/simd_ymm.hpp"

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {  // internal linkage: each family has its own Simd

constexpr int simd_registers = 16;
// The direct conv kernel's preferred packing: 64 bytes of out-channels (two ymm of float) per packed weight block.
constexpr std::int64_t direct_block_bytes = 64;
// Float32 multiply-adds per ns one thread of the direct conv sustains (Conv2dDirectKernels).
constexpr double direct_macs_per_ns = 40;

// One ymm register of T (simd_ymm.hpp); lines are filtered with the same vectors.
template <class T>
using Simd = SimdYmm<T>;
template <class T>
using LineSimd = SimdYmm<T>;
template <class T>
using FftSimd = SimdYmm<T>;

// Winograd: float tiles are gathered and stored through Float8 rows transposed in registers.
constexpr bool has_transpose8 = true;
// Winograd: the batched GEMM runs one weight panel (2 vectors) per microkernel call, so an
// out-channel chunk can be a single panel.
constexpr bool winograd_wide_gemm = false;
constexpr std::int64_t winograd_min_chunk_panels = 1;

// Accumulates "every value seen satisfies |v| <= limit" (false for NaN).
template <class T>
struct RangeCheck;
// float: the bits of |v| as unsigned integers order like the values, with Inf and NaN above
// every finite value, so one integer max (on the integer pipes) per vector suffices.
template <>
struct RangeCheck<float> {
  float limit;
  __m256i largest = _mm256_setzero_si256();
  __m256 sign = _mm256_set1_ps(-0.0f);
  explicit RangeCheck(float l) : limit(l) {}
  void add(__m256 v) { largest = _mm256_max_epu32(largest, _mm256_castps_si256(_mm256_andnot_ps(sign, v))); }
  bool passed() const {
    alignas(32) std::uint32_t bits[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(bits), largest);
    std::uint32_t limit_bits;
    std::memcpy(&limit_bits, &limit, sizeof limit_bits);
    for (int i = 0; i < 8; ++i)
      if (bits[i] > limit_bits) return false;
    return true;
  }
};
template <>
struct RangeCheck<double> {
  __m256d limit, ok, sign = _mm256_set1_pd(-0.0);
  explicit RangeCheck(double l) : limit(_mm256_set1_pd(l)), ok(_mm256_castsi256_pd(_mm256_set1_epi64x(-1))) {}
  void add(__m256d v) { ok = _mm256_and_pd(ok, _mm256_cmp_pd(_mm256_andnot_pd(sign, v), limit, _CMP_LE_OQ)); }
  bool passed() const { return _mm256_movemask_pd(ok) == 0xF; }
};

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
