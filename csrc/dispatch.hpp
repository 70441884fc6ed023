// Kernel table: one entry per kernel family, chosen once from the ISA the CPU supports (or
// FIELDCONV_ISA). The families, ISAs and fallbacks come from kernels/kernel_list.inc.
#pragma once

#include <string>
#include <vector>

#include "kernels/kernels.hpp"

namespace fieldconv {

struct KernelTable {
  const char* isa_name;  // the ISA asked for; a family's own `isa` says which entry runs
  Conv2dDirectKernels conv2d_direct;
  WinogradKernels winograd;
  Pool2dKernels pool2d;
  Filter2dKernels filter2d;
  Correlate1dKernels correlate1d;
  FftCorrelateKernels fft_correlate;
};

const KernelTable& active_kernels() noexcept;

// One line of kernel_list.inc as this build and CPU see it.
struct KernelListEntry {
  std::string family, isa;
  int isa_rank;        // position of the ISA in the list: entries of higher ranks are preferred
  bool compiled;       // built into this library (x86 ISAs only on x86)
  bool cpu_supported;  // this CPU can run it
};
std::vector<KernelListEntry> kernel_list();

// Float32 FMA throughput of the active family on `threads` threads running at once, in
// GFLOP/s, measured over about `seconds` (the benchmark's "% of peak" denominator).
double measure_fma_peak_gflops(int threads, double seconds);

}  // namespace fieldconv
