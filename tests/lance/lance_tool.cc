// lance_tool: JSON Lines <-> Lance dataset, for the LanceDB interop scripts (tests/lance/interop).
//
//   lance_tool append   DATASET [--batch N] [--vector FIELD]... [--page-bytes N]
//                       [--compression none|zstd|lz4] [--sync 0|1]  < rows.jsonl
//       appends stdin's records, N per fragment (all in one when omitted); lists of numbers in
//       a --vector field become float32 vectors. Prints {"version":V,"rows":R}.
//   lance_tool read     DATASET [--offset N] [--limit N] [--version V] [--columns a,b] [--offsets 1]
//       prints the rows of offsets [N, N + limit) as JSON Lines, leaving out rows LanceDB
//       deleted; --offsets 1 (latest version only) adds each row's offset as "_offset".
//   lance_tool count    DATASET [--version V]        prints the row count (deleted rows
//                                                    included: the offsets they keep)
//   lance_tool deleted  DATASET                      prints the number of deleted rows
//   lance_tool versions DATASET                      one JSON object per version
//   lance_tool inspect  DATASET                      versions, fragments and schema (JSON Lines)
//   lance_tool encodings DATASET                     the page encodings used, one per line
//   lance_tool bench    DATASET [--rows N] [--flush N] [--dim D] [--payload BYTES] [--sync 0|1]
//       appends N rows {id, idx, payload, vector} in flushes of --flush rows (rows are built
//       before the clock starts) and prints one JSON object: rows/s and the median flush time
//       at about 10,000 existing rows and at the end (bench/lance.sh compares it with LanceDB).
//   lance_tool retain   DATASET --rows N             retention: removes the first N fragments in
//       one commit; prints {"removed_rows","first_offset","version"}
//   lance_tool first    DATASET                      the first available offset
//   lance_tool compact  DATASET [--rows TARGET]      compaction (docs/compaction.md), fragments of
//       fewer than TARGET rows (default 1048576) merge; prints {"fragments_removed",
//       "fragments_written","rows_rewritten","version"}
//   lance_tool cleanup  DATASET [--older-than S]     removes versions replaced at least S seconds
//       ago (default 0) and the files only they use; prints {"versions_removed","files_removed"}
// Errors go to stderr with exit status 1.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "core/status_macros.h"
#include "persisting/json.h"
#include "storage/lance/dataset.h"
#include "storage/lance/file_reader.h"
#include "storage/lance/format.h"
#include "storage/lance/proto/encodings.pb.h"

using namespace persisting;
using namespace persisting::lance;

namespace {

int fail(const Status& st) {
  std::fprintf(stderr, "lance_tool: %s\n", st.to_string().c_str());
  return 1;
}

struct Args {
  std::string command, dataset;
  uint64_t batch = 0, offset = 0, limit = UINT64_MAX, page_bytes = 0;
  std::optional<uint64_t> version;
  std::vector<std::string> columns;
  std::set<std::string> vectors;
  std::string compression;
  uint64_t rows = 1000000, flush = 1000, dim = 128, payload = 256;
  bool sync = true;
  bool offsets = false;
  std::optional<uint64_t> target_rows;
  uint64_t older_than = 0;
};

Result<Args> parse_args(int argc, char** argv) {
  Args a;
  if (argc < 3) return InvalidArgument("usage: lance_tool COMMAND DATASET [options]");
  a.command = argv[1];
  a.dataset = argv[2];
  for (int i = 3; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) return InvalidArgument("missing value for " + k);
    std::string v = argv[++i];
    if (k == "--batch") a.batch = std::stoull(v);
    else if (k == "--offset") a.offset = std::stoull(v);
    else if (k == "--limit") a.limit = std::stoull(v);
    else if (k == "--offsets") a.offsets = v == "1";
    else if (k == "--version") a.version = std::stoull(v);
    else if (k == "--page-bytes") a.page_bytes = std::stoull(v);
    else if (k == "--vector") a.vectors.insert(v);
    else if (k == "--compression") a.compression = v;
    else if (k == "--sync") a.sync = v != "0";
    else if (k == "--rows") a.rows = std::stoull(v), a.target_rows = a.rows;
    else if (k == "--older-than") a.older_than = std::stoull(v);
    else if (k == "--flush") a.flush = std::stoull(v);
    else if (k == "--dim") a.dim = std::stoull(v);
    else if (k == "--payload") a.payload = std::stoull(v);
    else if (k == "--columns") {
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        if (comma == std::string::npos) comma = v.size();
        a.columns.push_back(v.substr(start, comma - start));
        start = comma + 1;
      }
    } else {
      return InvalidArgument("unknown option " + k);
    }
  }
  return a;
}

