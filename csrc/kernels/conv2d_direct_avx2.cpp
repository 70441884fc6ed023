// Direct convolution kernels, AVX2 + FMA family (this file is compiled with -mavx2 -mfma).
#define FIELDCONV_KERNEL_FAMILY avx2
#include "kernels/simd_avx2.hpp"
#include "kernels/fma_probe_impl.hpp"
#include "kernels/conv2d_direct_impl.hpp"
