// CPU feature detection and the active kernel table. Chosen once at load time; FIELDCONV_ISA
// (generic|avx2|avx512) overrides, and set_isa() switches for tests.
#include "dispatch.hpp"

#include <omp.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "fieldconv/runtime.hpp"

namespace fieldconv {
namespace {

const KernelTable generic_table = {
    "generic",
    64,
    4,
    &generic::fma_probe,
    {&generic::conv2d_direct_blocked<float>, &generic::conv2d_depthwise<float>,
     &generic::conv2d_winograd<float>},
    {&generic::conv2d_direct_blocked<double>, &generic::conv2d_depthwise<double>,
     &generic::conv2d_winograd<double>},
    {&generic::max_pool2d<float>, &generic::avg_pool2d<float>},
    {&generic::max_pool2d<double>, &generic::avg_pool2d<double>},
    {&generic::filter2d_direct<float>, &generic::filter2d_direct<double>,
     &generic::filter2d_direct<std::uint32_t>, &generic::filter2d_direct<std::uint64_t>},
    &generic::correlate1d_lines,
};

#if FIELDCONV_HAVE_AVX2_KERNELS
const KernelTable avx2_table = {
    "avx2",
    64,
    40,
    &avx2::fma_probe,
    {&avx2::conv2d_direct_blocked<float>, &avx2::conv2d_depthwise<float>,
     &avx2::conv2d_winograd<float>},
    {&avx2::conv2d_direct_blocked<double>, &avx2::conv2d_depthwise<double>,
     &avx2::conv2d_winograd<double>},
    {&avx2::max_pool2d<float>, &avx2::avg_pool2d<float>},
    {&avx2::max_pool2d<double>, &avx2::avg_pool2d<double>},
    {&avx2::filter2d_direct<float>, &avx2::filter2d_direct<double>,
     &avx2::filter2d_direct<std::uint32_t>, &avx2::filter2d_direct<std::uint64_t>},
    &avx2::correlate1d_lines,
};

const KernelTable avx512_table = {
    "avx512",
    128,
    80,
    &avx512::fma_probe,
    {&avx512::conv2d_direct_blocked<float>, &avx512::conv2d_depthwise<float>,
     &avx512::conv2d_winograd<float>},
    {&avx512::conv2d_direct_blocked<double>, &avx512::conv2d_depthwise<double>,
     &avx512::conv2d_winograd<double>},
    // Pooling is memory-bound: the AVX2 kernels serve AVX-512 CPUs too.
    {&avx2::max_pool2d<float>, &avx2::avg_pool2d<float>},
    {&avx2::max_pool2d<double>, &avx2::avg_pool2d<double>},
    {&avx512::filter2d_direct<float>, &avx512::filter2d_direct<double>,
     &avx512::filter2d_direct<std::uint32_t>, &avx512::filter2d_direct<std::uint64_t>},
    &avx512::correlate1d_lines,
};
#endif

bool cpu_has_avx2_fma() noexcept {
#if FIELDCONV_HAVE_AVX2_KERNELS && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx512f() noexcept {
#if FIELDCONV_HAVE_AVX2_KERNELS && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

const KernelTable* table_by_name(const char* name) noexcept {
  if (std::strcmp(name, "generic") == 0) return &generic_table;
#if FIELDCONV_HAVE_AVX2_KERNELS
  if (std::strcmp(name, "avx2") == 0 && cpu_has_avx2_fma()) return &avx2_table;
  if (std::strcmp(name, "avx512") == 0 && cpu_has_avx512f()) return &avx512_table;
#endif
  return nullptr;
}

const KernelTable* best_table() noexcept {
  const char* forced = std::getenv("FIELDCONV_ISA");
  if (forced != nullptr && *forced != '\0') {
    if (const KernelTable* table = table_by_name(forced)) return table;
    // An unknown or unsupported request falls back to the portable kernels: never crash.
    return &generic_table;
  }
  if (const KernelTable* table = table_by_name("avx512")) return table;
  if (const KernelTable* table = table_by_name("avx2")) return table;
  return &generic_table;
}

std::atomic<const KernelTable*>& active_table() noexcept {
  static std::atomic<const KernelTable*> table{best_table()};
  return table;
}

}  // namespace

const KernelTable& active_kernels() noexcept { return *active_table().load(std::memory_order_acquire); }

const char* get_isa() noexcept { return active_kernels().isa_name; }

void set_isa(const char* name) {
  const KernelTable* table = table_by_name(name);
  if (table == nullptr)
    throw std::invalid_argument(std::string("isa must be one this CPU supports ('generic'") +
                                (cpu_has_avx2_fma() ? ", 'avx2'" : "") + (cpu_has_avx512f() ? ", 'avx512'" : "") +
                                "), got '" + name + "'");
  active_table().store(table, std::memory_order_release);
}

double measure_fma_peak_gflops(int threads, double seconds) {
  if (threads < 1) throw std::invalid_argument("threads must be >= 1, got " + std::to_string(threads));
  const KernelTable& table = active_kernels();
  int flops_per_iteration = 0;
  volatile float sink = 0.0f;
  // Calibrate on one thread, then time all threads at once for about `seconds`.
  std::int64_t iterations = 1 << 16;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    sink = sink + table.fma_probe(iterations, &flops_per_iteration);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed > 0.02 || iterations > (std::int64_t{1} << 40)) {
      iterations = std::int64_t(double(iterations) * seconds / elapsed) + 1;
      break;
    }
    iterations *= 4;
  }
  const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
  {
    int flops = 0;
    if (table.fma_probe(iterations, &flops) == 12345.0f) sink = 0.0f;  // never true; keeps the result used
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return double(threads) * double(iterations) * flops_per_iteration / elapsed / 1e9;
}

}  // namespace fieldconv
