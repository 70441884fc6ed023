// Kernel table: one entry per operation and dtype, chosen once from the ISA the CPU supports
// (or FIELDCONV_ISA). Entries are the kernel families' functions (kernels/kernels.hpp).
#pragma once

#include "kernels/kernels.hpp"

namespace fieldconv {

template <class T>
struct Conv2dKernels {
  KernelStatus (*direct_blocked)(const Conv2dJob<T>&) noexcept;
  KernelStatus (*depthwise)(const Conv2dJob<T>&) noexcept;
  KernelStatus (*winograd)(const WinogradJob<T>&) noexcept;
};

template <class T>
struct Pool2dKernels {
  KernelStatus (*max)(const Pool2dJob<T>&) noexcept;
  KernelStatus (*avg)(const Pool2dJob<T>&) noexcept;
};

struct Filter2dKernels {
  KernelStatus (*f32)(const Filter2dJob<float>&) noexcept;
  KernelStatus (*f64)(const Filter2dJob<double>&) noexcept;
  KernelStatus (*u32)(const Filter2dJob<std::uint32_t>&) noexcept;
  KernelStatus (*u64)(const Filter2dJob<std::uint64_t>&) noexcept;
};

struct KernelTable {
  const char* isa_name;
  std::int64_t conv2d_block_bytes;  // preferred bytes of out-channels per packed weight block
  // Float32 multiply-adds per nanosecond one thread of this family's direct conv sustains on
  // mid-sized layers (a conservative round figure): turns operation counts into the work
  // estimates that decide how many threads a call is worth (threads_for_work).
  double macs_per_ns;
  float (*fma_probe)(std::int64_t iterations, int* flops_per_iteration) noexcept;
  Conv2dKernels<float> conv2d_f32;
  Conv2dKernels<double> conv2d_f64;

  template <class T>
  const Conv2dKernels<T>& conv2d() const noexcept {
    if constexpr (sizeof(T) == sizeof(float)) return conv2d_f32;
    else return conv2d_f64;
  }

  Pool2dKernels<float> pool2d_f32;
  Pool2dKernels<double> pool2d_f64;

  template <class T>
  const Pool2dKernels<T>& pool2d() const noexcept {
    if constexpr (sizeof(T) == sizeof(float)) return pool2d_f32;
    else return pool2d_f64;
  }

  Filter2dKernels filter2d;
  KernelStatus (*correlate1d)(const Correlate1dJob&) noexcept;
};

const KernelTable& active_kernels() noexcept;

// Float32 FMA throughput of the active family on `threads` threads running at once, in
// GFLOP/s, measured over about `seconds` (the benchmark's "% of peak" denominator).
double measure_fma_peak_gflops(int threads, double seconds);

}  // namespace fieldconv
