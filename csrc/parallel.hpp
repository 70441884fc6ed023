// How many threads a call is worth, and a parallel loop that is a good neighbour.
//
// Why this is more than `#pragma omp parallel for`: on a shared machine the helper threads may
// not get a core when a call starts (another process, or another library's spinning pool, has
// it), and every OpenMP region ends in a barrier that waits for each of them. Measured on a
// 2-core machine with one core busy, plain regions made a ResNet layer 2x slower at 2 threads
// than at 1; beside torch's, OpenCV's and OpenBLAS's pools, a ResNet layer at 2 threads took
// 1.1-1.5x its 1-thread time even with the rules below. So parallel_for posts its work to OpenMP
// helper threads that stay inside regions of their own (thread_pool.hpp: the caller never waits
// for a helper that has not joined), and:
//   * a call asks only for the threads its work is worth (threads_for_work), so small calls
//     never wake a helper;
//   * helpers come from one process-wide budget shared by all concurrent calls (callers count
//     too): N Python threads calling at once add no helpers beyond the configured count;
//   * items are claimed from a shared counter, so the caller starts at once and a helper that
//     joins late only takes what is left;
//   * the caller waits for helpers still inside an item by sleeping (a helper may be queued on
//     its core), never by spinning, and helpers ask the scheduler for short time slices, so that
//     a woken helper gets a busy core at once;
//   * each region measures what its helpers saved (the CPU time of its items against its wall
//     time); per size class of work, where recent helpers did not pay, that class's calls run
//     on the caller alone for a while (10 ms and 64 calls, growing 4x per losing trial up to
//     a second and 4096 calls),
//     then try helpers again (runtime.cpp; docs/threads.md).
// No exception may leave a body: allocate before parallel_for, keep bodies noexcept.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "fieldconv/runtime.hpp"
#include "thread_pool.hpp"

namespace fieldconv {

// Estimated single-thread work, in nanoseconds, that one more thread must get before it is
// worth waking. A woken helper needs 5 us to half a millisecond to start on these virtual
// machines, and a late one can hold a call up for a scheduler tick: a call under ~100 us gains
// at most tens of microseconds from a helper and risks milliseconds, so it runs alone.
constexpr double min_work_ns_per_thread = 50'000;

// Threads a call of `work_ns` estimated single-thread nanoseconds is worth: between 1 and
// get_num_threads().
int threads_for_work(double work_ns) noexcept;

namespace team {

// The process-wide budget: every thread inside a parallel_for, callers included, is counted.
// enter() counts the caller; take_helpers() grants up to `wanted` helpers (0 when the budget is
// spent); leave() returns both. (Caller-alone windows act earlier, in threads_for_work.)
void enter() noexcept;
int take_helpers(int wanted) noexcept;
void leave(int helpers) noexcept;

// What a region measured, for the caller-alone decision: wall time from before the region
// opened to after its closing barrier, and the CPU time all threads spent running items (what
// the caller alone would have needed; preempted time is not CPU time).
struct RegionTiming {
  std::int64_t start_ns;
  std::int64_t end_ns;
  std::int64_t item_cpu_ns;
};
void report(const RegionTiming& timing) noexcept;

std::int64_t now_ns() noexcept;
// CPU time of the calling thread.
std::int64_t thread_cpu_ns() noexcept;
// Once per helper thread: asks the scheduler for short time slices (Linux >= 6.12, EEVDF
// custom slices), so that a helper woken on a core another task is running gets the core at
// once instead of after that task's slice. Its share of CPU time is unchanged.
void ask_for_short_slices() noexcept;
// What the budget has seen (for tests and show_config): the most threads inside parallel_for at
// once (callers and helpers), the most helpers at once, teams opened, caller-alone windows opened.
// reset also forgets every caller-alone window, so a test can count on threads_for_work.
struct Statistics {
  int peak_active_threads;
  int peak_helpers;
  std::int64_t teams;
  std::int64_t caller_alone_windows;
};
Statistics statistics(bool reset) noexcept;

}  // namespace team

namespace detail {

// One parallel_for call's shared state: the next unclaimed item and the CPU time spent on items.
template <class Body>
struct ItemsOfCall {
  Body* body;
  std::int64_t item_count;
  alignas(64) std::atomic<std::int64_t> next_item{0};
  alignas(64) std::atomic<std::int64_t> item_cpu_ns{0};

  static void run(void* context, int thread) noexcept {
    auto& self = *static_cast<ItemsOfCall*>(context);
    const std::int64_t cpu_start = team::thread_cpu_ns();
    for (std::int64_t item = self.next_item.fetch_add(1, std::memory_order_relaxed); item < self.item_count;
         item = self.next_item.fetch_add(1, std::memory_order_relaxed))
      (*self.body)(item, thread);
    self.item_cpu_ns.fetch_add(team::thread_cpu_ns() - cpu_start, std::memory_order_relaxed);
  }
};

}  // namespace detail

// Runs body(item, thread) for item in [0, item_count) on up to `threads` threads (the caller
// plus helpers from the budget; thread < threads, for per-thread workspaces). Each item's
// result never depends on which thread ran it, so results are identical for any thread count.
template <class Body>
void parallel_for(std::int64_t item_count, int threads, Body&& body) noexcept {
  if (item_count <= 0) return;
  team::enter();
  int helpers = 0;
  if (threads > 1 && item_count > 1) {
    const std::int64_t wanted = (threads < item_count ? threads : item_count) - 1;
    helpers = team::take_helpers(static_cast<int>(wanted));
  }
  if (helpers == 0) {
    for (std::int64_t item = 0; item < item_count; ++item) body(item, 0);
    team::leave(0);
    return;
  }
  using Body_ = std::remove_reference_t<Body>;
  detail::ItemsOfCall<Body_> items{&body, item_count};
  team::RegionTiming timing{team::now_ns(), 0, 0};
  pool::run_team(&detail::ItemsOfCall<Body_>::run, &items, helpers);
  // After every helper that joined has left: a helper held up inside an item counts too.
  timing.end_ns = team::now_ns();
  timing.item_cpu_ns = items.item_cpu_ns.load(std::memory_order_relaxed);
  team::leave(helpers);
  team::report(timing);
}

}  // namespace fieldconv
