#include "storage/lance/version_pins.h"

#include <map>
#include <mutex>

namespace persisting::lance {
namespace {

struct Registry {
  std::mutex mu;
  // dataset -> version -> how many pins hold it
  std::map<std::string, std::map<uint64_t, uint64_t>, std::less<>> pins;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: pins may be released at exit
  return *r;
}

}  // namespace

VersionPin::VersionPin(VersionPin&& o) noexcept : dataset_(std::move(o.dataset_)), version_(o.version_) {
  o.version_ = 0;
}

VersionPin& VersionPin::operator=(VersionPin&& o) noexcept {
  if (this != &o) {
    release();
    dataset_ = std::move(o.dataset_);
    version_ = o.version_;
    o.version_ = 0;
  }
  return *this;
}

void VersionPin::set(std::string dataset, uint64_t version) {
  if (version == version_ && dataset == dataset_) return;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  if (version > 0) ++r.pins[dataset][version];
  if (version_ > 0) {
    auto d = r.pins.find(dataset_);
    if (d != r.pins.end()) {
      auto v = d->second.find(version_);
      if (v != d->second.end() && --v->second == 0) d->second.erase(v);
      if (d->second.empty()) r.pins.erase(d);
    }
  }
  dataset_ = std::move(dataset);
  version_ = version;
}

void VersionPin::release() { set(dataset_, 0); }

std::set<uint64_t> pinned_versions(const std::string& dataset) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::set<uint64_t> out;
  auto d = r.pins.find(dataset);
  if (d != r.pins.end())
    for (const auto& [v, n] : d->second) out.insert(v);
  return out;
}

}  // namespace persisting::lance
