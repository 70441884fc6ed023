// Direct 2-D filter kernels, AVX-512F family
// (this file is compiled with -mavx512f -mavx512vl -mavx2 -mfma).
#define FIELDCONV_KERNEL_FAMILY avx512
#include "kernels/simd_avx512.hpp"
#include "kernels/filter2d_impl.hpp"
