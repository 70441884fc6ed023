// Element conversions shared by the filter kernels: input elements to the accumulator type and
// sums to the output type, as SciPy's C casts compile on x86-64. Included inside a kernel
// family's translation unit (internal linkage in that family's namespace).
#pragma once

#include <cstdint>
#include <type_traits>

namespace fieldconv {
namespace FIELDCONV_KERNEL_FAMILY {
namespace {

// double -> integer as a C cast compiles on x86-64 (cvttsd2si): out of range or NaN gives the
// "integer indefinite" value; narrower types are converted through int32 and truncated.
inline std::int32_t x86_to_int32(double x) {
  if (x > -2147483649.0 && x < 2147483648.0) return static_cast<std::int32_t>(x);
  return INT32_MIN;
}
inline std::int64_t x86_to_int64(double x) {
  if (x >= -9223372036854775808.0 && x < 9223372036854775808.0) return static_cast<std::int64_t>(x);
  return INT64_MIN;
}
inline std::uint64_t x86_to_uint64_positive(double x) {
  // x < 2**63 (or NaN, unordered compares as "below"): one signed conversion; else subtract 2**63
  if (!(x >= 9223372036854775808.0)) return static_cast<std::uint64_t>(x86_to_int64(x));
  return static_cast<std::uint64_t>(x86_to_int64(x - 9223372036854775808.0)) ^ (std::uint64_t{1} << 63);
}
// SciPy's ndimage (x86-64 build) stores negative values into uint64 as -(uint64)(-x).
inline std::uint64_t x86_to_uint64(double x) {
  if (x < 0) return std::uint64_t{0} - x86_to_uint64_positive(-x);
  return x86_to_uint64_positive(x);
}

// Plain C cast double -> uint64 as gcc compiles it on x86-64 (scipy.ndimage's line-buffer
// filters: correlate1d, uniform_filter1d): values below 2**63, negative ones included, go
// through the signed conversion.
inline std::uint64_t x86_cast_to_uint64(double x) { return x86_to_uint64_positive(x); }

// Sum -> output element. SciPy's NI_Correlate stores negative values into unsigned outputs as
// -(type)(-x) (x86_to_uint64 above); Plain: its line-buffer filters' plain (type)x cast.
template <class Out, class A, bool Plain = false>
inline Out store_value(A value) {
  if constexpr (std::is_floating_point_v<Out>) {
    return static_cast<Out>(value);
  } else if constexpr (std::is_floating_point_v<A>) {
    const double x = static_cast<double>(value);
    if constexpr (sizeof(Out) < 4) return static_cast<Out>(static_cast<std::uint32_t>(x86_to_int32(x)));
    else if constexpr (std::is_same_v<Out, std::int32_t>) return x86_to_int32(x);
    else if constexpr (std::is_same_v<Out, std::uint32_t>) return static_cast<std::uint32_t>(x86_to_int64(x));
    else if constexpr (std::is_same_v<Out, std::int64_t>) return x86_to_int64(x);
    else if constexpr (Plain) return x86_cast_to_uint64(x);
    else return x86_to_uint64(x);
  } else {
    return static_cast<Out>(value);  // wrapping: truncate modulo 2**bits
  }
}

template <class A, class In>
inline A load_value(In value) {
  if constexpr (std::is_same_v<In, bool>) return static_cast<A>(value ? 1 : 0);
  else return static_cast<A>(value);  // unsigned A: two's complement wrap (well defined)
}

}  // namespace
}  // namespace FIELDCONV_KERNEL_FAMILY
}  // namespace fieldconv
