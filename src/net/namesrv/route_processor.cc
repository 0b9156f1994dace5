// Route and topic requests from clients and admin tools: GET_ROUTEINFO_BY_TOPIC,
// GET_BROKER_CLUSTER_INFO, GET_ALL_TOPIC_LIST_FROM_NAMESERVER, GET_TOPICS_BY_CLUSTER,
// DELETE_TOPIC_IN_NAMESRV, WIPE_WRITE_PERM_OF_BROKER, ADD_WRITE_PERM_OF_BROKER.
#include "common/logging.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/namesrv/processor.h"
#include "net/remoting/codes.h"

namespace stele::namesrv {
namespace {

using internal::OptionalName;
using internal::RequireName;
using internal::RequireTopic;
using internal::Success;
using remoting::RemotingCommand;

absl::StatusOr<RemotingCommand> GetRouteInfo(const NamesrvContext& ctx,
                                             const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string topic, RequireTopic(req));
  absl::StatusOr<nlohmann::json> route = ctx.routes->PickupTopicRouteData(topic);
  if (!route.ok()) {
    // ali-ons shows this remark to the user as the send error (protocol.md §2.1).
    return RemotingCommand::ResponseTo(
        req, remoting::response::kTopicNotExist,
        fmt::format("No topic route info in name server for the topic: {}", topic));
  }
  if (ctx.order_message_enable) {
    if (auto conf = ctx.kv->Get(kNamespaceOrderTopicConfig, topic)) {
      (*route)["orderTopicConf"] = *conf;
    }
  }
  return Success(req, DumpJson(*route));
}

absl::StatusOr<RemotingCommand> GetBrokerClusterInfo(const NamesrvContext& ctx,
                                                     const RemotingCommand& req) {
  return Success(req, DumpJson(ctx.routes->GetBrokerClusterInfo()));
}

absl::StatusOr<RemotingCommand> GetAllTopicList(const NamesrvContext& ctx,
                                                const RemotingCommand& req) {
  return Success(req, DumpJson(ctx.routes->GetAllTopicList()));
}

absl::StatusOr<RemotingCommand> GetTopicsByCluster(const NamesrvContext& ctx,
                                                   const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string cluster, RequireName(req, "cluster"));
  return Success(req, DumpJson(ctx.routes->GetTopicsByCluster(cluster)));
}

absl::StatusOr<RemotingCommand> DeleteTopic(const NamesrvContext& ctx, const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string topic, RequireTopic(req));
  STELE_ASSIGN_OR_RETURN(std::optional<std::string> cluster, OptionalName(req, "clusterName"));
  if (cluster) {
    log::Info("namesrv: delete topic {} in cluster {}", topic, *cluster);
    ctx.routes->DeleteTopic(topic, *cluster);
  } else {
    log::Info("namesrv: delete topic {}", topic);
    ctx.routes->DeleteTopic(topic);
  }
  return Success(req);
}

absl::StatusOr<RemotingCommand> WipeWritePerm(const NamesrvContext& ctx,
                                              const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string broker_name, RequireName(req, "brokerName"));
  int count = ctx.routes->WipeWritePermOfBroker(broker_name);
  log::Info("namesrv: wiped write permission of broker {} on {} topics", broker_name, count);
  RemotingCommand resp = Success(req);
  resp.Set("wipeTopicCount", int64_t{count});
  return resp;
}

absl::StatusOr<RemotingCommand> AddWritePerm(const NamesrvContext& ctx,
                                             const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string broker_name, RequireName(req, "brokerName"));
  int count = ctx.routes->AddWritePermOfBroker(broker_name);
  log::Info("namesrv: restored write permission of broker {} on {} topics", broker_name, count);
  RemotingCommand resp = Success(req);
  resp.Set("addTopicCount", int64_t{count});
  return resp;
}

}  // namespace

void AddRouteHandlers(const NamesrvContext& ctx, HandlerTable* table) {
  namespace rq = remoting::request;
  auto add = [&](int32_t code, auto fn) { internal::Add(table, ctx, code, fn); };
  add(rq::kGetRouteinfoByTopic, GetRouteInfo);
  add(rq::kGetBrokerClusterInfo, GetBrokerClusterInfo);
  add(rq::kGetAllTopicListFromNameserver, GetAllTopicList);
  add(rq::kGetTopicsByCluster, GetTopicsByCluster);
  add(rq::kDeleteTopicInNamesrv, DeleteTopic);
  add(rq::kWipeWritePermOfBroker, WipeWritePerm);
  add(rq::kAddWritePermOfBroker, AddWritePerm);
}

}  // namespace stele::namesrv
