// Portable vector traits: a 32-byte array the compiler may map onto whatever SIMD the baseline
// target has (SSE2 on x86-64, NEON on aarch64). "fma" is a multiply then an add, each rounded.
//
// Every family's simd_<isa>.hpp defines the same names, and only those headers (with
// simd_ymm.hpp, the 256-bit code the x86 families share) hold intrinsics or ISA-specific code;
// the *_impl.hpp kernels choose their paths with `if constexpr` on the traits:
//   Simd<T>                    vector of T: load/store/broadcast, fma, fms (a * b - c), mul_add, add/sub/mul,
//                              at_least/at_most (the clamps of ReLU: NaN and -0.0 kept);
//                              stream: a store that bypasses the cache (vector-aligned address)
//   stream_fence()             orders a thread's streaming stores before it reports its work done
//   LineSimd<T>                the vectors correlate1d filters lines with (Simd<T>, or narrower)
//   FftSimd<T>                 the vectors of the FFT correlation (one sequence per lane)
//   transpose_lanes(r)         transposes lanes FftSimd vectors (rows) in place
//   load_transposed_lanes(r, p, stride)  r[j] <- column j of the rows p + l * stride (l < lanes)
//   keep_in_register(v)        a hint that v stays in a register (not reloaded at every use)
//   simd_registers             vector registers (sizes register blocks)
//   direct_block_bytes         the direct conv's packing: bytes of out-channels per weight block
//   direct_macs_per_ns         float32 multiply-adds per ns of one thread's direct conv (work estimates)
//   PoolVec<T>                 pooling vectors: NaN-propagating max, divide, deinterleave, indices
//   RangeCheck<T>              "every vector seen has |v| <= limit" (Winograd's overflow check)
//   Float8                     a row of 8 floats: load, masked load, 8 x 8 transpose, partial store,
//                              add and the clamps (conv epilogues on transposed rows)
//   has_transpose8             Winograd gathers/stores float tiles through Float8 transposes; with
//                              16-float vectors, also Simd<float>::low_half/high_half/join_halves
//   winograd_wide_gemm         Winograd's GEMM runs gemm_microkernel_wide (one vector per panel)
//   winograd_min_chunk_panels  smallest out-channel chunk of a Winograd work item, in panels
// This family's Float8 is portable but unused (has_transpose8 is false): it lets the shared code
// compile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

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
  static void stream(T* p, const vec& a) { store(p, a); }
  static vec fma(const vec& a, const vec& b, const vec& c) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i];
    return r;
  }
  static T fma(T a, T b, T c) { return a * b + c; }
  static vec fms(const vec& a, const vec& b, const vec& c) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = a.v[i] * b.v[i] - c.v[i];
    return r;
  }
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
  // v < lower ? lower : v and v > upper ? upper : v: NaN and -0.0 in v are kept.
  static vec at_least(const vec& v, const vec& lower) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = v.v[i] < lower.v[i] ? lower.v[i] : v.v[i];
    return r;
  }
  static vec at_most(const vec& v, const vec& upper) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = v.v[i] > upper.v[i] ? upper.v[i] : v.v[i];
    return r;
  }
};

// Streams are plain stores here: nothing to order.
inline void stream_fence() {}

// Winograd: float tiles are gathered element by element, not through Float8 transposes.
constexpr bool has_transpose8 = false;
// Winograd: the batched GEMM runs one weight panel (2 vectors) per microkernel call, so an
// out-channel chunk can be a single panel.
constexpr bool winograd_wide_gemm = false;
constexpr std::int64_t winograd_min_chunk_panels = 1;

// Accumulates "every value seen satisfies |v| <= limit" (false for NaN).
template <class T>
struct RangeCheck {
  T limit;
  bool ok = true;
  explicit RangeCheck(T l) : limit(l) {}
  void add(const typename Simd<T>::vec& v) {
    bool all = true;
    for (int i = 0; i < Simd<T>::lanes; ++i) all &= (v.v[i] <= limit) & (v.v[i] >= -limit);
    ok &= all;
  }
  bool passed() const { return ok; }
};

// A row of 8 floats, as the x86 families' (simd_ymm.hpp), lane by lane.
struct Float8 {
  using vec = Simd<float>::vec;
  static_assert(Simd<float>::lanes == 8, "Float8 is one vector of floats");
  struct mask {
    int flags[8];
  };
  static vec zero() { return Simd<float>::zero(); }
  static vec set1(float v) { return Simd<float>::set1(v); }
  static vec load(const float* p) { return Simd<float>::load(p); }
  static vec add(const vec& a, const vec& b) { return Simd<float>::add(a, b); }
  static vec at_least(const vec& v, const vec& lower) { return Simd<float>::at_least(v, lower); }
  static vec at_most(const vec& v, const vec& upper) { return Simd<float>::at_most(v, upper); }
  // flags: 8 ints, -1 for a lane to load and 0 for a lane to leave zero.
  static mask load_mask(const int* flags) {
    mask m;
    for (int j = 0; j < 8; ++j) m.flags[j] = flags[j];
    return m;
  }
  // Zero in the lanes outside m, which are not read.
  static vec masked_load(const float* p, const mask& m) {
    vec r;
    for (int j = 0; j < 8; ++j) r.v[j] = m.flags[j] ? p[j] : 0.0f;
    return r;
  }
  // r[j] <- column j of the 8 x 8 matrix whose rows are r[0..7].
  static void transpose(vec (&r)[8]) {
    for (int i = 0; i < 8; ++i)
      for (int j = i + 1; j < 8; ++j) {
        const float t = r[i].v[j];
        r[i].v[j] = r[j].v[i];
        r[j].v[i] = t;
      }
  }
  static void store_first(float* p, const vec& v, std::int64_t count) {
    for (std::int64_t i = 0; i < count; ++i) p[i] = v.v[i];
  }
};

