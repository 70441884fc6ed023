// Direct convolution kernels, portable family (baseline flags of the target).
#define FIELDCONV_KERNEL_FAMILY generic
#include "kernels/simd_generic.hpp"
#include "kernels/fma_probe_impl.hpp"
#include "kernels/conv2d_direct_impl.hpp"
