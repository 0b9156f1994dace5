// All consume queues of a store (<root>/consumequeue/<topic>/<queueId>/), created on first use.
//
// Thread safety: Find/All/ForEach from any thread; GetOrCreate, TruncateFrom from the dispatcher
// (the single writer) or before it starts; SyncAll and DeleteBelow from one background thread each.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/checkpoint.h"
#include "index/consume_queue.h"

namespace stele::index {

class QueueStore {
 public:
  QueueStore(FileSystem* fs, std::string dir, int64_t file_size);

  // Loads every queue found on disk. Directories that are not a valid topic / queue id are
  // skipped with a warning.
  absl::Status Load();
  std::shared_ptr<ConsumeQueue> Find(std::string_view topic, int32_t queue_id) const;
  absl::StatusOr<std::shared_ptr<ConsumeQueue>> GetOrCreate(std::string_view topic,
                                                            int32_t queue_id);
  std::vector<std::shared_ptr<ConsumeQueue>> All() const;

  // Makes every committed entry of every queue durable, and new directories with them.
  absl::Status SyncAll();
  // Recovery: drops entries pointing at or past `phy_offset` in every queue. Returns the count.
  absl::StatusOr<int64_t> TruncateFrom(int64_t phy_offset);
  // Retention: deletes consume-queue files wholly below `min_phy_offset`. Returns files deleted.
  absl::StatusOr<int> DeleteBelow(int64_t min_phy_offset);
  const std::string& dir() const { return dir_; }

 private:
  std::string QueueDir(std::string_view topic, int32_t queue_id) const;

  FileSystem* fs_;
  std::string dir_;
  int64_t file_size_;
  mutable std::shared_mutex mu_;
  absl::flat_hash_map<std::string, absl::flat_hash_map<int32_t, std::shared_ptr<ConsumeQueue>>,
                      engine::SvHash, engine::SvEq>
      queues_;
};

}  // namespace stele::index
