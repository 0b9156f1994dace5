#include "net/broker/state/rebalance_lock_manager.h"

#include <algorithm>
#include <climits>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include "common/status.h"
#include "net/broker/state/heartbeat.h"
#include "net/broker/state/json_fields.h"
#include "net/broker/state/json_file.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

using json = nlohmann::json;

absl::Status BodyError(std::string_view where, const absl::Status& s) {
  return absl::InvalidArgumentError(fmt::format("lock batch body {}: {}", where, StatusMessage(s)));
}

absl::StatusOr<MessageQueue> ParseMessageQueue(const json& j) {
  STELE_RETURN_IF_ERROR(RequireObject(j, "message queue"));
  MessageQueue mq;
  STELE_ASSIGN_OR_RETURN(mq.topic, JsonString(j, "topic", "", kMaxInternalTopicLength + 1));
  STELE_RETURN_IF_ERROR(ValidateInternalTopic(mq.topic));
  STELE_ASSIGN_OR_RETURN(mq.broker_name, JsonString(j, "brokerName", "", kMaxBrokerNameLength));
  if (mq.broker_name.empty()) {
    return absl::InvalidArgumentError("field 'brokerName' is missing or empty");
  }
  STELE_ASSIGN_OR_RETURN(int64_t qid, JsonInt(j, "queueId", -1, -1, INT32_MAX));
  if (qid < 0) return absl::InvalidArgumentError("field 'queueId' is missing or negative");
  mq.queue_id = static_cast<int32_t>(qid);
  return mq;
}

json ToJson(const MessageQueue& mq) {
  return json{{"topic", mq.topic}, {"brokerName", mq.broker_name}, {"queueId", mq.queue_id}};
}

}  // namespace

absl::StatusOr<LockBatchRequest> ParseLockBatchRequest(std::string_view body) {
  auto doc = ParseLenientJson(body);
  if (!doc.ok()) return BodyError("", doc.status());
  if (absl::Status s = RequireObject(*doc, "body"); !s.ok()) return BodyError("", s);
  LockBatchRequest r;
  auto group = JsonString(*doc, "consumerGroup", "", kMaxGroupLength + 1);
  if (!group.ok()) return BodyError("consumerGroup", group.status());
  if (absl::Status s = ValidateGroup(*group); !s.ok()) return BodyError("consumerGroup", s);
  r.consumer_group = *std::move(group);
  auto client = JsonString(*doc, "clientId", "", kMaxClientIdLength);
  if (!client.ok()) return BodyError("clientId", client.status());
  if (client->empty()) return BodyError("clientId", absl::InvalidArgumentError("missing or empty"));
  r.client_id = *std::move(client);
  auto only = JsonBool(*doc, "onlyThisBroker", false);
  if (!only.ok()) return BodyError("onlyThisBroker", only.status());
  r.only_this_broker = *only;
  auto items = JsonArray(*doc, "mqSet", kMaxLockBatchQueues);
  if (!items.ok()) return BodyError("mqSet", items.status());
  r.mqs.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    auto mq = ParseMessageQueue(*(*items)[i]);
    if (!mq.ok()) return BodyError(fmt::format("mqSet[{}]", i), mq.status());
    r.mqs.push_back(*std::move(mq));
  }
  std::sort(r.mqs.begin(), r.mqs.end());
  r.mqs.erase(std::unique(r.mqs.begin(), r.mqs.end()), r.mqs.end());
  return r;
}

std::string EncodeLockBatchResponse(const std::vector<MessageQueue>& locked) {
  json set = json::array();
  for (const MessageQueue& mq : locked) set.push_back(ToJson(mq));
  return json{{"lockOKMQSet", std::move(set)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<MessageQueue> RebalanceLockManager::TryLockBatch(std::string_view group,
                                                             const std::vector<MessageQueue>& mqs,
                                                             std::string_view client_id,
                                                             int64_t now_ms) {
  std::vector<MessageQueue> locked;
  bool pruned = false;  // at most one O(table) sweep per call
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group);
  for (const MessageQueue& mq : mqs) {
    if (g != groups_.end()) {
      if (auto e = g->second.find(mq); e != g->second.end()) {
        LockEntry& entry = e->second;
        if (entry.client_id == client_id) {
          entry.last_update_ms = now_ms;  // renew (or retake our own expired lock)
        } else if (Expired(entry, now_ms)) {
          entry.client_id = std::string(client_id);
          entry.last_update_ms = now_ms;
        } else {
          continue;  // held by another client
        }
        locked.push_back(mq);
        continue;
      }
    }
    if (entries_ >= max_entries_ && !pruned) {
      DropExpiredLocked(now_ms);
      pruned = true;
      g = groups_.find(group);  // DropExpiredLocked may have erased it
    }
    if (entries_ >= max_entries_) continue;
    if (g == groups_.end()) g = groups_.emplace(std::string(group), GroupLocks{}).first;
    g->second.emplace(mq, LockEntry{std::string(client_id), now_ms});
    ++entries_;
    locked.push_back(mq);
  }
  std::sort(locked.begin(), locked.end());
  return locked;
}

void RebalanceLockManager::UnlockBatch(std::string_view group, const std::vector<MessageQueue>& mqs,
                                       std::string_view client_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) return;
  for (const MessageQueue& mq : mqs) {
    auto e = g->second.find(mq);
    if (e != g->second.end() && e->second.client_id == client_id) {
      g->second.erase(e);
      --entries_;
    }
  }
  if (g->second.empty()) groups_.erase(g);
}

bool RebalanceLockManager::IsLocked(std::string_view group, const MessageQueue& mq,
                                    std::string_view client_id, int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) return false;
  auto e = g->second.find(mq);
  return e != g->second.end() && e->second.client_id == client_id && !Expired(e->second, now_ms);
}

bool RebalanceLockManager::IsLockAllExpired(std::string_view group, int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) return true;
  return std::all_of(g->second.begin(), g->second.end(),
                     [&](const auto& kv) { return Expired(kv.second, now_ms); });
}

size_t RebalanceLockManager::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_;
}

void RebalanceLockManager::DropExpiredLocked(int64_t now_ms) {
  for (auto g = groups_.begin(); g != groups_.end();) {
    entries_ -=
        std::erase_if(g->second, [&](const auto& kv) { return Expired(kv.second, now_ms); });
    g = g->second.empty() ? groups_.erase(g) : std::next(g);
  }
}

}  // namespace stele::broker
