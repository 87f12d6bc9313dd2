#include "backend/builtin.h"

#include "backend/memory_backend.h"
#include "backend/persisting_backend.h"
#include "core/status_macros.h"

namespace persisting {

Status register_builtin_backends(BackendRegistry& r) {
  RETURN_IF_ERROR(r.register_backend(
      "memory",
      [](const BackendContext& ctx, const Options& options) -> Result<std::unique_ptr<StorageBackend>> {
        OptionReader reader(options, "backend 'memory'");
        RETURN_IF_ERROR(reader.finish());
        return std::unique_ptr<StorageBackend>(new MemoryBackend(ctx.scheduler));
      },
      /*durable=*/false));
  RETURN_IF_ERROR(r.register_backend("lance", &PersistingBackend::create_lance, /*durable=*/true));
  RETURN_IF_ERROR(r.register_backend("persisting", &PersistingBackend::create, /*durable=*/true));
  return Status::OK();
}

}  // namespace persisting
