// `mqstore dump`: prints commit-log records, or the entries of one consume queue with the records
// they point at, in a readable form, without opening the store.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "stele/file_system.h"

namespace stele::tools {

struct DumpOptions {
  std::string root;
  std::string commitlog_dir;      // empty: <root>/commitlog
  uint64_t segment_size = 0;      // 0: detect from the files
  std::optional<int64_t> offset;  // must be a record start; default the first segment's start
  uint64_t count = 20;            // records to print (BLANK fillers are not counted)
  uint64_t body_bytes = 64;       // body preview length
  // Consume-queue mode: the entries of <topic>/<queue_id> from queue offset `from` (default: the
  // first file's first), `count` of them (pre-blanks included).
  std::optional<std::string> queue_topic;
  int32_t queue_id = 0;
  std::optional<int64_t> from;
  uint64_t cq_file_size = 0;  // 0: detect from the files
};

// Writes to `out`; returns the exit status: 0, or 1 if the offset is not a record start or a
// damaged record (or an I/O error) was met; with a queue, 1 if it does not exist or an entry does
// not match its record.
int RunDump(FileSystem* fs, const DumpOptions& opts, std::FILE* out);

}  // namespace stele::tools
