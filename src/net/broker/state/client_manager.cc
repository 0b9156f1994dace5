#include "net/broker/state/client_manager.h"

#include <algorithm>
#include <mutex>
#include <set>
#include <utility>

#include <fmt/format.h>
#include "common/status.h"
#include "net/broker/state/names.h"

namespace stele::broker {

// ---- ClientTable ----

absl::StatusOr<bool> ClientTable::Upsert(std::string_view group, std::string_view client_id,
                                         uint64_t channel_id, int64_t now_ms,
                                         const ClientMeta& meta) {
  auto g = groups_.find(group);
  if (g == groups_.end()) {
    if (groups_.size() >= kMaxClientGroups) {
      return absl::ResourceExhaustedError(fmt::format("more than {} client groups; not adding {}",
                                                      kMaxClientGroups, ShortForMessage(group)));
    }
    g = groups_.emplace(std::string(group), std::map<std::string, ClientChannel, std::less<>>{})
            .first;
  }
  auto& clients = g->second;
  auto c = clients.find(client_id);
  if (c != clients.end()) {
    c->second.channel_id = channel_id;  // a reconnect moves the client to its new channel
    c->second.last_heartbeat_ms = now_ms;
    c->second.meta = meta;
    return false;
  }
  if (clients.size() >= kMaxClientsPerGroup) {
    return absl::ResourceExhaustedError(
        fmt::format("group {} already has {} clients", ShortForMessage(group), clients.size()));
  }
  clients.emplace(std::string(client_id),
                  ClientChannel{std::string(client_id), channel_id, now_ms, meta});
  return true;
}

bool ClientTable::Remove(std::string_view group, std::string_view client_id) {
  auto g = groups_.find(group);
  if (g == groups_.end()) return false;
  auto c = g->second.find(client_id);
  if (c == g->second.end()) return false;
  g->second.erase(c);
  if (g->second.empty()) groups_.erase(g);
  return true;
}

std::vector<std::string> ClientTable::RemoveIf(
    const std::function<bool(const ClientChannel&)>& pred) {
  std::vector<std::string> changed;
  for (auto g = groups_.begin(); g != groups_.end();) {
    size_t removed = std::erase_if(g->second, [&](const auto& kv) { return pred(kv.second); });
    if (removed > 0) changed.push_back(g->first);
    g = g->second.empty() ? groups_.erase(g) : std::next(g);
  }
  return changed;  // in map order: already sorted
}

std::vector<ClientChannel> ClientTable::Clients(std::string_view group) const {
  std::vector<ClientChannel> out;
  auto g = groups_.find(group);
  if (g == groups_.end()) return out;
  for (const auto& [id, c] : g->second) out.push_back(c);
  return out;
}

std::vector<std::string> ClientTable::Groups() const {
  std::vector<std::string> out;
  for (const auto& [name, clients] : groups_) out.push_back(name);
  return out;
}

// ---- ConsumerManager ----

absl::StatusOr<ConsumerManager::RegisterResult> ConsumerManager::Register(
    const ConsumerData& data, std::string_view client_id, uint64_t channel_id, int64_t now_ms,
    const ClientMeta& meta) {
  RegisterResult r;
  std::lock_guard lock(mu_);
  STELE_ASSIGN_OR_RETURN(r.membership_changed,
                         members_.Upsert(data.group_name, client_id, channel_id, now_ms, meta));
  GroupState& g = state_[data.group_name];
  g.consume_type = data.consume_type;
  g.message_model = data.message_model;
  g.consume_from_where = data.consume_from_where;

  std::set<std::string_view> topics;
  for (const SubscriptionData& s : data.subscriptions) {
    topics.insert(s.topic);
    auto it = g.subscriptions.find(s.topic);
    if (it == g.subscriptions.end()) {
      g.subscriptions.emplace(s.topic, s);
      r.subscriptions_changed = true;
    } else if (s.sub_version > it->second.sub_version) {
      r.subscriptions_changed |=
          it->second.sub_string != s.sub_string || it->second.expression_type != s.expression_type;
      it->second = s;
    }
  }
  size_t dropped =
      std::erase_if(g.subscriptions, [&](const auto& kv) { return !topics.contains(kv.first); });
  r.subscriptions_changed |= dropped > 0;
  return r;
}

void ConsumerManager::ForgetEmptyGroups(const std::vector<std::string>& groups) {
  for (const std::string& g : groups) {
    if (!members_.HasGroup(g)) state_.erase(g);
  }
}

bool ConsumerManager::Unregister(std::string_view group, std::string_view client_id) {
  std::lock_guard lock(mu_);
  if (!members_.Remove(group, client_id)) return false;
  ForgetEmptyGroups({std::string(group)});
  return true;
}

std::vector<std::string> ConsumerManager::DropChannel(uint64_t channel_id) {
  std::lock_guard lock(mu_);
  auto changed =
      members_.RemoveIf([&](const ClientChannel& c) { return c.channel_id == channel_id; });
  ForgetEmptyGroups(changed);
  return changed;
}

std::vector<std::string> ConsumerManager::ScanExpired(int64_t now_ms, int64_t expiry_ms) {
  std::lock_guard lock(mu_);
  auto changed = members_.RemoveIf(
      [&](const ClientChannel& c) { return now_ms - c.last_heartbeat_ms > expiry_ms; });
  ForgetEmptyGroups(changed);
  return changed;
}

std::vector<std::string> ConsumerManager::ConsumerIds(std::string_view group) const {
  std::vector<std::string> ids;
  std::shared_lock lock(mu_);
  for (const ClientChannel& c : members_.Clients(group)) ids.push_back(c.client_id);
  return ids;
}

std::vector<uint64_t> ConsumerManager::Channels(std::string_view group) const {
  std::vector<uint64_t> out;
  std::shared_lock lock(mu_);
  for (const ClientChannel& c : members_.Clients(group)) out.push_back(c.channel_id);
  return out;
}

std::optional<SubscriptionData> ConsumerManager::FindSubscription(std::string_view group,
                                                                  std::string_view topic) const {
  std::shared_lock lock(mu_);
  auto g = state_.find(group);
  if (g == state_.end()) return std::nullopt;
  auto s = g->second.subscriptions.find(std::string(topic));
  if (s == g->second.subscriptions.end()) return std::nullopt;
  return s->second;
}

std::optional<ConsumerManager::GroupInfo> ConsumerManager::FindGroup(std::string_view group) const {
  std::shared_lock lock(mu_);
  auto g = state_.find(group);
  if (g == state_.end()) return std::nullopt;
  return GroupInfo{g->second.consume_type, g->second.message_model, g->second.consume_from_where,
                   g->second.subscriptions, members_.Clients(group)};
}

std::vector<std::string> ConsumerManager::Groups() const {
  std::shared_lock lock(mu_);
  return members_.Groups();
}

std::vector<std::string> ConsumerManager::GroupsOfTopic(std::string_view topic) const {
  std::vector<std::string> out;
  std::shared_lock lock(mu_);
  for (const auto& [name, g] : state_) {
    if (g.subscriptions.contains(std::string(topic))) out.push_back(name);
  }
  return out;
}

// ---- ProducerManager ----

absl::StatusOr<bool> ProducerManager::Register(std::string_view group, std::string_view client_id,
                                               uint64_t channel_id, int64_t now_ms,
                                               const ClientMeta& meta) {
  std::lock_guard lock(mu_);
  return members_.Upsert(group, client_id, channel_id, now_ms, meta);
}

bool ProducerManager::Unregister(std::string_view group, std::string_view client_id) {
  std::lock_guard lock(mu_);
  return members_.Remove(group, client_id);
}

std::vector<std::string> ProducerManager::DropChannel(uint64_t channel_id) {
  std::lock_guard lock(mu_);
  return members_.RemoveIf([&](const ClientChannel& c) { return c.channel_id == channel_id; });
}

std::vector<std::string> ProducerManager::ScanExpired(int64_t now_ms, int64_t expiry_ms) {
  std::lock_guard lock(mu_);
  return members_.RemoveIf(
      [&](const ClientChannel& c) { return now_ms - c.last_heartbeat_ms > expiry_ms; });
}

std::optional<uint64_t> ProducerManager::FindChannelOfGroup(std::string_view group) const {
  std::shared_lock lock(mu_);
  auto clients = members_.Clients(group);
  if (clients.empty()) return std::nullopt;
  auto newest = std::max_element(clients.begin(), clients.end(), [](const auto& a, const auto& b) {
    return a.last_heartbeat_ms < b.last_heartbeat_ms;
  });
  return newest->channel_id;
}

std::vector<ClientChannel> ProducerManager::Clients(std::string_view group) const {
  std::shared_lock lock(mu_);
  return members_.Clients(group);
}

std::vector<std::string> ProducerManager::Groups() const {
  std::shared_lock lock(mu_);
  return members_.Groups();
}

}  // namespace stele::broker
