// ClientInstance: what one producer or consumer shares with the cluster (Java MQClientInstance):
// the remoting connections, the name-server list, the topic-route cache refreshed every
// poll_name_server_interval, heartbeats to every known broker, the handlers for requests brokers
// send to clients, and the client's threads (one io thread, a callback executor, a scheduler).
//
// Each Producer / PushConsumer / LitePullConsumer owns one instance (its clientId differs from
// every other client of the process, which rebalancing relies on).
//
// Thread safety: all methods may be called from any thread except where noted.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/executor.h"
#include "client/reconnect_backoff.h"
#include "client/route.h"
#include "net/broker/state/heartbeat.h"
#include "net/remoting/transport.h"

namespace stele::client {

struct ClientConfig {
  std::string namesrv_addr;   // "host:port;host:port"
  std::string instance_name;  // "" = unique per client in this process
  std::chrono::milliseconds timeout{3000};
  std::chrono::milliseconds poll_name_server_interval{30000};
  std::chrono::milliseconds heartbeat_interval{30000};
  int callback_threads = 2;
  // After a failed connect an address is not tried again for reconnect_backoff_initial, doubling
  // with each further failure up to reconnect_backoff_max (reconnect_backoff.h).
  std::chrono::milliseconds reconnect_backoff_initial{100};
  std::chrono::milliseconds reconnect_backoff_max{2000};
};

// A producer or consumer attached to an instance. Callbacks run on the instance's callback
// executor (never on the io thread) and must not outlive RemoveMember.
class ClientMember {
 public:
  virtual ~ClientMember() = default;
  virtual void FillHeartbeat(broker::HeartbeatData* hb) = 0;
  // Topics whose routes this member needs refreshed.
  virtual std::vector<std::string> RouteTopics() = 0;
  virtual void OnConsumerIdsChanged(const std::string& /*group*/) {}
  // RESET_CONSUMER_CLIENT_OFFSET from a broker: an operator moved `group`'s offsets on `topic`
  // (the broker has committed them); consume from `offsets` on.
  virtual void OnResetOffset(const std::string& /*group*/, const std::string& /*topic*/,
                             const std::map<MessageQueue, int64_t>& /*offsets*/) {}
  // CHECK_TRANSACTION_STATE from a broker; answer (END_TRANSACTION) on `ch`.
  virtual void OnCheckTransaction(const remoting::ChannelPtr& /*ch*/,
                                  const remoting::RemotingCommand& /*req*/) {}
  // A route the periodic refresh fetched for one of RouteTopics().
  virtual void OnRouteUpdated(const std::string& /*topic*/, const TopicRoute& /*route*/) {}
};

class ClientInstance {
 public:
  // Fails on an empty or malformed name-server list.
  static absl::StatusOr<std::shared_ptr<ClientInstance>> Create(ClientConfig config);
  ~ClientInstance();

  const std::string& client_id() const { return client_id_; }
  const ClientConfig& config() const { return config_; }

  // Starts the periodic route refresh and heartbeat. Idempotent.
  void Start();
  // Stops timers and callbacks, closes connections. Idempotent; members must be removed first.
  void Shutdown();

  void AddMember(ClientMember* m);
  void RemoveMember(ClientMember* m);

  // The topic's route from a name server (trying each in turn); updates the cache.
  absl::StatusOr<TopicRoute> FetchRoute(const std::string& topic);
  // Cached, else fetched.
  absl::StatusOr<TopicRoute> Route(const std::string& topic);
  std::optional<TopicRoute> CachedRoute(const std::string& topic) const;
  // The master address of a broker group from any cached route; "" if unknown.
  std::string BrokerAddr(const std::string& broker_name) const;
  // Every master address in the cached routes.
  std::vector<std::string> BrokerAddrs() const;

  // Every call below first connects to the address if there is no open connection (blocking for
  // up to config().timeout), unless the address is in its reconnect back-off window: then it
  // fails at once with Unavailable. Each call is bounded by its timeout (config().timeout when
  // 0).
  //
  // A request to a name server (each in turn until one answers). Transport errors only: the
  // response's code is the caller's to check.
  absl::StatusOr<remoting::RemotingCommand> CallNamesrv(remoting::RemotingCommand req);
  absl::StatusOr<remoting::RemotingCommand> Call(const std::string& addr,
                                                 remoting::RemotingCommand req,
                                                 std::chrono::milliseconds timeout = {});
  // `done` runs on the callback executor.
  void CallAsync(const std::string& addr, remoting::RemotingCommand req,
                 std::chrono::milliseconds timeout, remoting::ResponseCallback done);
  // OK: handed to the connection (not necessarily delivered).
  absl::Status Oneway(const std::string& addr, remoting::RemotingCommand req);
  // The connection to addr, made now if needed, under the reconnect back-off.
  absl::Status Connect(const std::string& addr);
  const ReconnectBackoff& backoff() const { return backoff_; }

  // Heartbeat now to every broker in the cached routes (after a subscription change).
  void SendHeartbeatToAllBrokers();

  Executor& callbacks() { return *callbacks_; }
  Scheduler& scheduler() { return *scheduler_; }
  remoting::RemotingClient& remoting() { return *remoting_; }

 private:
  explicit ClientInstance(ClientConfig config);
  void RefreshRoutes();
  std::vector<ClientMember*> Members() const;

  ClientConfig config_;
  std::string client_id_;
  std::vector<std::string> namesrvs_;
  std::unique_ptr<remoting::RemotingClient> remoting_;
  std::unique_ptr<Executor> callbacks_;
  std::unique_ptr<Scheduler> scheduler_;
  ReconnectBackoff backoff_;

  mutable std::mutex mu_;
  std::vector<ClientMember*> members_;
  std::map<std::string, TopicRoute> routes_;
  size_t namesrv_index_ = 0;
  bool started_ = false;
  bool shut_down_ = false;
  // Held by callbacks while they use members_, so RemoveMember can wait them out.
  std::shared_ptr<std::mutex> member_calls_ = std::make_shared<std::mutex>();
};

// The JSON body of a HEART_BEAT request.
std::string EncodeHeartbeat(const broker::HeartbeatData& hb);

// Request/response helpers shared by producer and consumers: the response if its code is
// SUCCESS, else ResponseError with `context`.
absl::StatusOr<remoting::RemotingCommand> ExpectSuccess(
    absl::StatusOr<remoting::RemotingCommand> resp, std::string_view context);

}  // namespace stele::client
