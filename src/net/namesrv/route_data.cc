#include "net/namesrv/route_data.h"

#include "common/status.h"
#include "fmt/format.h"
#include "net/broker/state/json_file.h"

namespace stele::namesrv {

using nlohmann::json;

json ToJson(const QueueData& q) {
  return json{{"brokerName", q.broker_name},
              {"readQueueNums", q.read_queue_nums},
              {"writeQueueNums", q.write_queue_nums},
              {"perm", q.perm},
              {"topicSysFlag", q.topic_sys_flag}};
}

json ToJson(const BrokerData& b) {
  json addrs = json::object();
  for (const auto& [id, addr] : b.broker_addrs) addrs[fmt::format("{}", id)] = addr;
  return json{{"cluster", b.cluster},
              {"brokerName", b.broker_name},
              {"brokerAddrs", std::move(addrs)},
              {"zoneName", b.zone_name ? json(*b.zone_name) : json(nullptr)},
              {"enableActingMaster", b.enable_acting_master}};
}

absl::StatusOr<TopicConfigWrapper> TopicConfigWrapperFromJson(const json& j) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError("topicConfigSerializeWrapper is not an object");
  }
  TopicConfigWrapper w;
  if (auto dv = j.find("dataVersion"); dv != j.end() && !dv->is_null()) {
    STELE_ASSIGN_OR_RETURN(w.data_version, DataVersion::FromJson(*dv));
  }
  auto table = j.find("topicConfigTable");
  if (table == j.end() || table->is_null()) return w;
  if (!table->is_object()) return absl::InvalidArgumentError("topicConfigTable is not an object");
  for (const auto& [key, value] : table->items()) {
    STELE_ASSIGN_OR_RETURN(TopicConfig t, TopicConfig::FromJson(value, key));
    std::string name = t.topic_name;
    w.topics.insert_or_assign(std::move(name), std::move(t));
  }
  return w;
}

json ToJson(const TopicConfigWrapper& w) {
  json table = json::object();
  for (const auto& [name, t] : w.topics) table[name] = t.ToJson();
  return json{{"topicConfigTable", std::move(table)}, {"dataVersion", w.data_version.ToJson()}};
}

absl::StatusOr<json> ParseJson(std::string_view text, std::string_view what) {
  auto j = broker::ParseLenientJson(text);
  if (!j.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{} is not valid JSON: {}", what, std::string(j.status().message())));
  }
  return j;
}

std::string DumpJson(const json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

}  // namespace stele::namesrv