template <class T>
using LineSimd = Simd<T>;
template <class T>
using FftSimd = Simd<T>;

// r[j] <- column j of the square matrix whose rows are r[0..lanes-1].
template <class V, std::size_t N>
inline void transpose_lanes(V (&r)[N]) {
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = 0; j < i; ++j) {
      const auto value = r[i].v[j];
      r[i].v[j] = r[j].v[i];
      r[j].v[i] = value;
    }
}

// r[j][l] = row0[l * stride + j]: the columns of lanes rows of lanes values.
template <class V, std::size_t N, class T>
inline void load_transposed_lanes(V (&r)[N], const T* row0, std::int64_t stride) {
  for (std::size_t j = 0; j < N; ++j)
    for (std::size_t l = 0; l < N; ++l) r[j].v[l] = row0[std::int64_t(l) * stride + std::int64_t(j)];
}

template <class V>
inline void keep_in_register(V&) {}

// Portable vector operations of the pooling kernels (see pool2d_impl.hpp): 32-byte arrays the
// compiler may map onto the baseline SIMD. Same semantics as the AVX2 family, lane by lane.
template <class T>
struct PoolVec {
  static constexpr int lanes = 32 / sizeof(T);
  // Integer lanes as wide as T, so that selects vectorise.
  using index_t = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
  struct vec {
    T v[lanes];
  };
  struct ivec {
    index_t v[lanes];
  };
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
  static void store(T* p, const vec& a) {
    for (int i = 0; i < lanes; ++i) p[i] = a.v[i];
  }
  // NaN when either is NaN (`later` when it is NaN, else `earlier`); ties keep `earlier`.
  // Two selects (max, then NaN) rather than one `||`, so the compiler can vectorise it
  // (maxps + cmpunordps on SSE2).
  static T max_nan(T later, T earlier) {
    const T larger = later > earlier ? later : earlier;
    return later != later ? later : larger;
  }
  static vec max_nan(const vec& later, const vec& earlier) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = max_nan(later.v[i], earlier.v[i]);
    return r;
  }
  static T add(T a, T b) { return a + b; }
  static vec add(const vec& a, const vec& b) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = a.v[i] + b.v[i];
    return r;
  }
  static vec div(const vec& a, const vec& b) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = a.v[i] / b.v[i];
    return r;
  }
  static void deinterleave2(const vec& lo, const vec& hi, vec& even, vec& odd) {
    for (int i = 0; i < lanes / 2; ++i) {
      even.v[i] = lo.v[2 * i];
      odd.v[i] = lo.v[2 * i + 1];
      even.v[lanes / 2 + i] = hi.v[2 * i];
      odd.v[lanes / 2 + i] = hi.v[2 * i + 1];
    }
  }
  // PyTorch's update rule, lane by lane: take value (and its index) if value > best || isnan(value).
  static void update(const vec& value, const ivec& index, vec& best, ivec& best_index) {
    // as bit masks (all ones where taken): the compiler vectorises these selects
    index_t take[lanes], value_bits[lanes], best_bits[lanes];
    std::memcpy(value_bits, value.v, sizeof(value_bits));
    std::memcpy(best_bits, best.v, sizeof(best_bits));
    for (int i = 0; i < lanes; ++i) {
      take[i] = -index_t((value.v[i] > best.v[i]) | (value.v[i] != value.v[i]));
      best_bits[i] = (value_bits[i] & take[i]) | (best_bits[i] & ~take[i]);
      best_index.v[i] = (index.v[i] & take[i]) | (best_index.v[i] & ~take[i]);
    }
    std::memcpy(best.v, best_bits, sizeof(best_bits));
  }
  static ivec iload(const index_t* p) {
    ivec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = p[i];
    return r;
  }
  static void istore(index_t* p, const ivec& a) {
    for (int i = 0; i < lanes; ++i) p[i] = a.v[i];
  }
  static ivec iset1(std::int64_t value) {
    ivec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = static_cast<index_t>(value);  // wraps: only in-plane sums are kept
    return r;
  }
  static ivec iadd(const ivec& a, const ivec& b) {
    ivec r;
    for (int i = 0; i < lanes; ++i)
      r.v[i] = static_cast<index_t>(static_cast<std::make_unsigned_t<index_t>>(a.v[i]) + b.v[i]);  // wrapping
    return r;
  }
};

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
