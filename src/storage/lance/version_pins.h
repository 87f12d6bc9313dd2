// Version pins: which versions of a Lance dataset readers in this process hold, so that version
// cleanup (cleanup.h) never removes a version, or a file of it, that a reader here still uses.
//
// Every LanceDataset pins the version of its snapshot (it moves the pin on each refresh or
// commit), and a time-travel read pins the version it loads for the read. Cleanup asks
// pinned_versions() before it removes anything. Readers in other processes are protected by
// time instead (docs/compaction.md, "Who may still read an old version").
//
// Datasets are keyed by their path as given (LanceDataset::path()); the backends and the CLI
// all name a bucket's dataset <bucket_dir>/data.lance. Thread-safe.
#pragma once

#include <cstdint>
#include <set>
#include <string>

namespace persisting::lance {

class VersionPin {
 public:
  VersionPin() = default;
  VersionPin(std::string dataset, uint64_t version) { set(std::move(dataset), version); }
  ~VersionPin() { release(); }
  VersionPin(const VersionPin&) = delete;
  VersionPin& operator=(const VersionPin&) = delete;
  VersionPin(VersionPin&& o) noexcept;
  VersionPin& operator=(VersionPin&& o) noexcept;

  // Pins `version` of `dataset` (version 0, no version yet: nothing) and lets the previous pin go.
  void set(std::string dataset, uint64_t version);
  void release();
  uint64_t version() const { return version_; }

 private:
  std::string dataset_;
  uint64_t version_ = 0;
};

// The versions of `dataset` some VersionPin of this process holds.
std::set<uint64_t> pinned_versions(const std::string& dataset);

}  // namespace persisting::lance
