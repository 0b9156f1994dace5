// `mqstore verify`: checks a commit log record by record, and the consume queues against it,
// without opening the store.
//
// Checks, in log order, stopping at the first problem:
//   - layout: equal-sized segments with contiguous, aligned 20-digit names;
//   - every record: magic, TOTALSIZE against the field lengths, CRC (whole-record when present,
//     else body), PHYSICALOFFSET == position, queue offsets contiguous per (topic, queueId) from
//     the first one seen (NOT_TYPE and COMMIT records only); BLANK fillers reach the segment end;
//   - the end: the log ends at the first all-zero header; every byte after it must be zero;
//   - the checkpoint, if any: its safe offset is a record boundary inside the log, and its queue
//     table matches the queue offsets the log has at that point (recovery starts from both).
// Store timestamps going backwards and malformed properties are warnings only.
// When the log is sound, the consume queues (<root>/consumequeue) are checked against it (see
// verify_queues.h); every problem there is listed (up to a bound), not just the first.
//
// Safe while a broker has the store open: it only reads. Appends racing with the scan can make
// the newest record look torn; when the abort marker says the store is open, a problem is re-read
// a few times before it is reported.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "stele/file_system.h"

namespace stele::tools {

struct VerifyOptions {
  std::string root;           // store root (checkpoint, abort marker)
  std::string commitlog_dir;  // empty: <root>/commitlog
  uint64_t segment_size = 0;  // 0: detect from the files
  uint64_t cq_file_size = 0;  // consume-queue file size; 0: detect from the files
  bool verbose = false;       // a summary line per consume queue
};

// Writes the report to `out`; returns the exit status: 0 clean, 1 a problem or an I/O error.
int RunVerify(FileSystem* fs, const VerifyOptions& opts, std::FILE* out);

}  // namespace stele::tools
