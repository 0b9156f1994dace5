// The name server's routing tables (Java RouteInfoManager): which brokers are alive, which broker
// groups form each cluster, and which broker groups serve each topic.
//
//   topic       -> brokerName -> QueueData      (queues the group serves for the topic)
//   brokerName  -> BrokerData                   (cluster, brokerId -> address)
//   cluster     -> {brokerName}
//   (cluster, brokerAddr) -> live info          (last heard from, DataVersion, channel, timeout)
//
// Brokers register every 30 s and after each topic change; a broker silent for longer than its
// heartbeat timeout (default 120 s) or whose connection closes is removed with all its routes.
// Only a master (brokerId 0) registration changes topic routes: slaves only join BrokerData.
//
// Time is passed in (now_ms) rather than read from a clock, so expiry is testable without
// sleeping. Channel ids are opaque numbers (remoting::Channel::id()); nothing here touches sockets.
//
// Thread safety: every method may be called from any thread; one reader/writer lock guards all
// tables, so each call sees and leaves them consistent. Readers (route lookups, by far the most
// frequent call) run concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "net/namesrv/route_data.h"
#include "nlohmann/json.hpp"

namespace stele::namesrv {

// Java RouteInfoManager.DEFAULT_BROKER_CHANNEL_EXPIRED_TIME.
constexpr int64_t kDefaultBrokerExpiryMs = 120000;

struct RouteOptions {
  // Used when a registration carries no heartbeatTimeoutMillis.
  int64_t default_heartbeat_timeout_ms = kDefaultBrokerExpiryMs;
  // When a master registers a new DataVersion, topics it no longer lists lose its QueueData
  // (Java's deleteTopicWithBrokerRegistration). Java defaults to false because Java brokers
  // also send *incremental* registrations (only the changed topics, with a new DataVersion):
  // against those, true would drop the broker's other topics until its next full registration.
  bool delete_topic_with_broker_registration = true;
};

struct BrokerRegistration {
  std::string cluster_name;
  std::string broker_addr;  // "ip:port"
  std::string broker_name;
  int64_t broker_id = 0;
  std::string ha_server_addr;
  std::optional<std::string> zone_name;
  std::optional<int64_t> heartbeat_timeout_ms;
  bool enable_acting_master = false;
  TopicConfigWrapper topic_config;
  std::vector<std::string> filter_servers;
  uint64_t channel_id = 0;  // the connection it registered over
};

// For a slave: its master's address and HA address, when the master is registered and alive.
struct RegisterBrokerResult {
  std::string ha_server_addr;
  std::string master_addr;
};

// A broker removed by ScanNotActiveBroker; its connection (if still open) should be closed.
struct ExpiredBroker {
  std::string cluster_name;
  std::string broker_addr;
  uint64_t channel_id = 0;
};

class RouteInfoManager {
 public:
  explicit RouteInfoManager(RouteOptions options = {});

  // Adds or refreshes a broker. A registration whose address conflicts with a live broker of
  // the same brokerId and a higher stateVersion is ignored (Java does the same), and returns an
  // empty result.
  RegisterBrokerResult RegisterBroker(const BrokerRegistration& reg, int64_t now_ms);
  // Removes the address from its broker group; a group left empty disappears from its cluster
  // and from every topic. Returns false if the broker was not registered.
  bool UnregisterBroker(const std::string& cluster_name, const std::string& broker_addr,
                        const std::string& broker_name, int64_t broker_id);

  // The TopicRouteData JSON for `topic` (protocol.md §2.1): queueDatas and brokerDatas are arrays
  // sorted by brokerName, filterServerTable an object, orderTopicConf null (the caller may set
  // it). NotFound if no broker group serves the topic.
  absl::StatusOr<nlohmann::json> PickupTopicRouteData(const std::string& topic) const;
  // {"brokerAddrTable":{brokerName:BrokerData},"clusterAddrTable":{cluster:[brokerName]}}
  nlohmann::json GetBrokerClusterInfo() const;
  // {"topicList":[topic,...]} (sorted); by cluster: topics served by any group of the cluster.
  nlohmann::json GetAllTopicList() const;
  nlohmann::json GetTopicsByCluster(const std::string& cluster) const;

  // Forgets the topic's routes everywhere, or only those of the cluster's broker groups.
  void DeleteTopic(const std::string& topic);
  void DeleteTopic(const std::string& topic, const std::string& cluster);
  // WIPE_WRITE_PERM_OF_BROKER: clears the WRITE bit of every QueueData of the group and returns
  // how many topics it touched. The wipe sticks: until AddWritePermOfBroker (or until the group
  // leaves the name server: its last broker unregisters or expires), the group's re-registrations
  // keep the WRITE bit cleared, even when its DataVersion changed (Java's name server would take
  // the broker's perms back then, silently undoing an operator's wipe).
  int WipeWritePermOfBroker(const std::string& broker_name);
  // ADD_WRITE_PERM_OF_BROKER: ends a wipe and sets READ|WRITE on every QueueData of the group (as
  // Java does; the INHERIT bit is kept); returns how many topics it touched.
  int AddWritePermOfBroker(const std::string& broker_name);
  // Whether the group's write permission is wiped.
  bool IsWriteWiped(const std::string& broker_name) const;

  // BROKER_HEARTBEAT / QUERY_DATA_VERSION: extends the broker's liveness. False if unknown.
  bool UpdateBrokerLiveness(const std::string& cluster_name, const std::string& broker_addr,
                            int64_t now_ms);
  // The DataVersion the broker last registered, if it is registered.
  std::optional<DataVersion> QueryBrokerDataVersion(const std::string& cluster_name,
                                                    const std::string& broker_addr) const;

  // Removes every broker whose last update is older than its heartbeat timeout at now_ms.
  std::vector<ExpiredBroker> ScanNotActiveBroker(int64_t now_ms);
  // The connection closed: removes at once every broker whose latest registration came over it.
  // Returns how many were removed.
  int OnChannelDestroy(uint64_t channel_id);

  size_t live_broker_count() const;

 private:
  using BrokerKey = std::pair<std::string, std::string>;  // (cluster, brokerAddr)
  struct LiveInfo {
    int64_t last_update_ms = 0;
    int64_t heartbeat_timeout_ms = kDefaultBrokerExpiryMs;
    DataVersion data_version;
    uint64_t channel_id = 0;
    std::string ha_server_addr;
  };

  // The *Locked helpers require mu_ held exclusively.
  void ApplyTopicConfigLocked(const BrokerRegistration& reg, bool register_first);
  void UpsertQueueDataLocked(const std::string& broker_name, const TopicConfig& t);
  void RemoveQueueDataLocked(const std::string& topic, const std::string& broker_name);
  bool UnregisterLocked(const std::string& cluster_name, const std::string& broker_addr,
                        const std::string& broker_name);
  // Unregisters the broker at key, finding its group by address.
  void RemoveBrokerByKeyLocked(const BrokerKey& key);

  const RouteOptions options_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::map<std::string, QueueData>> topic_queue_table_;
  std::map<std::string, BrokerData> broker_addr_table_;
  std::map<std::string, std::set<std::string>> cluster_addr_table_;
  std::map<BrokerKey, LiveInfo> broker_live_table_;
  std::map<BrokerKey, std::vector<std::string>> filter_server_table_;
  std::set<std::string> write_wiped_;  // broker names (see WipeWritePermOfBroker)
};

}  // namespace stele::namesrv
