// The conv kernels' store epilogue, y = activation(sum + residual) (fieldconv/epilogue.hpp),
// for vectors of any traits V (Simd<T>, Float8) and for scalars. Included by the conv kernels'
// *_impl.hpp inside the family's namespace, after the family's simd header.
//
// The comparisons keep NaN and -0.0 as torch's relu does (at_least / at_most return v when the
// comparison is false), and each value is rounded as in the separate passes: the sum as stored,
// plus the residual, then clamped. So fused and unfused results have the same bits.

#include <cstdint>

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {

template <class V>
inline typename V::vec activate(typename V::vec v, Activation activation) {
  if (activation == Activation::relu) return V::at_least(v, V::zero());
  if (activation == Activation::relu6) return V::at_most(V::at_least(v, V::zero()), V::set1(6));
  return v;
}

template <class T>
inline T activate_value(T v, Activation activation) {
  if (activation != Activation::none) v = v < T(0) ? T(0) : v;
  if (activation == Activation::relu6) v = v > T(6) ? T(6) : v;
  return v;
}

// True when the epilogue changes anything (kernels skip it otherwise).
template <class T>
inline bool epilogue_active(const ConvEpilogue<T>& epilogue) {
  return epilogue.residual != nullptr || epilogue.activation != Activation::none;
}

// y[i] = activation(y[i] + residual[i]) for i < n, on values just stored (still in L1): vectors
// of Simd<T>, then scalars. residual may be null.
template <class T>
void epilogue_span(T* y, const T* residual, std::int64_t n, Activation activation) {
  using S = Simd<T>;
  constexpr int L = S::lanes;
  std::int64_t i = 0;
  for (; i + L <= n; i += L) {
    typename S::vec v = S::load(y + i);
    if (residual != nullptr) v = S::add(v, S::load(residual + i));
    S::store(y + i, activate<S>(v, activation));
  }
  for (; i < n; ++i) y[i] = activate_value(residual != nullptr ? T(y[i] + residual[i]) : y[i], activation);
}

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
