// The shape a bucket remembers of its records (backend/record_shape.h): interned, so buckets
// with equal shapes share one object, and matched field by field (name, kind, vector size).
#include "backend/record_shape.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "persisting/json.h"

namespace persisting {
namespace {

RecordBatch batch_of(const std::vector<std::string>& lines) {
  RecordBatch b;
  for (const auto& line : lines) b.add(*parse_json_record(line));
  return b;
}

// The interned shape of one record (its field names are views into the record while intern
// runs, as in a bucket's put).
std::shared_ptr<const RecordShape> shape_of(const std::string& line) {
  RecordBatch b = batch_of({line});
  std::vector<FieldShape> fields;
  EXPECT_TRUE(scan_fields(b.encoded(0), &fields).ok());
  return RecordShape::intern(fields);
}

TEST(InternedRecordShape, EqualShapesShareOneObjectAndOthersDoNot) {
  auto a = shape_of(R"({"id":"x","n":1})");
  auto b = shape_of(R"({"id":"yy","n":2})");  // other values, same shape
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(a->size(), 2u);
  EXPECT_NE(a.get(), shape_of(R"({"id":"x","m":1})").get());    // a name
  EXPECT_NE(a.get(), shape_of(R"({"id":"x","n":1.5})").get());  // a kind
  EXPECT_NE(a.get(), shape_of(R"({"n":1,"id":"x"})").get());    // the order
  EXPECT_NE(a.get(), shape_of(R"({"id":"x"})").get());          // a field less
  // A shape nobody holds any more is made anew, with its names copied from the new input.
  a.reset();
  b.reset();
  auto again = shape_of(R"({"id":"z","n":3})");
  EXPECT_TRUE(again->all_have(batch_of({R"({"id":"q","n":4})"})));
}

TEST(InternedRecordShape, ABatchHasItOnlyIfEveryRecordDoes) {
  auto shape = shape_of(R"({"id":"x","n":1,"v":"s"})");
  EXPECT_TRUE(shape->all_have(RecordBatch()));
  EXPECT_TRUE(shape->all_have(batch_of({R"({"id":"a","n":2,"v":"t"})", R"({"id":"b","n":3,"v":""})"})));
  EXPECT_FALSE(shape->all_have(batch_of({R"({"id":"a","n":2,"v":"t"})", R"({"id":"b","n":"3","v":""})"})));
  EXPECT_FALSE(shape->all_have(batch_of({R"({"id":"a","n":2,"v":"t","w":1})"})));
  EXPECT_FALSE(shape->all_have(batch_of({R"({"id":"a","n":2,"x":"t"})"})));
  EXPECT_FALSE(shape->all_have(batch_of({R"({"id":"a","n":null,"v":"t"})"})));
}

}  // namespace
}  // namespace persisting
