// Pooling kernels, AVX2 family (this file is compiled with -mavx2 -mfma).
#define FIELDCONV_KERNEL_FAMILY avx2
#include "kernels/simd_avx2.hpp"
#include "kernels/pool2d_impl.hpp"
