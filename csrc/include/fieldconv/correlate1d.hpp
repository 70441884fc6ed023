// 1-D filters along one axis of an N-D array with scipy.ndimage's border rules and sums: the
// core of fieldconv.ndimage.correlate1d / convolve1d / uniform_filter1d and of the separable
// filters built on them (gaussian_filter, uniform_filter, sobel, prewitt, laplace, ...).
//
// The array is seen as C-contiguous (outer, length, inner): the filtered axis has `length`
// elements, `inner` is the product of the axes after it, `outer` of those before it. Each line
// (outer o, inner j) is extended by `border` (FilterBorder of filter2d.hpp; cval for constant)
// and filtered into the output, of the same shape:
//
//   weights (k = size taps, s1 = k / 2, s2 = k - s1 - 1, position of tap t: i + t - s1 - origin)
//     out[i] = x[i - origin] * w[s1] + sum_{t < s1} (x[t'] + x[t'']) * w[t]   (odd k, symmetric)
//     out[i] = x[i - origin] * w[s1] + sum_{t < s1} (x[t'] - x[t'']) * w[t]   (odd k, antisymmetric)
//     out[i] = x[.. t = k-1] * w[k-1] + sum_{t < k-1} x[..t] * w[t]          (otherwise)
//     with t' the position of tap t and t'' that of tap k - 1 - t, terms added in increasing t;
//     symmetric / antisymmetric: |w[s1 + d] -/+ w[s1 - d]| <= DBL_EPSILON for every d (odd k);
//   uniform (k = size): a running sum of k extended elements divided by k after every step.
//
// Sums are float64 without fused multiply-adds, in exactly SciPy's order, so every output
// (float64 and integer outputs alike) equals SciPy's bit for bit, except with float32 input and
// float32 output (weights kind, weights within float32's normal range): there sums are float32
// with fused multiply-adds (the same pairing of taps), within about taps * 2**-24 *
// sum(|w| * |x|) of SciPy's float64 sums per pass; outputs are converted as
// SciPy's line buffers convert on x86-64 (a plain C cast). Input and output may be the same
// array (same type and memory); otherwise they must not overlap.
#pragma once

#include <cstdint>

#include "fieldconv/filter2d.hpp"

namespace fieldconv {

enum class Line1dKind : int { weights = 0, uniform = 1 };

struct Correlate1dParams {
  std::int64_t outer = 1, length = 0, inner = 1;  // C-contiguous (outer, length, inner)
  std::int64_t size = 1;                          // taps (weights) or window (uniform), >= 1
  std::int64_t origin = 0;                        // -(size / 2) <= origin <= (size - 1) / 2
  FilterBorder border = FilterBorder::reflect;
  double cval = 0.0;
  Line1dKind kind = Line1dKind::weights;
};

// Checks every argument (std::invalid_argument with the reason), then runs the active kernel
// family on get_num_threads() threads. weights: `size` doubles (ignored for uniform). Throws
// std::bad_alloc if a workspace of a legal size cannot be allocated.
void correlate1d(const Correlate1dParams& params, FilterScalar input_type, const void* input, FilterScalar output_type,
                 void* output, const double* weights);

// correlate1d(first) into output, then correlate1d(last) along the last axis of output in place
// (last's outer / length / inner are taken from first's shape), with the output type's
// conversion in between, as two calls would do; in one sweep over memory where the rows fit
// (each first-pass output row is filtered along the last axis while it is in cache). Results
// equal the two calls' bit for bit.
void correlate1d_then_last(const Correlate1dParams& first, const double* first_weights, const Correlate1dParams& last,
                           const double* last_weights, FilterScalar input_type, const void* input,
                           FilterScalar output_type, void* output);

// The same for three passes: first along the middle axis of (outer, length, inner), then, with
// each row of inner elements seen as a plane of plane_rows x (inner / plane_rows), middle along
// the plane's rows and last along its columns (the array's last axis), converting to the output
// type after each pass; in one sweep where whole planes fit, else three.
void correlate1d_then_last_two(const Correlate1dParams& first, const double* first_weights,
                               const Correlate1dParams& middle, const double* middle_weights,
                               const Correlate1dParams& last, const double* last_weights, std::int64_t plane_rows,
                               FilterScalar input_type, const void* input, FilterScalar output_type, void* output);

}  // namespace fieldconv