Status to_vector(Value* v, const std::string& field) {
  if (!v->is_list()) return Status::OK();
  F32Vector out;
  for (const Value& x : v->as_list()) {
    if (x.is_double()) out.push_back(static_cast<float>(x.as_double()));
    else if (x.is_int()) out.push_back(static_cast<float>(x.as_int()));
    else return InvalidArgument("field '" + field + "': vector item is not a number");
  }
  *v = Value(std::move(out));
  return Status::OK();
}

Status append(LanceDataset* ds, const Args& a) {
  std::vector<Record> rows;
  std::string line;
  uint64_t total = 0, version = ds->version();
  auto flush = [&]() -> Status {
    if (rows.empty()) return Status::OK();
    ASSIGN_OR_RETURN(version, ds->append(rows));
    total += rows.size();
    rows.clear();
    return Status::OK();
  };
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    ASSIGN_OR_RETURN(Record r, parse_json_record(line));
    for (auto& [name, value] : r) {
      if (a.vectors.count(name)) RETURN_IF_ERROR(to_vector(&value, name));
    }
    rows.push_back(std::move(r));
    if (a.batch != 0 && rows.size() == a.batch) RETURN_IF_ERROR(flush());
  }
  RETURN_IF_ERROR(flush());
  std::printf("{\"version\":%llu,\"rows\":%llu}\n", static_cast<unsigned long long>(version),
              static_cast<unsigned long long>(total));
  return Status::OK();
}

Status read(LanceDataset* ds, const Args& a) {
  ReadOptions ro;
  ro.version = a.version;
  ro.columns = a.columns;
  if (a.offsets && a.version) return InvalidArgument("--offsets reads the latest version only");
  ro.with_deleted = a.offsets;  // then deleted_offsets() says which rows to leave out
  uint64_t total = ds->count_rows();
  if (a.version) {
    ASSIGN_OR_RETURN(total, ds->count_rows(*a.version));
  }
  const uint64_t chunk = 10000;
  std::string out;
  for (uint64_t offset = a.offset, left = a.limit; left > 0 && offset < total;) {
    const uint64_t n = std::min({left, chunk, total - offset});
    ASSIGN_OR_RETURN(auto rows, ds->read(offset, n, ro));
    std::vector<uint64_t> deleted;
    if (a.offsets) {
      ASSIGN_OR_RETURN(deleted, ds->deleted_offsets(offset, n));
    }
    size_t d = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
      Record& r = rows[i];
      if (a.offsets) {
        if (d < deleted.size() && deleted[d] == offset + i) {
          ++d;
          continue;
        }
        r.set("_offset", static_cast<int64_t>(offset + i));
      }
      out.clear();
      to_json(Value(r), &out);
      out += '\n';
      std::fwrite(out.data(), 1, out.size(), stdout);
    }
    offset += n;
    left -= n;
  }
  return Status::OK();
}

