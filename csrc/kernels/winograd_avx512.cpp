// Winograd F(m x m, 3 x 3) kernels, AVX-512 family (this file is compiled with -mavx512f -mavx2
// -mfma): the batched GEMM on 512-bit vectors (gemm_microkernel_wide), the transforms as the
// AVX2 family's.
#define FIELDCONV_KERNEL_FAMILY avx512
#define FIELDCONV_WINOGRAD_AVX2_OPS 1
#define FIELDCONV_WINOGRAD_AVX512_GEMM 1
#include "kernels/simd_avx2.hpp"
#include "kernels/winograd_impl.hpp"
