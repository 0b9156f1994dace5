// Requests brokers send to the name server: REGISTER_BROKER, UNREGISTER_BROKER,
// QUERY_DATA_VERSION, BROKER_HEARTBEAT (protocol.md §2.11).
#include "common/logging.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/broker/state/names.h"
#include "net/namesrv/processor.h"
#include "net/namesrv/register_body.h"
#include "net/remoting/codes.h"

namespace stele::namesrv {
namespace {

using internal::OptionalName;
using internal::RequireName;
using internal::Success;
using remoting::RemotingCommand;

// Topics a broker registers become route keys that clients look up; one that no client could
// name is dropped here, with a warning, rather than failing the broker's whole registration
// (Java brokers named after a dotted host name register such a topic for themselves).
void DropInvalidTopics(const std::string& broker_name, TopicConfigWrapper* w) {
  std::erase_if(w->topics, [&](const auto& e) {
    absl::Status s = broker::ValidateInternalTopic(e.first);
    if (s.ok()) return false;
    log::Warn("namesrv: broker {} registers an invalid topic: {}", broker_name,
              std::string(s.message()));
    return true;
  });
}

absl::StatusOr<RemotingCommand> RegisterBroker(const NamesrvContext& ctx,
                                               const RemotingCommand& req, uint64_t channel_id) {
  BrokerRegistration reg;
  STELE_ASSIGN_OR_RETURN(reg.broker_name, RequireName(req, "brokerName"));
  STELE_ASSIGN_OR_RETURN(reg.broker_addr, RequireName(req, "brokerAddr"));
  STELE_ASSIGN_OR_RETURN(reg.cluster_name, RequireName(req, "clusterName"));
  STELE_ASSIGN_OR_RETURN(reg.broker_id, req.RequireInt("brokerId"));
  if (reg.broker_id < 0) return absl::InvalidArgumentError("brokerId must not be negative");
  STELE_ASSIGN_OR_RETURN(auto ha_server_addr, OptionalName(req, "haServerAddr"));
  reg.ha_server_addr = ha_server_addr.value_or("");
  STELE_ASSIGN_OR_RETURN(reg.zone_name, OptionalName(req, "zoneName"));
  STELE_ASSIGN_OR_RETURN(int64_t timeout, req.IntOr("heartbeatTimeoutMillis", -1));
  if (timeout > 0) reg.heartbeat_timeout_ms = timeout;
  STELE_ASSIGN_OR_RETURN(reg.enable_acting_master, req.BoolOr("enableActingMaster", false));
  STELE_ASSIGN_OR_RETURN(bool compressed, req.BoolOr("compressed", false));
  STELE_ASSIGN_OR_RETURN(int64_t crc, req.IntOr("bodyCrc32", 0));
  if (crc != 0 && crc != BodyCrc32(req.body)) {
    log::Warn("namesrv: REGISTER_BROKER from {}: body crc32 mismatch", reg.broker_addr);
    return absl::InvalidArgumentError("crc32 not match");  // Java's remark
  }
  STELE_ASSIGN_OR_RETURN(RegisterBrokerBody body, DecodeRegisterBrokerBody(req.body, compressed));
  reg.topic_config = std::move(body.topic_config);
  reg.filter_servers = std::move(body.filter_servers);
  reg.channel_id = channel_id;
  DropInvalidTopics(reg.broker_name, &reg.topic_config);

  RegisterBrokerResult result = ctx.routes->RegisterBroker(reg, ctx.now_ms());
  std::optional<std::string> order_conf;
  if (ctx.return_order_topic_config_to_broker) {
    order_conf = ctx.kv->GetKvListByNamespace(kNamespaceOrderTopicConfig);
  }
  RemotingCommand resp = Success(req, order_conf.value_or(R"({"table":{}})"));
  // Java leaves null header fields out; a master gets neither.
  if (!result.ha_server_addr.empty()) resp.Set("haServerAddr", result.ha_server_addr);
  if (!result.master_addr.empty()) resp.Set("masterAddr", result.master_addr);
  return resp;
}

absl::StatusOr<RemotingCommand> UnregisterBroker(const NamesrvContext& ctx,
                                                 const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string broker_name, RequireName(req, "brokerName"));
  STELE_ASSIGN_OR_RETURN(std::string broker_addr, RequireName(req, "brokerAddr"));
  STELE_ASSIGN_OR_RETURN(std::string cluster_name, RequireName(req, "clusterName"));
  STELE_ASSIGN_OR_RETURN(int64_t broker_id, req.RequireInt("brokerId"));
  bool removed = ctx.routes->UnregisterBroker(cluster_name, broker_addr, broker_name, broker_id);
  log::Info("namesrv: unregister broker {} {}[{}]: {}", broker_addr, broker_name, broker_id,
            removed ? "removed" : "was not registered");
  return Success(req);
}

absl::StatusOr<RemotingCommand> QueryDataVersion(const NamesrvContext& ctx,
                                                 const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string broker_addr, RequireName(req, "brokerAddr"));
  STELE_ASSIGN_OR_RETURN(std::string cluster_name, RequireName(req, "clusterName"));
  STELE_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(req.body, "DataVersion body"));
  STELE_ASSIGN_OR_RETURN(DataVersion theirs, DataVersion::FromJson(j));
  std::optional<DataVersion> ours = ctx.routes->QueryBrokerDataVersion(cluster_name, broker_addr);
  ctx.routes->UpdateBrokerLiveness(cluster_name, broker_addr, ctx.now_ms());
  RemotingCommand resp = Success(req, ours ? DumpJson(ours->ToJson()) : std::string());
  resp.Set("changed", (!ours || *ours != theirs) ? "true" : "false");
  return resp;
}

absl::StatusOr<RemotingCommand> BrokerHeartbeat(const NamesrvContext& ctx,
                                                const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string broker_addr, RequireName(req, "brokerAddr"));
  STELE_ASSIGN_OR_RETURN(std::string cluster_name, RequireName(req, "clusterName"));
  ctx.routes->UpdateBrokerLiveness(cluster_name, broker_addr, ctx.now_ms());
  return Success(req);
}

}  // namespace

void AddBrokerHandlers(const NamesrvContext& ctx, HandlerTable* table) {
  namespace rq = remoting::request;
  (*table)[rq::kRegisterBroker] = [ctx](const RemotingCommand& req, uint64_t ch) {
    return RegisterBroker(ctx, req, ch);
  };
  internal::Add(table, ctx, rq::kUnregisterBroker, UnregisterBroker);
  internal::Add(table, ctx, rq::kQueryDataVersion, QueryDataVersion);
  internal::Add(table, ctx, rq::kBrokerHeartbeat, BrokerHeartbeat);
}

}  // namespace stele::namesrv
