// Correlation of a long real line with a short real filter by overlap-save FFTs: the FFT path of
// fieldconv.convolve / fieldconv.correlate (numpy.convolve / numpy.correlate).
//
//   output[i] = sum_{j < tap_count} input[i + j - left] * taps[j],   0 <= i < output_length,
//
// with input zero outside [0, input_length). Blocks of the line are transformed with complex
// FFTs of 2^log2_size points, many at once (one block pair per SIMD lane), on
// get_num_threads() threads. The results differ from the direct sums by the FFT's rounding:
// about log2_size * 2**-52 (float64) or 2**-23 (float32) times the largest |input| * sum |taps|
// of a block. A NaN or Inf in the input spreads over its whole block (and a sum may overflow
// where direct sums would not), so the function returns false when any output is not finite:
// the caller then computes directly.
#pragma once

#include <cstdint>

namespace fieldconv {

// The FFT length the entry point picks for `tap_count` taps (log2_size 0: too many taps for this
// path) and the estimated time per output on one thread of the active kernel family (for cost
// models choosing between this path, direct sums and other FFTs).
struct FftCorrelatePlan {
  int log2_size;
  double ns_per_output;
};
FftCorrelatePlan fft_correlate_plan(std::int64_t tap_count, bool float32) noexcept;

// Checks every argument (std::invalid_argument with the reason): lengths >= 0 and at most 2^48,
// tap_count >= 1, |left| <= 2^48, output not overlapping input or taps, log2_size 0 (pick) or at
// most 20 and leaving room for a block of outputs (2^log2_size - tap_count + 1 >= the vector's
// lanes). Throws std::bad_alloc if the workspace cannot be allocated.
template <class T>
bool correlate_line_fft(const T* input, std::int64_t input_length, const T* taps, std::int64_t tap_count, T* output,
                        std::int64_t output_length, std::int64_t left, int log2_size = 0);

extern template bool correlate_line_fft<float>(const float*, std::int64_t, const float*, std::int64_t, float*,
                                               std::int64_t, std::int64_t, int);
extern template bool correlate_line_fft<double>(const double*, std::int64_t, const double*, std::int64_t, double*,
                                                std::int64_t, std::int64_t, int);

}  // namespace fieldconv
