// Thread count (one process-wide budget), where it came from, the team bookkeeping behind
// parallel_for (parallel.hpp), and fork handling.
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <omp.h>

#include "fieldconv/runtime.hpp"
#include "parallel.hpp"
#include "runtime_internal.hpp"

#ifndef FIELDCONV_COMPILER
#define FIELDCONV_COMPILER "unknown"
#endif

namespace fieldconv {

// ---- CPUs this process may use --------------------------------------------------------------

namespace {

bool read_first_line(const std::string& path, std::string& line) {
  std::ifstream file(path);
  return static_cast<bool>(file) && static_cast<bool>(std::getline(file, line));
}

// ceil(quota / period) CPUs, or 0 for "no limit" / unreadable.
int quota_cpus(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  const long long cpus = (quota + period - 1) / period;
  return int(std::min<long long>(cpus, max_num_threads));
}

// The smallest limit over `directory` and its ancestors up to `root` (a parent's quota bounds its
// children's); `read_limit` gives one directory's limit or 0.
template <class ReadLimit>
int smallest_limit_up_to_root(const std::string& root, std::string relative, ReadLimit read_limit) {
  int limit = 0;
  for (;;) {
    const int here = read_limit(root + relative);
    if (here > 0 && (limit == 0 || here < limit)) limit = here;
    if (relative.empty() || relative == "/") break;
    const std::size_t slash = relative.find_last_of('/');
    relative = slash == std::string::npos || slash == 0 ? std::string() : relative.substr(0, slash);
  }
  return limit;
}

int cgroup_v2_limit(const std::string& directory) {
  std::string line;
  if (!read_first_line(directory + "/cpu.max", line)) return 0;
  std::istringstream fields(line);
  std::string quota;
  long long period = 0;
  if (!(fields >> quota >> period) || quota == "max") return 0;
  return quota_cpus(std::atoll(quota.c_str()), period);
}

int cgroup_v1_limit(const std::string& directory) {
  std::string quota, period;
  if (!read_first_line(directory + "/cpu.cfs_quota_us", quota) ||
      !read_first_line(directory + "/cpu.cfs_period_us", period))
    return 0;
  return quota_cpus(std::atoll(quota.c_str()), std::atoll(period.c_str()));
}

bool directory_exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

}  // namespace

int cgroup_cpu_limit(const char* proc_self_cgroup, const char* cgroup_root) noexcept {
  try {
    std::ifstream membership(proc_self_cgroup);
    const std::string root = cgroup_root;
    int limit = 0;
    std::string line;
    while (std::getline(membership, line)) {
      // "hierarchy-id:controllers:path"; cgroup v2 is "0::path".
      const std::size_t first = line.find(':');
      const std::size_t second = first == std::string::npos ? first : line.find(':', first + 1);
      if (second == std::string::npos) continue;
      const std::string controllers = line.substr(first + 1, second - first - 1);
      std::string path = line.substr(second + 1);
      if (path == "/") path.clear();
      int here = 0;
      if (controllers.empty()) {
        // Inside a cgroup namespace the path may not exist under the mount: the mount is ours.
        const std::string relative = directory_exists(root + path) ? path : std::string();
        here = smallest_limit_up_to_root(root, relative, cgroup_v2_limit);
      } else {
        std::stringstream names(controllers);
        std::string name;
        bool has_cpu = false;
        while (std::getline(names, name, ',')) has_cpu = has_cpu || name == "cpu";
        if (!has_cpu) continue;
        for (const std::string& mount : {root + "/" + controllers, root + "/cpu"}) {
          if (!directory_exists(mount)) continue;
          const std::string relative = directory_exists(mount + path) ? path : std::string();
          here = smallest_limit_up_to_root(mount, relative, cgroup_v1_limit);
          break;
        }
      }
      if (here > 0 && (limit == 0 || here < limit)) limit = here;
    }
    return limit;
  } catch (...) {
    return 0;
  }
}

int affinity_cpu_count() noexcept {
  cpu_set_t cpus;
  if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0) {
    const int count = CPU_COUNT(&cpus);
    if (count >= 1) return count;
  }
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online >= 1 ? int(std::min<long>(online, max_num_threads)) : 1;
}

