// AVX-512F vector traits (one 512-bit register, 32 registers). Include only from files
// compiled with -mavx512f -mavx512vl -mavx2 -mfma, inside the avx512 kernel family's namespace. Every family
// defines the same names (listed in simd_generic.hpp); Float8 and PoolVec (256-bit: pooling runs
// the AVX2 kernels) come from simd_ymm.hpp.
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

constexpr int simd_registers = 32;
// The direct conv kernel's preferred packing: 128 bytes of out-channels (two zmm of float) per packed weight block.
constexpr std::int64_t direct_block_bytes = 128;
// Float32 multiply-adds per ns one thread of the direct conv sustains (Conv2dDirectKernels).
constexpr double direct_macs_per_ns = 80;

template <class T>
struct Simd;

template <>
struct Simd<float> {
  using vec = __m512;
  static constexpr int lanes = 16;
  static vec zero() { return _mm512_setzero_ps(); }
  static vec set1(float v) { return _mm512_set1_ps(v); }
  static vec load(const float* p) { return _mm512_loadu_ps(p); }
  static vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static void store(float* p, vec v) { _mm512_storeu_ps(p, v); }
  static void stream(float* p, vec v) { _mm512_stream_ps(p, v); }  // p 64-byte aligned
  static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
  static vec fms(vec a, vec b, vec c) { return _mm512_fmsub_ps(a, b, c); }  // a * b - c, one rounding
  static float fma(float a, float b, float c) { return std::fma(a, b, c); }
  // a * b + c with two roundings (no FMA): sums that must equal SciPy's bit for bit
  static vec mul_add(vec a, vec b, vec c) { return _mm512_add_ps(_mm512_mul_ps(a, b), c); }
  static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  static vec sub(vec a, vec b) { return _mm512_sub_ps(a, b); }
  static vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
  // v < lower ? lower : v and v > upper ? upper : v (NaN and -0.0 in v kept, as simd_ymm.hpp)
  static vec at_least(vec v, vec lower) { return _mm512_max_ps(lower, v); }
  static vec at_most(vec v, vec upper) { return _mm512_min_ps(upper, v); }
  // Low / high 8 floats (Float8 rows), and the vector made of two of them (AVX-512F only,
  // through the 64-bit-lane forms): Winograd's transposed float paths use two Float8 rows.
  static Float8::vec low_half(vec v) { return _mm512_castps512_ps256(v); }
  static Float8::vec high_half(vec v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }
  static vec join_halves(Float8::vec low, Float8::vec high) {
    return _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(low)), _mm256_castps_pd(high), 1));
  }
};

template <>
struct Simd<double> {
  using vec = __m512d;
  static constexpr int lanes = 8;
  static vec zero() { return _mm512_setzero_pd(); }
  static vec set1(double v) { return _mm512_set1_pd(v); }
  static vec load(const double* p) { return _mm512_loadu_pd(p); }
  static vec broadcast(const double* p) { return _mm512_set1_pd(*p); }
  static void store(double* p, vec v) { _mm512_storeu_pd(p, v); }
  static void stream(double* p, vec v) { _mm512_stream_pd(p, v); }  // p 64-byte aligned
  static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_pd(a, b, c); }
  static vec fms(vec a, vec b, vec c) { return _mm512_fmsub_pd(a, b, c); }
  static double fma(double a, double b, double c) { return std::fma(a, b, c); }
  static vec mul_add(vec a, vec b, vec c) { return _mm512_add_pd(_mm512_mul_pd(a, b), c); }
  static vec add(vec a, vec b) { return _mm512_add_pd(a, b); }
  static vec sub(vec a, vec b) { return _mm512_sub_pd(a, b); }
  static vec mul(vec a, vec b) { return _mm512_mul_pd(a, b); }
  static vec at_least(vec v, vec lower) { return _mm512_max_pd(lower, v); }
  static vec at_most(vec v, vec upper) { return _mm512_min_pd(upper, v); }
};

// Winograd: float tiles are gathered and stored through Float8 rows transposed in registers,
// two per vector (Simd<float>::low_half / high_half / join_halves).
// Lines (correlate1d along the last axis) are filtered with 256-bit vectors: most taps along a
// line are loads across two cache lines, which bound the pass on Zen 4, and 256-bit vectors
// measured 3-8% faster there (2048^2 float32 along the last axis 3.08 ms against 3.37 ms,
// float64 6.78 against 7.09, one thread). (Transposing 16 lines into rows of 16 lanes to use
// the row kernel measured slower: the 512-bit shuffles of the two transposes cost more.)
template <class T>
using LineSimd = SimdYmm<T>;

// The FFT correlation transforms one sequence per lane of 256-bit vectors too: with 512-bit
// ones (and 8 x 8 / 16 x 16 transposes) 10^6 x 101 float64 measured no faster on Zen 4, whose
// 512-bit operations are two 256-bit halves, and a batch of 256-point transforms then fills L1.
template <class T>
using FftSimd = SimdYmm<T>;

constexpr bool has_transpose8 = true;
// Winograd: the batched GEMM covers up to 4 weight panels per microkernel call (one vector is a
// whole 64-byte panel: gemm_microkernel_wide), so an out-channel chunk is at least 4 panels
// (fewer re-read V 4x as often: 15% slower at 64@56, winograd_impl.hpp).
constexpr bool winograd_wide_gemm = true;
constexpr std::int64_t winograd_min_chunk_panels = 4;

// As the AVX2 family's, on 512-bit vectors (AVX-512F only: |v| by an integer and).
template <class T>
struct RangeCheck;
template <>
struct RangeCheck<float> {
  float limit;
  __m512i largest = _mm512_setzero_si512();
  explicit RangeCheck(float l) : limit(l) {}
  void add(__m512 v) {
    largest = _mm512_max_epu32(largest, _mm512_and_epi32(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff)));
  }
  bool passed() const {
    alignas(64) std::uint32_t bits[16];
    _mm512_store_si512(bits, largest);
    std::uint32_t limit_bits;
    std::memcpy(&limit_bits, &limit, sizeof limit_bits);
    for (int i = 0; i < 16; ++i)
      if (bits[i] > limit_bits) return false;
    return true;
  }
};
template <>
struct RangeCheck<double> {
  __m512d limit;
  __mmask8 ok = 0xFF;
  explicit RangeCheck(double l) : limit(_mm512_set1_pd(l)) {}
  void add(__m512d v) {
    const __m512d magnitude =
        _mm512_castsi512_pd(_mm512_and_epi64(_mm512_castpd_si512(v), _mm512_set1_epi64(0x7fffffffffffffffLL)));
    ok = _mm512_mask_cmp_pd_mask(ok, magnitude, limit, _CMP_LE_OQ);
  }
  bool passed() const { return ok == 0xFF; }
};

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
