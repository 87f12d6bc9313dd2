// Walking a directory tree through the Env (backup, verify and restore, docs/backup.md).
#pragma once

#include <string>
#include <vector>

#include "persisting/env.h"

namespace persisting::backup {

// Appends to *out the paths, relative to root and joined with '/' onto prefix, of every file
// under root (recursively; an entry whose children cannot be listed counts as a file). A
// missing root adds nothing.
Status list_files(Env* env, const std::string& root, const std::string& prefix, std::vector<std::string>* out);

}  // namespace persisting::backup
