// `persisting compact`: compaction and version cleanup of a topic's Lance datasets now
// (docs/compaction.md), as the flushes of a writer do in the background: on local disk
// (--data-dir), or on the nodes that own the topic's buckets (--server, CompactTopic).
#include <iostream>

#include "apps/persisting/commands.h"
#include "backend/maintenance.h"
#include "persisting/json.h"
#include "queue/topic_meta.h"
#include "storage/lance/dataset.h"

namespace persisting::cli {
namespace {

int usage(const std::string& message) {
  std::cerr << "persisting: " << message << "\n";
  return 2;
}

int compact_remote(const CompactArgs& a, std::optional<int64_t> retention) {
  if (Status s = validate_topic_name(a.topic); !s.ok()) return fail(s.to_string());
  if (a.bucket && (*a.bucket < 0 || *a.bucket > int64_t{UINT32_MAX}))
    return usage("--bucket " + std::to_string(*a.bucket) + " is not a bucket");
  auto c = open_client(a.target);
  if (!c.ok()) return fail(c.status().to_string());
  CompactOptions o;
  if (a.bucket) o.bucket = static_cast<uint32_t>(*a.bucket);
  o.version_retention_s = retention;
  auto r = (*c)->compact(a.topic, o);
  if (!r.ok()) {
    // A bucket out of range is bad input, as locally.
    if (r.status().code() == Code::kInvalidArgument) return usage(r.status().to_string());
    return fail(r.status().to_string());
  }
  int exit_code = 0;
  if (const Value* buckets = r->find("buckets"); buckets && buckets->is_list())
    for (const auto& b : buckets->as_list())
      if (const Value* e = b.is_object() ? b.as_object().find("error") : nullptr) {
        std::cerr << "persisting: " << e->as_string() << "\n";
        exit_code = 1;
      }
  std::cout << to_json(*r) << "\n";
  return exit_code;
}

}  // namespace

int run_compact(const CompactArgs& a) {
  Env* env = Env::Default();
  // Every check comes before the first dataset is touched: bad input changes nothing.
  std::optional<int64_t> retention;
  if (a.version_retention) {
    const std::string& t = *a.version_retention;
    bool ok = !t.empty() && t.size() <= 12;
    int64_t v = 0;
    for (char c : t) {
      if (c < '0' || c > '9') ok = false;
      else v = v * 10 + (c - '0');
    }
    if (!ok) return usage("--version-retention must be a number of seconds (0 or more), got '" + t + "'");
    retention = v;
  }
  if (!a.target.server.empty()) return compact_remote(a, retention);
  if (Status s = validate_topic_name(a.topic); !s.ok()) return fail(s.to_string());
  auto info = queue::load_topic_meta(env, a.target.data_dir, a.topic);
  if (!info.ok()) return fail(info.status().to_string());
  if (info->backend != "lance" && info->backend != "persisting")
    return fail("topic '" + a.topic + "' uses backend '" + info->backend + "', which keeps no Lance datasets to compact");
  if (a.bucket && (*a.bucket < 0 || *a.bucket >= static_cast<int64_t>(info->num_buckets)))
    return usage("--bucket " + std::to_string(*a.bucket) + ": topic '" + a.topic + "' has buckets 0 to " +
                 std::to_string(info->num_buckets - 1));
  // The topic's own settings (its backend options), the flag over them.
  auto mo = topic_maintenance_options(info->backend_options, retention, "topic '" + a.topic + "'");
  if (!mo.ok()) return fail(mo.status().to_string());
  const RetentionLimits limits(info->retention.records.value_or(0), info->retention.bytes.value_or(0),
                               info->retention.ms.value_or(0));

  List buckets;
  int exit_code = 0;
  for (uint32_t b = 0; b < info->num_buckets; ++b) {
    if (a.bucket && static_cast<int64_t>(b) != *a.bucket) continue;
    const std::string path = join_path(queue::bucket_dir(a.target.data_dir, a.topic, BucketId(b)), "data.lance");
    Object o{{"bucket", static_cast<int64_t>(b)}};
    auto c = compact_dataset_now(env, path, *mo, &limits);
    if (!c.ok()) return fail(c.status().with_context("bucket " + std::to_string(b)).to_string());
    if (!c->exists) {
      o.set("version", 0);  // nothing flushed to this bucket yet
      buckets.emplace_back(std::move(o));
      continue;
    }
    if (!c->status.ok()) {
      // Reported, and the other buckets still get their turn.
      std::cerr << "persisting: bucket " << b << ": " << c->status.to_string() << "\n";
      o.set("error", c->status.to_string());
      exit_code = 1;
    } else {
      const auto& r = c->report;
      o.set("fragments_compacted", static_cast<int64_t>(r.compaction.fragments_removed));
      o.set("fragments_written", static_cast<int64_t>(r.compaction.fragments_written));
      o.set("rows_rewritten", static_cast<int64_t>(r.compaction.rows_rewritten));
      o.set("versions_removed", static_cast<int64_t>(r.cleanup.versions_removed));
      o.set("files_removed", static_cast<int64_t>(r.cleanup.files_removed));
      o.set("bytes_removed", static_cast<int64_t>(r.cleanup.bytes_removed));
    }
    o.set("version", static_cast<int64_t>(c->version));
    o.set("fragments_before", static_cast<int64_t>(c->fragments_before));
    o.set("fragments", static_cast<int64_t>(c->fragments));
    o.set("rows", static_cast<int64_t>(c->rows));
    buckets.emplace_back(std::move(o));
  }
  Object out{{"topic", a.topic}, {"buckets", std::move(buckets)}};
  std::cout << to_json(out) << "\n";
  return exit_code;
}

}  // namespace persisting::cli
