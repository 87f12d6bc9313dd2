#include <dlfcn.h>

#include "backend/builtin.h"
#include "persisting/backend.h"

namespace persisting {
namespace {

bool valid_backend_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

}  // namespace

BackendRegistry& BackendRegistry::global() {
  static BackendRegistry* registry = [] {
    auto* r = new BackendRegistry();  // lives until exit: plugins may hold factories
    Status s = register_builtin_backends(*r);
    (void)s;  // built-in names are valid and distinct
    return r;
  }();
  return *registry;
}

Status BackendRegistry::register_backend(const std::string& name, BackendFactory factory,
                                         bool durable) {
  if (!valid_backend_name(name))
    return InvalidArgument("backend name '" + name + "' must match [a-z0-9_-]{1,64}");
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.count(name)) return AlreadyExists("backend '" + name + "' is already registered");
  entries_[name] = Entry{std::move(factory), durable};
  return Status::OK();
}

Result<std::unique_ptr<StorageBackend>> BackendRegistry::create(const std::string& name,
                                                                const BackendContext& ctx,
                                                                const Options& options) const {
  BackendFactory factory;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& [n, e] : entries_) known += (known.empty() ? "" : ", ") + n;
      return NotFound("unknown backend '" + name + "' (known: " + known + ")");
    }
    factory = it->second.factory;
  }
  BackendContext c = ctx;
  if (c.env == nullptr) c.env = Env::Default();
  return factory(c, options);
}

Status BackendRegistry::validate_options(const std::string& name, const Options& options) const {
  BackendContext ctx;
  ctx.validate_only = true;
  return create(name, ctx, options).status();
}

bool BackendRegistry::contains(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.count(name) > 0;
}

Result<bool> BackendRegistry::is_durable(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return NotFound("unknown backend '" + name + "'");
  return it->second.durable;
}

std::vector<std::string> BackendRegistry::names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [n, e] : entries_) out.push_back(n);
  return out;
}

Status BackendRegistry::load_plugin(const std::string& path) {
  // RTLD_NODELETE: factories registered by the plugin must stay callable until exit.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) {
    const char* e = ::dlerror();
    return InvalidArgument("plugin '" + path + "': cannot load: " + (e ? e : "unknown error"));
  }
  auto version_fn = reinterpret_cast<int (*)()>(::dlsym(handle, "persisting_plugin_abi_version"));
  auto register_fn = reinterpret_cast<int (*)(BackendRegistry*, char*, size_t)>(
      ::dlsym(handle, "persisting_plugin_register"));
  if (version_fn == nullptr || register_fn == nullptr) {
    ::dlclose(handle);
    return InvalidArgument("plugin '" + path +
                           "': missing persisting_plugin_abi_version or persisting_plugin_register");
  }
  int v = version_fn();
  if (v != kPluginAbiVersion) {
    ::dlclose(handle);
    return FailedPrecondition("plugin '" + path + "': ABI version " + std::to_string(v) +
                              ", this build needs " + std::to_string(kPluginAbiVersion));
  }
  char err[512] = {0};
  if (register_fn(this, err, sizeof err) != 0)
    return InvalidArgument("plugin '" + path + "': registration failed: " + err);
  return Status::OK();
}

}  // namespace persisting
