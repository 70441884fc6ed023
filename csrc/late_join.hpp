// A work-sharing loop whose caller never waits for a thread that has not started.
//
// parallel_for (OpenMP) ends with a barrier that waits for every thread of the team; when
// another process keeps a core busy, a woken worker first waits for a scheduler tick (4 ms,
// measured on the project machine), so a 0.1 ms job takes 4 ms. Here the calling thread starts
// on the items at once and pool workers claim items only when they get a core: the caller waits
// just for items already claimed, so a job is never much slower than on one thread, and on a
// quiet machine it runs on `threads` threads. Items are claimed dynamically; an item's result
// must not depend on which thread runs it (then results are identical for any thread count).
#pragma once

#include <cstdint>

namespace fieldconv {

// body(context, item, slot) for every item in [0, item_count); slot in [0, threads) names the
// thread (for per-thread workspaces; the caller is slot 0). body must not throw. Safe to call
// from several threads at once (a second concurrent caller runs its items itself) and after
// fork() (the child runs everything on the calling thread).
using LateJoinBody = void (*)(void* context, std::int64_t item, int slot) noexcept;
void late_join_for(std::int64_t item_count, int threads, LateJoinBody body, void* context) noexcept;

// Typed convenience for kernels: body(item, slot).
template <class Body>
void late_join_for(std::int64_t item_count, int threads, Body& body) noexcept {
  late_join_for(item_count, threads,
                [](void* context, std::int64_t item, int slot) noexcept { (*static_cast<Body*>(context))(item, slot); },
                &body);
}

}  // namespace fieldconv
