// Thread count (one process-wide value) and fork handling.
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <omp.h>

#include "fieldconv/runtime.hpp"

#ifndef FIELDCONV_COMPILER
#define FIELDCONV_COMPILER "unknown"
#endif

namespace fieldconv {
namespace {

int default_thread_count() noexcept {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    // OMP_NUM_THREADS may be a list ("4,2"); its first entry is the outer level's count.
    char* end = nullptr;
    const long value = std::strtol(env, &end, 10);
    if (end != env && value >= 1 && value <= 4096) return static_cast<int>(value);
  }
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0) {
    const int count = CPU_COUNT(&cpus);
    if (count >= 1) return count;
  }
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online >= 1 ? static_cast<int>(online) : 1;
}

std::atomic<int> thread_count{default_thread_count()};
// Set in a child after fork(): GNU OpenMP's pool belongs to the parent and would hang, so the
// child runs every kernel on its calling thread.
std::atomic<bool> in_forked_child{false};

void mark_forked_child() noexcept { in_forked_child.store(true, std::memory_order_relaxed); }

[[maybe_unused]] const int fork_handler_registered = pthread_atfork(nullptr, nullptr, mark_forked_child);

}  // namespace

int get_num_threads() noexcept {
  if (in_forked_child.load(std::memory_order_relaxed)) return 1;
  return thread_count.load(std::memory_order_relaxed);
}

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("n must be an integer >= 1, got " + std::to_string(n));
  thread_count.store(n, std::memory_order_relaxed);
}

const char* openmp_description() noexcept {
  static const std::string description = [] {
    std::string text = "OpenMP " + std::to_string(_OPENMP);
#if defined(__clang__)
    text += " (LLVM libomp)";
#elif defined(__GNUC__)
    text += " (GNU libgomp)";
#endif
    return text;
  }();
  return description.c_str();
}

const char* compiler_description() noexcept { return FIELDCONV_COMPILER; }

}  // namespace fieldconv
