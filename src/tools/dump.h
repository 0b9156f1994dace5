// `mqstore dump`: prints commit-log records in a readable form, without opening the store.
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
};

// Writes to `out`; returns the exit status: 0, or 1 if the offset is not a record start or a
// damaged record (or an I/O error) was met.
int RunDump(FileSystem* fs, const DumpOptions& opts, std::FILE* out);

}  // namespace stele::tools
