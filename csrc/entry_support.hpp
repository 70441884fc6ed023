// What every public entry point does before handing a job to the kernels: refuse overlapping
// buffers, and estimate the call's work so that threads_for_work (parallel.hpp) can decide how
// many threads it is worth.
#pragma once

#include <cstdint>
#include <functional>

#include "dispatch.hpp"
#include "fieldconv/epilogue.hpp"
#include "fieldconv/filter2d.hpp"
#include "fieldconv/shapes.hpp"
#include "parallel.hpp"

namespace fieldconv {

// Throws std::invalid_argument when the byte ranges [a, a + a_bytes) and [b, b + b_bytes)
// overlap. The kernels write each output while later outputs still read the inputs (and
// Winograd's direct fallback reads the input again after writing), so no entry point computes
// in place.
inline void check_disjoint(const void* a, std::int64_t a_bytes, const char* a_name, const void* b, std::int64_t b_bytes,
                           const char* b_name) {
  if (a == nullptr || b == nullptr || a_bytes <= 0 || b_bytes <= 0) return;
  const std::less<const char*> before;
  const char* a_begin = static_cast<const char*>(a);
  const char* b_begin = static_cast<const char*>(b);
  if (before(a_begin, b_begin + b_bytes) && before(b_begin, a_begin + a_bytes))
    throw_invalid(a_name, " and ", b_name,
                  " must not overlap (no entry point computes in place; "
                  "write into a separate buffer)");
}

// std::invalid_argument, naming the argument, unless activation is a known code.
inline void check_activation(Activation activation, const char* name) {
  const int code = static_cast<int>(activation);
  if (code < 0 || code > 2) throw_invalid(name, " must be none (0), relu (1) or relu6 (2), got ", code);
}

// A conv epilogue's activation code is known and its residual (output_bytes long, like the
// output) does not overlap the output (std::invalid_argument otherwise).
template <class T>
void check_epilogue(const ConvEpilogue<T>& epilogue, const void* output, std::int64_t output_bytes) {
  check_activation(epilogue.activation, "epilogue.activation");
  check_disjoint(output, output_bytes, "output", epilogue.residual, output_bytes, "residual");
}

// Bytes of one element of a filter scalar type (FilterScalar, fieldconv/filter2d.hpp).
inline std::int64_t scalar_bytes(FilterScalar type) {
  static constexpr std::int64_t bytes[] = {1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8};
  return bytes[static_cast<int>(type)];
}

// Estimated single-thread nanoseconds of a convolution with `macs` multiply-adds of `T`
// (float64 runs at half the float32 rate; `efficiency` < 1 for kernels slower than the blocked
// direct one, > 1 for Winograd, which needs fewer multiplications than `macs` counts).
template <class T>
double conv_work_ns(double macs, double efficiency) {
  const double rate = active_kernels().conv2d_direct.macs_per_ns * efficiency * (sizeof(T) == 8 ? 0.5 : 1.0);
  return macs / rate;
}

inline double conv2d_macs(const Conv2dShape& shape, const Conv2dParams& params) {
  return double(shape.output_elements) * double(shape.in_channels_per_group) * double(params.kernel_height) *
         double(params.kernel_width);
}

// Pooling is memory-bound: ~0.25 ns per input element read plus the window's work per output
// (measured on the AVX2 kernels, a round figure).
inline double pool2d_work_ns(const Pool2dShape& shape, const Pool2dParams& params) {
  return 0.25 * double(shape.input_elements) +
         0.03 * double(shape.output_elements) * double(params.kernel_height) * double(params.kernel_width);
}

}  // namespace fieldconv
