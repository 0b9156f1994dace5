// AdminClient: RocketMQ's DefaultMQAdminExt, the calls an operator or a tool (mqadmin) makes to
// inspect and change a cluster: topics, subscription groups, offsets, message lookups, broker
// status. Works against Stele's and Apache RocketMQ's name servers and brokers.
//
//   stele::client::AdminClient admin({.namesrv_addr = "127.0.0.1:9876"});
//   if (auto s = admin.Start(); !s.ok()) ...
//   auto brokers = admin.CreateOrUpdateTopicInCluster("DefaultCluster", {.topic = "T"});
//   auto route = admin.Route("T");
//
// Where a call goes: name-server calls try each name server in turn until one answers (except
// DeleteTopicInNamesrv, which goes to every one). Calls naming a queue find the queue's master
// through the topic's route (fetched once, then cached; refetched when the broker is unknown).
// Cluster-wide calls go to every master of the cluster (from ClusterInfo), one after another, and
// stop at the first failure: brokers before it were changed, the rest were not.
//
// Timeouts: every request (and each connection attempt) is bounded by options.timeout; a call that
// makes several requests can take several times that.
//
// Errors: a server's non-success answer is a status carrying RocketMQ's response code
// (RocketMqCode(status)) whose message reads "<context>: <CODE_NAME> (<code>): <remark>".
// TOPIC_NOT_EXIST (17), QUERY_NOT_FOUND (22) and SUBSCRIPTION_GROUP_NOT_EXIST (26) are NotFound,
// REQUEST_CODE_NOT_SUPPORTED (3) is Unimplemented; see wire.h's ResponseError for the rest.
// Transport problems carry no code: Unavailable (cannot connect, connection closed),
// DeadlineExceeded (no answer in time), InvalidArgument (an address that is not host:port).
// A call before Start() or after Shutdown() is FailedPrecondition.
//
// Thread safety: every method may be called from any thread; calls may run concurrently.
// Shutdown() fails calls still in flight (Unavailable) and waits for none of them.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stele/client/message.h"
#include "stele/client/route.h"

namespace stele::client {

struct AdminOptions {
  std::string namesrv_addr;   // "host:port;host:port"
  std::string instance_name;  // "" = unique in this process
  std::chrono::milliseconds timeout{5000};
};

// GET_BROKER_CLUSTER_INFO: every broker group the name server knows, and the clusters.
struct BrokerClusterInfo {
  std::map<std::string, BrokerData> brokers;                 // by broker name
  std::map<std::string, std::vector<std::string>> clusters;  // cluster -> broker names

  // Master addresses of the cluster's broker groups (those that have a master), in the
  // name server's order. Empty for an unknown cluster.
  std::vector<std::string> MasterAddrs(const std::string& cluster) const;
};

// RocketMQ's CreateTopicRequestHeader (UPDATE_AND_CREATE_TOPIC).
struct TopicConfig {
  std::string topic;
  std::string default_topic = "TBW102";
  int32_t read_queue_nums = 8;
  int32_t write_queue_nums = 8;
  int32_t perm = 6;  // READ 4 | WRITE 2 | INHERIT 1
  std::string topic_filter_type = "SINGLE_TAG";
  int32_t topic_sys_flag = 0;
  bool order = false;
};

// RocketMQ's SubscriptionGroupConfig (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP body).
struct SubscriptionGroupConfig {
  std::string group_name;
  bool consume_enable = true;
  bool consume_from_min_enable = true;
  bool consume_broadcast_enable = true;
  bool consume_message_orderly = false;
  int32_t retry_queue_nums = 1;
  int32_t retry_max_times = 16;
  int64_t broker_id = 0;
  int64_t which_broker_when_consume_slowly = 1;
  bool notify_consumer_ids_changed_enable = true;
  int32_t group_sys_flag = 0;
  int32_t consume_timeout_minute = 15;
  std::map<std::string, std::string> attributes;
};

// QUERY_MESSAGE's search window and limit (per broker).
struct QueryMessageOptions {
  int32_t max_num = 64;
  int64_t begin_timestamp_ms = 0;
  int64_t end_timestamp_ms = std::numeric_limits<int64_t>::max();
  // Search the UNIQ_KEY (client message id) index entries instead of KEYS.
  bool unique_key = false;
};

// One PULL_MESSAGE answer, for browsing a queue without a consumer (no commit, no filter).
struct PulledMessages {
  enum class Status { kFound, kNoNewMsg, kNoMatchedMsg, kOffsetIllegal };
  Status status = Status::kNoNewMsg;
  int64_t next_begin_offset = 0;
  int64_t min_offset = 0;
  int64_t max_offset = 0;
  std::vector<MessageExt> messages;
};

// GET_CONSUMER_CONNECTION_LIST (Java ConsumerConnection).
struct ConsumerConnection {
  struct Connection {
    std::string client_id;
    std::string client_addr;
    std::string language;
    int32_t version = 0;
  };
  std::vector<Connection> connections;
  std::map<std::string, std::string> subscriptions;  // topic -> expression
  std::string consume_type;                          // "CONSUME_PASSIVELY", ...
  std::string message_model;                         // "CLUSTERING" / "BROADCASTING"
  std::string consume_from_where;
};

// GET_CONSUME_STATS (Java ConsumeStats), merged over the group's brokers.
struct ConsumeStats {
  struct QueueOffsets {
    int64_t broker_offset = 0;    // the queue's max offset
    int64_t consumer_offset = 0;  // the group's committed offset
    int64_t last_timestamp = 0;   // store time of the last consumed message
  };
  std::map<MessageQueue, QueueOffsets> offsets;
  double consume_tps = 0;

