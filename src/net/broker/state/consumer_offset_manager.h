// Committed consumer offsets, persisted as RocketMQ's
// <storePathRootDir>/config/consumerOffset.json:
//
//   {"offsetTable":{"<topic>@<group>":{"0":5,"1":7}, ...}}
//
// (Java writes the queue ids unquoted, {0:5,1:7}; both forms load. '@' cannot occur in a valid
// topic or group, so the key splits unambiguously.)
//
// Thread safety: all methods may be called from any thread. Commit and Query take a short lock and
// never wait for disk I/O.
// Durability: Commit changes memory only. The broker calls Persist every
// flushConsumerOffsetInterval and at shutdown; offsets committed since the last successful
// Persist are lost in a crash, so consumers re-read at most that window (at-least-once, as in
// RocketMQ). This class starts no threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "net/broker/state/broker_config.h"
#include "net/broker/state/json_file.h"

namespace stele::broker {

class ConsumerOffsetManager {
 public:
  // Queue id -> committed offset.
  using QueueOffsets = std::map<int32_t, int64_t>;

  explicit ConsumerOffsetManager(const BrokerConfig& config,
                                 std::shared_ptr<FileSystem> fs = nullptr);

  // Replaces the table with the file's. A missing file means no offsets; an unusable one is an
  // error (see JsonFile). Malformed entries ("topic" without "@group", negative offsets) are
  // skipped with an error log.
  absl::Status Load();
  // Writes the table if anything changed since the last successful Load or Persist.
  absl::Status Persist();

  // Records `offset` (the next message to consume) for the queue. A negative offset is ignored:
  // some clients commit -1 for a queue they have not consumed yet. InvalidArgument for an invalid
  // group or topic name or a negative queue id.
  absl::Status Commit(std::string_view group, std::string_view topic, int32_t queue_id,
                      int64_t offset);
  std::optional<int64_t> Query(std::string_view group, std::string_view topic,
                               int32_t queue_id) const;
  // All queues of one topic for a group (empty if none).
  QueueOffsets QueryTopic(std::string_view group, std::string_view topic) const;
  // topic -> queue offsets, for every topic the group has committed to.
  std::map<std::string, QueueOffsets> QueryAll(std::string_view group) const;
  // Groups with offsets on `topic`, sorted.
  std::vector<std::string> GroupsOfTopic(std::string_view topic) const;

  // Forget a group (all its topics), or a topic (all its groups). Return whether anything was
  // removed; the removal is persisted by the next Persist.
  bool RemoveGroup(std::string_view group);
  bool RemoveTopic(std::string_view topic);

  const std::string& path() const { return path_; }

 private:
  // "<topic>@<group>" -> offsets, RocketMQ's key.
  using Table = std::map<std::string, QueueOffsets, std::less<>>;

  const std::string path_;
  // Lock order: persist_mu_, then mu_.
  std::mutex persist_mu_;
  JsonFile file_;                   // guarded by persist_mu_
  uint64_t persisted_version_ = 0;  // guarded by persist_mu_
  mutable std::shared_mutex mu_;
  Table table_;           // guarded by mu_
  uint64_t version_ = 0;  // guarded by mu_; bumped by every change to table_
};

}  // namespace stele::broker
