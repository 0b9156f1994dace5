#include "net/namesrv/route_info_manager.h"

#include <algorithm>
#include <mutex>

#include "common/logging.h"

namespace stele::namesrv {

using nlohmann::json;

namespace {
json TopicListJson(const std::set<std::string>& topics) {
  return json{{"topicList", json(topics)}};
}
}  // namespace

RouteInfoManager::RouteInfoManager(RouteOptions options) : options_(options) {}

RegisterBrokerResult RouteInfoManager::RegisterBroker(const BrokerRegistration& reg,
                                                      int64_t now_ms) {
  std::unique_lock lock(mu_);
  const BrokerKey key{reg.cluster_name, reg.broker_addr};

  // Another address holds this brokerId with a newer state: this registration is stale (an old
  // broker process still running after a failover), so it must not take the slot.
  if (auto bd = broker_addr_table_.find(reg.broker_name); bd != broker_addr_table_.end()) {
    auto old = bd->second.broker_addrs.find(reg.broker_id);
    if (old != bd->second.broker_addrs.end() && old->second != reg.broker_addr) {
      auto old_live = broker_live_table_.find({reg.cluster_name, old->second});
      if (old_live != broker_live_table_.end() && old_live->second.data_version.state_version >
                                                      reg.topic_config.data_version.state_version) {
        log::Warn("namesrv: ignoring registration of {} as {}[{}]: {} holds it with a newer state",
                  reg.broker_addr, reg.broker_name, reg.broker_id, old->second);
        broker_live_table_.erase(key);
        return {};
      }
    }
  }

  cluster_addr_table_[reg.cluster_name].insert(reg.broker_name);
  bool register_first = false;
  auto [bd_it, inserted] = broker_addr_table_.try_emplace(reg.broker_name);
  BrokerData& bd = bd_it->second;
  if (inserted) {
    register_first = true;
    bd.cluster = reg.cluster_name;
    bd.broker_name = reg.broker_name;
  }
  bd.enable_acting_master = reg.enable_acting_master;
  bd.zone_name = reg.zone_name;
  // One address has one role: a slave promoted to master re-registers under id 0 and its old
  // slave entry must go.
  std::erase_if(bd.broker_addrs, [&](const auto& e) {
    return e.second == reg.broker_addr && e.first != reg.broker_id;
  });
  const bool new_id = bd.broker_addrs.insert_or_assign(reg.broker_id, reg.broker_addr).second;
  register_first = register_first || new_id;

  if (reg.broker_id == kMasterId) ApplyTopicConfigLocked(reg, register_first);

  auto [live_it, new_live] = broker_live_table_.try_emplace(key);
  LiveInfo& live = live_it->second;
  if (new_live) {
    log::Info("namesrv: new broker registered {} {}[{}] cluster {} HA {}", reg.broker_addr,
              reg.broker_name, reg.broker_id, reg.cluster_name, reg.ha_server_addr);
  }
  live.last_update_ms = now_ms;
  live.heartbeat_timeout_ms =
      reg.heartbeat_timeout_ms.value_or(options_.default_heartbeat_timeout_ms);
  live.data_version = reg.topic_config.data_version;
  live.channel_id = reg.channel_id;
  live.ha_server_addr = reg.ha_server_addr;

  if (reg.filter_servers.empty()) {
    filter_server_table_.erase(key);
  } else {
    filter_server_table_[key] = reg.filter_servers;
  }

  RegisterBrokerResult result;
  if (reg.broker_id != kMasterId) {
    auto master = bd.broker_addrs.find(kMasterId);
    if (master != bd.broker_addrs.end()) {
      auto ml = broker_live_table_.find({reg.cluster_name, master->second});
      if (ml != broker_live_table_.end()) {
        result.ha_server_addr = ml->second.ha_server_addr;
        result.master_addr = master->second;
      }
    }
  }
  return result;
}

void RouteInfoManager::ApplyTopicConfigLocked(const BrokerRegistration& reg, bool register_first) {
  auto live = broker_live_table_.find({reg.cluster_name, reg.broker_addr});
  const bool changed = register_first || live == broker_live_table_.end() ||
                       live->second.data_version != reg.topic_config.data_version;
  const auto& topics = reg.topic_config.topics;
  if (changed && options_.delete_topic_with_broker_registration) {
    std::vector<std::string> gone;
    for (const auto& [topic, by_broker] : topic_queue_table_) {
      if (by_broker.contains(reg.broker_name) && !topics.contains(topic)) gone.push_back(topic);
    }
    for (const std::string& topic : gone) {
      log::Info("namesrv: broker {} no longer serves topic {}", reg.broker_name, topic);
      RemoveQueueDataLocked(topic, reg.broker_name);
    }
  }
  for (const auto& [name, t] : topics) {
    // With an unchanged DataVersion only missing routes are restored (e.g. after an admin
    // deleted the topic in the name server but the broker still has it).
    auto it = topic_queue_table_.find(name);
    bool missing = it == topic_queue_table_.end() || !it->second.contains(reg.broker_name);
    if (changed || missing) UpsertQueueDataLocked(reg.broker_name, t);
  }
}

void RouteInfoManager::UpsertQueueDataLocked(const std::string& broker_name, const TopicConfig& t) {
  QueueData qd{.broker_name = broker_name,
               .read_queue_nums = t.read_queue_nums,
               .write_queue_nums = t.write_queue_nums,
               .perm = write_wiped_.contains(broker_name) ? t.perm & ~broker::kPermWrite : t.perm,
               .topic_sys_flag = t.topic_sys_flag};
  auto& by_broker = topic_queue_table_[t.topic_name];
  auto it = by_broker.find(broker_name);
  if (it == by_broker.end()) {
    if (by_broker.empty())
      log::Info("namesrv: new topic registered {} by {}", t.topic_name, broker_name);
    by_broker.emplace(broker_name, std::move(qd));
  } else if (!(it->second == qd)) {
    log::Info("namesrv: topic {} changed on {}", t.topic_name, broker_name);
    it->second = std::move(qd);
  }
}

void RouteInfoManager::RemoveQueueDataLocked(const std::string& topic,
                                             const std::string& broker_name) {
  auto it = topic_queue_table_.find(topic);
  if (it == topic_queue_table_.end()) return;
  it->second.erase(broker_name);
  if (it->second.empty()) topic_queue_table_.erase(it);
}

bool RouteInfoManager::UnregisterBroker(const std::string& cluster_name,
                                        const std::string& broker_addr,
                                        const std::string& broker_name, int64_t broker_id) {
  (void)broker_id;  // the address identifies the entry; Java uses the id only for notifications
  std::unique_lock lock(mu_);
  return UnregisterLocked(cluster_name, broker_addr, broker_name);
}

bool RouteInfoManager::UnregisterLocked(const std::string& cluster_name,
                                        const std::string& broker_addr,
                                        const std::string& broker_name) {
  const BrokerKey key{cluster_name, broker_addr};
  bool removed = broker_live_table_.erase(key) > 0;
  filter_server_table_.erase(key);
  auto bd = broker_addr_table_.find(broker_name);
  if (bd == broker_addr_table_.end()) return removed;
  removed = std::erase_if(bd->second.broker_addrs,
                          [&](const auto& e) { return e.second == broker_addr; }) > 0 ||
            removed;
  if (!bd->second.broker_addrs.empty()) return removed;

  log::Info("namesrv: broker group {} has no brokers left; removing its routes", broker_name);
  broker_addr_table_.erase(bd);
  write_wiped_.erase(broker_name);
  if (auto names = cluster_addr_table_.find(cluster_name); names != cluster_addr_table_.end()) {
    names->second.erase(broker_name);
    if (names->second.empty()) cluster_addr_table_.erase(names);
  }
  for (auto it = topic_queue_table_.begin(); it != topic_queue_table_.end();) {
    it->second.erase(broker_name);
    it = it->second.empty() ? topic_queue_table_.erase(it) : std::next(it);
  }
  return removed;
}

void RouteInfoManager::RemoveBrokerByKeyLocked(const BrokerKey& key) {
  const auto& [cluster, addr] = key;
  for (const auto& [name, bd] : broker_addr_table_) {
    if (bd.cluster != cluster) continue;
    for (const auto& [id, a] : bd.broker_addrs) {
      if (a == addr) {
        std::string broker_name = name;  // UnregisterLocked may erase the map entry
        UnregisterLocked(cluster, addr, broker_name);
        return;
      }
    }
  }
  broker_live_table_.erase(key);
  filter_server_table_.erase(key);
}

absl::StatusOr<json> RouteInfoManager::PickupTopicRouteData(const std::string& topic) const {
  std::shared_lock lock(mu_);
  auto it = topic_queue_table_.find(topic);
  if (it == topic_queue_table_.end()) {
    return absl::NotFoundError("no route for topic");
  }
  json queue_datas = json::array();
  json broker_datas = json::array();
  json filter_servers = json::object();
  for (const auto& [broker_name, qd] : it->second) {
    queue_datas.push_back(ToJson(qd));
    auto bd = broker_addr_table_.find(broker_name);
    if (bd == broker_addr_table_.end()) continue;
    broker_datas.push_back(ToJson(bd->second));
    for (const auto& [id, addr] : bd->second.broker_addrs) {
      auto fs = filter_server_table_.find({bd->second.cluster, addr});
      if (fs != filter_server_table_.end()) filter_servers[addr] = fs->second;
    }
  }
  if (broker_datas.empty()) return absl::NotFoundError("no broker serves the topic");
  return json{{"orderTopicConf", nullptr},
              {"queueDatas", std::move(queue_datas)},
              {"brokerDatas", std::move(broker_datas)},
              {"filterServerTable", std::move(filter_servers)},
              {"topicQueueMappingByBroker", nullptr}};
}

json RouteInfoManager::GetBrokerClusterInfo() const {
  std::shared_lock lock(mu_);
  json brokers = json::object();
  for (const auto& [name, bd] : broker_addr_table_) brokers[name] = ToJson(bd);
  json clusters = json::object();
  for (const auto& [cluster, names] : cluster_addr_table_) clusters[cluster] = json(names);
  return json{{"brokerAddrTable", std::move(brokers)}, {"clusterAddrTable", std::move(clusters)}};
}

json RouteInfoManager::GetAllTopicList() const {
  std::shared_lock lock(mu_);
  std::set<std::string> topics;
  for (const auto& [topic, by_broker] : topic_queue_table_) topics.insert(topic);
  return TopicListJson(topics);
}

json RouteInfoManager::GetTopicsByCluster(const std::string& cluster) const {
  std::shared_lock lock(mu_);
  std::set<std::string> topics;
  auto names = cluster_addr_table_.find(cluster);
  if (names != cluster_addr_table_.end()) {
    for (const auto& [topic, by_broker] : topic_queue_table_) {
      for (const std::string& name : names->second) {
        if (by_broker.contains(name)) {
          topics.insert(topic);
          break;
        }
      }
    }
  }
  return TopicListJson(topics);
}

void RouteInfoManager::DeleteTopic(const std::string& topic) {
  std::unique_lock lock(mu_);
  topic_queue_table_.erase(topic);
}

void RouteInfoManager::DeleteTopic(const std::string& topic, const std::string& cluster) {
  std::unique_lock lock(mu_);
  auto names = cluster_addr_table_.find(cluster);
  if (names == cluster_addr_table_.end()) return;
  for (const std::string& name : names->second) RemoveQueueDataLocked(topic, name);
}

int RouteInfoManager::WipeWritePermOfBroker(const std::string& broker_name) {
  std::unique_lock lock(mu_);
  // Remembered only for a group the name server knows: an unknown name must not poison a group
  // that registers later.
  if (broker_addr_table_.contains(broker_name)) write_wiped_.insert(broker_name);
  int count = 0;
  for (auto& [topic, by_broker] : topic_queue_table_) {
    auto it = by_broker.find(broker_name);
    if (it == by_broker.end()) continue;
    it->second.perm &= ~broker::kPermWrite;
    ++count;
  }
  return count;
}

int RouteInfoManager::AddWritePermOfBroker(const std::string& broker_name) {
  std::unique_lock lock(mu_);
  write_wiped_.erase(broker_name);
  int count = 0;
  for (auto& [topic, by_broker] : topic_queue_table_) {
    auto it = by_broker.find(broker_name);
    if (it == by_broker.end()) continue;
    it->second.perm |= broker::kPermRead | broker::kPermWrite;
    ++count;
  }
  return count;
}

bool RouteInfoManager::IsWriteWiped(const std::string& broker_name) const {
  std::shared_lock lock(mu_);
  return write_wiped_.contains(broker_name);
}

bool RouteInfoManager::UpdateBrokerLiveness(const std::string& cluster_name,
                                            const std::string& broker_addr, int64_t now_ms) {
  std::unique_lock lock(mu_);
  auto it = broker_live_table_.find({cluster_name, broker_addr});
  if (it == broker_live_table_.end()) return false;
  it->second.last_update_ms = std::max(it->second.last_update_ms, now_ms);
  return true;
}

std::optional<DataVersion> RouteInfoManager::QueryBrokerDataVersion(
    const std::string& cluster_name, const std::string& broker_addr) const {
  std::shared_lock lock(mu_);
  auto it = broker_live_table_.find({cluster_name, broker_addr});
  if (it == broker_live_table_.end()) return std::nullopt;
  return it->second.data_version;
}

std::vector<ExpiredBroker> RouteInfoManager::ScanNotActiveBroker(int64_t now_ms) {
  std::unique_lock lock(mu_);
  std::vector<ExpiredBroker> expired;
  for (const auto& [key, live] : broker_live_table_) {
    if (live.last_update_ms + live.heartbeat_timeout_ms < now_ms) {
      log::Warn("namesrv: broker {} (cluster {}) silent for {} ms > {} ms; removing it", key.second,
                key.first, now_ms - live.last_update_ms, live.heartbeat_timeout_ms);
      expired.push_back({key.first, key.second, live.channel_id});
    }
  }
  for (const ExpiredBroker& e : expired) RemoveBrokerByKeyLocked({e.cluster_name, e.broker_addr});
  return expired;
}

int RouteInfoManager::OnChannelDestroy(uint64_t channel_id) {
  std::unique_lock lock(mu_);
  std::vector<BrokerKey> keys;
  for (const auto& [key, live] : broker_live_table_) {
    if (live.channel_id == channel_id) keys.push_back(key);
  }
  for (const BrokerKey& key : keys) {
    log::Info("namesrv: connection of broker {} (cluster {}) closed; removing it", key.second,
              key.first);
    RemoveBrokerByKeyLocked(key);
  }
  return static_cast<int>(keys.size());
}

size_t RouteInfoManager::live_broker_count() const {
  std::shared_lock lock(mu_);
  return broker_live_table_.size();
}

}  // namespace stele::namesrv