Status encodings(LanceDataset* ds) {
  std::set<std::string> seen;
  for (const auto& frag : ds->snapshot().file.manifest.fragments()) {
    for (const auto& df : frag.files()) {
      ASSIGN_OR_RETURN(auto r, DataFileReader::open(Env::Default(), ds->path() + "/data/" + df.path(), df.file_size_bytes()));
      for (uint32_t c = 0; c < r->num_columns(); ++c) {
        for (const std::string& name : r->page_encoding_names(c)) seen.insert(name);
      }
    }
  }
  for (const std::string& s : seen) std::printf("%s\n", s.c_str());
  return Status::OK();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The flush benchmark: rows {id, idx, payload (a.payload bytes), vector (a.dim floats)}.
Status bench(LanceDataset* ds, const Args& a) {
  if (a.flush == 0 || a.rows < a.flush) return InvalidArgument("--rows must be >= --flush > 0");
  const uint64_t flushes = a.rows / a.flush;
  std::vector<double> ms(flushes), cpu_ms(flushes);
  double total = 0;
  // CPU time of this thread (user + system) per flush: the software's own cost, which the
  // shared machine's I/O contention does not inflate the way it inflates wall time.
  auto thread_cpu_ms = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
  };
  std::vector<Record> batch;
  for (uint64_t f = 0; f < flushes; ++f) {
    batch.clear();
    for (uint64_t i = 0; i < a.flush; ++i) {
      const int64_t id = static_cast<int64_t>(f * a.flush + i);
      F32Vector v(a.dim);
      for (uint64_t k = 0; k < a.dim; ++k) v[k] = static_cast<float>((id * 31 + k) % 1000) / 1000.0f;
      std::string payload(a.payload, static_cast<char>('a' + id % 26));
      batch.push_back(Record{{"id", id}, {"idx", id % 1000}, {"payload", std::move(payload)}, {"vector", std::move(v)}});
    }
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = thread_cpu_ms();
    RETURN_IF_ERROR(ds->append(batch).status());
    cpu_ms[f] = thread_cpu_ms() - c0;
    ms[f] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    total += ms[f];
  }
  // "At 10,000 existing rows": the 10 flushes after the first 10,000 rows; "at the end": the last 10.
  const uint64_t at = std::min<uint64_t>(10000 / a.flush, flushes - 1);
  auto window = [&](const std::vector<double>& v, bool end) {
    const uint64_t n = std::min<uint64_t>(10, flushes);
    return end ? std::vector<double>(v.end() - n, v.end())
               : std::vector<double>(v.begin() + at, v.begin() + std::min<uint64_t>(at + 10, flushes));
  };
  const double early = median(window(ms, false)), late = median(window(ms, true));
  const double cpu_early = median(window(cpu_ms, false)), cpu_late = median(window(cpu_ms, true));
  std::printf("{\"sync\":%s,\"rows\":%llu,\"flush_rows\":%llu,\"flushes\":%llu,\"seconds\":%.3f,\"rows_per_s\":%.0f,"
              "\"flush_ms_at_10k\":%.3f,\"flush_ms_at_end\":%.3f,\"end_over_10k\":%.3f,"
              "\"cpu_ms_at_10k\":%.3f,\"cpu_ms_at_end\":%.3f,\"cpu_end_over_10k\":%.3f}\n",
              a.sync ? "true" : "false", static_cast<unsigned long long>(flushes * a.flush), static_cast<unsigned long long>(a.flush),
              static_cast<unsigned long long>(flushes), total / 1000, flushes * a.flush / (total / 1000),
              early, late, late / early, cpu_early, cpu_late, cpu_late / cpu_early);
  return Status::OK();
}

Status inspect(LanceDataset* ds) {
  ASSIGN_OR_RETURN(auto vs, ds->versions());
  for (const VersionInfo& v : vs) {
    std::printf("%s\n", to_json(Value(Record{{"version", int64_t(v.version)}, {"timestamp", int64_t{v.timestamp_seconds}},
                                               {"rows", int64_t(v.num_rows)}, {"fragments", int64_t(v.num_fragments)}})).c_str());
  }
  for (const FragmentInfo& f : ds->fragments()) {
    List files;
    for (const std::string& p : f.files) files.emplace_back(p);
    std::printf("%s\n", to_json(Value(Record{{"fragment", int64_t(f.id)}, {"first_row", int64_t(f.first_row)},
                                               {"rows", int64_t(f.num_rows)}, {"deleted", int64_t(f.num_deleted)}, {"files", std::move(files)}})).c_str());
  }
  for (const FieldInfo& f : ds->schema()) {
    std::printf("%s\n", to_json(Value(Record{{"field", f.name}, {"id", int64_t{f.id}}, {"lance_type", f.lance_type},
                                               {"type", f.type}})).c_str());
  }
  return Status::OK();
}

