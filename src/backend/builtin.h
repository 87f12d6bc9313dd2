// The backends built into the library, registered in BackendRegistry::global() at first use.
#pragma once

#include "persisting/backend.h"

namespace persisting {

// Registers memory, lance and persisting in r.
Status register_builtin_backends(BackendRegistry& r);

}  // namespace persisting
