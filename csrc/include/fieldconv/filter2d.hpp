// 2-D linear filtering of stacks of planes with SciPy's border rules: the core of
// fieldconv.correlate2d / convolve2d (scipy.signal) and fieldconv.ndimage.correlate / convolve.
//
//   out[p, i, j] = store( sum_t weight[t] * load(ext[p, i + row_offset + tap_row[t],
//                                                   j + col_offset + tap_col[t]]) )
//
// where ext extends each input plane beyond its edges by `border`, `load` converts an input
// element to the accumulator type and `store` converts the sum to the output type. Taps are
// summed in the accumulator type; a padded position is a real multiplication by the fill value
// (so 0 * Inf gives NaN there). Taps a caller wants ignored are simply not listed (ndimage drops
// weights with |w| <= DBL_EPSILON this way).
#pragma once

#include <cstdint>

namespace fieldconv {

// How positions outside a plane are read (per axis; n = that axis' length, x any integer):
enum class FilterBorder : int {
  constant = 0,  // the fill value                                     kkkk|abcd|kkkk
  nearest = 1,   // clamp to [0, n)                                     aaaa|abcd|dddd
  reflect = 2,   // reflect about the edge, edge repeated (period 2n)   dcba|abcd|dcba  (signal "symm")
  mirror = 3,    // reflect about the edge sample (period 2n - 2)       dcb|abcd|cba
  wrap = 4,      // periodic (period n)                                 abcd|abcd|abcd
};

enum class FilterScalar : int {
  boolean = 0,
  int8,
  uint8,
  int16,
  uint16,
  int32,
  uint32,
  int64,
  uint64,
  float32,
  float64,
};

// The type sums are formed in. float32 / float64: IEEE sums (FMA where the CPU has it);
// storing a float64 sum into an integer output converts as a C cast does on x86-64 (SciPy's
// ndimage: out-of-range values and NaN give the "integer indefinite" pattern, truncated to the
// output width). wrapping_uint32 / wrapping_uint64: integer sums modulo 2**32 / 2**64, stored
// truncated to the output width (SciPy's signal: integer sums wrap in the output type); these
// need integer input and output types.
enum class FilterAccumulator : int { float32 = 0, float64 = 1, wrapping_uint32 = 2, wrapping_uint64 = 3 };

struct Filter2dParams {
  std::int64_t planes = 1;                    // independent planes, stored one after another
  std::int64_t in_height = 0, in_width = 0;   // C-contiguous (planes, in_height, in_width)
  std::int64_t out_height = 0, out_width = 0; // C-contiguous (planes, out_height, out_width)
  std::int64_t row_offset = 0, col_offset = 0;
  FilterBorder border = FilterBorder::constant;
};

// Non-zero taps of a kernel. rows/cols >= 0; weights and fill hold values of the accumulator type.
struct Filter2dTaps {
  std::int64_t count = 0;
  const std::int64_t* rows = nullptr;
  const std::int64_t* cols = nullptr;
  const void* weights = nullptr;
};

// Checks every argument (throwing std::invalid_argument with the reason; an empty plane with a
// border other than constant is refused) and runs the active kernel family on
// get_num_threads() threads. Throws std::bad_alloc if a workspace of a legal size cannot be
// allocated. Inputs are only read; input and output must not overlap (std::invalid_argument:
// no in-place computation). Uses at most get_num_threads() threads (fewer for small calls).
void filter2d(const Filter2dParams& params, FilterScalar input_type, const void* input, FilterScalar output_type,
              void* output, FilterAccumulator accumulator, const Filter2dTaps& taps, const void* fill);

// N-D filtering with the same rules (fieldconv.ndimage.correlate with weights of three or more
// axes): input and output are C-contiguous arrays of the same `shape` (ndim axes, 1..32), and
//
//   out[i] = store( sum_t weight[t] * load(ext[i + offset + coord[t]]) )
//
// with i, offset and coord[t] vectors of ndim coordinates and ext the input extended beyond its
// edges by `border` along every axis. Taps are summed in the order listed (list them in C order
// of the weights for SciPy's sums); coords holds count x ndim non-negative coordinates, row-major.
// The last two axes are filtered as planes by the 2-D kernels; the leading ones choose the
// planes each tap reads, so a 3-D kernel costs its taps and one conversion of each input plane
// per kernel plane. Same checks, threads and no-overlap rule as filter2d.
constexpr int max_filter_ndim = 32;

struct FilterNdTaps {
  std::int64_t count = 0;
  const std::int64_t* coords = nullptr;
  const void* weights = nullptr;
};

void filter_nd(int ndim, const std::int64_t* shape, const std::int64_t* offsets, FilterBorder border,
               FilterScalar input_type, const void* input, FilterScalar output_type, void* output,
               FilterAccumulator accumulator, const FilterNdTaps& taps, const void* fill);

// Index of extended coordinate x along an axis of length n under border (n >= 1), or -1 for
// constant outside [0, n).
std::int64_t filter_border_index(FilterBorder border, std::int64_t x, std::int64_t n) noexcept;

}  // namespace fieldconv
