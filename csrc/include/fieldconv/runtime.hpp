// Process-wide runtime settings: thread count and the SIMD kernel family.
#pragma once

namespace fieldconv {

// Threads every kernel uses, whichever thread calls it. Default: OMP_NUM_THREADS if set,
// else the CPUs available to the process. In a child created by fork() the kernels run
// single-threaded (GNU OpenMP's thread pool does not survive fork).
int get_num_threads() noexcept;
// Throws std::invalid_argument unless n >= 1.
void set_num_threads(int n);

// Kernel family in use: "avx512", "avx2" or "generic". FIELDCONV_ISA=generic (or avx2) in the
// environment forces that family; the default is the best the CPU supports.
const char* get_isa() noexcept;
// Selects a kernel family by name ("avx512", "avx2", "generic"). Throws std::invalid_argument for an
// unknown name or one the CPU cannot run. Meant for tests and benchmarks.
void set_isa(const char* name);

// Name and version of the OpenMP runtime and compiler this library was built with.
const char* openmp_description() noexcept;
const char* compiler_description() noexcept;

}  // namespace fieldconv
