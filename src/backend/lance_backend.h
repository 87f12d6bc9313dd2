// The `lance` backend: a memory buffer in front of an append-only Lance 2.0 dataset at
// <bucket_dir>/data.lance, which `lancedb.connect(<bucket_dir>).openTable("data")` opens.
//
// Offsets: [0, persisted) live in the dataset (one row per record, in offset order) and
// [persisted, total) in the buffer; a record keeps its offset when a flush moves it.
// Durability: a record survives the process once a flush has committed it.
//
// Flushes happen when the buffer reaches the topic's batch_size, every flush_interval seconds
// while anything is buffered (so a quiet topic's records still reach Lance), and on flush(). A
// failed flush
// keeps the buffer, is reported (flush() returns it; stats carry last_flush_error) and is retried
// by the next put after a back-off, or by the next flush().
//
// Types are checked at put, against the dataset's schema and the buffered records, so a flush
// never fails on types: a new field is added (nullable, metadata-only), int64 widens to double,
// anything else is InvalidArgument naming the field and both types, and nothing is buffered.
//
// One writer per bucket: the first put takes <bucket_dir>/writer.lock. Other processes may read;
// a reader that reaches the end of what it has seen reloads the dataset's latest version.
//
// Options: compression = none | zstd | lz4 (value buffers of new pages; LanceDB 0.31 reads all
// three), sync = true | false (fsync data, manifest and directories before a flush returns),
// flush_interval (seconds, 10; 0 = only at batch_size and flush()), max_buffered_bytes (1G).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "backend/buffered_dataset.h"
#include "core/background_errors.h"
#include "core/background_task.h"
#include "persisting/backend.h"

namespace persisting {

class LanceBackend final : public StorageBackend {
 public:
  static Result<std::unique_ptr<StorageBackend>> create(const BackendContext& ctx, const Options& options);
  ~LanceBackend() override;

  std::string name() const override { return "lance"; }
  Result<Offset> put_batch(const RecordBatch& batch) override;
  Status check_batch(const RecordBatch& batch, const std::vector<uint64_t>& numbers) override;
  bool checks_batches() const override { return true; }
  Result<RecordBatch> get(Offset offset, size_t limit) override;
  Result<Offset> offset_for_time(int64_t time_ms) override;
  Status flush() override;
  BucketStats stats() const override;
  uint64_t total_count() const override;
  uint64_t first_offset() const override;
  bool durable() const override { return true; }

 private:
  LanceBackend(const BackendContext& ctx, std::unique_ptr<BufferedDataset> data);
  void periodic_flush();  // flusher_'s body
  // Takes <bucket_dir>/writer.lock, reloads the dataset and applies retention. mu_ held.
  Status become_writer();

  Env* env_;
  std::string bucket_dir_;
  uint32_t batch_size_;
  // Flushes no caller waits for (the periodic one, the one a put triggers): logged once, in stats.
  BackgroundErrors bg_;
  mutable std::mutex mu_;
  std::unique_ptr<BufferedDataset> data_;
  std::unique_ptr<FileLock> writer_lock_;  // taken at the first put
  std::chrono::milliseconds flush_interval_{0};  // 0: no periodic flush
  // The periodic flush, on the bucket's Scheduler: armed by a put that leaves records buffered,
  // flush_interval after it (no timer while nothing waits).
  BackgroundTask flusher_;
  // Age retention's look at a quiet bucket (docs/retention.md): a flush (which applies retention)
  // when the oldest fragment expires, re-armed after each look and each explicit flush. Idle
  // unless the topic has retention_ms.
  void age_look();  // ager_'s body
  void arm_ager();  // mu_ held
  BackgroundTask ager_;
};

}  // namespace persisting
