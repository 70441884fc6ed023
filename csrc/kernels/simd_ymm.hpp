// 256-bit (ymm) code shared by the AVX2 and AVX-512 families: rows of 8 floats for Winograd's
// transposed float tiles (Float8) and the pooling vectors (PoolVec; AVX-512 CPUs pool with these
// too). Included by simd_avx2.hpp and simd_avx512.hpp only, in files compiled with at least
// -mavx2 -mfma. simd_generic.hpp has portable versions under the same names.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstdint>

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {

// Makes the compiler hold v in a register (an empty asm that may change it): otherwise it folds
// the load into each FMA that uses v, loading the same (mostly cache-line-splitting) vector
// once per use.
template <class V>
inline void keep_in_register(V& v) {
  asm("" : "+v"(v));
}

// Streaming (non-temporal) stores are weakly ordered: each thread fences them before its work
// is reported done.
inline void stream_fence() { _mm_sfence(); }

// 256-bit vector traits: the AVX2 family's Simd<T>, and the AVX-512 family's LineSimd<T>
// (correlate1d filters lines with these: see simd_avx512.hpp).
template <class T>
struct SimdYmm;

template <>
struct SimdYmm<float> {
  using vec = __m256;
  static constexpr int lanes = 8;
  static vec zero() { return _mm256_setzero_ps(); }
  static vec set1(float v) { return _mm256_set1_ps(v); }
  static vec load(const float* p) { return _mm256_loadu_ps(p); }
  static vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  static void stream(float* p, vec v) { _mm256_stream_ps(p, v); }  // p 32-byte aligned
  static vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  static vec fms(vec a, vec b, vec c) { return _mm256_fmsub_ps(a, b, c); }  // a * b - c, one rounding
  static float fma(float a, float b, float c) { return std::fma(a, b, c); }
  // a * b + c with two roundings (no FMA): sums that must equal SciPy's bit for bit
  static vec mul_add(vec a, vec b, vec c) { return _mm256_add_ps(_mm256_mul_ps(a, b), c); }
  static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static vec sub(vec a, vec b) { return _mm256_sub_ps(a, b); }
  static vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
  // v < lower ? lower : v and v > upper ? upper : v, lane by lane: NaN and -0.0 in v are kept
  // (maxps/minps return their second operand when the comparison is false).
  static vec at_least(vec v, vec lower) { return _mm256_max_ps(lower, v); }
  static vec at_most(vec v, vec upper) { return _mm256_min_ps(upper, v); }
};

template <>
struct SimdYmm<double> {
  using vec = __m256d;
  static constexpr int lanes = 4;
  static vec zero() { return _mm256_setzero_pd(); }
  static vec set1(double v) { return _mm256_set1_pd(v); }
  static vec load(const double* p) { return _mm256_loadu_pd(p); }
  static vec broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static void store(double* p, vec v) { _mm256_storeu_pd(p, v); }
  static void stream(double* p, vec v) { _mm256_stream_pd(p, v); }  // p 32-byte aligned
  static vec fma(vec a, vec b, vec c) { return _mm256_fmadd_pd(a, b, c); }
  static vec fms(vec a, vec b, vec c) { return _mm256_fmsub_pd(a, b, c); }
  static double fma(double a, double b, double c) { return std::fma(a, b, c); }
  static vec mul_add(vec a, vec b, vec c) { return _mm256_add_pd(_mm256_mul_pd(a, b), c); }
  static vec add(vec a, vec b) { return _mm256_add_pd(a, b); }
  static vec sub(vec a, vec b) { return _mm256_sub_pd(a, b); }
  static vec mul(vec a, vec b) { return _mm256_mul_pd(a, b); }
  static vec at_least(vec v, vec lower) { return _mm256_max_pd(lower, v); }
  static vec at_most(vec v, vec upper) { return _mm256_min_pd(upper, v); }
};

// One row of 8 floats. The Winograd kernels gather float tiles as rows of 8 columns of 8
// channels and transpose them in registers (one vector per position and 8 channels), and store
// output tiles the same way back (has_transpose8).
// The one-intrinsic members are always_inline: inlined as early as the intrinsics themselves, the
// kernels compile to the same code as with the intrinsics written in place (a plain inline
// wrapper changed register allocation and stack slots of the Winograd kernels).
struct Float8 {
  using vec = __m256;
  using mask = __m256i;
  __attribute__((always_inline)) static vec zero() { return _mm256_setzero_ps(); }
  __attribute__((always_inline)) static vec set1(float v) { return _mm256_set1_ps(v); }
  __attribute__((always_inline)) static vec load(const float* p) { return _mm256_loadu_ps(p); }
  __attribute__((always_inline)) static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  __attribute__((always_inline)) static vec at_least(vec v, vec lower) { return _mm256_max_ps(lower, v); }
  __attribute__((always_inline)) static vec at_most(vec v, vec upper) { return _mm256_min_ps(upper, v); }
  // flags: 8 ints, 32-byte aligned, -1 for a lane to load and 0 for a lane to leave zero.
  __attribute__((always_inline)) static mask load_mask(const int* flags) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(flags));
  }
  // Zero in the lanes outside m, which are not read: nothing past a row's ends is touched.
  __attribute__((always_inline)) static vec masked_load(const float* p, mask m) { return _mm256_maskload_ps(p, m); }

  // r[j] <- column j of the 8 x 8 matrix whose rows are r[0..7].
  static void transpose(vec (&r)[8]) {
    __m256 t[8], u[8];
    for (int k = 0; k < 4; ++k) {
      t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
      t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 2; ++k) {
      u[4 * k + 0] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], _MM_SHUFFLE(1, 0, 1, 0));
      u[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], _MM_SHUFFLE(3, 2, 3, 2));
      u[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], _MM_SHUFFLE(1, 0, 1, 0));
      u[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int k = 0; k < 4; ++k) {
      r[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
      r[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
    }
  }

  // Stores the first count (1..8) floats of v with plain 128/64/32-bit stores (masked stores are
  // slow on AMD cores).
  static void store_first(float* p, vec v, std::int64_t count) {
    const __m128 low = _mm256_castps256_ps128(v);
    switch (count) {
      case 1: _mm_store_ss(p, low); break;
      case 2: _mm_storel_pi(reinterpret_cast<__m64*>(p), low); break;
      case 3:
        _mm_storel_pi(reinterpret_cast<__m64*>(p), low);
        _mm_store_ss(p + 2, _mm_movehl_ps(low, low));
        break;
      case 4: _mm_storeu_ps(p, low); break;
      case 5:
        _mm_storeu_ps(p, low);
        _mm_store_ss(p + 4, _mm256_extractf128_ps(v, 1));
        break;
      case 6:
        _mm_storeu_ps(p, low);
        _mm_storel_pi(reinterpret_cast<__m64*>(p + 4), _mm256_extractf128_ps(v, 1));
        break;
      default: {
        alignas(32) float values[8];
        _mm256_store_ps(values, v);
        for (std::int64_t i = 0; i < count; ++i) p[i] = values[i];
      }
    }
  }
};