  int64_t TotalDiff() const;  // sum of broker_offset - consumer_offset
};

// GET_TOPIC_STATS_INFO (Java TopicStatsTable), merged over the topic's masters.
struct TopicStats {
  struct QueueStats {
    int64_t min_offset = 0;
    int64_t max_offset = 0;             // the next offset to be written
    int64_t last_update_timestamp = 0;  // store time of the newest message; 0 if none
  };
  std::map<MessageQueue, QueueStats> offsets;
};

class AdminClient {
 public:
  explicit AdminClient(AdminOptions options);
  ~AdminClient();  // Shutdown()
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // Validates the options (InvalidArgument on an empty or malformed name-server list). Connects
  // to nothing yet. A client cannot be restarted.
  absl::Status Start();
  // Closes the connections. Idempotent.
  void Shutdown();

  // --- name server -----------------------------------------------------------------------------
  absl::StatusOr<BrokerClusterInfo> ClusterInfo();
  // Master addresses of `cluster`; NotFound if it has none.
  absl::StatusOr<std::vector<std::string>> ClusterMasters(const std::string& cluster);
  // Every topic the name server routes, sorted.
  absl::StatusOr<std::vector<std::string>> TopicList();
  // GET_ROUTEINFO_BY_TOPIC; NotFound (code 17) for a topic the name server does not know.
  absl::StatusOr<TopicRoute> Route(const std::string& topic);
  // The same, the name server's JSON body as received (what `mqadmin topicRoute` prints).
  absl::StatusOr<std::string> RouteJson(const std::string& topic);

  // --- topics ----------------------------------------------------------------------------------
  absl::Status CreateOrUpdateTopic(const std::string& broker_addr, const TopicConfig& config);
  // On every master of the cluster; returns their addresses.
  absl::StatusOr<std::vector<std::string>> CreateOrUpdateTopicInCluster(const std::string& cluster,
                                                                        const TopicConfig& config);
  absl::Status DeleteTopicInBroker(const std::string& broker_addr, const std::string& topic);
  // DELETE_TOPIC_IN_NAMESRV on every name server; `cluster` "" = in every cluster.
  absl::Status DeleteTopicInNamesrv(const std::string& topic, const std::string& cluster = "");
  // DELETE_TOPIC_IN_BROKER on every master of the cluster, then DeleteTopicInNamesrv.
  absl::Status DeleteTopic(const std::string& cluster, const std::string& topic);

  // --- subscription groups ---------------------------------------------------------------------
  absl::Status CreateOrUpdateSubscriptionGroup(const std::string& broker_addr,
                                               const SubscriptionGroupConfig& config);
  // With clean_offset (Java's removeOffset) also removes the group's consume offsets there.
  absl::Status DeleteSubscriptionGroup(const std::string& broker_addr, const std::string& group,
                                       bool clean_offset = true);

  // --- brokers ---------------------------------------------------------------------------------
  // GET_BROKER_RUNTIME_INFO's table (values as the broker sent them; non-strings as JSON).
  absl::StatusOr<std::map<std::string, std::string>> BrokerRuntimeInfo(
      const std::string& broker_addr);
  // GET_BROKER_CONFIG: the broker's effective configuration, key -> value.
  absl::StatusOr<std::map<std::string, std::string>> BrokerConfig(const std::string& broker_addr);
  // UPDATE_BROKER_CONFIG with these keys (a Stele broker changes all of them or none, and only
  // its run-time keys: NO_PERMISSION otherwise, see the README).
  absl::Status UpdateBrokerConfig(const std::string& broker_addr,
                                  const std::map<std::string, std::string>& kv);

  // --- one name server by address (the operator's per-server commands) -------------------------
  // The addresses of options.namesrv_addr, in order (empty before Start()).
  std::vector<std::string> NamesrvAddrs() const;
  // GET_NAMESRV_CONFIG: that name server's configuration, key -> value.
  absl::StatusOr<std::map<std::string, std::string>> NamesrvConfig(const std::string& namesrv_addr);
  // WIPE_WRITE_PERM_OF_BROKER / ADD_WRITE_PERM_OF_BROKER: the broker group's queues stop / start
  // taking writes in that name server's routes; returns how many topics it changed.
  absl::StatusOr<int> WipeWritePermOfBroker(const std::string& namesrv_addr,
                                            const std::string& broker_name);
  absl::StatusOr<int> AddWritePermOfBroker(const std::string& namesrv_addr,
                                           const std::string& broker_name);

