// OpenMP helpers. Every parallel region passes the one process-wide thread count in its
// num_threads clause (omp_set_num_threads would only affect the calling thread, so calls from
// other Python threads or dask workers would miss it). No exception may leave a region:
// allocate before entering, and keep region bodies noexcept.
#pragma once

#include <cstdint>

#include <omp.h>

#include "fieldconv/runtime.hpp"

namespace fieldconv {

// Runs body(item) for item in [0, item_count) on up to get_num_threads() threads. Items are
// handed out dynamically (the machine is shared and noisy) but each item's result never depends
// on which thread ran it, so results are identical for any thread count. body receives the
// thread's index as well, for per-thread workspaces; threads <= max_threads.
template <class Body>
void parallel_for(std::int64_t item_count, int threads, Body&& body) noexcept {
  if (item_count <= 0) return;
  if (threads <= 1 || item_count == 1) {
    for (std::int64_t item = 0; item < item_count; ++item) body(item, 0);
    return;
  }
  if (threads > item_count) threads = static_cast<int>(item_count);
#pragma omp parallel num_threads(threads)
  {
    const int thread = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t item = 0; item < item_count; ++item) body(item, thread);
  }
}

}  // namespace fieldconv
