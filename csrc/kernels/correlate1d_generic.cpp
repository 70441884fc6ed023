// 1-D filters along an axis, portable family (baseline flags).
#define FIELDCONV_KERNEL_FAMILY generic
#include "kernels/simd_generic.hpp"
#include "kernels/correlate1d_impl.hpp"
