// Cleanup on a failure path: the first error is what the caller gets, and a cleanup step that
// failed too is added to its message rather than dropped.
//
//   if (!st.ok()) return with_cleanup(st, "removing '" + tmp + "'", env->remove_file(tmp));
#pragma once

#include <string>
#include <string_view>

#include "persisting/status.h"

namespace persisting {

// why, saying also that `what` failed with cleanup (unless cleanup is OK).
inline Status with_cleanup(Status why, std::string_view what, const Status& cleanup) {
  if (cleanup.ok()) return why;
  return Status(why.code(), why.message() + "; " + std::string(what) + " failed too: " + cleanup.to_string());
}

}  // namespace persisting
