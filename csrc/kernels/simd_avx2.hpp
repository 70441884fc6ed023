// AVX2 + FMA vector traits (one 256-bit register). Include only from files compiled with
// -mavx2 -mfma, inside an anonymous namespace of the avx2 kernel family.
#pragma once

#include <cstdint>

#include <immintrin.h>

#include <cmath>

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {  // internal linkage: each family has its own Simd

constexpr int simd_registers = 16;
// The direct conv kernel's preferred packing: 64 bytes of out-channels (two ymm of float) per packed weight block.
constexpr std::int64_t direct_block_bytes = 64;
// Float32 multiply-adds per ns one thread of the direct conv sustains (Conv2dDirectKernels).
constexpr double direct_macs_per_ns = 40;

template <class T>
struct Simd;

template <>
struct Simd<float> {
  using vec = __m256;
  static constexpr int lanes = 8;
  static vec zero() { return _mm256_setzero_ps(); }
  static vec set1(float v) { return _mm256_set1_ps(v); }
  static vec load(const float* p) { return _mm256_loadu_ps(p); }
  static vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static void store(float* p, vec v) { _mm256_storeu_ps(p, v); }
  static vec fma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
  static float fma(float a, float b, float c) { return std::fma(a, b, c); }
  // a * b + c with two roundings (no FMA): sums that must equal SciPy's bit for bit
  static vec mul_add(vec a, vec b, vec c) { return _mm256_add_ps(_mm256_mul_ps(a, b), c); }
  static vec add(vec a, vec b) { return _mm256_add_ps(a, b); }
  static vec sub(vec a, vec b) { return _mm256_sub_ps(a, b); }
  static vec mul(vec a, vec b) { return _mm256_mul_ps(a, b); }
};

template <>
struct Simd<double> {
  using vec = __m256d;
  static constexpr int lanes = 4;
  static vec zero() { return _mm256_setzero_pd(); }
  static vec set1(double v) { return _mm256_set1_pd(v); }
  static vec load(const double* p) { return _mm256_loadu_pd(p); }
  static vec broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static void store(double* p, vec v) { _mm256_storeu_pd(p, v); }
  static vec fma(vec a, vec b, vec c) { return _mm256_fmadd_pd(a, b, c); }
  static double fma(double a, double b, double c) { return std::fma(a, b, c); }
  static vec mul_add(vec a, vec b, vec c) { return _mm256_add_pd(_mm256_mul_pd(a, b), c); }
  static vec add(vec a, vec b) { return _mm256_add_pd(a, b); }
  static vec sub(vec a, vec b) { return _mm256_sub_pd(a, b); }
  static vec mul(vec a, vec b) { return _mm256_mul_pd(a, b); }
};

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
