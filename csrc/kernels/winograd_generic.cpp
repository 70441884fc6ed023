// Winograd F(m x m, 3 x 3) kernels, portable family (the reference the AVX2 family is tested against).
#define FIELDCONV_KERNEL_FAMILY generic
#include "kernels/simd_generic.hpp"
#include "kernels/winograd_impl.hpp"
