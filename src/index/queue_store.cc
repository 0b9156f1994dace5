#include "index/queue_store.h"

#include <charconv>
#include <mutex>

#include "absl/container/flat_hash_set.h"
#include "common/logging.h"
#include "common/path.h"
#include "common/status.h"
#include "engine/record.h"

namespace stele::index {

QueueStore::QueueStore(FileSystem* fs, std::string dir, int64_t file_size)
    : fs_(fs), dir_(std::move(dir)), file_size_(file_size) {}

std::string QueueStore::QueueDir(std::string_view topic, int32_t queue_id) const {
  return fmt::format("{}/{}/{}", dir_, topic, queue_id);
}

absl::Status QueueStore::Load() {
  STELE_RETURN_IF_ERROR(fs_->CreateDirs(dir_));
  STELE_ASSIGN_OR_RETURN(auto topics, fs_->List(dir_));
  for (const std::string& topic : topics) {
    if (!engine::ValidateTopic(topic).ok()) {
      log::Warn("consume queues: ignoring {}/{} (not a valid topic name)", dir_, topic);
      continue;
    }
    auto qids = fs_->List(dir_ + "/" + topic);
    if (!qids.ok()) {
      log::Warn("consume queues: ignoring {}/{}: {}", dir_, topic, qids.status().ToString());
      continue;
    }
    for (const std::string& q : *qids) {
      int32_t qid = -1;
      auto [p, ec] = std::from_chars(q.data(), q.data() + q.size(), qid);
      if (ec != std::errc() || p != q.data() + q.size() || qid < 0) {
        log::Warn("consume queues: ignoring {}/{}/{} (not a queue id)", dir_, topic, q);
        continue;
      }
      auto cq = std::make_shared<ConsumeQueue>(fs_, QueueDir(topic, qid), topic, qid, file_size_);
      STELE_RETURN_IF_ERROR(cq->Load());
      queues_[topic][qid] = std::move(cq);
    }
  }
  return absl::OkStatus();
}

std::shared_ptr<ConsumeQueue> QueueStore::Find(std::string_view topic, int32_t queue_id) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  auto it = queues_.find(topic);
  if (it == queues_.end()) return nullptr;
  auto q = it->second.find(queue_id);
  return q == it->second.end() ? nullptr : q->second;
}

absl::StatusOr<std::shared_ptr<ConsumeQueue>> QueueStore::GetOrCreate(std::string_view topic,
                                                                      int32_t queue_id) {
  if (auto q = Find(topic, queue_id)) return q;
  // Topic names become directory names: only RocketMQ's character set, never a path.
  STELE_RETURN_IF_ERROR(engine::ValidateTopic(topic));
  if (queue_id < 0) return absl::InvalidArgumentError("negative queue id");
  std::unique_lock<std::shared_mutex> l(mu_);
  auto& slot = queues_[topic][queue_id];
  if (slot == nullptr) {
    slot = std::make_shared<ConsumeQueue>(fs_, QueueDir(topic, queue_id), std::string(topic),
                                          queue_id, file_size_);
  }
  return slot;
}

std::vector<std::shared_ptr<ConsumeQueue>> QueueStore::All() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  std::vector<std::shared_ptr<ConsumeQueue>> out;
  for (const auto& [_, qs] : queues_) {
    for (const auto& [__, q] : qs) out.push_back(q);
  }
  return out;
}

absl::Status QueueStore::SyncAll() {
  // A queue's directory (topic/id) is synced by the queue with its files; its entry in the topic
  // directory, and the topic's in ours, become durable here. Only queues that have created their
  // directory by now say so (TakeNewDir), so a queue whose directory appears during this call is
  // not forgotten: it answers at the next SyncAll.
  absl::Status st;
  std::vector<std::shared_ptr<ConsumeQueue>> fresh;
  for (auto& q : All()) {
    st = q->Sync();
    if (!st.ok()) break;
    if (q->TakeNewDir()) fresh.push_back(q);
  }
  if (st.ok() && !fresh.empty()) {
    absl::flat_hash_set<std::string> topics;
    for (const auto& q : fresh) topics.insert(q->topic());
    for (const std::string& t : topics) {
      st = fs_->SyncDir(fmt::format("{}/{}", dir_, t));
      if (!st.ok()) break;
    }
    if (st.ok()) st = fs_->SyncDir(dir_);
    if (st.ok()) st = fs_->SyncDir(ParentDir(dir_));
  }
  if (!st.ok()) {
    for (const auto& q : fresh) q->MarkNewDir();
  }
  return st;
}

absl::StatusOr<int64_t> QueueStore::TruncateFrom(int64_t phy_offset) {
  int64_t n = 0;
  for (auto& q : All()) {
    STELE_ASSIGN_OR_RETURN(int64_t k, q->TruncateFrom(phy_offset));
    n += k;
  }
  return n;
}

absl::StatusOr<int> QueueStore::DeleteBelow(int64_t min_phy_offset) {
  int n = 0;
  for (auto& q : All()) {
    STELE_ASSIGN_OR_RETURN(int k, q->DeleteBelow(min_phy_offset));
    n += k;
  }
  return n;
}

}  // namespace stele::index
