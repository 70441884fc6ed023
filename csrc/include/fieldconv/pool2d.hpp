// 2-D max and average pooling (as PyTorch's max_pool2d / avg_pool2d), NCHW, float and double.
#pragma once

#include <cstdint>

#include "fieldconv/shapes.hpp"

namespace fieldconv {

// output = max_pool2d(input). input: (batch, channels, in_height, in_width), output:
// (batch, channels, out_height, out_width), both C-contiguous (pool2d_shape gives the sizes).
// Padding is -inf. NaN wins over any number. indices, if not null, receives for every output
// the flat index (row * in_width + col) of the chosen element within its input plane, exactly
// as PyTorch: the first maximum in row-major order, the last NaN when there is one, and for a
// window holding no input element (possible with dilation) the index PyTorch reports there.
// Checks params (throwing std::invalid_argument). input, output and indices must not overlap
// (std::invalid_argument: no in-place computation). Uses at most get_num_threads() threads
// (fewer for small calls; see runtime.hpp).
template <class T>
void max_pool2d(const Pool2dParams& params, const T* input, T* output, std::int64_t* indices = nullptr);

// output = avg_pool2d(input), same layout. Padding counts as zeros in the sum; the divisor is
// divisor_override when it is not 0, else the window's size clipped to the padded input
// (count_include_pad) or to the input (not count_include_pad), as PyTorch. Dilation must be 1.
template <class T>
void avg_pool2d(const Pool2dParams& params, const T* input, T* output, bool count_include_pad = true,
                std::int64_t divisor_override = 0);

}  // namespace fieldconv
