// fieldconv's helper threads (thread_pool.hpp): OpenMP threads in regions that never end, serving
// posted teams that a late helper cannot hold up.
#include "thread_pool.hpp"

#include <pthread.h>
#include <sched.h>
#if defined(__linux__)
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>

#include <omp.h>

#include "fieldconv/runtime.hpp"
#include "parallel.hpp"

namespace fieldconv::pool {
namespace {

// One call's team. Pool-owned and recycled, never freed: a helper posted to a team may wake
// after the call returned, and must still find the team's flags (but never the call's data).
struct Team {
  RunItems run_items = nullptr;
  void* context = nullptr;
  alignas(64) std::atomic<bool> closed{false};  // the caller ran out of items: no helper joins now
  alignas(64) std::atomic<int> inside{0};       // helpers inside run_items (the caller waits for 0)
  std::atomic<int> joined{0};                   // helpers that joined (their thread numbers)
  std::atomic<int> references{0};              // the caller and every posted helper not yet done
  int caller_cpu = -1;                          // where the caller posted from (-1: unknown)
  Team* next_free = nullptr;
};

struct Worker {
  std::atomic<Team*> mailbox{nullptr};
  std::atomic<int> signal{0};  // futex word: bumped by every post
  Worker* next_idle = nullptr;
};

// Guards the lists and the count below; held only to pop or push an entry. Never destroyed: a
// helper posted to a late team may still take it while the process exits.
std::mutex& pool_mutex = *new std::mutex;
Worker* idle_workers = nullptr;
Team* free_teams = nullptr;
std::atomic<int> worker_count{0};

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Sleeps while *word == expected (at most timeout_ns, 0: no limit); may wake spuriously.
void futex_wait(std::atomic<int>& word, int expected, std::int64_t timeout_ns) noexcept {
#if defined(__linux__)
  struct timespec timeout{time_t(timeout_ns / 1'000'000'000), long(timeout_ns % 1'000'000'000)};
  syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAIT_PRIVATE, expected, timeout_ns > 0 ? &timeout : nullptr,
          nullptr, 0);
#else
  (void)word;
  (void)expected;
  (void)timeout_ns;
  std::this_thread::sleep_for(std::chrono::microseconds(50));
#endif
}

void futex_wake_all(std::atomic<int>& word) noexcept {
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
#else
  (void)word;
#endif
}

void release(Team* team) noexcept {
  if (team->references.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  std::lock_guard<std::mutex> lock(pool_mutex);
  team->next_free = free_teams;
  free_teams = team;
}

// Tasks runnable on the whole system now (the numerator of /proc/loadavg's fourth field, this
// thread included), or -1 where unknown.
int runnable_tasks() noexcept {
#if defined(__linux__)
  const int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char text[128];
  const ssize_t length = read(fd, text, sizeof(text) - 1);
  close(fd);
  if (length <= 0) return -1;
  text[length] = '\0';
  int fields = 0, runnable = -1;
  for (const char* c = text; *c != '\0'; ++c) {
    if (*c == ' ') ++fields;
    else if (fields == 3 && runnable < 0 && *c >= '0' && *c <= '9') runnable = int(std::strtol(c, nullptr, 10));
  }
  return runnable;
#else
  return -1;
#endif
}

// A helper woken on its caller's CPU while another CPU it may use sits idle moves there. On the
// 2-vCPU KVM machines, after 10-15 ms of idle the halted vCPU looks preempted to the guest, so
// the wakeup lands on the caller's CPU and the two take turns for milliseconds (a 2.2 ms call
// took 4.5 ms after a 20 ms pause). Taking the caller's CPU out of this thread's affinity
// migrates it at once; the affinity is then restored. With every allowed CPU busy (more
// runnable tasks than allowed CPUs other than this helper's) it stays: moving would only trade
// the caller for another process, which the helpers-did-not-pay rule handles better.
void leave_callers_cpu(int caller_cpu) noexcept {
#if defined(__linux__)
  if (caller_cpu < 0 || sched_getcpu() != caller_cpu) return;
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0 || !CPU_ISSET(caller_cpu, &allowed)) return;
  const int cpus = CPU_COUNT(&allowed);
  if (cpus < 2) return;
  const int runnable = runnable_tasks();  // the caller and this helper at least
  if (runnable < 0 || runnable > cpus) return;
  cpu_set_t others = allowed;
  CPU_CLR(caller_cpu, &others);
  if (sched_setaffinity(0, sizeof(others), &others) == 0) sched_setaffinity(0, sizeof(allowed), &allowed);
#else
  (void)caller_cpu;
#endif
}

// A posted helper: joins unless the caller has closed the team, runs items, leaves.
void serve(Team* team) noexcept {
  // seq_cst on both sides (here: inside++ then read closed; the caller: closed = true then read
  // inside): either the caller sees this helper inside and waits for it, or this helper sees the
  // team closed and never touches the call's data.
  if (!team->closed.load(std::memory_order_seq_cst)) {
    leave_callers_cpu(team->caller_cpu);  // before joining: the caller never waits for the move
    team->inside.fetch_add(1, std::memory_order_seq_cst);
    if (!team->closed.load(std::memory_order_seq_cst)) {
      const int thread = team->joined.fetch_add(1, std::memory_order_relaxed) + 1;
      team->run_items(team->context, thread);
    }
    team->inside.fetch_sub(1, std::memory_order_seq_cst);
    futex_wake_all(team->inside);
  }
  release(team);
}

// After a team, a helper watches its mailbox this long before sleeping: back-to-back calls
// (the layers of a network) then find it awake, and an idle process leaves the core at once.
constexpr std::int64_t helper_watch_ns = 30'000;

[[noreturn]] void worker_loop(Worker* worker) noexcept {
  team::ask_for_short_slices();
  for (;;) {
    Team* team = worker->mailbox.exchange(nullptr, std::memory_order_acquire);
    if (team == nullptr) {
      const auto watch_until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(helper_watch_ns);
      for (int spin = 0; team == nullptr; ++spin) {
        // read the signal before the mailbox: a post after this read changes the signal, so
        // the sleep below returns at once instead of missing it
        const int seen = worker->signal.load(std::memory_order_acquire);
        team = worker->mailbox.exchange(nullptr, std::memory_order_acquire);
        if (team != nullptr) break;
        if ((spin & 63) == 63 && std::chrono::steady_clock::now() > watch_until) futex_wait(worker->signal, seen, 0);
        else cpu_relax();
      }
    }
    serve(team);
    std::lock_guard<std::mutex> lock(pool_mutex);
    worker->next_idle = idle_workers;
    idle_workers = worker;
  }
}

// Sleeps for good, without spinning whatever the OpenMP wait policy (never reaching a barrier).
[[noreturn]] void sleep_forever() noexcept {
  static std::atomic<int> never{0};
  for (;;) futex_wait(never, 0, 0);
}

// A new helper thread, or nullptr (no memory, or the system refuses a thread). Helpers are
// OpenMP threads: an owner thread opens a parallel region of two that never ends; the OpenMP
// runtime's second thread serves `worker`, and the owner sleeps inside the region (if the
// runtime gives the region one thread only, the owner serves `worker` itself).
Worker* start_worker() noexcept {
  Worker* worker = new (std::nothrow) Worker;
  if (worker == nullptr) return nullptr;
  try {
    std::thread([worker] {
#pragma omp parallel num_threads(2)
      {
        const bool serves = omp_get_thread_num() == 1 || omp_get_num_threads() < 2;
        if (serves) worker_loop(worker);
        sleep_forever();
      }
    }).detach();
  } catch (...) {
    delete worker;
    return nullptr;
  }
  worker_count.fetch_add(1, std::memory_order_relaxed);
  return worker;
}

void lock_before_fork() noexcept { pool_mutex.lock(); }
void unlock_after_fork() noexcept { pool_mutex.unlock(); }
void reset_after_fork_in_child() noexcept {
  // The forking thread holds the mutex (lock_before_fork); the workers are gone, and so are any
  // teams they were posted to: forget both (leaked, once per fork).
  idle_workers = nullptr;
  free_teams = nullptr;
  worker_count.store(0, std::memory_order_relaxed);
  pool_mutex.unlock();
}
[[maybe_unused]] const int fork_handlers =
    pthread_atfork(lock_before_fork, unlock_after_fork, reset_after_fork_in_child);

}  // namespace

