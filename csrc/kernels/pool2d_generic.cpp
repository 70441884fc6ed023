// Pooling kernels, portable family (baseline flags of the target).
#define FIELDCONV_KERNEL_FAMILY generic
#include "kernels/simd_generic.hpp"
#include "kernels/pool2d_impl.hpp"
