// CPU feature detection and the active kernel table, all derived from kernels/kernel_list.inc.
// Chosen once at load time; FIELDCONV_ISA (an ISA of the list) overrides, and set_isa() switches
// for tests.
#include "dispatch.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fieldconv/runtime.hpp"

namespace fieldconv {
namespace {

enum class Isa {
#define FIELDCONV_ISA(isa, architecture, flags) isa,
#include "kernels/kernel_list.inc"
#undef FIELDCONV_ISA
};

constexpr const char* isa_names[] = {
#define FIELDCONV_ISA(isa, architecture, flags) #isa,
#include "kernels/kernel_list.inc"
#undef FIELDCONV_ISA
};
constexpr int isa_count = int(sizeof(isa_names) / sizeof(isa_names[0]));

// Which ISAs this build compiled: CMake defines FIELDCONV_COMPILED_<isa> as 0 or 1 for every
// ISA of the list.
constexpr bool isa_compiled[] = {
#define FIELDCONV_ISA(isa, architecture, flags) bool(FIELDCONV_COMPILED_##isa),
#include "kernels/kernel_list.inc"
#undef FIELDCONV_ISA
};

// CPU feature checks, one per ISA of the list.
bool cpu_supports_generic() noexcept { return true; }

bool cpu_supports_avx2() noexcept {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

// AVX-512VL too: the family's 256-bit code then has 32 registers (every AVX-512 CPU but the
// Xeon Phi has it).
bool cpu_supports_avx512() noexcept {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return cpu_supports_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

bool isa_available(Isa isa) noexcept {
  switch (isa) {
#define FIELDCONV_ISA(isa, architecture, flags) \
  case Isa::isa: return isa_compiled[int(Isa::isa)] && cpu_supports_##isa();
#include "kernels/kernel_list.inc"
#undef FIELDCONV_ISA
  }
  return false;
}

int isa_rank(const char* name) noexcept {
  for (int i = 0; i < isa_count; ++i)
    if (std::strcmp(isa_names[i], name) == 0) return i;
  return -1;
}

// The table of `isa`: each family's entry of the highest ISA at or below `isa` that has one.
// An entry of an ISA this build did not compile is never named (a discarded `if constexpr`
// branch needs no definition), so the x86 entries need not exist on other architectures.
KernelTable make_table(Isa isa) noexcept {
  KernelTable table{};
  table.isa_name = isa_names[int(isa)];
#define FIELDCONV_KERNEL(family, entry_isa)                                                                         \
  if constexpr (isa_compiled[int(Isa::entry_isa)]) {                                                                \
    if (Isa::entry_isa <= isa && (table.family.isa == nullptr || isa_rank(table.family.isa) < int(Isa::entry_isa))) \
      table.family = entry_isa::family##_kernels();                                                                 \
  }
#include "kernels/kernel_list.inc"
#undef FIELDCONV_KERNEL
  return table;
}

const KernelTable* table_by_name(const char* name) noexcept {
  static const struct Tables {
    KernelTable by_isa[isa_count];
    Tables() noexcept {
      for (int i = 0; i < isa_count; ++i) by_isa[i] = make_table(Isa(i));
    }
  } tables;
  const int rank = isa_rank(name);
  if (rank < 0 || !isa_available(Isa(rank))) return nullptr;
  return &tables.by_isa[rank];
}

const KernelTable* best_table() noexcept {
  const char* forced = std::getenv("FIELDCONV_ISA");
  if (forced != nullptr && *forced != '\0') {
    if (const KernelTable* table = table_by_name(forced)) return table;
    // An unknown or unsupported request falls back to the portable kernels: never crash.
    return table_by_name(isa_names[0]);
  }
  for (int i = isa_count - 1; i >= 0; --i)
    if (const KernelTable* table = table_by_name(isa_names[i])) return table;
  return table_by_name(isa_names[0]);
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
  if (table == nullptr) {
    std::string accepted;
    for (int i = 0; i < isa_count; ++i)
      if (isa_available(Isa(i))) accepted += std::string(accepted.empty() ? "'" : ", '") + isa_names[i] + "'";
    throw std::invalid_argument("isa must be one this CPU supports (" + accepted + "), got '" + name + "'");
  }
  active_table().store(table, std::memory_order_release);
}

std::vector<KernelListEntry> kernel_list() {
  std::vector<KernelListEntry> entries;
#define FIELDCONV_KERNEL(family, entry_isa) \
  entries.push_back(                        \
      {#family, #entry_isa, int(Isa::entry_isa), isa_compiled[int(Isa::entry_isa)], isa_available(Isa::entry_isa)});
#include "kernels/kernel_list.inc"
#undef FIELDCONV_KERNEL
  return entries;
}

double measure_fma_peak_gflops(int threads, double seconds) {
  if (threads < 1) throw std::invalid_argument("threads must be >= 1, got " + std::to_string(threads));
  const Conv2dDirectKernels& direct = active_kernels().conv2d_direct;
  int flops_per_iteration = 0;
  volatile float sink = 0.0f;
  // Calibrate on one thread, then time all threads at once for about `seconds`.
  std::int64_t iterations = 1 << 16;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    sink = sink + direct.fma_probe(iterations, &flops_per_iteration);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed > 0.02 || iterations > (std::int64_t{1} << 40)) {
      iterations = std::int64_t(double(iterations) * seconds / elapsed) + 1;
      break;
    }
    iterations *= 4;
  }
  // All threads at once: one probe on this thread, the others on threads started for it.
  auto probe = [&] {
    int flops = 0;
    if (direct.fma_probe(iterations, &flops) == 12345.0f) sink = 0.0f;  // never true; keeps the result used
  };
  std::vector<std::thread> others;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 1; i < threads; ++i) others.emplace_back(probe);
  probe();
  for (std::thread& other : others) other.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return double(threads) * double(iterations) * flops_per_iteration / elapsed / 1e9;
}

}  // namespace fieldconv
