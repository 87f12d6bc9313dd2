#include "backend/record_shape.h"

#include <map>
#include <mutex>

namespace persisting {
namespace {

struct Interned {
  std::mutex mu;
  std::map<std::string, std::weak_ptr<const RecordShape>, std::less<>> shapes;
};

Interned& interned() {
  static Interned* table = new Interned();  // never destroyed: buckets may close at exit
  return *table;
}

}  // namespace

std::string RecordShape::key_of(const std::vector<FieldShape>& fields) {
  std::string key;
  for (const FieldShape& f : fields) {
    key.append(std::to_string(f.name.size())).append(":").append(f.name);
    key.append("/").append(std::to_string(static_cast<int>(f.type)));
    key.append("/").append(std::to_string(f.dim)).append(";");
  }
  return key;
}

std::shared_ptr<const RecordShape> RecordShape::intern(const std::vector<FieldShape>& fields) {
  const std::string key = key_of(fields);
  Interned& t = interned();
  std::lock_guard<std::mutex> lock(t.mu);
  if (auto it = t.shapes.find(key); it != t.shapes.end())
    if (auto live = it->second.lock()) return live;
  size_t bytes = 0;
  for (const FieldShape& f : fields) bytes += f.name.size();
  auto shape = std::shared_ptr<RecordShape>(new RecordShape());
  shape->names_.reserve(bytes);  // the views below stay valid: no reallocation
  for (const FieldShape& f : fields) {
    FieldShape k;
    k.name = std::string_view(shape->names_.data() + shape->names_.size(), f.name.size());
    shape->names_.append(f.name);
    k.type = f.type;
    k.dim = f.dim;
    shape->fields_.push_back(k);
  }
  // Shapes no bucket remembers any more go when the table has grown: it stays as small as the
  // number of shapes in use, plus what was dropped since the last sweep.
  if (t.shapes.size() >= 64) std::erase_if(t.shapes, [](const auto& e) { return e.second.expired(); });
  t.shapes[key] = shape;
  return shape;
}

bool RecordShape::all_have(const RecordBatch& batch) const {
  thread_local std::vector<FieldShape> scan;  // one record's fields: reused, so never allocated
  for (size_t r = 0; r < batch.size(); ++r) {
    if (!scan_fields(batch.encoded(r), &scan).ok() || scan.size() != fields_.size()) return false;
    for (size_t k = 0; k < scan.size(); ++k) {
      const FieldShape& a = scan[k];
      const FieldShape& b = fields_[k];
      if (a.type != b.type || a.dim != b.dim || a.name != b.name) return false;
    }
  }
  return true;
}

}  // namespace persisting
