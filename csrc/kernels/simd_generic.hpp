// Portable vector traits: a 32-byte array the compiler may map onto whatever SIMD the baseline
// target has (SSE2 on x86-64, NEON on aarch64). "fma" is a multiply then an add, each rounded.
#pragma once

#include <cstdint>

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {  // internal linkage: each family has its own Simd

constexpr int simd_registers = 16;
// The direct conv kernel's preferred packing: 64 bytes of out-channels per packed weight block.
constexpr std::int64_t direct_block_bytes = 64;
// Float32 multiply-adds per ns one thread of the direct conv sustains (Conv2dDirectKernels).
constexpr double direct_macs_per_ns = 4;

template <class T>
struct Simd {
  static constexpr int lanes = 32 / sizeof(T);
  struct vec {
    T v[lanes];
  };
  static vec zero() {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = T(0);
    return r;
  }
  static vec set1(T value) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = value;
    return r;
  }
  static vec load(const T* p) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = p[i];
    return r;
  }
  static vec broadcast(const T* p) { return set1(*p); }
  static void store(T* p, const vec& a) {
    for (int i = 0; i < lanes; ++i) p[i] = a.v[i];
  }
  static vec fma(const vec& a, const vec& b, const vec& c) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i];
    return r;
  }
  static T fma(T a, T b, T c) { return a * b + c; }
  // a * b + c with two roundings (the build passes -ffp-contract=off, so no contraction)
  static vec mul_add(const vec& a, const vec& b, const vec& c) { return fma(a, b, c); }
  static vec add(const vec& a, const vec& b) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = a.v[i] + b.v[i];
    return r;
  }
  static vec sub(const vec& a, const vec& b) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = a.v[i] - b.v[i];
    return r;
  }
  static vec mul(const vec& a, const vec& b) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = a.v[i] * b.v[i];
    return r;
  }
};

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
