// BrokerController: one RocketMQ broker. It owns the message store, the persisted broker state
// (topics, subscription groups, consumer offsets), the clients seen by heartbeat, the queue locks
// of orderly consumers, the remoting server with a processor per request family, the held
// (long-polling) pulls, the delay and timer services, and the registration with every name server.
//
// Lifecycle: Create() opens the store (recovering after a crash) and loads the config files;
// Start() listens and registers; Shutdown() unregisters, stops serving, persists offsets, and
// closes the store (flush + checkpoint). Shutdown is idempotent and also run by the destructor.
//
// Thread safety: processors call the accessors from io threads; every component they return is
// thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "net/broker/filter/sql92_cache.h"
#include "net/broker/metrics/broker_stats.h"
#include "net/broker/state/broker_config.h"
#include "net/broker/state/client_manager.h"
#include "net/broker/state/consumer_offset_manager.h"
#include "net/broker/state/rebalance_lock_manager.h"
#include "net/broker/state/subscription_group_manager.h"
#include "net/broker/state/topic_config_manager.h"
#include "net/remoting/transport.h"
#include "stele/store.h"

namespace stele::broker {

// brokerVersionDesc in GET_BROKER_RUNTIME_INFO and the start-up line.
inline constexpr std::string_view kBrokerVersionDesc = "Stele 0.1.0";

class PullHoldService;
class DelayService;
class TimerService;
class TransactionService;
class PopService;
class MessageWriter;

// The broker.conf keys UPDATE_BROKER_CONFIG may change at run time (with updateConfigAllowed=true).
// Chosen to be harmless to hand to anyone who can reach the broker's port: none names a file, a
// directory, a command, an address or a credential, and each takes effect without a restart.
inline constexpr std::array<std::string_view, 5> kRuntimeConfigKeys = {
    "brokerPermission", "rejectTransactionMessage", "longPollingEnable", "shortPollingTimeMills",
    "maxInflightSends"};

class BrokerController {
 public:
  static absl::StatusOr<std::unique_ptr<BrokerController>> Create(BrokerConfig config);
  ~BrokerController();

  absl::Status Start();
  void Shutdown();

  // The port the server listens on (listenPort, or the one picked when it was 0).
  uint16_t port() const;
  // "brokerIP1:port": registered with the name servers, written into messages.
  const std::string& broker_addr() const { return broker_addr_; }

  // The configuration as loaded at startup. The keys UPDATE_BROKER_CONFIG may change at run time
  // (kRuntimeConfigKeys) are read through the accessors below instead: their config() values
  // stay the startup ones.
  const BrokerConfig& config() const { return config_; }
  int broker_permission() const { return rt_broker_permission_.load(std::memory_order_relaxed); }
  bool reject_transaction_message() const {
    return rt_reject_transaction_message_.load(std::memory_order_relaxed);
  }
  bool long_polling_enable() const {
    return rt_long_polling_enable_.load(std::memory_order_relaxed);
  }
  int short_polling_time_mills() const {
    return rt_short_polling_time_mills_.load(std::memory_order_relaxed);
  }
  // UPDATE_BROKER_CONFIG: applies every key, or none. PermissionDenied when updateConfigAllowed
  // is false or when a key is not in kRuntimeConfigKeys (the message names the refused keys and
  // the allowed ones); InvalidArgument for a bad value (the key's usual bounds). A changed
  // brokerPermission is re-registered with the name servers at once.
  absl::Status UpdateRuntimeConfig(const std::vector<std::pair<std::string, std::string>>& kv);
  // Every key with its effective value (config().List() with the run-time values), for
  // GET_BROKER_CONFIG.
  std::vector<std::pair<std::string, std::string>> EffectiveConfig() const;
  Store& store() { return *store_; }
  TopicConfigManager& topics() { return *topics_; }
  SubscriptionGroupManager& groups() { return *groups_; }
  ConsumerOffsetManager& offsets() { return *offsets_; }
  ConsumerManager& consumers() { return consumers_; }
  ProducerManager& producers() { return producers_; }
  RebalanceLockManager& rebalance_locks() { return rebalance_locks_; }
  PullHoldService& pull_hold() { return *pull_hold_; }
  MessageWriter& writer() { return *writer_; }
  TransactionService& transactions() { return *transactions_; }
  TimerService& timers() { return *timer_; }
  // RocketMQ 5.x pop consumption (the gRPC endpoint's Receive/Ack/ChangeInvisibleDuration).
  PopService& pop() { return *pop_; }
  remoting::RemotingServer& server() { return *server_; }
  // Compiled SQL92 subscriptions by expression (shared by pulls and client checks).
  filter::Sql92Cache& sql_filters() { return sql_filters_; }
  // Counters and rates for GET_BROKER_RUNTIME_INFO and the Prometheus endpoint.
  metrics::BrokerStats& stats() { return *stats_; }

