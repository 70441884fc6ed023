// Pooling kernels, portable family (baseline flags of the target).
#define FIELDCONV_KERNEL_FAMILY generic
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace fieldconv {
namespace generic {
namespace {

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
}  // namespace generic
}  // namespace fieldconv

#include "kernels/pool2d_impl.hpp"
