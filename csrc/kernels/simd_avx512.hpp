// AVX-512F vector traits (one 512-bit register, 32 registers). Include only from files
// compiled with -mavx512f -mfma, inside the avx512 kernel family's namespace.
#pragma once

#include <cstdint>

#include <immintrin.h>

#include <cmath>

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
  static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
  static float fma(float a, float b, float c) { return std::fma(a, b, c); }
  // a * b + c with two roundings (no FMA): sums that must equal SciPy's bit for bit
  static vec mul_add(vec a, vec b, vec c) { return _mm512_add_ps(_mm512_mul_ps(a, b), c); }
  static vec add(vec a, vec b) { return _mm512_add_ps(a, b); }
  static vec sub(vec a, vec b) { return _mm512_sub_ps(a, b); }
  static vec mul(vec a, vec b) { return _mm512_mul_ps(a, b); }
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
  static vec fma(vec a, vec b, vec c) { return _mm512_fmadd_pd(a, b, c); }
  static double fma(double a, double b, double c) { return std::fma(a, b, c); }
  static vec mul_add(vec a, vec b, vec c) { return _mm512_add_pd(_mm512_mul_pd(a, b), c); }
  static vec add(vec a, vec b) { return _mm512_add_pd(a, b); }
  static vec sub(vec a, vec b) { return _mm512_sub_pd(a, b); }
  static vec mul(vec a, vec b) { return _mm512_mul_pd(a, b); }
};

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