int run_team(RunItems run_items, void* context, int helpers) noexcept {
  Team* team = nullptr;
  Worker* posted = nullptr;
  int posted_count = 0;
  if (helpers > 0) {
    std::lock_guard<std::mutex> lock(pool_mutex);
    team = free_teams;
    if (team != nullptr) free_teams = team->next_free;
    else team = new (std::nothrow) Team;
    // Pool threads: at most one fewer than the configured count. A helper still on its way
    // back from a late team is not idle; it is not replaced, so no more threads than the
    // configured count ever run fieldconv's work.
    const int most_workers = get_num_threads() - 1;
    while (team != nullptr && posted_count < helpers) {
      Worker* worker = idle_workers;
      if (worker != nullptr) idle_workers = worker->next_idle;
      else if (worker_count.load(std::memory_order_relaxed) < most_workers) worker = start_worker();
      if (worker == nullptr) break;
      worker->next_idle = posted;
      posted = worker;
      ++posted_count;
    }
    if (team != nullptr && posted_count == 0) {
      team->next_free = free_teams;
      free_teams = team;
      team = nullptr;
    }
  }
  if (team == nullptr) {
    run_items(context, 0);
    return 0;
  }
  team->run_items = run_items;
  team->context = context;
  team->closed.store(false, std::memory_order_relaxed);
  team->inside.store(0, std::memory_order_relaxed);
  team->joined.store(0, std::memory_order_relaxed);
  team->references.store(posted_count + 1, std::memory_order_relaxed);
#if defined(__linux__)
  team->caller_cpu = sched_getcpu();
#endif
  while (posted != nullptr) {
    Worker* worker = posted;
    posted = worker->next_idle;
    worker->mailbox.store(team, std::memory_order_release);
    worker->signal.fetch_add(1, std::memory_order_release);
    futex_wake_all(worker->signal);
  }
  run_items(context, 0);
  team->closed.store(true, std::memory_order_seq_cst);
  // Wait for the helpers inside: a few microseconds of spinning catch one finishing its last
  // item; then sleep, leaving this core to a helper the scheduler may move here.
  const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(4);
  for (int spin = 0, seen; (seen = team->inside.load(std::memory_order_seq_cst)) > 0; ++spin) {
    if (spin < 64 || std::chrono::steady_clock::now() < spin_until) cpu_relax();
    else futex_wait(team->inside, seen, 1'000'000);
  }
  const int joined = team->joined.load(std::memory_order_relaxed);
  release(team);
  return joined;
}

int pool_thread_count() noexcept { return worker_count.load(std::memory_order_relaxed); }

}  // namespace fieldconv::pool
