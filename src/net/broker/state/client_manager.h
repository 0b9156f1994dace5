// Who is connected: consumers and producers by group, as learned from HEART_BEAT requests. Purely
// in memory (RocketMQ keeps no record of clients across restarts either; clients heartbeat every
// 30 s and re-register).
//
// A client is identified by its clientID ("ip@instance"), the transport's connection by an opaque
// channel id. A client that reconnects keeps its clientID and moves to the new channel, so closing
// the old channel afterwards (DropChannel) does not remove it.
//
// Membership changes (a client joining or leaving a group) are reported to the caller, which sends
// NOTIFY_CONSUMER_IDS_CHANGED to the group's channels; this class does no I/O and starts no
// threads. Time is passed in (now_ms) so that expiry is testable without sleeping.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "net/broker/state/heartbeat.h"

namespace stele::broker {

// RocketMQ's channel expiry (ClientHousekeepingService: 120 s without a heartbeat).
inline constexpr int64_t kDefaultClientExpiryMs = 120000;
// Fixed bounds; Register fails with ResourceExhausted beyond them.
inline constexpr size_t kMaxClientGroups = 100000;
inline constexpr size_t kMaxClientsPerGroup = 100000;

// What a client says about itself in its heartbeat's header, shown by the connection-list admin
// requests (and used there to decide whether a client understands RESET_CONSUMER_CLIENT_OFFSET).
struct ClientMeta {
  std::string language = "OTHER";  // RocketMQ's LanguageCode name
  int32_t version = 0;             // MQVersion ordinal
};

struct ClientChannel {
  std::string client_id;
  uint64_t channel_id = 0;
  int64_t last_heartbeat_ms = 0;
  ClientMeta meta;
  bool operator==(const ClientChannel&) const = default;
};

// group -> clientID -> channel: the membership bookkeeping both managers share. Not thread-safe.
class ClientTable {
 public:
  // Adds or refreshes a client; true if it is new to the group.
  absl::StatusOr<bool> Upsert(std::string_view group, std::string_view client_id,
                              uint64_t channel_id, int64_t now_ms, const ClientMeta& meta = {});
  bool Remove(std::string_view group, std::string_view client_id);
  // Removes every client matching `pred` (empty groups go too); returns the affected groups,
  // sorted.
  std::vector<std::string> RemoveIf(const std::function<bool(const ClientChannel&)>& pred);
  // Clients of a group, sorted by clientID; empty if none.
  std::vector<ClientChannel> Clients(std::string_view group) const;
  bool HasGroup(std::string_view group) const { return groups_.find(group) != groups_.end(); }
  std::vector<std::string> Groups() const;

 private:
  std::map<std::string, std::map<std::string, ClientChannel, std::less<>>, std::less<>> groups_;
};

class ConsumerManager {
 public:
  struct RegisterResult {
    bool membership_changed = false;     // the group's set of clientIDs changed
    bool subscriptions_changed = false;  // a topic was added or dropped, or its expression changed
  };
  struct GroupInfo {
    ConsumeType consume_type = ConsumeType::kPassively;
    MessageModel message_model = MessageModel::kClustering;
    std::string consume_from_where;
    std::map<std::string, SubscriptionData> subscriptions;  // by topic
    std::vector<ClientChannel> clients;                     // sorted by clientID
  };

  // Records a heartbeat's consumer entry. The group's subscriptions become the heartbeat's, as in
  // RocketMQ: topics missing from it are dropped, and an existing topic's subscription is replaced
  // only by a newer subVersion.
  absl::StatusOr<RegisterResult> Register(const ConsumerData& data, std::string_view client_id,
                                          uint64_t channel_id, int64_t now_ms,
                                          const ClientMeta& meta = {});
  // UNREGISTER_CLIENT. Returns whether the group's membership changed.
  bool Unregister(std::string_view group, std::string_view client_id);
  // A connection closed: removes the clients on it. Returns the groups whose membership changed.
  std::vector<std::string> DropChannel(uint64_t channel_id);
  // Removes clients silent for more than `expiry_ms`. Returns the groups whose membership changed.
  std::vector<std::string> ScanExpired(int64_t now_ms, int64_t expiry_ms = kDefaultClientExpiryMs);

  // The group's clientIDs, sorted (GET_CONSUMER_LIST_BY_GROUP); empty if unknown.
  std::vector<std::string> ConsumerIds(std::string_view group) const;
  // The channels to notify when the group changes.
  std::vector<uint64_t> Channels(std::string_view group) const;
  std::optional<SubscriptionData> FindSubscription(std::string_view group,
                                                   std::string_view topic) const;
  std::optional<GroupInfo> FindGroup(std::string_view group) const;
  std::vector<std::string> Groups() const;  // sorted
  // Groups currently subscribed to `topic`, sorted.
  std::vector<std::string> GroupsOfTopic(std::string_view topic) const;

 private:
  struct GroupState {
    ConsumeType consume_type = ConsumeType::kPassively;
    MessageModel message_model = MessageModel::kClustering;
    std::string consume_from_where;
    std::map<std::string, SubscriptionData> subscriptions;
  };
  // Caller holds mu_ exclusively.
  void ForgetEmptyGroups(const std::vector<std::string>& groups);

  mutable std::shared_mutex mu_;
  ClientTable members_;                                   // guarded by mu_
  std::map<std::string, GroupState, std::less<>> state_;  // guarded by mu_
};

class ProducerManager {
 public:
  // Returns true if the client is new to the group.
  absl::StatusOr<bool> Register(std::string_view group, std::string_view client_id,
                                uint64_t channel_id, int64_t now_ms, const ClientMeta& meta = {});
  bool Unregister(std::string_view group, std::string_view client_id);
  std::vector<std::string> DropChannel(uint64_t channel_id);
  std::vector<std::string> ScanExpired(int64_t now_ms, int64_t expiry_ms = kDefaultClientExpiryMs);
  // A channel of the group's most recently heard-from client, for transaction state checks.
  std::optional<uint64_t> FindChannelOfGroup(std::string_view group) const;
  std::vector<ClientChannel> Clients(std::string_view group) const;
  std::vector<std::string> Groups() const;

 private:
  mutable std::shared_mutex mu_;
  ClientTable members_;  // guarded by mu_
};

}  // namespace stele::broker
