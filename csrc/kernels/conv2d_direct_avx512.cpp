// Direct convolution kernels, AVX-512 family
// (this file is compiled with -mavx512f -mavx512vl -mavx2 -mfma).
#define FIELDCONV_KERNEL_FAMILY avx512
#include "kernels/simd_avx512.hpp"
#include "kernels/fma_probe_impl.hpp"
#include "kernels/conv2d_direct_impl.hpp"
