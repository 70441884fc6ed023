// Overlap-save FFT correlation of a line, portable family (baseline flags).
#define FIELDCONV_KERNEL_FAMILY generic
#include "kernels/simd_generic.hpp"
#include "kernels/fft_correlate_impl.hpp"