  // Re-registers with every name server soon (after a topic change), without blocking.
  void RegisterSoon();
  // Tells the group's clients that its membership changed (NOTIFY_CONSUMER_IDS_CHANGED, oneway).
  void NotifyConsumerIdsChanged(const std::string& group);
  // The topic's config; creates it when autoCreateTopicEnable (then registers it). NotFound if
  // it does not exist and may not be created.
  absl::StatusOr<TopicConfig> TopicForSend(const std::string& topic, int queue_nums);

 private:
  explicit BrokerController(BrokerConfig config);
  void RegisterLoop();
  absl::Status RegisterAll();
  void UnregisterAll();
  void Housekeeping();

  BrokerConfig config_;
  std::mutex rt_mu_;  // serializes UpdateRuntimeConfig (each one all-or-nothing)
  std::atomic<int> rt_broker_permission_;
  std::atomic<bool> rt_reject_transaction_message_;
  std::atomic<bool> rt_long_polling_enable_;
  std::atomic<int> rt_short_polling_time_mills_;
  std::atomic<int> rt_max_inflight_sends_;
  std::atomic<int64_t> perm_epoch_{0};  // brokerPermission changes, added to the DataVersion
  std::string broker_addr_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TopicConfigManager> topics_;
  std::unique_ptr<SubscriptionGroupManager> groups_;
  std::unique_ptr<ConsumerOffsetManager> offsets_;
  ConsumerManager consumers_;
  ProducerManager producers_;
  RebalanceLockManager rebalance_locks_;
  filter::Sql92Cache sql_filters_;
  // Before server_: its reply observer writes here until the server is destroyed.
  std::unique_ptr<metrics::BrokerStats> stats_;
  std::unique_ptr<MessageWriter> writer_;
  std::unique_ptr<PullHoldService> pull_hold_;
  std::unique_ptr<DelayService> delay_;
  std::unique_ptr<TimerService> timer_;
  std::unique_ptr<TransactionService> transactions_;
  std::unique_ptr<PopService> pop_;
  std::unique_ptr<remoting::RemotingServer> server_;
  std::unique_ptr<remoting::RemotingClient> namesrv_client_;

  std::mutex reg_mu_;
  std::condition_variable reg_cv_;
  bool reg_requested_ = false;
  bool reg_stop_ = false;
  std::thread reg_thread_;
  std::atomic<bool> started_{false};
  std::atomic<bool> shut_down_{false};
};

// Processor families; each registers its request codes on the controller's server.
void RegisterSendProcessor(BrokerController& b);
void RegisterPullProcessor(BrokerController& b);
void RegisterClientProcessor(BrokerController& b);
void RegisterOffsetProcessor(BrokerController& b);
void RegisterAdminProcessor(BrokerController& b);
void RegisterQueryProcessor(BrokerController& b);
void RegisterSendBackProcessor(BrokerController& b);
void RegisterTransactionProcessor(BrokerController& b);
void RegisterLockProcessor(BrokerController& b);
void RegisterStatsProcessor(BrokerController& b);
void RegisterResetOffsetProcessor(BrokerController& b);

}  // namespace stele::broker
