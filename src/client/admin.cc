#include "stele/client/admin.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <utility>

#include "client/client_instance.h"
#include "client/consumer_common.h"
#include "client/queue_table.h"
#include "client/wire.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/broker/state/json_file.h"
#include "net/broker/state/properties_file.h"
#include "net/remoting/codes.h"
#include "nlohmann/json.hpp"
#include "stele/message.h"

namespace stele::client {

using nlohmann::json;
using remoting::RemotingCommand;
namespace code = remoting::request;
namespace rc = remoting::response;

namespace {

absl::StatusOr<json> JsonBody(const RemotingCommand& resp, std::string_view context) {
  auto j = broker::ParseLenientJson(resp.body);
  if (!j.ok() || !j->is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: the response body is not a JSON object{}", context,
                    j.ok() ? "" : fmt::format(" ({})", std::string(j.status().message()))));
  }
  return j;
}

// A JSON number, or a string holding one (fastjson and Stele write numbers; some fields arrive as
// strings); `dflt` when missing or of another type.
int64_t IntOf(const json& o, const char* key, int64_t dflt = 0) {
  auto it = o.find(key);
  if (it == o.end()) return dflt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number()) return static_cast<int64_t>(it->get<double>());
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (end != s.c_str() && *end == '\0') return v;
  }
  return dflt;
}

std::string StringOf(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// "ip:port" and commit-log offset of an offset message id (RocketMQ's
// MessageDecoder.decodeMessageId).
absl::StatusOr<std::pair<std::string, int64_t>> DecodeOffsetMsgId(std::string_view id) {
  if (id.size() != 32 && id.size() != 56) {
    return absl::InvalidArgumentError(fmt::format(
        "'{}' is not an offset message id (32 hex digits for an IPv4 store host, 56 for IPv6)",
        id));
  }
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < id.size(); i += 2) {
    int v = 0;
    for (size_t k = i; k < i + 2; ++k) {
      const char c = static_cast<char>(std::toupper(static_cast<unsigned char>(id[k])));
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return absl::InvalidArgumentError(fmt::format("'{}' is not hexadecimal", id));
      v = v * 16 + d;
    }
    bytes.push_back(static_cast<uint8_t>(v));
  }
  HostAddress host;
  host.v6 = id.size() == 56;
  const size_t ip_len = host.v6 ? 16 : 4;
  std::copy_n(bytes.begin(), ip_len, host.ip.begin());
  for (size_t i = 0; i < 4; ++i) host.port = host.port << 8 | bytes[ip_len + i];
  uint64_t offset = 0;
  for (size_t i = 0; i < 8; ++i) offset = offset << 8 | bytes[ip_len + 4 + i];
  if (offset > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError(fmt::format("'{}': commit-log offset out of range", id));
  }
  return std::make_pair(host.ToString(), static_cast<int64_t>(offset));
}

// The non-empty pieces of `s` between separators, without surrounding spaces.
std::vector<std::string> SplitTrimmed(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const size_t end = s.find(sep);
    std::string_view piece = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view{} : s.substr(end + 1);
    while (!piece.empty() && std::isspace(static_cast<unsigned char>(piece.front()))) {
      piece.remove_prefix(1);
    }
    while (!piece.empty() && std::isspace(static_cast<unsigned char>(piece.back()))) {
      piece.remove_suffix(1);
    }
    if (!piece.empty()) out.emplace_back(piece);
  }
  return out;
}

