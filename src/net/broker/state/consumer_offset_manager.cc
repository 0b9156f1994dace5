#include "net/broker/state/consumer_offset_manager.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include <fmt/format.h>
#include "common/logging.h"
#include "common/status.h"
#include "net/broker/state/json_fields.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

using json = nlohmann::json;
constexpr size_t kMaxKeys = 10000000;
constexpr size_t kMaxQueuesPerKey = 65536;

std::string Key(std::string_view topic, std::string_view group) {
  return fmt::format("{}@{}", topic, group);
}

// Splits "<topic>@<group>"; false if the key is not exactly that with both parts valid.
bool SplitKey(std::string_view key, std::string_view* topic, std::string_view* group) {
  size_t at = key.find('@');
  if (at == std::string_view::npos) return false;
  *topic = key.substr(0, at);
  *group = key.substr(at + 1);
  return ValidateInternalTopic(*topic).ok() && ValidateGroup(*group).ok();
}

}  // namespace

ConsumerOffsetManager::ConsumerOffsetManager(const BrokerConfig& config,
                                             std::shared_ptr<FileSystem> fs)
    : path_(config.store_path_root_dir + "/config/consumerOffset.json"),
      file_(std::move(fs), path_) {}

absl::Status ConsumerOffsetManager::Load() {
  std::lock_guard persist(persist_mu_);
  Table loaded;
  absl::Status s = file_.Load([&](const json& doc) -> absl::Status {
    loaded.clear();
    STELE_RETURN_IF_ERROR(RequireObject(doc, path_));
    auto it = doc.find("offsetTable");
    if (it == doc.end() || it->is_null()) return absl::OkStatus();
    STELE_RETURN_IF_ERROR(RequireObject(*it, "offsetTable"));
    if (it->size() > kMaxKeys) return absl::InvalidArgumentError("offsetTable: too many entries");
    for (const auto& [key, queues] : it->items()) {
      std::string_view topic, group;
      if (!SplitKey(key, &topic, &group)) {
        log::Error("{}: skipping offsets of '{}': not <topic>@<group>", path_,
                   ShortForMessage(key));
        continue;
      }
      STELE_RETURN_IF_ERROR(RequireObject(queues, key));
      if (queues.size() > kMaxQueuesPerKey) {
        return absl::InvalidArgumentError(fmt::format("{}: too many queues", key));
      }
      QueueOffsets offsets;
      for (const auto& [qid_text, value] : queues.items()) {
        int32_t qid = -1;
        auto [p, ec] = std::from_chars(qid_text.data(), qid_text.data() + qid_text.size(), qid);
        STELE_ASSIGN_OR_RETURN(int64_t offset, JsonInt(queues, qid_text, -1, INT64_MIN, INT64_MAX));
        if (ec != std::errc() || p != qid_text.data() + qid_text.size() || qid < 0 || offset < 0) {
          log::Error("{}: skipping offset {}={} of {}", path_, ShortForMessage(qid_text), offset,
                     ShortForMessage(key));
          continue;
        }
        offsets[qid] = offset;
      }
      if (!offsets.empty()) loaded.emplace(key, std::move(offsets));
    }
    return absl::OkStatus();
  });
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  std::lock_guard lock(mu_);
  table_ = std::move(loaded);
  ++version_;
  // After a fallback to the backup, the next Persist rewrites the damaged main file.
  if (!file_.loaded_from_backup()) persisted_version_ = version_;
  return absl::OkStatus();
}

absl::Status ConsumerOffsetManager::Persist() {
  std::lock_guard persist(persist_mu_);
  json doc;
  uint64_t version = 0;
  {
    std::shared_lock lock(mu_);
    if (version_ == persisted_version_) return absl::OkStatus();
    version = version_;
    json table = json::object();
    for (const auto& [key, queues] : table_) {
      json q = json::object();
      for (const auto& [qid, offset] : queues) q[std::to_string(qid)] = offset;
      table[key] = std::move(q);
    }
    doc["offsetTable"] = std::move(table);
  }
  STELE_RETURN_IF_ERROR(file_.Store(doc));
  persisted_version_ = version;
  return absl::OkStatus();
}

absl::Status ConsumerOffsetManager::Commit(std::string_view group, std::string_view topic,
                                           int32_t queue_id, int64_t offset) {
  STELE_RETURN_IF_ERROR(ValidateGroup(group));
  STELE_RETURN_IF_ERROR(ValidateInternalTopic(topic));
  if (queue_id < 0) {
    return absl::InvalidArgumentError(fmt::format("queue id {} is negative", queue_id));
  }
  if (offset < 0) return absl::OkStatus();
  std::string key = Key(topic, group);
  std::lock_guard lock(mu_);
  QueueOffsets& queues = table_[key];
  auto [it, inserted] = queues.try_emplace(queue_id, offset);
  if (!inserted) {
    if (it->second == offset) return absl::OkStatus();
    it->second = offset;
  }
  ++version_;
  return absl::OkStatus();
}

std::optional<int64_t> ConsumerOffsetManager::Query(std::string_view group, std::string_view topic,
                                                    int32_t queue_id) const {
  std::string key = Key(topic, group);
  std::shared_lock lock(mu_);
  auto it = table_.find(key);
  if (it == table_.end()) return std::nullopt;
  auto q = it->second.find(queue_id);
  if (q == it->second.end()) return std::nullopt;
  return q->second;
}

ConsumerOffsetManager::QueueOffsets ConsumerOffsetManager::QueryTopic(
    std::string_view group, std::string_view topic) const {
  std::string key = Key(topic, group);
  std::shared_lock lock(mu_);
  auto it = table_.find(key);
  return it == table_.end() ? QueueOffsets{} : it->second;
}

std::map<std::string, ConsumerOffsetManager::QueueOffsets> ConsumerOffsetManager::QueryAll(
    std::string_view group) const {
  std::map<std::string, QueueOffsets> out;
  std::shared_lock lock(mu_);
  for (const auto& [key, queues] : table_) {
    std::string_view t, g;
    if (SplitKey(key, &t, &g) && g == group) out.emplace(std::string(t), queues);
  }
  return out;
}

std::vector<std::string> ConsumerOffsetManager::GroupsOfTopic(std::string_view topic) const {
  std::vector<std::string> out;
  std::shared_lock lock(mu_);
  for (const auto& [key, queues] : table_) {
    std::string_view t, g;
    if (SplitKey(key, &t, &g) && t == topic) out.emplace_back(g);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool ConsumerOffsetManager::RemoveGroup(std::string_view group) {
  std::lock_guard lock(mu_);
  size_t removed = std::erase_if(table_, [&](const auto& kv) {
    std::string_view t, g;
    return SplitKey(kv.first, &t, &g) && g == group;
  });
  if (removed > 0) ++version_;
  return removed > 0;
}

bool ConsumerOffsetManager::RemoveTopic(std::string_view topic) {
  std::lock_guard lock(mu_);
  size_t removed = std::erase_if(table_, [&](const auto& kv) {
    std::string_view t, g;
    return SplitKey(kv.first, &t, &g) && t == topic;
  });
  if (removed > 0) ++version_;
  return removed > 0;
}

}  // namespace stele::broker
