// The consume-queue half of `mqstore verify`: checks every consume-queue entry against the commit
// log, and every record of the log against its queue.
//
// Fed by the commit-log walk (OnRecord, for each record that passed its own checks), then Finish:
//   - per record (NOT_TYPE and COMMIT only): the entry at its queue offset exists and holds its
//     commit-log offset, TOTALSIZE and tags code (Java String.hashCode of TAGS). Before the
//     checkpoint's dispatch offset a missing entry is an error; at or after it the record is
//     "not yet dispatched" (the engine dispatches it when it opens the store).
//   - per file: named by a multiple of the file size, that size exactly, no missing file between
//     the first and the last;
//   - per entry not already matched to a record: pre-blanks only before the first real entry;
//     below the log start (deleted by retention) is fine; otherwise a record must start at its
//     offset with the entry's size, topic, queue id, queue offset and tags code;
//   - the queue ends at its first zero (or invalid) entry: non-zero entries after it are torn.
// In a store that is open or was not shut down cleanly (abort marker), entries at or after the
// dispatch offset may be stale or half-written and are rebuilt on open: problems there are
// warnings. With the abort marker present, a queue whose files show errors is scanned again a
// few times first, as a running broker may be creating or writing them.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "stele/file_system.h"
#include "stele/message.h"
#include "tools/commit_log_files.h"
#include "tools/queue_files.h"

namespace stele::tools {

struct QueueCheckOptions {
  // Records before it must have their entries (the checkpoint's dispatch offset, clamped into the
  // log; the log start when unknown).
  int64_t dispatch_offset = 0;
  bool unclean = false;  // abort marker present, or no checkpoint
  bool live = false;     // abort marker present: a broker may be writing the queues right now
  bool verbose = false;  // a summary line per queue
};

class QueueVerifier {
 public:
  // `log` and `queues` must outlive the verifier.
  QueueVerifier(FileSystem* fs, const CommitLogFiles* log, const ConsumeQueueFiles* queues,
                QueueCheckOptions opts);
  ~QueueVerifier();

  // A record the commit-log walk accepted at `pos`, in log order.
  void OnRecord(int64_t pos, const MessageView& v);
  // Checks the queue files and writes the report; `log_end` is where the walk found the log's
  // end. Returns the number of errors.
  uint64_t Finish(int64_t log_end, std::FILE* out);
  uint64_t warnings() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stele::tools