bool HasKey(const MessageExt& m, const std::string& key) {
  const std::vector<std::string> keys = SplitTrimmed(m.keys, ' ');
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

json GroupJson(const SubscriptionGroupConfig& g) {
  return json{{"groupName", g.group_name},
              {"consumeEnable", g.consume_enable},
              {"consumeFromMinEnable", g.consume_from_min_enable},
              {"consumeBroadcastEnable", g.consume_broadcast_enable},
              {"consumeMessageOrderly", g.consume_message_orderly},
              {"retryQueueNums", g.retry_queue_nums},
              {"retryMaxTimes", g.retry_max_times},
              {"brokerId", g.broker_id},
              {"whichBrokerWhenConsumeSlowly", g.which_broker_when_consume_slowly},
              {"notifyConsumerIdsChangedEnable", g.notify_consumer_ids_changed_enable},
              {"groupSysFlag", g.group_sys_flag},
              {"consumeTimeoutMinute", g.consume_timeout_minute},
              {"attributes", g.attributes}};
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::vector<std::string> BrokerClusterInfo::MasterAddrs(const std::string& cluster) const {
  std::vector<std::string> out;
  auto names = clusters.find(cluster);
  if (names == clusters.end()) return out;
  for (const std::string& name : names->second) {
    auto b = brokers.find(name);
    if (b == brokers.end()) continue;
    auto master = b->second.addrs.find(0);
    if (master != b->second.addrs.end()) out.push_back(master->second);
  }
  return out;
}

int64_t ConsumeStats::TotalDiff() const {
  int64_t diff = 0;
  for (const auto& [q, o] : offsets) diff += o.broker_offset - o.consumer_offset;
  return diff;
}

struct AdminClient::Impl {
  AdminOptions opt;
  std::vector<std::string> namesrvs;
  std::mutex mu;
  std::shared_ptr<ClientInstance> instance;  // set while started
  bool shut_down = false;

  absl::StatusOr<std::shared_ptr<ClientInstance>> Get() {
    std::lock_guard l(mu);
    if (instance == nullptr) {
      return absl::FailedPreconditionError(shut_down ? "the admin client is shut down"
                                                     : "the admin client is not started");
    }
    return instance;
  }

  // A request to `addr`, its response if SUCCESS (else the error with `context`).
  absl::StatusOr<RemotingCommand> Call(const std::string& addr, RemotingCommand req,
                                       std::string_view context) {
    STELE_ASSIGN_OR_RETURN(auto c, Get());
    return ExpectSuccess(c->Call(addr, std::move(req)), context);
  }
  // A request whose answer is a properties text (GET_BROKER_CONFIG, GET_NAMESRV_CONFIG).
  absl::StatusOr<std::map<std::string, std::string>> CallForProperties(const std::string& addr,
                                                                       int32_t request_code,
                                                                       std::string_view context) {
    STELE_ASSIGN_OR_RETURN(RemotingCommand resp,
                           Call(addr, RemotingCommand::Request(request_code), context));
    auto props = broker::ParseProperties(resp.body);
    if (!props.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {}", context, std::string(props.status().message())));
    }
    std::map<std::string, std::string> out;
    for (const auto& p : *props) out[p.key] = p.value;
    return out;
  }
  absl::StatusOr<RemotingCommand> CallNamesrv(RemotingCommand req, std::string_view context) {
    STELE_ASSIGN_OR_RETURN(auto c, Get());
    return ExpectSuccess(c->CallNamesrv(std::move(req)), context);
  }

  // The master serving `queue`, from the cached route, refetched once when it names no master.
  absl::StatusOr<std::string> MasterOf(const MessageQueue& queue) {
    STELE_ASSIGN_OR_RETURN(auto c, Get());
    std::string addr = c->BrokerAddr(queue.broker_name);
    if (addr.empty()) {
      STELE_ASSIGN_OR_RETURN(TopicRoute r, c->FetchRoute(queue.topic));
      addr = r.MasterAddr(queue.broker_name);
    }
    if (addr.empty()) {
      return absl::NotFoundError(
          fmt::format("broker {} of queue {} has no master", queue.broker_name, queue.ToString()));
    }
    return addr;
  }

  // The masters of the group's retry topic (where its brokers keep its state), or of `topic`
  // when the group has none.
  absl::StatusOr<std::vector<std::string>> GroupMasters(const std::string& group,
                                                        const std::string& topic) {
    STELE_ASSIGN_OR_RETURN(auto c, Get());
    auto route = c->FetchRoute(RetryTopicOf(group));
    if (!route.ok() && absl::IsNotFound(route.status()) && !topic.empty()) {
      route = c->FetchRoute(topic);
    }
    if (!route.ok()) return route.status();
    std::vector<std::string> out;
    for (const BrokerData& b : route->brokers) {
      auto m = b.addrs.find(0);
      if (m != b.addrs.end()) out.push_back(m->second);
    }
    if (out.empty()) return absl::NotFoundError(fmt::format("group {} has no master", group));
    return out;
  }
};

AdminClient::AdminClient(AdminOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->opt = std::move(options);
}

AdminClient::~AdminClient() { Shutdown(); }

absl::Status AdminClient::Start() {
  std::lock_guard l(impl_->mu);
  if (impl_->shut_down) return absl::FailedPreconditionError("the admin client is shut down");
  if (impl_->instance != nullptr) return absl::OkStatus();
  ClientConfig config;
  config.namesrv_addr = impl_->opt.namesrv_addr;
  config.instance_name = impl_->opt.instance_name;
  config.timeout = impl_->opt.timeout;
  config.callback_threads = 1;
  STELE_ASSIGN_OR_RETURN(impl_->instance, ClientInstance::Create(std::move(config)));
  impl_->namesrvs = SplitTrimmed(impl_->opt.namesrv_addr, ';');
  return absl::OkStatus();
}

void AdminClient::Shutdown() {
  std::shared_ptr<ClientInstance> c;
  {
    std::lock_guard l(impl_->mu);
    impl_->shut_down = true;
    c = std::move(impl_->instance);
  }
  if (c != nullptr) c->Shutdown();
}

// --- name server ---------------------------------------------------------------------------------

absl::StatusOr<BrokerClusterInfo> AdminClient::ClusterInfo() {
  constexpr std::string_view kContext = "cluster info";
  STELE_ASSIGN_OR_RETURN(
      RemotingCommand resp,
      impl_->CallNamesrv(RemotingCommand::Request(code::kGetBrokerClusterInfo), kContext));
  STELE_ASSIGN_OR_RETURN(json j, JsonBody(resp, kContext));
  BrokerClusterInfo info;
  // brokerAddrTable holds BrokerData objects, as a route's brokerDatas does: one parser for both.
  json datas = json::array();
  if (auto t = j.find("brokerAddrTable"); t != j.end() && t->is_object()) {
    for (const auto& [name, bd] : t->items()) datas.push_back(bd);
  }
  STELE_ASSIGN_OR_RETURN(TopicRoute parsed, ParseTopicRoute(Dump(json{{"brokerDatas", datas}})));
  for (BrokerData& b : parsed.brokers) info.brokers[b.broker_name] = std::move(b);
  if (auto t = j.find("clusterAddrTable"); t != j.end() && t->is_object()) {
    for (const auto& [cluster, names] : t->items()) {
      std::vector<std::string>& out = info.clusters[cluster];
      if (!names.is_array()) continue;
      for (const json& n : names) {
        if (n.is_string()) out.push_back(n.get<std::string>());
      }
    }
  }
  return info;
}

absl::StatusOr<std::vector<std::string>> AdminClient::ClusterMasters(const std::string& cluster) {
  STELE_ASSIGN_OR_RETURN(BrokerClusterInfo info, ClusterInfo());
  std::vector<std::string> masters = info.MasterAddrs(cluster);
  if (masters.empty()) {
    return absl::NotFoundError(fmt::format("cluster {} has no master broker", cluster));
  }
  return masters;
}

absl::StatusOr<std::vector<std::string>> AdminClient::TopicList() {
  constexpr std::string_view kContext = "topic list";
  STELE_ASSIGN_OR_RETURN(
      RemotingCommand resp,
      impl_->CallNamesrv(RemotingCommand::Request(code::kGetAllTopicListFromNameserver), kContext));
  STELE_ASSIGN_OR_RETURN(json j, JsonBody(resp, kContext));
  std::vector<std::string> topics;
  if (auto t = j.find("topicList"); t != j.end() && t->is_array()) {
    for (const json& e : *t) {
      if (e.is_string()) topics.push_back(e.get<std::string>());
    }
  }
  std::sort(topics.begin(), topics.end());
  return topics;
}

absl::StatusOr<TopicRoute> AdminClient::Route(const std::string& topic) {
  STELE_ASSIGN_OR_RETURN(auto c, impl_->Get());
  return c->FetchRoute(topic);
}

absl::StatusOr<std::string> AdminClient::RouteJson(const std::string& topic) {
  RemotingCommand req = RemotingCommand::Request(code::kGetRouteinfoByTopic);
  req.Set("topic", topic);
  STELE_ASSIGN_OR_RETURN(
      RemotingCommand resp,
      impl_->CallNamesrv(std::move(req), fmt::format("route of topic {}", topic)));
  return std::move(resp.body);
}

// --- topics --------------------------------------------------------------------------------------

absl::Status AdminClient::CreateOrUpdateTopic(const std::string& broker_addr,
                                              const TopicConfig& t) {
  RemotingCommand req = RemotingCommand::Request(code::kUpdateAndCreateTopic);
  req.Set("topic", t.topic);
  req.Set("defaultTopic", t.default_topic);
  req.Set("readQueueNums", int64_t{t.read_queue_nums});
  req.Set("writeQueueNums", int64_t{t.write_queue_nums});
  req.Set("perm", int64_t{t.perm});
  req.Set("topicFilterType", t.topic_filter_type);
  req.Set("topicSysFlag", int64_t{t.topic_sys_flag});
  req.Set("order", t.order ? "true" : "false");
  return impl_
      ->Call(broker_addr, std::move(req),
             fmt::format("update topic {} on {}", t.topic, broker_addr))
      .status();
}

absl::StatusOr<std::vector<std::string>> AdminClient::CreateOrUpdateTopicInCluster(
    const std::string& cluster, const TopicConfig& config) {
  STELE_ASSIGN_OR_RETURN(std::vector<std::string> masters, ClusterMasters(cluster));
  for (const std::string& addr : masters) STELE_RETURN_IF_ERROR(CreateOrUpdateTopic(addr, config));
  return masters;
}

absl::Status AdminClient::DeleteTopicInBroker(const std::string& broker_addr,
                                              const std::string& topic) {
  RemotingCommand req = RemotingCommand::Request(code::kDeleteTopicInBroker);
  req.Set("topic", topic);
  return impl_
      ->Call(broker_addr, std::move(req), fmt::format("delete topic {} on {}", topic, broker_addr))
      .status();
}

absl::Status AdminClient::DeleteTopicInNamesrv(const std::string& topic,
                                               const std::string& cluster) {
  STELE_RETURN_IF_ERROR(impl_->Get().status());
  // Every name server, even after one failed: each one that can forget the topic should.
  absl::Status first;
  for (const std::string& ns : impl_->namesrvs) {
    RemotingCommand req = RemotingCommand::Request(code::kDeleteTopicInNamesrv);
    req.Set("topic", topic);
    if (!cluster.empty()) req.Set("clusterName", cluster);
    absl::Status s =
        impl_->Call(ns, std::move(req), fmt::format("delete topic {} in name server {}", topic, ns))
            .status();
    if (first.ok()) first = s;
  }
  return first;
}

absl::Status AdminClient::DeleteTopic(const std::string& cluster, const std::string& topic) {
  STELE_ASSIGN_OR_RETURN(std::vector<std::string> masters, ClusterMasters(cluster));
  for (const std::string& addr : masters) STELE_RETURN_IF_ERROR(DeleteTopicInBroker(addr, topic));
  return DeleteTopicInNamesrv(topic, cluster);
}

// --- subscription groups -------------------------------------------------------------------------

absl::Status AdminClient::CreateOrUpdateSubscriptionGroup(const std::string& broker_addr,
                                                          const SubscriptionGroupConfig& config) {
  RemotingCommand req = RemotingCommand::Request(code::kUpdateAndCreateSubscriptionGroup);
  req.body = Dump(GroupJson(config));
  return impl_
      ->Call(broker_addr, std::move(req),
             fmt::format("update subscription group {} on {}", config.group_name, broker_addr))
      .status();
}

absl::Status AdminClient::DeleteSubscriptionGroup(const std::string& broker_addr,
                                                  const std::string& group, bool clean_offset) {
  RemotingCommand req = RemotingCommand::Request(code::kDeleteSubscriptionGroup);
  req.Set("groupName", group);
  req.Set("cleanOffset", clean_offset ? "true" : "false");
  return impl_
      ->Call(broker_addr, std::move(req),
             fmt::format("delete subscription group {} on {}", group, broker_addr))
      .status();
}

// --- brokers -------------------------------------------------------------------------------------

absl::StatusOr<std::map<std::string, std::string>> AdminClient::BrokerRuntimeInfo(
    const std::string& broker_addr) {
  const std::string context = fmt::format("runtime info of {}", broker_addr);
  STELE_ASSIGN_OR_RETURN(
      RemotingCommand resp,
      impl_->Call(broker_addr, RemotingCommand::Request(code::kGetBrokerRuntimeInfo), context));
  STELE_ASSIGN_OR_RETURN(json j, JsonBody(resp, context));
  std::map<std::string, std::string> out;
  if (auto t = j.find("table"); t != j.end() && t->is_object()) {
    for (const auto& [k, v] : t->items()) out[k] = v.is_string() ? v.get<std::string>() : Dump(v);
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> AdminClient::BrokerConfig(
    const std::string& broker_addr) {
  return impl_->CallForProperties(broker_addr, code::kGetBrokerConfig,
                                  fmt::format("config of {}", broker_addr));
}

absl::Status AdminClient::UpdateBrokerConfig(const std::string& broker_addr,
                                             const std::map<std::string, std::string>& kv) {
  RemotingCommand req = RemotingCommand::Request(code::kUpdateBrokerConfig);
  for (const auto& [k, v] : kv) req.body.append(k).append("=").append(v).append("\n");
  return impl_->Call(broker_addr, std::move(req), fmt::format("update config of {}", broker_addr))
      .status();
}

// --- one name server by address ------------------------------------------------------------------

std::vector<std::string> AdminClient::NamesrvAddrs() const {
  std::lock_guard l(impl_->mu);
  return impl_->namesrvs;
}

absl::StatusOr<std::map<std::string, std::string>> AdminClient::NamesrvConfig(
    const std::string& namesrv_addr) {
  return impl_->CallForProperties(namesrv_addr, code::kGetNamesrvConfig,
                                  fmt::format("config of name server {}", namesrv_addr));
}

namespace {
absl::StatusOr<int> TopicCount(const absl::StatusOr<RemotingCommand>& resp, std::string_view field,
                               std::string_view context) {
  if (!resp.ok()) return resp.status();
  absl::StatusOr<int64_t> n = resp->IntOr(field, 0);
  if (!n.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}", context, std::string(n.status().message())));
  }
  return static_cast<int>(*n);
}
}  // namespace

absl::StatusOr<int> AdminClient::WipeWritePermOfBroker(const std::string& namesrv_addr,
                                                       const std::string& broker_name) {
  const std::string context =
      fmt::format("wipe write perm of broker {} in name server {}", broker_name, namesrv_addr);
  RemotingCommand req = RemotingCommand::Request(code::kWipeWritePermOfBroker);
  req.Set("brokerName", broker_name);
  return TopicCount(impl_->Call(namesrv_addr, std::move(req), context), "wipeTopicCount", context);
}

absl::StatusOr<int> AdminClient::AddWritePermOfBroker(const std::string& namesrv_addr,
                                                      const std::string& broker_name) {
  const std::string context =
      fmt::format("add write perm of broker {} in name server {}", broker_name, namesrv_addr);
  RemotingCommand req = RemotingCommand::Request(code::kAddWritePermOfBroker);
  req.Set("brokerName", broker_name);
  return TopicCount(impl_->Call(namesrv_addr, std::move(req), context), "addTopicCount", context);
}

// --- offsets -------------------------------------------------------------------------------------

absl::StatusOr<int64_t> AdminClient::MaxOffset(const MessageQueue& queue) {
  STELE_ASSIGN_OR_RETURN(auto c, impl_->Get());
  return client::MaxOffset(*c, queue);
}

absl::StatusOr<int64_t> AdminClient::MinOffset(const MessageQueue& queue) {
  STELE_ASSIGN_OR_RETURN(auto c, impl_->Get());
  return client::MinOffset(*c, queue);
}

absl::StatusOr<int64_t> AdminClient::SearchOffset(const MessageQueue& queue, int64_t timestamp_ms) {
  STELE_ASSIGN_OR_RETURN(auto c, impl_->Get());
  return client::SearchOffset(*c, queue, timestamp_ms);
}

absl::StatusOr<int64_t> AdminClient::QueryConsumerOffset(const std::string& group,
                                                         const MessageQueue& queue) {
  STELE_ASSIGN_OR_RETURN(std::string addr, impl_->MasterOf(queue));
  RemotingCommand req = RemotingCommand::Request(code::kQueryConsumerOffset);
  req.Set("consumerGroup", group);
  req.Set("topic", queue.topic);
  req.Set("queueId", int64_t{queue.queue_id});
  req.Set("setZeroIfNotFound", "false");
  STELE_ASSIGN_OR_RETURN(RemotingCommand resp, impl_->Call(addr, std::move(req),
                                                           fmt::format("offset of group {} in {}",
                                                                       group, queue.ToString())));
  return resp.RequireInt("offset");
}

absl::Status AdminClient::UpdateConsumerOffset(const std::string& group, const MessageQueue& queue,
                                               int64_t offset) {
  STELE_ASSIGN_OR_RETURN(std::string addr, impl_->MasterOf(queue));
  RemotingCommand req = RemotingCommand::Request(code::kUpdateConsumerOffset);
  req.Set("consumerGroup", group);
  req.Set("topic", queue.topic);
  req.Set("queueId", int64_t{queue.queue_id});
  req.Set("commitOffset", offset);
  return impl_
      ->Call(addr, std::move(req),
             fmt::format("update offset of group {} in {}", group, queue.ToString()))
      .status();
}

// --- messages ------------------------------------------------------------------------------------

absl::StatusOr<MessageExt> AdminClient::ViewMessage(const std::string& offset_msg_id) {
  STELE_ASSIGN_OR_RETURN(auto where, DecodeOffsetMsgId(offset_msg_id));
  const std::string context = fmt::format("message {} on {}", offset_msg_id, where.first);
  RemotingCommand req = RemotingCommand::Request(code::kViewMessageById);
  req.Set("offset", where.second);
  STELE_ASSIGN_OR_RETURN(RemotingCommand resp, impl_->Call(where.first, std::move(req), context));
  STELE_ASSIGN_OR_RETURN(std::vector<MessageExt> msgs, DecodeMessages(resp.body, ""));
  if (msgs.size() != 1) {
    return absl::InvalidArgumentError(
        fmt::format("{}: the broker answered {} messages", context, msgs.size()));
  }
  return std::move(msgs.front());
}

absl::StatusOr<std::vector<MessageExt>> AdminClient::QueryMessageByKey(
    const std::string& topic, const std::string& key, const QueryMessageOptions& options) {
  STELE_ASSIGN_OR_RETURN(TopicRoute route, Route(topic));
  std::vector<MessageExt> out;
  for (const BrokerData& b : route.brokers) {
    auto master = b.addrs.find(0);
    if (master == b.addrs.end()) continue;
    RemotingCommand req = RemotingCommand::Request(code::kQueryMessage);
    req.Set("topic", topic);
    req.Set("key", key);
    req.Set("maxNum", int64_t{options.max_num});
    req.Set("beginTimestamp", options.begin_timestamp_ms);
    req.Set("endTimestamp", options.end_timestamp_ms);
    req.Set("_UNIQUE_KEY_QUERY", options.unique_key ? "true" : "false");
    STELE_ASSIGN_OR_RETURN(auto c, impl_->Get());
    auto resp = c->Call(master->second, std::move(req));
    if (resp.ok() && resp->code == rc::kQueryNotFound) continue;  // nothing on this broker
    STELE_ASSIGN_OR_RETURN(RemotingCommand found,
                           ExpectSuccess(std::move(resp), fmt::format("query {} by key {} on {}",
                                                                      topic, key, master->second)));
    STELE_ASSIGN_OR_RETURN(std::vector<MessageExt> msgs, DecodeMessages(found.body, b.broker_name));
    // The index is a hash of topic#key: drop collisions, as RocketMQ's client does.
    for (MessageExt& m : msgs) {
      if (m.topic != topic) continue;
      if (options.unique_key ? m.msg_id == key : HasKey(m, key)) out.push_back(std::move(m));
    }
  }
  return out;
}

absl::StatusOr<PulledMessages> AdminClient::Pull(const MessageQueue& queue, int64_t offset,
                                                 int max_nums, const std::string& group) {
  STELE_ASSIGN_OR_RETURN(auto c, impl_->Get());
  PullArgs args;
  args.group = group;
  args.queue = queue;
  args.offset = offset;
  args.max_msgs = max_nums;
  STELE_ASSIGN_OR_RETURN(PullResult r, PullSync(*c, args));
  PulledMessages out;
  switch (r.status) {
    case PullStatus::kFound:
      out.status = PulledMessages::Status::kFound;
      break;
    case PullStatus::kNoNewMsg:
      out.status = PulledMessages::Status::kNoNewMsg;
      break;
    case PullStatus::kNoMatchedMsg:
      out.status = PulledMessages::Status::kNoMatchedMsg;
      break;
    case PullStatus::kOffsetIllegal:
      out.status = PulledMessages::Status::kOffsetIllegal;
      break;
  }
  out.next_begin_offset = r.next_begin_offset;
  out.min_offset = r.min_offset;
  out.max_offset = r.max_offset;
  out.messages = std::move(r.msgs);
  return out;
}

// --- consumers -----------------------------------------------------------------------------------

absl::StatusOr<std::vector<std::string>> AdminClient::ConsumerIdList(const std::string& group,
                                                                     const std::string& topic) {
  STELE_ASSIGN_OR_RETURN(auto c, impl_->Get());
  return ConsumerIds(*c, topic.empty() ? RetryTopicOf(group) : topic, group);
}

absl::StatusOr<ConsumerConnection> AdminClient::ConsumerConnectionList(const std::string& group) {
  STELE_ASSIGN_OR_RETURN(std::vector<std::string> masters, impl_->GroupMasters(group, ""));
  const std::string context = fmt::format("connections of group {} from {}", group, masters[0]);
  RemotingCommand req = RemotingCommand::Request(code::kGetConsumerConnectionList);
  req.Set("consumerGroup", group);
  STELE_ASSIGN_OR_RETURN(RemotingCommand resp, impl_->Call(masters[0], std::move(req), context));
  STELE_ASSIGN_OR_RETURN(json j, JsonBody(resp, context));
  ConsumerConnection out;
  if (auto set = j.find("connectionSet"); set != j.end() && set->is_array()) {
    for (const json& e : *set) {
      if (!e.is_object()) continue;
      out.connections.push_back({.client_id = StringOf(e, "clientId"),
                                 .client_addr = StringOf(e, "clientAddr"),
                                 .language = StringOf(e, "language"),
                                 .version = static_cast<int32_t>(IntOf(e, "version"))});
    }
  }
  if (auto subs = j.find("subscriptionTable"); subs != j.end() && subs->is_object()) {
    for (const auto& [topic, sub] : subs->items()) {
      out.subscriptions[topic] = sub.is_object() ? StringOf(sub, "subString") : std::string();
    }
  }
  out.consume_type = StringOf(j, "consumeType");
  out.message_model = StringOf(j, "messageModel");
  out.consume_from_where = StringOf(j, "consumeFromWhere");
  return out;
}

absl::StatusOr<ConsumeStats> AdminClient::GetConsumeStats(const std::string& group,
                                                          const std::string& topic) {
  STELE_ASSIGN_OR_RETURN(std::vector<std::string> masters, impl_->GroupMasters(group, topic));
  ConsumeStats out;
  for (const std::string& addr : masters) {
    const std::string context = fmt::format("consume stats of group {} from {}", group, addr);
    RemotingCommand req = RemotingCommand::Request(code::kGetConsumeStats);
    req.Set("consumerGroup", group);
    if (!topic.empty()) req.Set("topic", topic);
    STELE_ASSIGN_OR_RETURN(RemotingCommand resp, impl_->Call(addr, std::move(req), context));
    resp.body = QuoteObjectKeys(resp.body);
    STELE_ASSIGN_OR_RETURN(json j, JsonBody(resp, context));
    if (auto tps = j.find("consumeTps"); tps != j.end() && tps->is_number()) {
      out.consume_tps += tps->get<double>();
    }
    auto table = j.find("offsetTable");
    if (table == j.end() || !table->is_object()) continue;
    for (const auto& [key, wrapper] : table->items()) {
      const json k = json::parse(key, nullptr, false);
      if (!k.is_object() || !wrapper.is_object()) continue;
      const MessageQueue q{StringOf(k, "topic"), StringOf(k, "brokerName"),
                           static_cast<int32_t>(IntOf(k, "queueId"))};
      out.offsets[q] = {.broker_offset = IntOf(wrapper, "brokerOffset"),
                        .consumer_offset = IntOf(wrapper, "consumerOffset"),
                        .last_timestamp = IntOf(wrapper, "lastTimestamp")};
    }
  }
  return out;
}

// --- statistics and offset resets ----------------------------------------------------------------

namespace {

std::vector<std::string> RouteMasters(const TopicRoute& route) {
  std::vector<std::string> out;
  for (const BrokerData& b : route.brokers) {
    auto m = b.addrs.find(0);
    if (m != b.addrs.end()) out.push_back(m->second);
  }
  return out;
}

}  // namespace

absl::StatusOr<TopicStats> AdminClient::GetTopicStats(const std::string& topic) {
  STELE_ASSIGN_OR_RETURN(TopicRoute route, Route(topic));
  TopicStats out;
  for (const std::string& addr : RouteMasters(route)) {
    RemotingCommand req = RemotingCommand::Request(code::kGetTopicStatsInfo);
    req.Set("topic", topic);
    const std::string context = fmt::format("stats of topic {} from {}", topic, addr);
    STELE_ASSIGN_OR_RETURN(RemotingCommand resp, impl_->Call(addr, std::move(req), context));
    STELE_ASSIGN_OR_RETURN(auto table, ParseQueueTable(resp.body, context));
    for (const auto& [q, v] : table) {
      if (!v.is_object()) continue;
      out.offsets[q] = {.min_offset = IntOf(v, "minOffset"),
                        .max_offset = IntOf(v, "maxOffset"),
                        .last_update_timestamp = IntOf(v, "lastUpdateTimestamp")};
    }
  }
  return out;
}

absl::StatusOr<std::vector<ConsumerConnection::Connection>> AdminClient::ProducerConnectionList(
    const std::string& group, const std::string& topic) {
  STELE_ASSIGN_OR_RETURN(TopicRoute route, Route(topic));
  std::map<std::string, ConsumerConnection::Connection> by_id;
  absl::Status last = absl::NotFoundError(
      fmt::format("no broker of topic {} has a connection of producer group {}", topic, group));
  for (const std::string& addr : RouteMasters(route)) {
    RemotingCommand req = RemotingCommand::Request(code::kGetProducerConnectionList);
    req.Set("producerGroup", group);
    const std::string context =
        fmt::format("connections of producer group {} from {}", group, addr);
    auto resp = impl_->Call(addr, std::move(req), context);
    if (!resp.ok()) {
      // A broker the group never sent to answers SYSTEM_ERROR "... not exist": try the others.
      last = resp.status();
      continue;
    }
    STELE_ASSIGN_OR_RETURN(json j, JsonBody(*resp, context));
    auto set = j.find("connectionSet");
    if (set == j.end() || !set->is_array()) continue;
    for (const json& e : *set) {
      if (!e.is_object()) continue;
      const std::string id = StringOf(e, "clientId");
      by_id[id] = {.client_id = id,
                   .client_addr = StringOf(e, "clientAddr"),
                   .language = StringOf(e, "language"),
                   .version = static_cast<int32_t>(IntOf(e, "version"))};
    }
  }
  if (by_id.empty()) return last;
  std::vector<ConsumerConnection::Connection> out;
  for (auto& [id, c] : by_id) out.push_back(std::move(c));
  return out;
}

absl::StatusOr<std::vector<std::string>> AdminClient::QueryTopicConsumeByWho(
    const std::string& topic) {
  STELE_ASSIGN_OR_RETURN(TopicRoute route, Route(topic));
  std::vector<std::string> out;
  for (const std::string& addr : RouteMasters(route)) {
    RemotingCommand req = RemotingCommand::Request(code::kQueryTopicConsumeByWho);
    req.Set("topic", topic);
    const std::string context = fmt::format("groups consuming {} from {}", topic, addr);
    STELE_ASSIGN_OR_RETURN(RemotingCommand resp, impl_->Call(addr, std::move(req), context));
    STELE_ASSIGN_OR_RETURN(json j, JsonBody(resp, context));
    auto list = j.find("groupList");
    if (list == j.end() || !list->is_array()) continue;
    for (const json& g : *list) {
      if (g.is_string()) out.push_back(g.get<std::string>());
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::StatusOr<std::map<MessageQueue, int64_t>> AdminClient::ResetOffsetByTime(
    const std::string& group, const std::string& topic, int64_t timestamp_ms, bool force) {
  STELE_ASSIGN_OR_RETURN(TopicRoute route, Route(topic));
  std::map<MessageQueue, int64_t> out;
  for (const std::string& addr : RouteMasters(route)) {
    RemotingCommand req = RemotingCommand::Request(code::kInvokeBrokerToResetOffset);
    req.Set("topic", topic);
    req.Set("group", group);
    req.Set("timestamp", timestamp_ms);
    req.Set("isForce", force ? "true" : "false");
    const std::string context =
        fmt::format("reset offsets of group {} on topic {} at {}", group, topic, addr);
    STELE_ASSIGN_OR_RETURN(RemotingCommand resp, impl_->Call(addr, std::move(req), context));
    STELE_ASSIGN_OR_RETURN(auto table, ParseQueueTable(resp.body, context));
    for (const auto& [q, v] : table) {
      if (v.is_number_integer()) out[q] = v.get<int64_t>();
    }
  }
  return out;
}

absl::StatusOr<int64_t> AdminClient::ResetQueueOffset(const std::string& broker_addr,
                                                      const std::string& group,
                                                      const std::string& topic, int32_t queue_id,
                                                      int64_t offset, int64_t timestamp_ms) {
  RemotingCommand req = RemotingCommand::Request(code::kInvokeBrokerToResetOffset);
  req.Set("topic", topic);
  req.Set("group", group);
  req.Set("timestamp", timestamp_ms);
  req.Set("isForce", "true");
  req.Set("queueId", int64_t{queue_id});
  req.Set("offset", offset);
  const std::string context = fmt::format("reset offset of group {} on queue {} of {} at {}", group,
                                          queue_id, topic, broker_addr);
  STELE_ASSIGN_OR_RETURN(RemotingCommand resp, impl_->Call(broker_addr, std::move(req), context));
  STELE_ASSIGN_OR_RETURN(auto table, ParseQueueTable(resp.body, context));
  for (const auto& [q, v] : table) {
    if (q.queue_id == queue_id && v.is_number_integer()) return v.get<int64_t>();
  }
  return absl::InvalidArgumentError(
      fmt::format("{}: the answer names no offset for queue {}", context, queue_id));
}

}  // namespace stele::client