// ---- the thread count and where it came from ------------------------------------------------

namespace {

struct InitialCount {
  int count;
  const char* source;
};

InitialCount initial_thread_count() noexcept {
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    // OMP_NUM_THREADS may be a list ("4,2"); its first entry is the outer level's count.
    char* end = nullptr;
    const long value = std::strtol(env, &end, 10);
    if (end != env && value >= 1) return {int(std::min<long>(value, max_num_threads)), "OMP_NUM_THREADS"};
  }
  const int affinity = affinity_cpu_count();
  const int quota = cgroup_cpu_limit("/proc/self/cgroup", "/sys/fs/cgroup");
  if (quota > 0 && quota < affinity) return {quota, "cgroup CPU quota"};
  return {affinity, "CPU affinity"};
}

const InitialCount initial = initial_thread_count();
std::atomic<int> thread_count{initial.count};
std::atomic<const char*> thread_count_source{initial.source};

// Fork: the child's budget starts empty (a call running in another thread at fork time does not
// exist there); the pool starts new threads in the child (thread_pool.cpp).
void reset_in_child() noexcept;
[[maybe_unused]] const int fork_handler_registered = pthread_atfork(nullptr, nullptr, reset_in_child);

}  // namespace

int get_num_threads() noexcept { return thread_count.load(std::memory_order_relaxed); }

int get_num_threads_setting() noexcept { return thread_count.load(std::memory_order_relaxed); }

void set_num_threads(int n, const char* source) {
  if (n < 1 || n > max_num_threads)
    throw std::invalid_argument("n must be an integer between 1 and " + std::to_string(max_num_threads) + ", got " +
                                std::to_string(n));
  // Keep one of the known static names (the caller's string may not outlive this call).
  static const char* const known[] = {"set_num_threads", "fieldconv.threads", "threadpoolctl",
                                      "OMP_NUM_THREADS", "CPU affinity",      "cgroup CPU quota"};
  const char* name = known[0];
  for (const char* candidate : known)
    if (source != nullptr && std::strcmp(source, candidate) == 0) name = candidate;
  thread_count.store(n, std::memory_order_relaxed);
  thread_count_source.store(name, std::memory_order_relaxed);
}

void set_num_threads(int n) { set_num_threads(n, "set_num_threads"); }

const char* num_threads_source() noexcept { return thread_count_source.load(std::memory_order_relaxed); }

// ---- teams ----------------------------------------------------------------------------------