// r[j] <- column j of the square matrix whose rows are r[0..lanes-1] (LineSimd vectors): the
// FFT correlation moves lanes rows of a line into one vector per position, and back.
inline void transpose_lanes(__m256 (&r)[8]) { Float8::transpose(r); }
inline void transpose_lanes(__m256d (&r)[4]) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]);  // r0[0] r1[0] r0[2] r1[2]
  const __m256d t1 = _mm256_unpackhi_pd(r[0], r[1]);  // r0[1] r1[1] r0[3] r1[3]
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]);
  const __m256d t3 = _mm256_unpackhi_pd(r[2], r[3]);
  r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

// r[j][l] = row0[l * stride + j] (the columns of lanes rows): each 128-bit half of a row is
// loaded into its place, so that only in-lane shuffles remain (no cross-lane permutes, and
// 16-byte loads, which split cache lines less often than 32-byte ones).
inline void load_transposed_lanes(__m256d (&r)[4], const double* row0, std::int64_t stride) {
  const double* const row1 = row0 + stride;
  const double* const row2 = row1 + stride;
  const double* const row3 = row2 + stride;
  // a = rows 0 and 2, b = rows 1 and 3, of columns 0-1 (a0, b0) and 2-3 (a1, b1)
  const __m256d a0 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(row0)), _mm_loadu_pd(row2), 1);
  const __m256d b0 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(row1)), _mm_loadu_pd(row3), 1);
  const __m256d a1 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(row0 + 2)), _mm_loadu_pd(row2 + 2), 1);
  const __m256d b1 = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(row1 + 2)), _mm_loadu_pd(row3 + 2), 1);
  r[0] = _mm256_unpacklo_pd(a0, b0);
  r[1] = _mm256_unpackhi_pd(a0, b0);
  r[2] = _mm256_unpacklo_pd(a1, b1);
  r[3] = _mm256_unpackhi_pd(a1, b1);
}
inline void load_transposed_lanes(__m256 (&r)[8], const float* row0, std::int64_t stride) {
  // t[k] = rows k and k + 4 of columns 0-3, t[k + 4] of columns 4-7; then 4 x 4 in-lane transposes
  __m256 t[8];
  for (int k = 0; k < 4; ++k) {
    const float* const low = row0 + k * stride;
    const float* const high = row0 + (k + 4) * stride;
    t[k] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(low)), _mm_loadu_ps(high), 1);
    t[k + 4] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(low + 4)), _mm_loadu_ps(high + 4), 1);
  }
  for (int half = 0; half < 8; half += 4) {
    const __m256 u0 = _mm256_unpacklo_ps(t[half], t[half + 1]);  // r0[0] r1[0] r0[1] r1[1]
    const __m256 u1 = _mm256_unpackhi_ps(t[half], t[half + 1]);  // r0[2] r1[2] r0[3] r1[3]
    const __m256 u2 = _mm256_unpacklo_ps(t[half + 2], t[half + 3]);
    const __m256 u3 = _mm256_unpackhi_ps(t[half + 2], t[half + 3]);
    r[half + 0] = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0));
    r[half + 1] = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2));
    r[half + 2] = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0));
    r[half + 3] = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2));
  }
}

