// Pooling kernels, AVX2 family (this file is compiled with -mavx2 -mfma).
#define FIELDCONV_KERNEL_FAMILY avx2
#include <immintrin.h>

#include <cstdint>

namespace fieldconv {
namespace avx2 {
namespace {

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
  static double max_nan(double later, double earlier) {
    return (later > earlier || later != later) ? later : earlier;
  }
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
}  // namespace avx2
}  // namespace fieldconv

#include "kernels/pool2d_impl.hpp"
