// The name server's configuration (namesrv.conf): RocketMQ's NamesrvConfig and the
// NettyServerConfig keys it reads, with the same names and defaults. Loading follows BrokerConfig:
// bad values are errors naming the key, unknown keys are warnings.
//
// Thread safety: a plain value; load once, then share read-only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stele/file_system.h"

namespace stele::broker {

struct NamesrvConfig {
  int listen_port = 9876;                // listenPort
  std::string bind_address = "0.0.0.0";  // bindAddress (Stele)
  std::string kv_config_path;            // kvConfigPath: default $HOME/namesrv/kvConfig.json
  int64_t scan_not_active_broker_interval_ms = 5000;  // scanNotActiveBrokerInterval
  // brokerChannelExpiredTime (Stele; RocketMQ hard-codes it as RouteInfoManager's
  // DEFAULT_BROKER_CHANNEL_EXPIRED_TIME): a broker not heard from for this long is removed from
  // the routes. Must exceed the brokers' registerNameServerPeriod (at most 60 s).
  int64_t broker_channel_expired_time_ms = 120000;
  bool order_message_enable = false;  // orderMessageEnable
  std::vector<std::string> warnings;

  NamesrvConfig();

  // As BrokerConfig::Set: unknown keys warn, bad values fail.
  absl::Status Set(std::string_view key, std::string_view value, std::string_view origin = {});
  // Checks relations between keys.
  absl::Status Finalize();
  std::vector<std::pair<std::string, std::string>> List() const;
};

absl::StatusOr<NamesrvConfig> LoadNamesrvConfig(const std::string& path,
                                                std::shared_ptr<FileSystem> fs = nullptr);
absl::StatusOr<NamesrvConfig> NamesrvConfigFromText(std::string_view text,
                                                    std::string_view origin = "namesrv.conf");

}  // namespace stele::broker
