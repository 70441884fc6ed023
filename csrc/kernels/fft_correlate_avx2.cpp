// Overlap-save FFT correlation of a line, AVX2 + FMA family (this file is compiled with -mavx2 -mfma).
#define FIELDCONV_KERNEL_FAMILY avx2
#include "kernels/simd_avx2.hpp"
#include "kernels/fft_correlate_impl.hpp"
