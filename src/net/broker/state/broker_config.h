// The broker's configuration: RocketMQ's BrokerConfig keys (same names and defaults as broker.conf)
// plus the message store's keys (stele::StoreOptions, which takes MessageStoreConfig's names).
//
// Loading is strict about values and lenient about keys: a bad value for a known key is an error
// naming the key, the value and what is expected (the broker must not start on a half-understood
// config), while a key neither the broker nor the store knows is only a warning, because real
// broker.conf files carry many RocketMQ keys Stele has no use for (brokerRole,
// serverWorkerThreads).
//
// Thread safety: a plain value; load it once at startup, then share it read-only.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stele/file_system.h"
#include "stele/options.h"

namespace stele::broker {

inline constexpr std::string_view kDefaultMessageDelayLevel =
    "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";
// Stele's bound on queues per topic (defaultTopicQueueNums, topic configs).
inline constexpr int kMaxQueueNums = 1024;

struct BrokerConfig {
  std::string broker_cluster_name = "DefaultCluster";  // brokerClusterName
  std::string broker_name = "broker-a";                // brokerName
  int64_t broker_id = 0;                               // brokerId: 0 = master
  // brokerIP1: the address registered with the name server and written into message ids. Empty
  // until Finalize() fills it with ResolveLocalIpv4().
  std::string broker_ip1;
  std::string bind_address = "0.0.0.0";  // bindAddress (Stele): the listening socket's address
  int listen_port = 10911;               // listenPort
  std::string namesrv_addr;              // namesrvAddr: "host:port;host:port"
  std::string store_path_root_dir;       // storePathRootDir: default $HOME/store
  bool auto_create_topic_enable = true;  // autoCreateTopicEnable
  bool auto_create_subscription_group = true;  // autoCreateSubscriptionGroup
  int default_topic_queue_nums = 8;            // defaultTopicQueueNums
  int broker_permission = 6;                   // brokerPermission: PermName bits
  // registerNameServerPeriod (ms): Finalize() clamps it to 10000..60000 as RocketMQ does.
  int register_name_server_period_ms = 30000;
  int flush_consumer_offset_interval_ms = 5000;  // flushConsumerOffsetInterval
  bool long_polling_enable = true;               // longPollingEnable
  int short_polling_time_mills = 1000;           // shortPollingTimeMills
  // messageDelayLevel and its parse: delay level N (1-based) waits message_delay_level_ms[N-1].
  std::string message_delay_level = std::string(kDefaultMessageDelayLevel);
  std::vector<int64_t> message_delay_level_ms;
  int grpc_server_port = 8081;              // grpcServerPort; 0 disables the gRPC endpoint
  bool enable_property_filter = false;      // enablePropertyFilter (SQL92 filtering)
  bool reject_transaction_message = false;  // rejectTransactionMessage
  bool update_config_allowed = false;       // updateConfigAllowed (Stele): UPDATE_BROKER_CONFIG
  // maxInflightSends (Stele; sendThreadPoolQueueCapacity is accepted as an alias): sends accepted
  // but not yet answered; past it the broker answers SYSTEM_BUSY.
  int max_inflight_sends = 10000;
  // Transactions (TransactionService): a half message with no END_TRANSACTION after
  // transactionTimeOut ms (or its CHECK_IMMUNITY_TIME_IN_SECONDS) is checked back with its
  // producer, at most transactionCheckMax times, one check pass every transactionCheckInterval ms.
  int64_t transaction_timeout_ms = 6000;          // transactionTimeOut
  int transaction_check_max = 15;                 // transactionCheckMax
  int64_t transaction_check_interval_ms = 60000;  // transactionCheckInterval
  // Timer messages (RocketMQ 5's TIMER_DELIVER_MS / TIMER_DELAY_SEC / TIMER_DELAY_MS, and
  // __STARTDELIVERTIME): parked in rmq_sys_wheel_timer and delivered by TimerService within
  // timerPrecisionMs of their time. timerWheelEnable=false refuses them (SYSTEM_ERROR, as
  // RocketMQ's WHEEL_TIMER_NOT_ENABLE); a delay beyond timerMaxDelaySec is refused with
  // MESSAGE_ILLEGAL. Finalize() bounds the wheel (2 x timerMaxDelaySec / timerPrecisionMs slots).
  bool timer_wheel_enable = true;        // timerWheelEnable
  int64_t timer_precision_ms = 1000;     // timerPrecisionMs
  int64_t timer_max_delay_sec = 259200;  // timerMaxDelaySec (3 days)
  // Idempotent publish (Stele, beyond RocketMQ; see publish_window.h): a producer send whose
  // (topic, UNIQ_KEY) was stored within the last idempotentPublishWindowSec is answered with the
  // original msgId / queue / offset and not stored again. At most idempotentPublishMaxEntries keys
  // are remembered (oldest evicted first, ~350 bytes each).
  bool idempotent_publish_enable = true;            // idempotentPublishEnable
  int64_t idempotent_publish_window_sec = 600;      // idempotentPublishWindowSec
  int64_t idempotent_publish_max_entries = 200000;  // idempotentPublishMaxEntries
  // idempotentPublishRestoreMaxBytes: how much of the log's tail a start-up reads to refill it.
  int64_t idempotent_publish_restore_max_bytes = 256ll << 20;

