// `persisting inspect`: what is on disk for a topic whose buckets are Lance datasets: per bucket
// the dataset's versions, fragments, schema and row counts, as JSON.
#include <iostream>

#include "apps/persisting/commands.h"
#include "persisting/json.h"
#include "queue/topic_meta.h"
#include "storage/lance/dataset.h"

namespace persisting::cli {

int run_inspect(const std::string& data_dir, const std::string& topic) {
  Env* env = Env::Default();
  if (Status s = validate_topic_name(topic); !s.ok()) return fail(s.to_string());
  auto info = queue::load_topic_meta(env, data_dir, topic);
  if (!info.ok()) return fail(info.status().to_string());
  if (info->backend != "lance" && info->backend != "persisting")
    return fail("topic '" + topic + "' uses backend '" + info->backend +
                "', which keeps no Lance datasets to inspect");
  List buckets;
  for (uint32_t b = 0; b < info->num_buckets; ++b) {
    std::string path = join_path(queue::bucket_dir(data_dir, topic, BucketId(b)), "data.lance");
    Object o{{"bucket", static_cast<int64_t>(b)}, {"dataset", path}};
    if (!env->file_exists(path)) {
      o.set("version", 0);  // nothing flushed to this bucket yet
      buckets.emplace_back(std::move(o));
      continue;
    }
    auto ds = lance::LanceDataset::open_or_create(env, path);
    if (!ds.ok()) return fail(ds.status().with_context("bucket " + std::to_string(b)).to_string());
    auto versions = (*ds)->versions();
    if (!versions.ok()) return fail(versions.status().to_string());
    o.set("version", static_cast<int64_t>((*ds)->version()));
    o.set("rows", static_cast<int64_t>((*ds)->count_rows()));  // deleted rows included: they keep their offsets
    o.set("deleted_rows", static_cast<int64_t>((*ds)->count_deleted()));  // by LanceDB (gaps)
    List vs;
    for (const auto& v : *versions)
      vs.emplace_back(Object{{"version", static_cast<int64_t>(v.version)},
                             {"timestamp", static_cast<double>(v.timestamp_seconds) + v.timestamp_nanos / 1e9},
                             {"rows", static_cast<int64_t>(v.num_rows)},
                             {"fragments", static_cast<int64_t>(v.num_fragments)}});
    o.set("versions", std::move(vs));
    List frags;
    for (const auto& f : (*ds)->fragments()) {
      List files;
      for (const auto& file : f.files) files.emplace_back(file);
      frags.emplace_back(Object{{"id", static_cast<int64_t>(f.id)},
                                {"first_row", static_cast<int64_t>(f.first_row)},
                                {"rows", static_cast<int64_t>(f.num_rows)},
                                {"deleted", static_cast<int64_t>(f.num_deleted)},
                                {"files", std::move(files)}});
    }
    o.set("fragments", std::move(frags));
    List schema;
    for (const auto& f : (*ds)->schema())
      schema.emplace_back(Object{{"name", f.name}, {"type", f.type}, {"lance_type", f.lance_type}});
    o.set("schema", std::move(schema));
    buckets.emplace_back(std::move(o));
  }
  Object out{{"topic", topic}, {"backend", info->backend}, {"buckets", std::move(buckets)}};
  std::cout << to_json(out) << "\n";
  return 0;
}

}  // namespace persisting::cli
