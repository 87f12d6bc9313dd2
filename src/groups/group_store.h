// GroupStore: the durable committed offsets of consumer groups, through the Env seam.
//
// One file per group of a topic, <data_dir>/<topic>/groups/<group>.offsets, format in
// docs/groups-format.md. A commit rewrites the group's file atomically (write <file>.tmp, fsync,
// rename over, fsync the directory), so it survives kill -9 and power loss once save() returns
// OK, and a crash at any step leaves the old or the new file, never a mix. A file that fails its
// checks is an error naming it, never read as empty. Membership is not stored here.
//
// Without a data dir (an in-memory Queue) there is no GroupStore: commits stay in the
// GroupTable's memory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "groups/group_types.h"
#include "persisting/env.h"

namespace persisting::groups {

class GroupStore {
 public:
  GroupStore(Env* env, std::string data_dir);

  // The group's commits; NotFound when it has no file. Corruption naming the file when damaged.
  Result<Committed> load(const std::string& topic, const std::string& group);
  // Replaces the group's commits with offsets (all of them, not a delta); durable on OK.
  Status save(const std::string& topic, const std::string& group, const Committed& offsets);
  // Deletes the group's file (durably). NotFound when it has none.
  Status remove(const std::string& topic, const std::string& group);
  // Names of the groups of topic that have a file (sorted).
  Result<std::vector<std::string>> list(const std::string& topic);
  // Locks <group>.lock next to the offsets file: the GroupTable holds it while the group has
  // members (and for a reset or delete), so a second process on the same data dir cannot run
  // members of the group at the same time (FailedPrecondition saying so). The kernel drops it
  // when the process dies. Lock files are left in place (they hold no data).
  // create=false: NotFound when there is no lock file (nothing is created then).
  Result<std::unique_ptr<FileLock>> lock(const std::string& topic, const std::string& group, bool create = true);

  std::string path(const std::string& topic, const std::string& group) const;

  // The file format (docs/groups-format.md), exposed for tests: text with a CRC-32C trailer.
  static std::string encode(const std::string& topic, const std::string& group, const Committed& offsets);
  // what names the file in errors.
  static Result<Committed> decode(const std::string& data, const std::string& topic, const std::string& group,
                                  const std::string& what);

 private:
  std::string dir(const std::string& topic) const;
  Env* env_;
  std::string data_dir_;
};

}  // namespace persisting::groups
