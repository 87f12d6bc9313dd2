// Runs the `persisting` binary of this build (PERSISTING_BIN, set by the test target) with args
// and input on stdin, as a user runs it; every CLI test drives it through this.
#pragma once

#include <string>
#include <vector>

#include "util/run_process.h"

namespace persisting::testing {

inline ProcessResult cli(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), PERSISTING_BIN);
  return run_process(args, input);
}

}  // namespace persisting::testing
