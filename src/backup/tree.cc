#include "backup/tree.h"

#include "core/status_macros.h"

namespace persisting::backup {

Status list_files(Env* env, const std::string& root, const std::string& prefix, std::vector<std::string>* out) {
  if (!env->file_exists(root)) return Status::OK();
  auto children = env->get_children(root);
  if (!children.ok()) return children.status();
  for (const auto& name : *children) {
    std::string path = join_path(root, name);
    std::string rel = prefix.empty() ? name : prefix + "/" + name;
    auto sub = env->get_children(path);
    if (sub.ok()) {
      RETURN_IF_ERROR(list_files(env, path, rel, out));
    } else {
      out->push_back(std::move(rel));
    }
  }
  return Status::OK();
}

}  // namespace persisting::backup
