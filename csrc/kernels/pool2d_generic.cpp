// Pooling kernels, portable family (baseline flags of the target).
#define FIELDCONV_KERNEL_FAMILY generic
#include <cstdint>

namespace fieldconv {
namespace generic {
namespace {

// Portable vector operations of the pooling kernels (see pool2d_impl.hpp): 32-byte arrays the
// compiler may map onto the baseline SIMD. Same semantics as the AVX2 family, lane by lane.
template <class T>
struct PoolVec {
  static constexpr int lanes = 32 / sizeof(T);
  using index_t = std::int64_t;
  struct vec {
    T v[lanes];
  };
  struct mask {
    bool m[lanes];
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
  // NaN when either is NaN; ties keep `earlier`.
  static T max_nan(T later, T earlier) { return (later > earlier || later != later) ? later : earlier; }
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
  // PyTorch's update rule: value > best || isnan(value)
  static mask take(const vec& value, const vec& best) {
    mask m;
    for (int i = 0; i < lanes; ++i) m.m[i] = value.v[i] > best.v[i] || value.v[i] != value.v[i];
    return m;
  }
  static vec select(const mask& m, const vec& if_true, const vec& if_false) {
    vec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = m.m[i] ? if_true.v[i] : if_false.v[i];
    return r;
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
    for (int i = 0; i < lanes; ++i) r.v[i] = value;
    return r;
  }
  static ivec iadd(const ivec& a, const ivec& b) {
    ivec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = a.v[i] + b.v[i];
    return r;
  }
  static ivec iselect(const mask& m, const ivec& if_true, const ivec& if_false) {
    ivec r;
    for (int i = 0; i < lanes; ++i) r.v[i] = m.m[i] ? if_true.v[i] : if_false.v[i];
    return r;
  }
};

}  // namespace
}  // namespace generic
}  // namespace fieldconv

#include "kernels/pool2d_impl.hpp"
