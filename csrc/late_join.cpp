// Pool behind late_join_for (late_join.hpp): workers sleep on a condition variable; a job is
// (generation, body, context, item_count) and items are claimed through one atomic ticket that
// holds the generation in its high bits, so a worker waking after its job ended claims nothing.
#include "late_join.hpp"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace fieldconv {
namespace {

constexpr int index_bits = 32;  // items per job < 2**32; the generation takes the other 32 bits (no wrap in practice)
constexpr std::uint64_t index_mask = (std::uint64_t{1} << index_bits) - 1;

struct Pool {
  std::mutex mutex;  // guards the job fields, generation and workers
  std::condition_variable wake;
  std::mutex busy;   // one job at a time; a concurrent caller runs its items itself
  std::uint64_t generation = 0;
  LateJoinBody body = nullptr;
  void* context = nullptr;
  std::int64_t count = 0;
  int threads = 1;
  std::atomic<std::uint64_t> ticket{0};
  std::atomic<std::int64_t> done{0};
  std::vector<std::thread> workers;
  pid_t owner = getpid();
};

// Never destroyed: worker threads may still sleep in it at process exit.
Pool& pool() {
  static Pool* instance = new Pool;
  return *instance;
}

std::int64_t claim(Pool& p, std::uint64_t tag, std::int64_t count) noexcept {
  std::uint64_t ticket = p.ticket.load(std::memory_order_relaxed);
  for (;;) {
    if ((ticket >> index_bits) != tag) return -1;
    const std::int64_t index = static_cast<std::int64_t>(ticket & index_mask);
    if (index >= count) return -1;
    if (p.ticket.compare_exchange_weak(ticket, ticket + 1, std::memory_order_acquire, std::memory_order_relaxed))
      return index;
  }
}

void worker_loop(Pool& p, int slot) {
  std::unique_lock<std::mutex> lock(p.mutex);
  std::uint64_t seen = p.generation;
  for (;;) {
    p.wake.wait(lock, [&] { return p.generation != seen; });
    seen = p.generation;
    if (slot >= p.threads) continue;
    const LateJoinBody body = p.body;
    void* const context = p.context;
    const std::int64_t count = p.count;
    const std::uint64_t tag = seen & (~std::uint64_t{0} >> index_bits);
    lock.unlock();
    for (std::int64_t item; (item = claim(p, tag, count)) >= 0;) {
      body(context, item, slot);
      p.done.fetch_add(1, std::memory_order_release);
    }
    lock.lock();
  }
}

void run_inline(std::int64_t item_count, LateJoinBody body, void* context) noexcept {
  for (std::int64_t item = 0; item < item_count; ++item) body(context, item, 0);
}

}  // namespace

void late_join_for(std::int64_t item_count, int threads, LateJoinBody body, void* context) noexcept {
  if (item_count <= 0) return;
  if (threads > item_count) threads = static_cast<int>(item_count);
  if (threads <= 1 || static_cast<std::uint64_t>(item_count) > index_mask) return run_inline(item_count, body, context);
  Pool& p = pool();
  if (getpid() != p.owner) return run_inline(item_count, body, context);  // forked child: no workers
  std::unique_lock<std::mutex> busy(p.busy, std::try_to_lock);
  if (!busy.owns_lock()) return run_inline(item_count, body, context);

  std::uint64_t tag;
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    try {
      while (static_cast<int>(p.workers.size()) < threads - 1) {
        const int slot = static_cast<int>(p.workers.size()) + 1;
        p.workers.emplace_back([&p, slot] { worker_loop(p, slot); });
      }
    } catch (...) {
      // fewer workers than asked (thread creation failed): the caller does more of the items
    }
    p.body = body;
    p.context = context;
    p.count = item_count;
    p.threads = threads;
    p.done.store(0, std::memory_order_relaxed);
    ++p.generation;
    tag = p.generation & (~std::uint64_t{0} >> index_bits);
    p.ticket.store(tag << index_bits, std::memory_order_release);
  }
  p.wake.notify_all();
  std::int64_t mine = 0;
  for (std::int64_t item; (item = claim(p, tag, item_count)) >= 0; ++mine) body(context, item, 0);
  // Wait only for items workers have claimed and not yet finished.
  const std::int64_t theirs_needed = item_count - mine;
  for (int spins = 0; p.done.load(std::memory_order_acquire) < theirs_needed; ++spins)
    if (spins > 64) std::this_thread::yield();
}

}  // namespace fieldconv
