// Winograd F(m x m, 3 x 3) kernels, AVX2 + FMA family (this file is compiled with -mavx2 -mfma).
#define FIELDCONV_KERNEL_FAMILY avx2
#include "kernels/simd_avx2.hpp"
#include "kernels/winograd_impl.hpp"