  // --- offsets (the queue's master answers) ----------------------------------------------------
  absl::StatusOr<int64_t> MaxOffset(const MessageQueue& queue);  // the next offset to be written
  absl::StatusOr<int64_t> MinOffset(const MessageQueue& queue);
  // The first offset stored at or after `timestamp_ms`.
  absl::StatusOr<int64_t> SearchOffset(const MessageQueue& queue, int64_t timestamp_ms);
  // The group's committed offset; NotFound (code 22) when it has none.
  absl::StatusOr<int64_t> QueryConsumerOffset(const std::string& group, const MessageQueue& queue);
  absl::Status UpdateConsumerOffset(const std::string& group, const MessageQueue& queue,
                                    int64_t offset);

  // --- messages --------------------------------------------------------------------------------
  // VIEW_MESSAGE_BY_ID to the store host named in an offset message id (32 hex digits for IPv4,
  // 56 for IPv6). InvalidArgument for a malformed id. broker_name is left empty.
  absl::StatusOr<MessageExt> ViewMessage(const std::string& offset_msg_id);
  // QUERY_MESSAGE on every master of the topic's route; messages whose KEYS (or UNIQ_KEY with
  // options.unique_key) really contain `key`. Empty when no broker found one.
  absl::StatusOr<std::vector<MessageExt>> QueryMessageByKey(
      const std::string& topic, const std::string& key, const QueryMessageOptions& options = {});
  // Up to max_nums messages of the queue from `offset` (consumer group `group` is only named in
  // the request; nothing is committed). Answers at once, without long polling.
  absl::StatusOr<PulledMessages> Pull(const MessageQueue& queue, int64_t offset, int max_nums,
                                      const std::string& group = "TOOLS_CONSUMER");

  // --- consumers -------------------------------------------------------------------------------
  // GET_CONSUMER_LIST_BY_GROUP from a master serving `topic` ("" = the group's retry topic),
  // sorted. A broker with no live consumer of the group answers SYSTEM_ERROR (code 1).
  absl::StatusOr<std::vector<std::string>> ConsumerIdList(const std::string& group,
                                                          const std::string& topic = "");
  // GET_CONSUMER_CONNECTION_LIST from a master of the group's retry topic. Unimplemented (with
  // the broker's remark) when the broker does not serve that request.
  absl::StatusOr<ConsumerConnection> ConsumerConnectionList(const std::string& group);
  // GET_CONSUME_STATS from every master of the group's retry topic (or of `topic` when the group
  // has no retry topic), merged; `topic` "" = every topic the group consumes. Unimplemented (with
  // the broker's remark) when a broker does not serve that request.
  absl::StatusOr<ConsumeStats> GetConsumeStats(const std::string& group,
                                               const std::string& topic = "");

  // --- statistics and offset resets (admin_stats requests) ------------------------------------
  // GET_TOPIC_STATS_INFO from every master of the topic's route; NotFound for an unknown topic.
  absl::StatusOr<TopicStats> GetTopicStats(const std::string& topic);
  // GET_PRODUCER_CONNECTION_LIST from every master of the topic's route, merged (a client on
  // several brokers is listed once). NotFound when no broker knows the group.
  absl::StatusOr<std::vector<ConsumerConnection::Connection>> ProducerConnectionList(
      const std::string& group, const std::string& topic);
  // QUERY_TOPIC_CONSUME_BY_WHO on every master of the topic's route: groups online for the topic
  // or holding offsets on it, sorted, without duplicates.
  absl::StatusOr<std::vector<std::string>> QueryTopicConsumeByWho(const std::string& topic);
  // INVOKE_BROKER_TO_RESET_OFFSET on every master of the topic's route: the group's offsets go to
  // the first message stored at or after `timestamp_ms` (-1 = each queue's end, i.e. skip the
  // backlog). Without `force` an offset only moves back. Returns the offsets now in force.
  absl::StatusOr<std::map<MessageQueue, int64_t>> ResetOffsetByTime(const std::string& group,
                                                                    const std::string& topic,
                                                                    int64_t timestamp_ms,
                                                                    bool force);
  // The same request for one queue on one broker (Java resetOffsetByQueueId): the group's offset
  // on queue `queue_id` of `topic` at `broker_addr` becomes `offset`, or, with offset -1, the
  // first offset stored at or after `timestamp_ms`. Returns the offset now in force.
  absl::StatusOr<int64_t> ResetQueueOffset(const std::string& broker_addr, const std::string& group,
                                           const std::string& topic, int32_t queue_id,
                                           int64_t offset, int64_t timestamp_ms = -1);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace stele::client