// Vector operations of the pooling kernels (see pool2d_impl.hpp). max_ps(later, earlier) returns
// `earlier` when either operand is NaN (and on ties), so max_nan then takes `later` where it is
// NaN: the result is NaN when either is, and it is that input NaN itself (PyTorch's value bits).
// Indices ride in integer lanes as wide as T (32-bit for float).
template <class T>
struct PoolVec;

template <>
struct PoolVec<float> {
  using vec = __m256;
  using mask = __m256;
  using ivec = __m256i;
  using index_t = std::int32_t;
  static constexpr int lanes = 8;
  static vec set1(float v) { return _mm256_set1_ps(v); }
  static vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  static vec max_nan(vec later, vec earlier) {
    return _mm256_blendv_ps(_mm256_max_ps(later, earlier), later, _mm256_cmp_ps(later, later, _CMP_UNORD_Q));
  }
  static float max_nan(float later, float earlier) { return (later > earlier || later != later) ? later : earlier; }
  static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static float add(float a, float b) { return a + b; }
  static vec div(vec a, vec b) { return _mm256_div_ps(a, b); }
  // (a0..a7), (b0..b7) -> (a0 a2 a4 a6 b0 b2 b4 b6), (a1 a3 a5 a7 b1 b3 b5 b7)
  static void deinterleave2(vec lo, vec hi, vec& even, vec& odd) {
    const __m256 t0 = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
    const __m256 t1 = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t0), _MM_SHUFFLE(3, 1, 2, 0)));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t1), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  // PyTorch's update rule: value > best || isnan(value)
  static mask take(vec value, vec best) {
    return _mm256_or_ps(_mm256_cmp_ps(value, best, _CMP_GT_OQ), _mm256_cmp_ps(value, value, _CMP_UNORD_Q));
  }
  static vec select(mask m, vec if_true, vec if_false) { return _mm256_blendv_ps(if_false, if_true, m); }
  static ivec iload(const index_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void istore(index_t* p, ivec v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static ivec iset1(std::int64_t v) { return _mm256_set1_epi32(static_cast<int>(static_cast<std::uint32_t>(v))); }
  static ivec iadd(ivec a, ivec b) { return _mm256_add_epi32(a, b); }
  static ivec iselect(mask m, ivec if_true, ivec if_false) {
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(if_false), _mm256_castsi256_ps(if_true), m));
  }
  static void update(vec value, ivec index, vec& best, ivec& best_index) {
    const mask m = take(value, best);
    best = select(m, value, best);
    best_index = iselect(m, index, best_index);
  }
};

template <>
struct PoolVec<double> {
  using vec = __m256d;
  using mask = __m256d;
  using ivec = __m256i;
  using index_t = std::int64_t;
  static constexpr int lanes = 4;
  static vec set1(double v) { return _mm256_set1_pd(v); }
  static vec load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, vec v) { _mm256_storeu_pd(p, v); }
  static vec max_nan(vec later, vec earlier) {
    return _mm256_blendv_pd(_mm256_max_pd(later, earlier), later, _mm256_cmp_pd(later, later, _CMP_UNORD_Q));
  }
  static double max_nan(double later, double earlier) { return (later > earlier || later != later) ? later : earlier; }
  static vec add(vec a, vec b) { return _mm256_add_pd(a, b); }
  static double add(double a, double b) { return a + b; }
  static vec div(vec a, vec b) { return _mm256_div_pd(a, b); }
  // (a0..a3), (b0..b3) -> (a0 a2 b0 b2), (a1 a3 b1 b3)
  static void deinterleave2(vec lo, vec hi, vec& even, vec& odd) {
    even = _mm256_permute4x64_pd(_mm256_unpacklo_pd(lo, hi), _MM_SHUFFLE(3, 1, 2, 0));  // a0 b0 | a2 b2 -> a0 a2 b0 b2
    odd = _mm256_permute4x64_pd(_mm256_unpackhi_pd(lo, hi), _MM_SHUFFLE(3, 1, 2, 0));
  }
  static mask take(vec value, vec best) {
    return _mm256_or_pd(_mm256_cmp_pd(value, best, _CMP_GT_OQ), _mm256_cmp_pd(value, value, _CMP_UNORD_Q));
  }
  static vec select(mask m, vec if_true, vec if_false) { return _mm256_blendv_pd(if_false, if_true, m); }
  static ivec iload(const index_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void istore(index_t* p, ivec v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static ivec iset1(std::int64_t v) { return _mm256_set1_epi64x(v); }
  static ivec iadd(ivec a, ivec b) { return _mm256_add_epi64(a, b); }
  static ivec iselect(mask m, ivec if_true, ivec if_false) {
    return _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(if_false), _mm256_castsi256_pd(if_true), m));
  }
  static void update(vec value, ivec index, vec& best, ivec& best_index) {
    const mask m = take(value, best);
    best = select(m, value, best);
    best_index = iselect(m, index, best_index);
  }
};

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
