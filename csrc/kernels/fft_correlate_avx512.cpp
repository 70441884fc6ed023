// Overlap-save FFT correlation of a line, AVX-512 family
// (this file is compiled with -mavx512f -mavx512vl -mavx2 -mfma).
#define FIELDCONV_KERNEL_FAMILY avx512
#include "kernels/simd_avx512.hpp"
#include "kernels/fft_correlate_impl.hpp"
