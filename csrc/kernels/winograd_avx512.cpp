// Winograd F(m x m, 3 x 3) kernels, AVX-512 family (this file is compiled with -mavx512f
// -mavx512vl -mavx2 -mfma): transforms on 512-bit vectors of channels (16 float / 8 double), the
// batched GEMM by a 6 x (up to 4 panels) zmm microkernel (gemm_microkernel_wide).
#define FIELDCONV_KERNEL_FAMILY avx512
#include "kernels/simd_avx512.hpp"
#include "kernels/winograd_impl.hpp"
