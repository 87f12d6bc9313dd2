// Running a few independent, blocking jobs (fsyncs, small flushes) side by side on the process
// pool, with no thread of their own, and waiting for all of them.
#pragma once

#include <functional>
#include <vector>

#include "persisting/scheduler.h"
#include "persisting/status.h"

namespace persisting {

// Runs every job, handing them to pool (Scheduler::Default() if null) so they overlap, and
// returns their statuses in order. The caller runs every job no pool thread has started yet
// itself and waits only for those already running elsewhere: a caller that is itself a pool task
// never waits for a queued one, however busy the pool is.
std::vector<Status> run_side_by_side(std::vector<std::function<Status()>> jobs, Scheduler* pool = nullptr);

}  // namespace persisting
