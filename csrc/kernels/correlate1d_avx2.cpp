// 1-D filters along an axis, AVX2 + FMA family (this file is compiled with -mavx2 -mfma).
#define FIELDCONV_KERNEL_FAMILY avx2
#include "kernels/simd_avx2.hpp"
#include "kernels/correlate1d_impl.hpp"
