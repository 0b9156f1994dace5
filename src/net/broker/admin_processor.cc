// Administration: topics (UPDATE_AND_CREATE_TOPIC 17, DELETE_TOPIC_IN_BROKER 215,
// GET_ALL_TOPIC_CONFIG 21), subscription groups (200, 201, 207), broker config (25, 26) and
// runtime info (28).
//
// Security: nothing here may change a file path or anything else the broker trusts from its own
// config. UPDATE_BROKER_CONFIG is refused unless updateConfigAllowed=true, and even then it only
// changes the few keys of kRuntimeConfigKeys (broker_controller.h), none of which names a path, a
// command or an address (RocketMQ's CVE-2023-33246 and CVE-2023-37582 came from changing those
// this way); a request naming any other key changes nothing.
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/message_writer.h"
#include "net/broker/metrics/runtime_info.h"
#include "net/broker/processor_util.h"
#include "net/broker/pull_hold.h"
#include "net/broker/state/json_file.h"
#include "net/broker/state/names.h"
#include "net/broker/state/properties_file.h"

namespace stele::broker {
namespace {

using nlohmann::json;
using namespace remoting::response;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void ReplyBody(const Reply& reply, std::string body) {
  RemotingCommand resp;
  resp.code = kSuccess;
  resp.body = std::move(body);
  reply(std::move(resp));
}

void HandleCreateTopic(BrokerController& b, const ChannelPtr& ch, RemotingCommand req,
                       Reply reply) {
  TopicConfig t;
  STELE_FIELD_OR_REPLY(t.topic_name, req.RequireString("topic"), reply);
  if (ReplyIfError(ValidateTopic(t.topic_name), reply)) return;
  if (b.topics().IsSystemTopic(t.topic_name)) {
    reply(kSystemError, fmt::format("The topic[{}] is conflict with system topic.", t.topic_name));
    return;
  }
  STELE_FIELD_OR_REPLY(const int64_t r, req.IntOr("readQueueNums", 8), reply);
  STELE_FIELD_OR_REPLY(const int64_t w, req.IntOr("writeQueueNums", 8), reply);
  STELE_FIELD_OR_REPLY(const int64_t perm, req.IntOr("perm", 6), reply);
  STELE_FIELD_OR_REPLY(const int64_t sys, req.IntOr("topicSysFlag", 0), reply);
  STELE_FIELD_OR_REPLY(t.order, req.BoolOr("order", false), reply);
  if (r < 0 || r > kMaxQueueNums || w < 0 || w > kMaxQueueNums || perm < 0 || perm > kPermAll) {
    reply(kSystemError,
          fmt::format("invalid queue numbers or perm: read {} write {} perm {}", r, w, perm));
    return;
  }
  t.read_queue_nums = static_cast<int32_t>(r);
  t.write_queue_nums = static_cast<int32_t>(w);
  t.perm = static_cast<int32_t>(perm);
  t.topic_sys_flag = static_cast<int32_t>(sys);
  if (const std::string* f = req.Field("topicFilterType")) t.topic_filter_type = *f;
  if (ReplyIfError(b.topics().CreateOrUpdate(t), reply)) return;
  log::Info("topic {} created/updated by {} (read {} write {} perm {})", t.topic_name,
            ch->remote_address(), r, w, perm);
  b.RegisterSoon();
  reply(kSuccess);
}

void HandleDeleteTopic(BrokerController& b, const ChannelPtr& ch, RemotingCommand req,
                       Reply reply) {
  STELE_FIELD_OR_REPLY(const std::string topic, req.RequireString("topic"), reply);
  if (ReplyIfError(ValidateTopic(topic), reply)) return;
  if (b.topics().IsSystemTopic(topic)) {
    reply(kSystemError, fmt::format("The topic[{}] is conflict with system topic.", topic));
    return;
  }
  absl::Status s = b.topics().Delete(topic);
  if (!s.ok() && !absl::IsNotFound(s)) {
    ReplyIfError(s, reply);
    return;
  }
  b.offsets().RemoveTopic(topic);
  log::Info("topic {} deleted by {}", topic, ch->remote_address());
  b.RegisterSoon();
  reply(kSuccess);
}

void HandleAllTopicConfig(BrokerController& b, const ChannelPtr&, RemotingCommand, Reply reply) {
  ReplyBody(reply, Dump(b.topics().ToRegisterJson()));
}

void HandleUpdateBrokerConfig(BrokerController& b, const ChannelPtr& ch, RemotingCommand req,
                              Reply reply) {
  auto props = ParseProperties(req.body);
  if (ReplyIfError(props.status(), reply)) return;
  std::vector<std::pair<std::string, std::string>> kv;
  for (const auto& p : *props) kv.emplace_back(p.key, p.value);
  absl::Status s = b.UpdateRuntimeConfig(kv);
  if (absl::IsPermissionDenied(s)) {
    log::Warn("refused UPDATE_BROKER_CONFIG from {}: {}", ch->remote_address(),
              std::string(s.message()));
    reply(kNoPermission, std::string(s.message()));
    return;
  }
  if (ReplyIfError(s, reply)) return;
  log::Info("broker config updated by {}", ch->remote_address());
  reply(kSuccess);
}

void HandleGetBrokerConfig(BrokerController& b, const ChannelPtr&, RemotingCommand, Reply reply) {
  std::string text;
  for (const auto& [k, v] : b.EffectiveConfig()) text.append(k).append("=").append(v).append("\n");
  RemotingCommand resp;
  resp.code = kSuccess;
  resp.body = std::move(text);
  resp.Set("version", Dump(json{{"stateVersion", 0}, {"timestamp", NowMs()}, {"counter", 0}}));
  reply(std::move(resp));
}

void HandleRuntimeInfo(BrokerController& b, const ChannelPtr&, RemotingCommand, Reply reply) {
  json table = json::object();
  for (auto& [k, v] : metrics::RuntimeInfo(b)) table[k] = std::move(v);
  ReplyBody(reply, Dump(json{{"table", table}}));
}

void HandleCreateGroup(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  auto parsed = ParseLenientJson(req.body);
  json body = parsed.ok() ? std::move(*parsed) : json();
  if (!body.is_object()) {
    reply(kSystemError, "subscription group body is not a JSON object");
    return;
  }
  auto cfg = SubscriptionGroupConfig::FromJson(body, body.value("groupName", ""));
  if (ReplyIfError(cfg.status(), reply)) return;
  if (ReplyIfError(b.groups().Update(*cfg), reply)) return;
  reply(kSuccess);
}

void HandleAllGroups(BrokerController& b, const ChannelPtr&, RemotingCommand, Reply reply) {
  json table = json::object();
  for (const auto& [name, g] : b.groups().All()) table[name] = g.ToJson();
  ReplyBody(reply, Dump(json{{"subscriptionGroupTable", table},
                             {"dataVersion", b.groups().data_version().ToJson()}}));
}

void HandleDeleteGroup(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const std::string group, req.RequireString("groupName"), reply);
  if (ReplyIfError(ValidateGroup(group), reply)) return;
  absl::Status s = b.groups().Delete(group);
  if (!s.ok() && !absl::IsNotFound(s)) {
    ReplyIfError(s, reply);
    return;
  }
  // Java's cleanOffset; absent means true here (Stele's older clients never sent it).
  STELE_FIELD_OR_REPLY(const bool clean_offset, req.BoolOr("cleanOffset", true), reply);
  if (clean_offset) b.offsets().RemoveGroup(group);
  reply(kSuccess);
}

}  // namespace

void RegisterAdminProcessor(BrokerController& b) {
  using namespace remoting::request;
  auto& s = b.server();
  s.Register(kUpdateAndCreateTopic, Bind(b, HandleCreateTopic));
  s.Register(kDeleteTopicInBroker, Bind(b, HandleDeleteTopic));
  s.Register(kGetAllTopicConfig, Bind(b, HandleAllTopicConfig));
  s.Register(kUpdateBrokerConfig, Bind(b, HandleUpdateBrokerConfig));
  s.Register(kGetBrokerConfig, Bind(b, HandleGetBrokerConfig));
  s.Register(kGetBrokerRuntimeInfo, Bind(b, HandleRuntimeInfo));
  s.Register(kUpdateAndCreateSubscriptionGroup, Bind(b, HandleCreateGroup));
  s.Register(kGetAllSubscriptionGroupConfig, Bind(b, HandleAllGroups));
  s.Register(kDeleteSubscriptionGroup, Bind(b, HandleDeleteGroup));
}

}  // namespace stele::broker
