// An out-of-tree backend: a plain vector of encoded records, registered as "vector_plugin".
// Option "tag" (required) shows up in its stats, proving options reach plugin factories.
#include <cstdio>
#include <mutex>
#include <vector>

#include "persisting/backend.h"

using namespace persisting;

namespace {

class VectorBackend final : public StorageBackend {
 public:
  explicit VectorBackend(std::string tag) : tag_(std::move(tag)) {}
  std::string name() const override { return "vector_plugin"; }
  Result<Offset> put_batch(const RecordBatch& batch) override {
    Offset first;
    {
      std::lock_guard<std::mutex> lock(mu_);
      first = Offset(records_.size());
      for (size_t i = 0; i < batch.size(); ++i) records_.emplace_back(batch.encoded(i));
    }
    notify_appended();
    return first;
  }
  Result<RecordBatch> get(Offset offset, size_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    RecordBatch out;
    for (uint64_t i = offset.value(); i < records_.size() && out.size() < limit; ++i)
      out.add_encoded(records_[i]);
    return out;
  }
  Status flush() override { return Status::OK(); }
  BucketStats stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    BucketStats s;
    s.backend = "vector_plugin";
    s.total_count = records_.size();
    s.extra.set("tag", tag_);
    return s;
  }
  uint64_t total_count() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return records_.size();
  }
  bool durable() const override { return false; }

 private:
  std::string tag_;
  mutable std::mutex mu_;
  std::vector<std::string> records_;
};

}  // namespace

extern "C" int persisting_plugin_abi_version() { return kPluginAbiVersion; }

extern "C" int persisting_plugin_register(BackendRegistry* registry, char* error, size_t error_size) {
  Status s = registry->register_backend(
      "vector_plugin",
      [](const BackendContext&, const Options& options) -> Result<std::unique_ptr<StorageBackend>> {
        OptionReader r(options, "backend 'vector_plugin'");
        PERSISTING_ASSIGN_OR_RETURN(std::string tag, r.get_string("tag", ""));
        PERSISTING_RETURN_IF_ERROR(r.finish());
        if (tag.empty()) return InvalidArgument("backend 'vector_plugin': option 'tag' is required");
        return std::unique_ptr<StorageBackend>(new VectorBackend(tag));
      },
      /*durable=*/false);
  if (!s.ok()) {
    std::snprintf(error, error_size, "%s", s.message().c_str());
    return 1;
  }
  return 0;
}