namespace {

using i64 = std::int64_t;

// Threads inside parallel_for now, callers and helpers alike; helpers alone.
std::atomic<int> active_threads{0};
std::atomic<int> active_helpers{0};
std::atomic<int> peak_active_threads{0};
std::atomic<int> peak_helpers{0};
std::atomic<std::int64_t> teams_opened{0};
std::atomic<std::int64_t> windows_opened{0};

void raise_peak(std::atomic<int>& peak, int value) noexcept {
  int seen = peak.load(std::memory_order_relaxed);
  while (value > seen && !peak.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

// Caller-alone windows, per size class of work (class k: about 4^k x 100 us of single-thread
// work), so that late helpers on small calls do not stop large ones from using threads, and
// the other way round. Each class keeps scores (Judgment, below): moving averages of the time
// its recent teams saved beyond 10 % of the time alone, in nanoseconds (negative when a helper
// joined late): the expected saving of the next team. While a score is negative, the class's
// calls run on the caller alone for a window (a time and a number of calls); a trial after it
// that lost makes the next one 4x longer (up to max_window_ns and max_window_calls), and a score
// back above zero makes them shortest again. A trial under contention loses up to a scheduler
// tick (4 ms at HZ=250) waiting for a helper that got no core, so under steady contention the
// windows reach a second within a few trials, and the loss stays around 1 %.
constexpr int size_classes = 8;
constexpr i64 min_window_ns = 10'000'000;     // 10 ms
constexpr i64 max_window_ns = 1'000'000'000;  // 1 s
constexpr i64 min_window_calls = 64;
constexpr i64 max_window_calls = 4096;
// Weight of the newest team in the score: 0.1 when teams come often (a lone stall among many
// paying teams opens no window), growing towards 1 as the time since the class's previous team
// grows past score_half_life_ns (old evidence fades: the machine may have changed since).
constexpr double score_weight = 0.1;
constexpr double score_half_life_ns = 100e6;
constexpr double min_saving = 0.1;
constexpr std::uint64_t short_slice_ns = 100'000;  // the shortest slice the kernel accepts
constexpr int warm_up_teams = 2;
// Calls within this long of the previous team are "frequent": their helpers are still watching
// (thread_pool.cpp) or were asleep only briefly.
constexpr i64 helpers_awake_ns = 1'000'000;
// FIELDCONV_TEAM_TRACE set: one line per team (and per caller-alone window) on stderr.
bool team_trace() noexcept {
  static const bool trace = std::getenv("FIELDCONV_TEAM_TRACE") != nullptr;
  return trace;
}

// One judgment of whether helpers pay: the score and its caller-alone window. A window lasts
// both a time and a number of calls (whichever ends later), so that calls coming in bursts
// (another library's calls in between, or a benchmark's rounds at another thread count) do not
// find it expired at every burst.
struct Judgment {
  std::atomic<double> score{0};
  std::atomic<i64> last_report_ns{0};
  std::atomic<i64> window_end_ns{0};
  std::atomic<i64> window_length_ns{min_window_ns};
  std::atomic<i64> window_calls_left{0};
  std::atomic<i64> window_calls{min_window_calls};

  // True while the window is open; counts the call against it.
  bool take_window(i64 now) noexcept {
    const bool by_calls = window_calls_left.fetch_sub(1, std::memory_order_relaxed) > 0;
    return by_calls || now < window_end_ns.load(std::memory_order_relaxed);
  }

  // Folds one team's saving in; opens (or lengthens) the window while the score is negative.
  void record(double saved, i64 now) noexcept {
    const i64 last = last_report_ns.exchange(now, std::memory_order_relaxed);
    const double weight = score_weight + (1 - score_weight) * (1 - std::exp2(-double(now - last) / score_half_life_ns));
    // A judgment starts from the first team's saving, floored at zero: one loss alone, before
    // any evidence, opens no window.
    const double previous = last == 0 ? std::max(0.0, saved) : score.load(std::memory_order_relaxed);
    // A trial that paid halves the deficit: after a burst of stalls (a hiccup of the machine),
    // helpers come back within a few trials rather than a few dozen.
    const double updated = (previous < 0 && saved > 0 ? previous / 2 : (1 - weight) * previous) + weight * saved;
    score.store(updated, std::memory_order_relaxed);
    const i64 length = window_length_ns.load(std::memory_order_relaxed);
    const i64 calls = window_calls.load(std::memory_order_relaxed);
    if (updated >= 0) {
      window_length_ns.store(min_window_ns, std::memory_order_relaxed);
      window_calls.store(min_window_calls, std::memory_order_relaxed);
      return;
    }
    // A trial (a team while the score was already negative, after a window) that lost makes the
    // next window longer; the losses that first turn the score negative (often a burst: the
    // machine hiccuped) open the shortest one.
    if (saved < 0 && previous < 0) {
      window_length_ns.store(std::min(4 * length, max_window_ns), std::memory_order_relaxed);
      window_calls.store(std::min(4 * calls, max_window_calls), std::memory_order_relaxed);
    }
    window_end_ns.store(now + length, std::memory_order_relaxed);
    window_calls_left.store(calls, std::memory_order_relaxed);
    windows_opened.fetch_add(1, std::memory_order_relaxed);
    if (team_trace())
      std::fprintf(stderr, "  caller alone for %lld calls and %lld ms\n", (long long)calls,
                   (long long)(length / 1'000'000));
  }

  void reset() noexcept {
    score.store(0, std::memory_order_relaxed);
    last_report_ns.store(0, std::memory_order_relaxed);
    window_end_ns.store(0, std::memory_order_relaxed);
    window_length_ns.store(min_window_ns, std::memory_order_relaxed);
    window_calls_left.store(0, std::memory_order_relaxed);
    window_calls.store(min_window_calls, std::memory_order_relaxed);
  }
};

// Per size class, two judgments: for calls that come often (their helpers are awake, spinning
// between regions) and for sparse calls (every team first wakes a sleeping helper, which can take
// hundreds of microseconds on a virtual machine; worth it for large calls only).
struct SizeClass {
  std::atomic<int> teams_seen{0};
  Judgment frequent, sparse;
};
SizeClass size_class_state[size_classes];
// The size class of the call this thread is making (set by threads_for_work): its teams report
// there, whatever the estimate's error.
thread_local int current_size_class = -1;
// Whether this thread's calls come often (the previous one ended less than helpers_awake_ns
// ago), when its last parallel_for ended, and whether this call and the previous one opened a
// team.
thread_local bool calls_frequent = false;
thread_local i64 last_loop_end_ns = 0;
thread_local bool team_in_call = false;
thread_local bool team_in_previous_call = false;

int size_class(double work_ns) noexcept {
  int k = 0;
  for (double bound = 4 * min_work_ns_per_thread; k + 1 < size_classes && work_ns >= bound; bound *= 4) ++k;
  return k;
}
thread_local bool first_team_reported = false;

void forget_late_helpers() noexcept {
  for (SizeClass& state : size_class_state) {
    state.frequent.reset();
    state.sparse.reset();
  }
}

void reset_in_child() noexcept {
  forget_late_helpers();
  active_threads.store(0, std::memory_order_relaxed);
  active_helpers.store(0, std::memory_order_relaxed);
}

}  // namespace

int threads_for_work(double work_ns) noexcept {
  const i64 now = team::now_ns();
  calls_frequent = now - last_loop_end_ns < helpers_awake_ns;
  team_in_previous_call = team_in_call;
  team_in_call = false;
  const int budget = get_num_threads();
  if (budget <= 1 || !(work_ns >= 2 * min_work_ns_per_thread)) return 1;
  const double worth = std::floor(work_ns / min_work_ns_per_thread);
  int threads = worth < double(budget) ? int(worth) : budget;
  current_size_class = size_class(work_ns);
  SizeClass& state = size_class_state[current_size_class];
  if (threads > 1 && (calls_frequent ? state.frequent : state.sparse).take_window(now)) threads = 1;
  return threads;
}

namespace team {

i64 thread_cpu_ns() noexcept {
  struct timespec now;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) != 0) return 0;
  return i64(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

i64 now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void enter() noexcept { raise_peak(peak_active_threads, active_threads.fetch_add(1, std::memory_order_relaxed) + 1); }

int take_helpers(int wanted) noexcept {
  const int budget = get_num_threads();
  int active = active_threads.load(std::memory_order_relaxed);
  for (;;) {
    const int granted = std::min(wanted, budget - active);
    if (granted <= 0) return 0;
    if (active_threads.compare_exchange_weak(active, active + granted, std::memory_order_relaxed)) {
      raise_peak(peak_active_threads, active + granted);
      raise_peak(peak_helpers, active_helpers.fetch_add(granted, std::memory_order_relaxed) + granted);
      teams_opened.fetch_add(1, std::memory_order_relaxed);
      return granted;
    }
  }
}

void leave(int helpers) noexcept {
  if (helpers > 0) active_helpers.fetch_sub(helpers, std::memory_order_relaxed);
  active_threads.fetch_sub(1 + helpers, std::memory_order_relaxed);
  last_loop_end_ns = now_ns();
}

Statistics statistics(bool reset) noexcept {
  const Statistics result{peak_active_threads.load(std::memory_order_relaxed),
                          peak_helpers.load(std::memory_order_relaxed), teams_opened.load(std::memory_order_relaxed),
                          windows_opened.load(std::memory_order_relaxed)};
  if (reset) {
    forget_late_helpers();
    peak_active_threads.store(0, std::memory_order_relaxed);
    peak_helpers.store(0, std::memory_order_relaxed);
    teams_opened.store(0, std::memory_order_relaxed);
    windows_opened.store(0, std::memory_order_relaxed);
  }
  return result;
}

void report(const RegionTiming& timing) noexcept {
  // The first team of a thread includes creating its pool's threads: not a measure of lateness.
  if (!first_team_reported) {
    first_team_reported = true;
    team_in_call = true;
    return;
  }
  const i64 actual = timing.end_ns - timing.start_ns;
  if (actual <= 0 || timing.item_cpu_ns <= 0) return;
  // What the caller alone would have taken: the CPU time every thread spent on items.
  const double alone = double(timing.item_cpu_ns);
  const bool trace = team_trace();
  if (trace)
    std::fprintf(stderr, "team: %lld us, items' CPU time %lld us, class %d (measured %d)\n", (long long)actual / 1000,
                 (long long)timing.item_cpu_ns / 1000, current_size_class, size_class(alone));
  // A team must be worth it: it counts as saving only what goes beyond min_saving of the time
  // alone (CPU time per item grows when two threads share caches and memory, so "alone" leans
  // high; and a team that saves nothing only adds a risk of late joins). Clamped to +-alone: one
  // outlier (a first call faulting in its workspace, a stall of a tick on a tiny call) must not
  // outweigh the evidence of many teams.
  const double saved = std::max(-alone, std::min(alone, alone * (1 - min_saving) - double(actual)));
  SizeClass& state = size_class_state[current_size_class >= 0 ? current_size_class : size_class(alone)];
  const bool first_team_of_run = calls_frequent && !team_in_previous_call && !team_in_call;
  team_in_call = true;
  // The first teams of a class warm up (workspaces, page faults): not evidence of late helpers.
  if (state.teams_seen.fetch_add(1, std::memory_order_relaxed) < warm_up_teams) return;
  // The first team of a run of frequent calls wakes the helpers for the calls that follow: its
  // wake-up is not what those calls will pay, as long as helpers have been paying (a trial after
  // a window, while they have not, counts).
  if (first_team_of_run && state.frequent.score.load(std::memory_order_relaxed) >= 0) return;
  if (trace)
    std::fprintf(stderr, "  saved %.0f us into %s (score before %.0f us)\n", saved / 1000,
                 calls_frequent ? "frequent" : "sparse",
                 (calls_frequent ? state.frequent : state.sparse).score.load(std::memory_order_relaxed) / 1000);
  (calls_frequent ? state.frequent : state.sparse).record(saved, timing.end_ns);
}

void ask_for_short_slices() noexcept {
  static thread_local bool asked = false;
  if (asked) return;
  asked = true;
#if defined(__linux__) && defined(SYS_sched_setattr)
  // struct sched_attr of sched_setattr(2); sched_runtime is the requested slice for SCHED_OTHER.
  struct {
    std::uint32_t size;
    std::uint32_t sched_policy;
    std::uint64_t sched_flags;
    std::int32_t sched_nice;
    std::uint32_t sched_priority;
    std::uint64_t sched_runtime, sched_deadline, sched_period;
  } attr{};
  if (syscall(SYS_sched_getattr, 0, &attr, sizeof(attr), 0) != 0 || attr.sched_policy != 0 /* SCHED_OTHER */) return;
  attr.size = sizeof(attr);
  attr.sched_runtime = short_slice_ns;
  syscall(SYS_sched_setattr, 0, &attr, 0);  // older kernels ignore or refuse it: no harm
#endif
}

}  // namespace team

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

// C entry points for threadpoolctl's controller (fieldconv/_threadpoolctl.py): it finds this
// shared object among the loaded ones and calls these through ctypes.
extern "C" {
__attribute__((visibility("default"))) int fieldconv_get_num_threads(void) { return fieldconv::get_num_threads(); }
__attribute__((visibility("default"))) int fieldconv_set_num_threads(int n) {
  if (n < 1 || n > fieldconv::max_num_threads) return -1;
  fieldconv::set_num_threads(n, "threadpoolctl");
  return 0;
}
}
