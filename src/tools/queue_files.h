// Read-only view of a store's consume queues for the store tools:
// <root>/consumequeue/<topic>/<queueId>/<20-digit start byte>, entries as in index/consume_queue.h.
// Lists the files and reads entries without the engine's ConsumeQueue (which opens files for
// writing and repairs torn tails), so it works while a broker has the store open.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "index/consume_queue.h"
#include "stele/file_system.h"
#include "stele/message.h"

namespace stele::tools {

struct CqFile {
  int64_t start = 0;  // byte position of its first entry in the virtual queue
  uint64_t size = 0;  // the file's actual size
  std::string path;
};

struct QueueDir {
  std::string topic;
  int32_t queue_id = 0;
  std::string dir;
  std::vector<CqFile> files;  // every 20-digit name, sorted by start (aligned or not)
};

struct ConsumeQueueFiles {
  std::string dir;
  bool exists = false;
  uint64_t file_size = 0;          // detected, or as given; 0 when there are no files
  std::vector<QueueDir> queues;    // sorted by (topic, queue id)
  std::vector<std::string> notes;  // directories and files ignored, and why (as the engine does)
};

// Lists `dir` (<root>/consumequeue). file_size 0 means detect it: the size most files have. A
// missing directory is not an error (exists = false); an unreadable one is.
absl::StatusOr<ConsumeQueueFiles> ListConsumeQueues(FileSystem* fs, const std::string& dir,
                                                    uint64_t file_size);

using index::DecodeCqEntry;
inline bool IsZeroEntry(const index::CqEntry& e) {
  return e.phy_offset == 0 && e.size == 0 && e.tags_code == 0;
}

// What is wrong with entry `e` at queue offset `qo` of (topic, queue_id), judged by the record `v`
// at its commit-log offset: topic, queue id, transaction type, QUEUEOFFSET, TOTALSIZE, tags code
// (RocketMQ's Java String.hashCode of TAGS; not checked for SCHEDULE_TOPIC_XXXX, whose entries
// hold delivery times). Empty if it matches.
std::string EntryMismatch(std::string_view topic, int32_t queue_id, int64_t qo,
                          const index::CqEntry& e, const MessageView& v);

// Reads entries of one queue by queue offset, keeping the file last read mapped. Only files whose
// names are multiples of `file_size` are used; a short file yields what it holds.
class QueueReader {
 public:
  enum class Result {
    kOk,
    kNoFile,   // no file holds that queue offset
    kShort,    // the file holding it is too short
    kIoError,  // the file could not be mapped (see error())
  };

  QueueReader(FileSystem* fs, const QueueDir* q, uint64_t file_size);
  Result Read(int64_t queue_offset, index::CqEntry* out);
  // Drops the mapping (a bound on how many files stay mapped at once).
  void Release() { map_.reset(); }
  bool mapped() const { return map_ != nullptr; }
  const std::string& error() const { return error_; }

 private:
  FileSystem* fs_;
  const QueueDir* q_;
  int64_t file_size_;
  const CqFile* file_ = nullptr;  // the file map_ holds
  std::shared_ptr<const MappedRegion> map_;
  std::string error_;
};

// Maps the first min(size, limit) bytes of a file read-only (null for an empty file).
absl::StatusOr<std::shared_ptr<const MappedRegion>> MapPrefix(FileSystem* fs,
                                                              const std::string& path,
                                                              uint64_t size);

}  // namespace stele::tools
