#include "client/consumer_common.h"

#include <algorithm>
#include <cstdlib>

#include "client/wire.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "fmt/format.h"
#include "index/java_hash.h"
#include "net/broker/filter/sql92_filter.h"
#include "net/remoting/codes.h"
#include "nlohmann/json.hpp"

namespace stele::client {

using remoting::RemotingCommand;
namespace code = remoting::request;
namespace rc = remoting::response;
using nlohmann::json;

namespace {

// PullSysFlag bits.
constexpr int32_t kFlagCommitOffset = 0x1;
constexpr int32_t kFlagSuspend = 0x2;
constexpr int32_t kFlagSubscription = 0x4;

constexpr std::string_view kRetryPrefix = "%RETRY%";

absl::StatusOr<std::string> AddrOf(ClientInstance& c, const MessageQueue& q) {
  std::string addr = c.BrokerAddr(q.broker_name);
  if (addr.empty()) {
    (void)c.FetchRoute(q.topic);
    addr = c.BrokerAddr(q.broker_name);
  }
  if (addr.empty()) {
    return absl::NotFoundError(
        fmt::format("no address for broker {} (queue {})", q.broker_name, q.ToString()));
  }
  return addr;
}

RemotingCommand PullRequest(const PullArgs& a) {
  RemotingCommand req = RemotingCommand::Request(code::kPullMessage);
  int32_t flags = kFlagSubscription;
  if (a.commit_offset > 0) flags |= kFlagCommitOffset;
  if (a.suspend.count() > 0) flags |= kFlagSuspend;
  req.Set("consumerGroup", a.group);
  req.Set("topic", a.queue.topic);
  req.Set("queueId", int64_t{a.queue.queue_id});
  req.Set("queueOffset", a.offset);
  req.Set("maxMsgNums", int64_t{a.max_msgs});
  req.Set("sysFlag", int64_t{flags});
  req.Set("commitOffset", std::max<int64_t>(a.commit_offset, 0));
  req.Set("suspendTimeoutMillis", static_cast<int64_t>(a.suspend.count()));
  req.Set("subscription", a.sub != nullptr ? a.sub->sub_string : "*");
  req.Set("subVersion", a.sub != nullptr ? a.sub->sub_version : 0);
  req.Set("expressionType", a.sub != nullptr ? a.sub->expression_type : "TAG");
  return req;
}

absl::StatusOr<PullResult> ParsePull(const PullArgs& a, absl::StatusOr<RemotingCommand> resp) {
  if (!resp.ok()) {
    return absl::Status(resp.status().code(), fmt::format("pull {}: {}", a.queue.ToString(),
                                                          std::string(resp.status().message())));
  }
  PullResult r;
  switch (resp->code) {
    case rc::kSuccess:
      r.status = PullStatus::kFound;
      break;
    case rc::kPullNotFound:
      r.status = PullStatus::kNoNewMsg;
      break;
    case rc::kPullRetryImmediately:
      r.status = PullStatus::kNoMatchedMsg;
      break;
    case rc::kPullOffsetMoved:
      r.status = PullStatus::kOffsetIllegal;
      break;
    default:
      return ResponseError(resp->code, resp->remark.value_or(""),
                           fmt::format("pull {}", a.queue.ToString()));
  }
  STELE_ASSIGN_OR_RETURN(r.next_begin_offset, resp->IntOr("nextBeginOffset", a.offset));
  STELE_ASSIGN_OR_RETURN(r.min_offset, resp->IntOr("minOffset", 0));
  STELE_ASSIGN_OR_RETURN(r.max_offset, resp->IntOr("maxOffset", 0));
  if (r.status == PullStatus::kFound) {
    STELE_ASSIGN_OR_RETURN(std::vector<MessageExt> msgs,
                           DecodeMessages(resp->body, a.queue.broker_name));
    for (MessageExt& m : msgs) {
      if (a.sub != nullptr && !TagMatches(*a.sub, m)) continue;
      m.properties[std::string(prop::kMinOffset)] = std::to_string(r.min_offset);
      m.properties[std::string(prop::kMaxOffset)] = std::to_string(r.max_offset);
      r.msgs.push_back(std::move(m));
    }
  }
  return r;
}

json QueueJson(const MessageQueue& q) {
  return json{{"topic", q.topic}, {"brokerName", q.broker_name}, {"queueId", q.queue_id}};
}

}  // namespace

absl::StatusOr<broker::SubscriptionData> BuildSubscription(const std::string& topic,
                                                           const std::string& expression,
                                                           ExpressionType type) {
  broker::SubscriptionData s;
  s.topic = topic;
  s.sub_version = NowMs();
  if (type == ExpressionType::kSql92) {
    if (expression.empty()) return absl::InvalidArgumentError("empty SQL92 expression");
    STELE_RETURN_IF_ERROR(filter::CompileSql92(expression).status());
    s.expression_type = "SQL92";
    s.sub_string = expression;
    return s;
  }
  s.expression_type = "TAG";
  std::string_view e = expression;
  auto trim = [](std::string_view v) {
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    return v;
  };
  e = trim(e);
  if (e.empty() || e == "*") {
    s.sub_string.assign(1, '*');  // (assigning the literal trips gcc 12's -Wrestrict)
    return s;
  }
  s.sub_string = std::string(e);
  while (!e.empty()) {
    const size_t bar = e.find("||");
    const std::string_view tag = trim(e.substr(0, bar));
    e = bar == std::string_view::npos ? std::string_view{} : e.substr(bar + 2);
    if (tag.empty()) continue;
    if (std::find(s.tags_set.begin(), s.tags_set.end(), tag) == s.tags_set.end()) {
      s.tags_set.emplace_back(tag);
      s.code_set.push_back(index::JavaStringHash(tag));
    }
  }
  if (s.tags_set.empty()) {
    return absl::InvalidArgumentError(fmt::format("tag expression '{}' names no tag", expression));
  }
  return s;
}

absl::Status CheckSubscriptionsInBrokers(ClientInstance& c, const std::string& group,
                                         const std::vector<broker::SubscriptionData>& subs) {
  for (const broker::SubscriptionData& s : subs) {
    if (s.expression_type == "TAG") continue;
    auto route = c.Route(s.topic);
    if (!route.ok()) continue;  // nothing to check against yet (RocketMQ skips it too)
    const json body = {{"clientId", c.client_id()},
                       {"group", group},
                       {"subscriptionData",
                        {{"topic", s.topic},
                         {"subString", s.sub_string},
                         {"classFilterMode", false},
                         {"tagsSet", json::array()},
                         {"codeSet", json::array()},
                         {"subVersion", s.sub_version},
                         {"expressionType", s.expression_type}}}};
    for (const auto& b : route->brokers) {
      const std::string addr = route->MasterAddr(b.broker_name);
      if (addr.empty()) continue;
      RemotingCommand req = RemotingCommand::Request(code::kCheckClientConfig);
      req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
      STELE_ASSIGN_OR_RETURN(RemotingCommand resp, c.Call(addr, std::move(req)));
      if (resp.code != rc::kSuccess) {
        return ResponseError(
            resp.code, resp.remark.value_or(""),
            fmt::format("{} subscription '{}' of topic {} refused by broker {}", s.expression_type,
                        s.sub_string.substr(0, 200), s.topic, b.broker_name));
      }
    }
  }
  return absl::OkStatus();
}

bool TagMatches(const broker::SubscriptionData& sub, const MessageExt& m) {
  if (sub.expression_type != "TAG" || sub.tags_set.empty()) return true;
  return std::find(sub.tags_set.begin(), sub.tags_set.end(), m.tags) != sub.tags_set.end();
}

std::string RetryTopicOf(const std::string& group) {
  return fmt::format("{}{}", kRetryPrefix, group);
}

bool IsRetryTopic(const std::string& topic) { return topic.starts_with(kRetryPrefix); }

void RestoreRetryTopic(const std::string& group, MessageExt* m) {
  if (m->topic != RetryTopicOf(group)) return;
  if (const std::string* t = m->Property(prop::kRetryTopic)) m->topic = *t;
}

void PullAsync(ClientInstance& c, const PullArgs& args, PullCallback done) {
  auto addr = AddrOf(c, args.queue);
  if (!addr.ok()) {
    c.callbacks().Submit([done = std::move(done), s = addr.status()] { done(s); });
    return;
  }
  const auto timeout = args.suspend + c.config().timeout;
  // The subscription is copied: the caller's may change before the answer arrives.
  auto sub = args.sub != nullptr ? std::make_shared<broker::SubscriptionData>(*args.sub) : nullptr;
  PullArgs a = args;
  a.sub = sub.get();
  c.CallAsync(*addr, PullRequest(a), timeout,
              [a, sub, done = std::move(done)](absl::StatusOr<RemotingCommand> resp) {
                done(ParsePull(a, std::move(resp)));
              });
}

absl::StatusOr<PullResult> PullSync(ClientInstance& c, const PullArgs& args) {
  STELE_ASSIGN_OR_RETURN(std::string addr, AddrOf(c, args.queue));
  return ParsePull(args, c.Call(addr, PullRequest(args), args.suspend + c.config().timeout));
}

std::vector<MessageQueue> AllocateAveragely(const std::string& me,
                                            const std::vector<MessageQueue>& queues,
                                            const std::vector<std::string>& cids) {
  auto it = std::find(cids.begin(), cids.end(), me);
  if (it == cids.end() || queues.empty()) return {};
  const size_t index = static_cast<size_t>(it - cids.begin());
  const size_t n = queues.size();
  const size_t k = cids.size();
  const size_t mod = n % k;
  const size_t average = n <= k ? 1 : (mod > 0 && index < mod ? n / k + 1 : n / k);
  const size_t start = mod > 0 && index < mod ? index * average : index * average + mod;
  const size_t range = std::min(average, n > start ? n - start : 0);
  std::vector<MessageQueue> out;
  for (size_t i = 0; i < range; ++i) out.push_back(queues[(start + i) % n]);
  return out;
}

absl::StatusOr<std::vector<std::string>> ConsumerIds(ClientInstance& c, const std::string& topic,
                                                     const std::string& group) {
  STELE_ASSIGN_OR_RETURN(TopicRoute route, c.Route(topic));
  absl::Status last = absl::NotFoundError(fmt::format("topic {} has no broker", topic));
  for (const BrokerData& b : route.brokers) {
    auto it = b.addrs.find(0);
    if (it == b.addrs.end()) continue;
    RemotingCommand req = RemotingCommand::Request(code::kGetConsumerListByGroup);
    req.Set("consumerGroup", group);
    auto resp = ExpectSuccess(c.Call(it->second, std::move(req)),
                              fmt::format("consumer list of {} from {}", group, it->second));
    if (!resp.ok()) {
      last = resp.status();
      continue;
    }
    json j = json::parse(resp->body, nullptr, false);
    if (!j.is_object() || !j.contains("consumerIdList") || !j["consumerIdList"].is_array()) {
      last = absl::InvalidArgumentError("malformed GET_CONSUMER_LIST_BY_GROUP body");
      continue;
    }
    std::vector<std::string> ids;
    for (const json& e : j["consumerIdList"]) {
      if (e.is_string()) ids.push_back(e.get<std::string>());
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  return last;
}

namespace {
absl::StatusOr<int64_t> OffsetCall(ClientInstance& c, int32_t req_code, const MessageQueue& q,
                                   const char* field, int64_t ts = -1) {
  STELE_ASSIGN_OR_RETURN(std::string addr, AddrOf(c, q));
  RemotingCommand req = RemotingCommand::Request(req_code);
  req.Set("topic", q.topic);
  req.Set("queueId", int64_t{q.queue_id});
  if (ts >= 0) req.Set("timestamp", ts);
  STELE_ASSIGN_OR_RETURN(
      RemotingCommand resp,
      ExpectSuccess(c.Call(addr, std::move(req)), fmt::format("offset query of {}", q.ToString())));
  return resp.RequireInt(field);
}
}  // namespace

absl::StatusOr<int64_t> MaxOffset(ClientInstance& c, const MessageQueue& q) {
  return OffsetCall(c, code::kGetMaxOffset, q, "offset");
}
absl::StatusOr<int64_t> MinOffset(ClientInstance& c, const MessageQueue& q) {
  return OffsetCall(c, code::kGetMinOffset, q, "offset");
}
absl::StatusOr<int64_t> SearchOffset(ClientInstance& c, const MessageQueue& q, int64_t ts_ms) {
  return OffsetCall(c, code::kSearchOffsetByTimestamp, q, "offset", ts_ms);
}

absl::StatusOr<std::set<MessageQueue>> LockQueues(ClientInstance& c, const std::string& group,
                                                  const std::string& broker_name,
                                                  const std::vector<MessageQueue>& queues) {
  std::string addr = c.BrokerAddr(broker_name);
  if (addr.empty()) return absl::NotFoundError(fmt::format("no address for {}", broker_name));
  json set = json::array();
  for (const MessageQueue& q : queues) set.push_back(QueueJson(q));
  RemotingCommand req = RemotingCommand::Request(code::kLockBatchMq);
  req.body = json{{"consumerGroup", group},
                  {"clientId", c.client_id()},
                  {"onlyThisBroker", false},
                  {"mqSet", std::move(set)}}
                 .dump();
  STELE_ASSIGN_OR_RETURN(RemotingCommand resp,
                         ExpectSuccess(c.Call(addr, std::move(req)),
                                       fmt::format("lock queues of {} on {}", group, addr)));
  json j = json::parse(resp.body, nullptr, false);
  std::set<MessageQueue> out;
  if (!j.is_object() || !j.contains("lockOKMQSet") || !j["lockOKMQSet"].is_array()) {
    return absl::InvalidArgumentError("malformed LOCK_BATCH_MQ response body");
  }
  for (const json& e : j["lockOKMQSet"]) {
    if (!e.is_object()) continue;
    MessageQueue q;
    q.topic = e.value("topic", "");
    q.broker_name = e.value("brokerName", "");
    q.queue_id = e.value("queueId", -1);
    if (std::find(queues.begin(), queues.end(), q) != queues.end()) out.insert(std::move(q));
  }
  return out;
}

void UnlockQueues(ClientInstance& c, const std::string& group, const std::string& broker_name,
                  const std::vector<MessageQueue>& queues, bool oneway) {
  std::string addr = c.BrokerAddr(broker_name);
  if (addr.empty() || queues.empty()) return;
  json set = json::array();
  for (const MessageQueue& q : queues) set.push_back(QueueJson(q));
  RemotingCommand req = RemotingCommand::Request(code::kUnlockBatchMq);
  req.body = json{{"consumerGroup", group},
                  {"clientId", c.client_id()},
                  {"onlyThisBroker", false},
                  {"mqSet", std::move(set)}}
                 .dump();
  if (oneway) {
    (void)c.Oneway(addr, std::move(req));
  } else {
    (void)c.Call(addr, std::move(req));
  }
}

std::string_view ConsumeFromWhereName(ConsumeFromWhere w) {
  switch (w) {
    case ConsumeFromWhere::kLastOffset:
      return "CONSUME_FROM_LAST_OFFSET";
    case ConsumeFromWhere::kFirstOffset:
      return "CONSUME_FROM_FIRST_OFFSET";
    case ConsumeFromWhere::kTimestamp:
      return "CONSUME_FROM_TIMESTAMP";
  }
  return "CONSUME_FROM_LAST_OFFSET";
}

void HeartbeatSync(ClientInstance& c, ClientMember& member, std::string_view who) {
  broker::HeartbeatData hb;
  hb.client_id = c.client_id();
  member.FillHeartbeat(&hb);
  const std::string body = EncodeHeartbeat(hb);
  for (const std::string& addr : c.BrokerAddrs()) {
    RemotingCommand req = RemotingCommand::Request(code::kHeartBeat);
    req.body = body;
    auto r = ExpectSuccess(c.Call(addr, std::move(req)), fmt::format("heartbeat to {}", addr));
    if (!r.ok()) log::Warn("{}: {}", who, r.status().ToString());
  }
}

absl::StatusOr<int64_t> StartOffset(ClientInstance& c, OffsetStore& offsets, const MessageQueue& q,
                                    ConsumeFromWhere from, int64_t ts_ms) {
  STELE_ASSIGN_OR_RETURN(int64_t off, offsets.ReadStore(q));
  if (off >= 0) return off;
  switch (from) {
    case ConsumeFromWhere::kLastOffset:
      if (IsRetryTopic(q.topic)) return 0;
      return MaxOffset(c, q);
    case ConsumeFromWhere::kFirstOffset:
      return 0;
    case ConsumeFromWhere::kTimestamp:
      if (IsRetryTopic(q.topic)) return MaxOffset(c, q);
      return SearchOffset(c, q, ts_ms > 0 ? ts_ms : NowMs() - 30 * 60 * 1000);
  }
  return 0;
}

absl::StatusOr<std::unique_ptr<OffsetStore>> OpenLocalOffsetStore(const std::string& dir,
                                                                  const std::string& instance_name,
                                                                  const std::string& group) {
  std::string root = dir;
  if (root.empty()) {
    const char* home = std::getenv("HOME");
    root = fmt::format("{}/.rocketmq_offsets", home != nullptr ? home : ".");
  }
  const std::string path = instance_name.empty()
                               ? fmt::format("{}/{}/offsets.json", root, group)
                               : fmt::format("{}/{}/{}/offsets.json", root, instance_name, group);
  auto local = std::make_unique<LocalOffsetStore>(path);
  STELE_RETURN_IF_ERROR(local->Load());
  return std::unique_ptr<OffsetStore>(std::move(local));
}

void UnregisterConsumer(ClientInstance& c, const std::string& group) {
  for (const std::string& addr : c.BrokerAddrs()) {
    RemotingCommand req = RemotingCommand::Request(code::kUnregisterClient);
    req.Set("clientID", c.client_id());
    req.Set("consumerGroup", group);
    (void)c.Call(addr, std::move(req), std::chrono::milliseconds(1000));
  }
}

void FetchRoutes(ClientInstance& c, const std::vector<std::string>& topics, std::string_view who) {
  for (const std::string& t : topics) {
    if (auto r = c.FetchRoute(t); !r.ok() && !absl::IsNotFound(r.status())) {
      log::Warn("{}: route of {}: {}", who, t, r.status().ToString());
    }
  }
}

absl::Status SendBack(ClientInstance& c, const std::string& group, const MessageExt& m,
                      int delay_level, int max_reconsume_times) {
  std::string addr = c.BrokerAddr(m.broker_name);
  if (addr.empty()) return absl::NotFoundError(fmt::format("no address for {}", m.broker_name));
  RemotingCommand req = RemotingCommand::Request(code::kConsumerSendMsgBack);
  req.Set("offset", m.commit_log_offset);
  req.Set("group", group);
  req.Set("delayLevel", int64_t{delay_level});
  req.Set("originMsgId", m.msg_id);
  req.Set("originTopic", m.topic);
  req.Set("unitMode", "false");
  req.Set("maxReconsumeTimes", int64_t{max_reconsume_times});
  return ExpectSuccess(c.Call(addr, std::move(req)), fmt::format("send back {}", m.msg_id))
      .status();
}

}  // namespace stele::client