  // Metrics (RocketMQ 5.x keys). metricsExporterType PROM serves Prometheus text on
  // metricsPromExporterHost:metricsPromExporterPort at /metrics; DISABLE turns it off; RocketMQ's
  // OTLP_GRPC and LOG are accepted but export nothing (a warning says so). Stele's default is PROM
  // (RocketMQ's is DISABLE). An empty host means bindAddress when that was set explicitly, else
  // brokerIP1 (RocketMQ's choice): never the wildcard address unless configured. Port 0 picks a
  // free port (tests).
  std::string metrics_exporter_type = "PROM";  // metricsExporterType
  std::string metrics_prom_exporter_host;      // metricsPromExporterHost
  int metrics_prom_exporter_port = 5557;       // metricsPromExporterPort
  // logLevel (Stele): DEBUG, INFO, WARN or ERROR; the least severe level logged.
  std::string log_level = "INFO";

  // The message store's options. storePathRootDir and storeHost are derived by Finalize().
  StoreOptions store;
  // Keys given to Set() (broker or store), in any order.
  std::set<std::string, std::less<>> explicitly_set;
  // Unknown keys and clamped values, one line each, for the broker to log at startup.
  std::vector<std::string> warnings;

  BrokerConfig();

  // Sets a broker key, else a store key. An unknown key appends a warning and returns OK; a bad
  // value returns InvalidArgument naming key, value and the expected form. `origin` (e.g.
  // "broker.conf:12") prefixes the warning or error.
  absl::Status Set(std::string_view key, std::string_view value, std::string_view origin = {});
  // Fills derived values (brokerIP1 if empty, store.store_path_root_dir, store.store_host =
  // brokerIP1:listenPort unless storeHost was set), clamps registerNameServerPeriod, and validates
  // the whole (store.Validate(), relations between keys).
  absl::Status Finalize();
  // Every key with its current value, broker keys first, for `mqbroker -p`.
  std::vector<std::pair<std::string, std::string>> List() const;
  // namesrvAddr split into "host:port" entries (validated by Set).
  std::vector<std::string> NamesrvAddrList() const;
  // Whether the Prometheus endpoint is on (metricsExporterType=PROM), and the address it binds.
  bool MetricsEnabled() const { return metrics_exporter_type == "PROM"; }
  std::string MetricsHost() const;
};

// Reads a broker.conf (Java properties), applies every key in file order, then Finalize().
// `fs` null = POSIX.
absl::StatusOr<BrokerConfig> LoadBrokerConfig(const std::string& path,
                                              std::shared_ptr<FileSystem> fs = nullptr);
// The same from text already in memory; `origin` names it in messages.
absl::StatusOr<BrokerConfig> BrokerConfigFromText(std::string_view text,
                                                  std::string_view origin = "broker.conf");

// "1s 5s 2m 1h" -> {1000, 5000, 120000, 3600000}. Units s, m, h, d; each number positive.
absl::StatusOr<std::vector<int64_t>> ParseMessageDelayLevel(std::string_view spec);
// "a:1;b:2" -> {"a:1", "b:2"}; empty entries are skipped, each must be host:port.
absl::StatusOr<std::vector<std::string>> ParseNamesrvAddr(std::string_view spec);
// The first up, non-loopback IPv4 address of this host, else "127.0.0.1".
std::string ResolveLocalIpv4();

}  // namespace stele::broker
