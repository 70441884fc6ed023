// The helper threads behind parallel_for (parallel.hpp): OpenMP threads that stay inside
// parallel regions which never end, and take work posted to them.
//
// Why not one OpenMP region per call: every region ends in a barrier that waits for each helper
// it woke, also for one the scheduler has not run yet (its core busy with another process or
// another library's spinning pool). The caller then waits a scheduler slice for a helper that
// will find nothing left to do. Here a team is posted to sleeping helpers and the caller starts at once;
// when the caller has run out of items it closes the team and waits only for the helpers that
// joined and are still running an item. A helper that wakes after that finds the team closed
// and goes back to sleep without touching the caller's data.
#pragma once

namespace fieldconv::pool {

// Runs items for the caller (thread 0) or for a helper (thread 1, 2, ... in the order helpers
// join); returns when no item is left.
using RunItems = void (*)(void* context, int thread) noexcept;

// Runs run_items(context, 0) on the calling thread and offers run_items(context, t) to up to
// `helpers` pool threads. Returns once the caller's own call has returned and every helper that
// joined has returned: nothing touches `context` afterwards. Returns how many helpers joined.
int run_team(RunItems run_items, void* context, int helpers) noexcept;

// Pool threads alive now (for tests).
int pool_thread_count() noexcept;

}  // namespace fieldconv::pool
