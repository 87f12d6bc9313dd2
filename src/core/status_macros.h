// The short names of persisting/status.h's early-return macros, for the implementation (src/,
// apps/, tests/). The public header defines only the PERSISTING_-prefixed ones.
#pragma once

#include "persisting/status.h"

#define RETURN_IF_ERROR(expr) PERSISTING_RETURN_IF_ERROR(expr)
#define ASSIGN_OR_RETURN(lhs, expr) PERSISTING_ASSIGN_OR_RETURN(lhs, expr)
