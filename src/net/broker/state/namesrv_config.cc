#include "net/broker/state/namesrv_config.h"

#include <limits>

#include <fmt/format.h>
#include "net/broker/state/config_fields.h"

namespace stele::broker {
namespace {

using Field = ConfigField<NamesrvConfig>;
constexpr int64_t kMaxMs = std::numeric_limits<int32_t>::max();

absl::Status CheckNotEmpty(std::string_view key, std::string_view v) {
  if (v.empty()) return absl::InvalidArgumentError(fmt::format("{}: must not be empty", key));
  return absl::OkStatus();
}

const std::vector<Field>& NamesrvFields() {
  static const std::vector<Field> kFields = {
      IntField("listenPort", &NamesrvConfig::listen_port, 1, 65535),
      StringField("bindAddress", &NamesrvConfig::bind_address, CheckNotEmpty),
      StringField("kvConfigPath", &NamesrvConfig::kv_config_path, CheckNotEmpty),
      IntField("scanNotActiveBrokerInterval", &NamesrvConfig::scan_not_active_broker_interval_ms, 1,
               kMaxMs),
      IntField("brokerChannelExpiredTime", &NamesrvConfig::broker_channel_expired_time_ms, 1000,
               kMaxMs),
      BoolField("orderMessageEnable", &NamesrvConfig::order_message_enable),
  };
  return kFields;
}

}  // namespace

NamesrvConfig::NamesrvConfig() : kv_config_path(HomeDir() + "/namesrv/kvConfig.json") {}

absl::Status NamesrvConfig::Set(std::string_view key, std::string_view value,
                                std::string_view origin) {
  const Field* f = FindField(NamesrvFields(), key);
  if (f == nullptr) {
    warnings.push_back(fmt::format("{}unknown key '{}' ignored", OriginPrefix(origin), key));
    return absl::OkStatus();
  }
  absl::Status s = f->set(*this, value);
  if (!s.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}{}", OriginPrefix(origin), StatusMessage(s)));
  }
  return absl::OkStatus();
}

absl::Status NamesrvConfig::Finalize() {
  // Brokers register at most every 60 s (registerNameServerPeriod is clamped to 10..60 s); a
  // shorter expiry would drop healthy brokers between two registrations.
  if (broker_channel_expired_time_ms <= 60000) {
    warnings.push_back(fmt::format(
        "brokerChannelExpiredTime {} ms is not above the longest broker registration period "
        "(60000 ms): brokers registering that rarely will flap",
        broker_channel_expired_time_ms));
  }
  return absl::OkStatus();
}

std::vector<std::pair<std::string, std::string>> NamesrvConfig::List() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Field& f : NamesrvFields()) out.emplace_back(std::string(f.key), f.get(*this));
  return out;
}

absl::StatusOr<NamesrvConfig> NamesrvConfigFromText(std::string_view text,
                                                    std::string_view origin) {
  return ConfigFromText<NamesrvConfig>(text, origin);
}

absl::StatusOr<NamesrvConfig> LoadNamesrvConfig(const std::string& path,
                                                std::shared_ptr<FileSystem> fs) {
  return LoadConfigFile<NamesrvConfig>(path, std::move(fs));
}

}  // namespace stele::broker
