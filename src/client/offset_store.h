// Consumer offsets (Java OffsetStore): the next offset to consume per queue, kept in memory and
// persisted every persist interval and at shutdown.
//   RemoteOffsetStore: on the broker (clustering), UPDATE_CONSUMER_OFFSET / QUERY_CONSUMER_OFFSET.
//   LocalOffsetStore: a JSON file (broadcasting), written tmp + fsync + rename.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "client/client_instance.h"
#include "stele/client/message.h"

namespace stele::client {

class OffsetStore {
 public:
  virtual ~OffsetStore() = default;
  // Loads persisted offsets (local store); no-op for the remote one.
  virtual absl::Status Load() { return absl::OkStatus(); }
  // increase_only: ignore an offset below the one held (out-of-order acks of concurrent
  // listeners must not move the commit point back).
  void Update(const MessageQueue& q, int64_t offset, bool increase_only);
  // The in-memory offset, or -1.
  int64_t ReadMemory(const MessageQueue& q) const;
  // The persisted offset: -1 if there is none. Errors are transport/broker failures.
  virtual absl::StatusOr<int64_t> ReadStore(const MessageQueue& q) = 0;
  // Persists the offsets of `queues` (all held ones if empty). On failure the offsets stay in
  // memory (the next Persist sends them again) and the first error is returned.
  virtual absl::Status Persist(const std::set<MessageQueue>& queues) = 0;
  void Remove(const MessageQueue& q);

 protected:
  mutable std::mutex mu_;
  std::map<MessageQueue, int64_t> offsets_;
};

class RemoteOffsetStore : public OffsetStore {
 public:
  RemoteOffsetStore(std::shared_ptr<ClientInstance> c, std::string group)
      : c_(std::move(c)), group_(std::move(group)) {}
  absl::StatusOr<int64_t> ReadStore(const MessageQueue& q) override;
  absl::Status Persist(const std::set<MessageQueue>& queues) override;

 private:
  std::shared_ptr<ClientInstance> c_;
  std::string group_;
  // One Persist at a time, from its snapshot to its last commit: otherwise a periodic persist
  // that took its snapshot first could deliver an older offset after a newer one (a dropped
  // orderly queue's final commit), and the queue's next owner would consume messages again.
  std::mutex persist_mu_;
};

class LocalOffsetStore : public OffsetStore {
 public:
  explicit LocalOffsetStore(std::string path) : path_(std::move(path)) {}
  absl::Status Load() override;
  absl::StatusOr<int64_t> ReadStore(const MessageQueue& q) override;
  absl::Status Persist(const std::set<MessageQueue>& queues) override;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::map<MessageQueue, int64_t> persisted_;
  // Serializes Persist: the periodic persist, a rebalance's and Shutdown's can run at once, and
  // two writers of the one tmp file interleave into a corrupt offsets file.
  std::mutex file_mu_;
};

}  // namespace stele::client
