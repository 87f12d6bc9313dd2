// queue::route_parts: a batch split by the buckets its records reach, in bucket order, agreeing
// with route() (one batch per bucket of the topic) record for record.
#include <gtest/gtest.h>

#include "queue/partitioning.h"

namespace persisting::queue {
namespace {

TopicInfo topic(uint32_t buckets) {
  TopicInfo info;
  info.topic = "t";
  info.bucket_column = "id";
  info.num_buckets = buckets;
  return info;
}

TEST(RouteParts, OnePartPerBucketReachedInBucketOrderAsRouteHasThem) {
  const TopicInfo info = topic(1024);
  std::vector<Record> records;
  for (int i = 0; i < 100; ++i) records.push_back(Record{{"id", Value("k" + std::to_string(i % 37))}, {"i", Value(int64_t{i})}});
  std::vector<RecordBatch> per_bucket;
  std::vector<std::vector<size_t>> by_bucket;
  ASSERT_TRUE(route(info, records, &per_bucket, &by_bucket).ok());
  std::vector<uint32_t> buckets;
  std::vector<RecordBatch> parts;
  std::vector<std::vector<size_t>> indexes;
  ASSERT_TRUE(route_parts(info, records, &buckets, &parts, &indexes).ok());
  ASSERT_EQ(parts.size(), buckets.size());
  ASSERT_EQ(indexes.size(), buckets.size());
  size_t reached = 0, total = 0;
  for (uint32_t b = 0; b < info.num_buckets; ++b)
    if (!per_bucket[b].empty()) ++reached;
  EXPECT_EQ(buckets.size(), reached);
  for (size_t k = 0; k < buckets.size(); ++k) {
    if (k > 0) {
      EXPECT_LT(buckets[k - 1], buckets[k]);
    }
    const uint32_t b = buckets[k];
    EXPECT_EQ(indexes[k], by_bucket[b]);
    ASSERT_EQ(parts[k].size(), per_bucket[b].size());
    for (size_t r = 0; r < parts[k].size(); ++r) EXPECT_EQ(parts[k].encoded(r), per_bucket[b].encoded(r));
    total += parts[k].size();
  }
  EXPECT_EQ(total, records.size());
}

TEST(RouteParts, ARecordWithoutTheBucketColumnIsNamedAndNothingRouted) {
  const TopicInfo info = topic(16);
  std::vector<Record> records = {Record{{"id", Value("a")}}, Record{{"other", Value("b")}}};
  std::vector<uint32_t> buckets;
  std::vector<RecordBatch> parts;
  const std::vector<uint64_t> numbers = {7, 8};
  Status s = route_parts(info, records, &buckets, &parts, nullptr, &numbers);
  ASSERT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("record 8"), std::string::npos) << s.to_string();
  EXPECT_TRUE(parts.empty());
  EXPECT_TRUE(buckets.empty());
}

}  // namespace
}  // namespace persisting::queue
