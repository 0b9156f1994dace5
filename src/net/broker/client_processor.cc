// HEART_BEAT (34), UNREGISTER_CLIENT (35), GET_CONSUMER_LIST_BY_GROUP (38): who the clients are.
// CHECK_CLIENT_CONFIG (46): whether this broker can serve a consumer's SQL92 subscription.
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/processor_util.h"
#include "net/broker/state/json_fields.h"
#include "net/broker/state/json_file.h"
#include "net/broker/state/names.h"
#include "net/broker/subscription_filter.h"

namespace stele::broker {
namespace {

using namespace remoting::response;

void HandleHeartbeat(BrokerController& b, const ChannelPtr& ch, RemotingCommand req, Reply reply) {
  auto hb = ParseHeartbeat(req.body);
  if (ReplyIfError(hb.status(), reply)) return;
  const int64_t now = NowMs();
  const ClientMeta meta{std::string(remoting::LanguageName(req.language)), req.version};
  for (const auto& c : hb->consumers) {
    if (ReplyIfError(ValidateGroup(c.group_name), reply)) return;
  }
  for (const auto& p : hb->producers) {
    if (ReplyIfError(ValidateGroup(p.group_name), reply)) return;
  }
  for (const auto& c : hb->consumers) {
    auto group = b.groups().FindOrAutoCreate(c.group_name);
    // Clustering consumers re-send failed messages to their retry topic; it must exist (and be
    // routable) before the first failure.
    if (group.ok() && c.message_model == MessageModel::kClustering &&
        !b.topics().Find(RetryTopic(c.group_name))) {
      auto created = b.topics().CreateRetryTopic(c.group_name, group->retry_queue_nums);
      if (created.ok()) b.RegisterSoon();
    }
    // Compile SQL92 subscriptions now (into the cache) so the first pull does not; a bad one is
    // not an error here (RocketMQ accepts the heartbeat and refuses the pulls).
    for (const auto& sub : c.subscriptions) {
      if (sub.expression_type == "SQL92") (void)b.sql_filters().Get(sub.sub_string);
    }
    auto reg = b.consumers().Register(c, hb->client_id, ch->id(), now, meta);
    if (ReplyIfError(reg.status(), reply)) return;
    if (reg->membership_changed && (!group.ok() || group->notify_consumer_ids_changed_enable)) {
      b.NotifyConsumerIdsChanged(c.group_name);
    }
  }
  for (const auto& p : hb->producers) {
    if (ReplyIfError(
            b.producers().Register(p.group_name, hb->client_id, ch->id(), now, meta).status(),
            reply)) {
      return;
    }
  }
  reply(kSuccess);
}

void HandleUnregister(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const std::string client_id, req.RequireString("clientID"), reply);
  if (const std::string* g = req.Field("producerGroup")) b.producers().Unregister(*g, client_id);
  if (const std::string* g = req.Field("consumerGroup")) {
    if (b.consumers().Unregister(*g, client_id)) b.NotifyConsumerIdsChanged(*g);
  }
  reply(kSuccess);
}

void HandleConsumerList(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const std::string group, req.RequireString("consumerGroup"), reply);
  const std::vector<std::string> ids = b.consumers().ConsumerIds(group);
  if (ids.empty()) {
    reply(kSystemError, fmt::format("no consumer for this group, {}", ShortForMessage(group)));
    return;
  }
  RemotingCommand resp;
  resp.code = kSuccess;
  resp.body = nlohmann::json{{"consumerIdList", ids}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  reply(std::move(resp));
}

// Body: {"clientId":"..","group":"..","subscriptionData":{"topic":"T","subString":"a > 1",
// "expressionType":"SQL92",...}}. TAG subscriptions always pass; SQL92 ones as a pull would.
void HandleCheckClientConfig(BrokerController& b, const ChannelPtr&, RemotingCommand req,
                             Reply reply) {
  auto doc = ParseLenientJson(req.body);
  if (ReplyIfError(doc.status(), reply)) return;
  if (ReplyIfError(RequireObject(*doc, "check client body"), reply)) return;
  auto sub = doc->find("subscriptionData");
  if (sub == doc->end() || sub->is_null()) {
    reply(kSuccess);
    return;
  }
  if (ReplyIfError(RequireObject(*sub, "subscriptionData"), reply)) return;
  STELE_FIELD_OR_REPLY(const std::string type,
                       JsonString(*sub, "expressionType", "TAG", kMaxHeartbeatNameLength), reply);
  STELE_FIELD_OR_REPLY(const std::string expr,
                       JsonString(*sub, "subString", "*", kMaxSubStringLength), reply);
  const SubscriptionFilter f = ResolveSubscriptionFilter(b, type, expr);
  if (f.error_code != 0) {
    reply(f.error_code, f.error);
    return;
  }
  reply(kSuccess);
}

}  // namespace

void RegisterClientProcessor(BrokerController& b) {
  b.server().Register(remoting::request::kHeartBeat, Bind(b, HandleHeartbeat));
  b.server().Register(remoting::request::kUnregisterClient, Bind(b, HandleUnregister));
  b.server().Register(remoting::request::kGetConsumerListByGroup, Bind(b, HandleConsumerList));
  b.server().Register(remoting::request::kCheckClientConfig, Bind(b, HandleCheckClientConfig));
}

}  // namespace stele::broker