Status run(const Args& a) {
  LanceOptions opt;
  if (a.page_bytes) opt.file.max_page_bytes = a.page_bytes;
  opt.file.sync = a.sync;
  ASSIGN_OR_RETURN(opt.file.compression, parse_buffer_compression(a.compression));
  ASSIGN_OR_RETURN(auto ds, LanceDataset::open_or_create(Env::Default(), a.dataset, opt));
  if (a.command == "append") return append(ds.get(), a);
  if (a.command == "read") return read(ds.get(), a);
  if (a.command == "count") {
    uint64_t n = ds->count_rows();
    if (a.version) {
      ASSIGN_OR_RETURN(n, ds->count_rows(*a.version));
    }
    std::printf("%llu\n", static_cast<unsigned long long>(n));
    return Status::OK();
  }
  if (a.command == "versions") {
    ASSIGN_OR_RETURN(auto vs, ds->versions());
    for (const VersionInfo& v : vs) {
      std::printf("{\"version\":%llu,\"rows\":%llu,\"fragments\":%llu}\n", static_cast<unsigned long long>(v.version),
                  static_cast<unsigned long long>(v.num_rows), static_cast<unsigned long long>(v.num_fragments));
    }
    return Status::OK();
  }
  if (a.command == "retain") {  // retention: drop the first --rows fragments (0: none)
    const size_t n = static_cast<size_t>(a.rows);
    ASSIGN_OR_RETURN(uint64_t removed, ds->remove_front_fragments([n](const Snapshot&) { return n; }));
    std::printf("{\"removed_rows\":%llu,\"first_offset\":%llu,\"version\":%llu}\n",
                static_cast<unsigned long long>(removed), static_cast<unsigned long long>(ds->first_offset()),
                static_cast<unsigned long long>(ds->version()));
    return Status::OK();
  }
  if (a.command == "compact") {
    CompactionOptions o;
    if (a.target_rows) o.target_rows = *a.target_rows;
    ASSIGN_OR_RETURN(CompactionReport r, ds->compact(o));
    std::printf("{\"fragments_removed\":%llu,\"fragments_written\":%llu,\"rows_rewritten\":%llu,\"version\":%llu}\n",
                static_cast<unsigned long long>(r.fragments_removed), static_cast<unsigned long long>(r.fragments_written),
                static_cast<unsigned long long>(r.rows_rewritten), static_cast<unsigned long long>(ds->version()));
    return Status::OK();
  }
  if (a.command == "cleanup") {
    CleanupOptions o;
    o.older_than = std::chrono::seconds(static_cast<int64_t>(a.older_than));
    ASSIGN_OR_RETURN(CleanupReport r, ds->cleanup_old_versions(o));
    std::printf("{\"versions_removed\":%llu,\"files_removed\":%llu}\n",
                static_cast<unsigned long long>(r.versions_removed), static_cast<unsigned long long>(r.files_removed));
    return Status::OK();
  }
  if (a.command == "first") {  // the first available offset (table_metadata)
    std::printf("%llu\n", static_cast<unsigned long long>(ds->first_offset()));
    return Status::OK();
  }
  if (a.command == "encodings") return encodings(ds.get());
  if (a.command == "inspect") return inspect(ds.get());
  if (a.command == "deleted") {
    std::printf("%llu\n", static_cast<unsigned long long>(ds->count_deleted()));
    return Status::OK();
  }
  if (a.command == "bench") return bench(ds.get(), a);
  return InvalidArgument("unknown command '" + a.command + "'");
}

}  // namespace

int main(int argc, char** argv) {
  auto a = parse_args(argc, argv);
  if (!a.ok()) return fail(a.status());
  Status st = run(*a);
  std::fflush(stdout);
  return st.ok() ? 0 : fail(st);
}
