// RecordShape: the top-level field names, kinds and vector sizes of a record, in order.
//
// A bucket remembers the one shape of the records it last checked in whole, so that a put
// whose records all have it skips inferring their types again. Shapes are interned: buckets
// that remember equal shapes share one object, which stays in the cache when a put spreads
// a record or two over each of many buckets.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "persisting/codec.h"

namespace persisting {

class RecordShape {
 public:
  // The shared shape of these fields (scan_fields's output); equal inputs give the same object.
  static std::shared_ptr<const RecordShape> intern(const std::vector<FieldShape>& fields);

  // Whether every record of batch has this shape (false for one that does not scan).
  bool all_have(const RecordBatch& batch) const;

  size_t size() const { return fields_.size(); }

 private:
  RecordShape() = default;
  static std::string key_of(const std::vector<FieldShape>& fields);

  std::string names_;               // every field's name, back to back
  std::vector<FieldShape> fields_;  // names are views into names_; only name, type, dim are set
};

}  // namespace persisting
