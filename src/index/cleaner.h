// Retention (RocketMQ's CleanCommitLogService + CleanConsumeQueueService): deletes commit-log
// segments whose newest message is older than fileReservedTime, at the deleteWhen hours or at
// once when the disk is fuller than diskMaxUsedSpaceRatio; above diskSpaceCleanForciblyRatio the
// oldest segments go even if not expired. Never the segment being written. Then consume-queue and
// index files wholly below the new log start.
//
// A segment's age is that of its newest message, bounded by the first message of the segment after
// it (store timestamps never go backwards), so no file-system timestamps are needed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/commit_log.h"
#include "index/index_file.h"
#include "index/queue_store.h"
#include "stele/store.h"

namespace stele::index {

class Cleaner {
 public:
  Cleaner(CommitLog* log, QueueStore* queues, IndexService* idx, FileSystem* fs,
          std::string commit_log_dir, const StoreOptions& opts);
  ~Cleaner();

  // One pass. `manual` deletes expired segments whatever the hour (mqadmin deleteExpiredCommitLog).
  absl::StatusOr<CleanReport> RunOnce(bool manual);
  void Start();
  void Stop();
  bool disk_full() const { return disk_full_.load(std::memory_order_acquire); }

 private:
  void Loop();
  int64_t Now() const;
  double UsedRatio();

  CommitLog* log_;
  QueueStore* queues_;
  IndexService* idx_;
  FileSystem* fs_;
  std::string cl_dir_;
  const StoreOptions& opts_;
  std::vector<int> hours_;
  std::mutex run_mu_;  // one pass at a time
  std::atomic<bool> disk_full_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace stele::index
