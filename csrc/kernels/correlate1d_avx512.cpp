// 1-D filters along an axis, AVX-512 family
// (this file is compiled with -mavx512f -mavx512vl -mavx2 -mfma).
#define FIELDCONV_KERNEL_FAMILY avx512
#include "kernels/simd_avx512.hpp"
#include "kernels/correlate1d_impl.hpp"
