// Backup, verify and restore of one topic of a data dir (docs/backup.md). Part of the embedded
// library (persisting::embedded); every file is reached through the Env.
//
//   writer->flush();                                   // records of this process into Lance
//   auto r = backup::backup_topic(Env::Default(), "/data", "events", "/backups/events");
//   auto v = backup::verify_backup(Env::Default(), "/backups/events");   // v->ok()
//   auto t = backup::restore_topic(Env::Default(), "/backups/events", "/data2", {.topic = "events-copy"});
//
// A backup copies what Lance holds: each bucket's latest Lance version is pinned (its manifest
// read once) and exactly the files it refers to are copied, with topic.json and the consumer
// groups' commits; DIR/backup.json, written last, lists every file with its size and CRC32C.
// Writers may go on meanwhile. Records a writer has not flushed are not in it: flush first.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "persisting/env.h"
#include "persisting/status.h"
#include "persisting/store.h"

namespace persisting::backup {

// One file of a backup. path is relative to the backup directory ("events/topic.json").
struct BackupFile {
  std::string path;
  uint64_t size = 0;
  uint32_t crc32c = 0;
};

// A bucket as the backup holds it: Lance version `version` (0: nothing flushed yet), whose rows
// are the offsets [first_offset, end_offset).
struct BackupBucket {
  uint32_t bucket = 0;
  uint64_t version = 0;
  uint64_t first_offset = 0;
  uint64_t end_offset = 0;
};

// DIR/backup.json (format 1, docs/backup.md).
struct BackupManifest {
  std::string topic;
  uint64_t incarnation = 0;
  std::string created_at;             // UTC, ISO 8601
  std::vector<BackupBucket> buckets;  // one per bucket, in bucket order
  std::vector<std::string> groups;    // consumer groups whose commits are in the backup (sorted)
  std::vector<BackupFile> files;      // sorted by path

  const BackupFile* find(std::string_view path) const;
};

struct BackupOptions {
  bool sync = true;  // fdatasync every file written and fsync the directories before backup.json
};

struct BackupResult {
  BackupManifest manifest;
  uint64_t files_copied = 0, files_skipped = 0, files_removed = 0;
  uint64_t bytes_copied = 0, bytes_skipped = 0;
};

// Backs up `topic` of `data_dir` into `dir` (created if absent). A `dir` holding an earlier
// backup of the same topic (and incarnation) is updated incrementally: files it already has are
// not copied again, files the new backup does not list are removed after the new backup.json.
// NotFound for an unknown topic; FailedPrecondition when `dir` holds something other than a
// backup of this topic's incarnation, or the topic's backend keeps no files (memory);
// NotSupported for a backend other than lance and persisting (a plugin's files are its own).
// On an error the previous backup.json in `dir` (if any) stays (it is replaced last) and so do
// the Lance files it lists; topic.json and group files that changed since may already be
// rewritten, which verify reports until a backup completes.
Result<BackupResult> backup_topic(Env* env, const std::string& data_dir, const std::string& topic,
                                  const std::string& dir, const BackupOptions& options = {});

// Where a backup's files come from: a data dir on this host (the backup_topic above), or a
// cluster, whose nodes stream each bucket they own (net/remote_backup.h). Both feed the same
// writer: the layout, backup.json, the incremental skipping and the crash safety are one code.
//
// A file of a bucket's dataset, relative to the dataset directory ("data/<uuid>.lance").
struct SourceFile {
  std::string path;
  uint64_t size = 0;
};

// What a source hands one pinned bucket to (backup_topic makes it).
class BucketSink {
 public:
  virtual ~BucketSink() = default;
  // The files of this bucket the backup directory holds already, with their sizes: a source
  // that can (a node) need not send them again when the version has them with that size.
  virtual const std::vector<SourceFile>& held() const = 0;
  // The pinned version and every file it refers to: called once, before any file.
  virtual Status pinned(const BackupBucket& bucket, const std::vector<SourceFile>& files) = 0;
  // Whether one of pinned()'s files is still to be written (not held with that size).
  virtual bool needs(const SourceFile& file) const = 0;
  // A needed file's bytes in order: begin_file, append (any number), end_file (checks the size
  // pinned() gave).
  virtual Status begin_file(const std::string& path) = 0;
  virtual Status append(std::string_view data) = 0;
  virtual Status end_file() = 0;
  // Or a needed file copied whole from a file on this host (through the backup's Env).
  virtual Status copy_file(const std::string& from, const std::string& path) = 0;
};

class BackupSource {
 public:
  virtual ~BackupSource() = default;
  // topic.json of the topic as the source stores it; NotFound naming the topic when unknown.
  virtual Result<std::string> topic_meta(const std::string& topic) = 0;
  // Pins the bucket's latest Lance version (flushing it first when the source can) and hands
  // it to sink: pinned(), then the bytes of every file the sink needs.
  virtual Status copy_bucket(const TopicInfo& info, uint32_t bucket, BucketSink* sink) = 0;
  // The consumer groups' commit files (group name, the file's bytes), read after every bucket
  // was pinned.
  virtual Result<std::vector<std::pair<std::string, std::string>>> group_files(const TopicInfo& info) = 0;
};

// backup_topic with the files from `source`, with the same results and errors (a memory topic:
// FailedPrecondition, ...).
Result<BackupResult> backup_topic(Env* env, BackupSource* source, const std::string& topic, const std::string& dir,
                                  const BackupOptions& options = {});

// The checks backup_topic makes of a topic.json before it writes anything (`what` names where it
// was read in errors): the backend keeps Lance datasets. Answers the topic's settings.
Result<TopicInfo> check_backup_topic_meta(const std::string& topic, std::string_view meta_text,
                                          const std::string& what);

// What backup_topic checks about the topic before it writes anything (the errors above, except
// those about `dir`): run it before a flush, so that bad input changes nothing.
Status check_backup_source(Env* env, const std::string& data_dir, const std::string& topic);

struct VerifyProblem {
  std::string path;  // relative to the backup directory
  std::string what;  // "missing", "size 10, expected 12", "crc32c 0badf00d, expected 1c2d3e4f"
};

struct VerifyReport {
  BackupManifest manifest;
  uint64_t files_checked = 0, bytes_checked = 0;
  std::vector<VerifyProblem> problems;
  bool ok() const { return problems.empty(); }
};

// Reads every file backup.json lists and compares its size and CRC32C. Problems with the files
// are in the report; an error result means there is no usable manifest (NotFound: no backup.json
// in dir; Corruption: it is damaged; NotSupported: a newer format).
Result<VerifyReport> verify_backup(Env* env, const std::string& dir);

struct RestoreOptions {
  std::string topic;  // the restored topic's name; empty: the backed-up topic's
  bool sync = true;
};

struct RestoreResult {
  TopicInfo info;  // as written to the new topic.json
  BackupManifest manifest;
  uint64_t files = 0, bytes = 0;
  // Commits that pointed past their bucket's end in the backup and were moved back to it:
  // "group g bucket b: 120 -> 100".
  std::vector<std::string> clamped;
};

// Restores the topic of the backup in `backup_dir` into `data_dir` with the backup's offsets,
// settings and group commits, as a new incarnation. The backup is verified first; the topic is
// built in a hidden staging directory and renamed into place last, so a failure leaves no topic.
// AlreadyExists when the data dir has the topic; NotFound / Corruption when the backup is
// missing, damaged or fails verification; InvalidArgument for a bad name. Nothing is changed then.
Result<RestoreResult> restore_topic(Env* env, const std::string& backup_dir, const std::string& data_dir,
                                    const RestoreOptions& options = {});

}  // namespace persisting::backup
