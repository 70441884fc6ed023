// Process-wide runtime settings: thread count and the SIMD kernel family.
#pragma once

namespace fieldconv {

// The largest thread count set_num_threads accepts (OMP_NUM_THREADS above it is clamped to it).
constexpr int max_num_threads = 1024;

// The process-wide thread budget: all calls running at once, from any threads, together use at
// most this many threads (callers included); each call takes only the threads its work is
// worth, and a caller that finds the budget spent runs alone. Default: OMP_NUM_THREADS if set,
// else the CPUs this process may use (affinity mask and cgroup CPU quota). A child created by
// fork() keeps the count; its helper threads start anew.
int get_num_threads() noexcept;
// Throws std::invalid_argument unless 1 <= n <= max_num_threads.
void set_num_threads(int n);
// Where the current count came from: "OMP_NUM_THREADS", "CPU affinity", "cgroup CPU quota",
// "set_num_threads", "fieldconv.threads" or "threadpoolctl".
const char* num_threads_source() noexcept;

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
