// SEND_MESSAGE (10), SEND_MESSAGE_V2 (310, short header names) and SEND_BATCH_MESSAGE (320).
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "common/bytes.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/message_writer.h"
#include "net/broker/metrics/broker_stats.h"
#include "net/broker/processor_util.h"
#include "net/broker/state/message_limits.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

using namespace remoting::response;

struct SendHeader {
  std::string producer_group;
  std::string topic;
  int64_t default_topic_queue_nums = 4;
  int64_t queue_id = -1;
  int64_t sys_flag = 0;
  int64_t born_timestamp = 0;
  int64_t flag = 0;
  std::string properties;
  int64_t reconsume_times = 0;
  std::optional<int64_t> max_reconsume_times;
  bool batch = false;
};

// V2 renames every field to one letter to save bytes; this maps both spellings.
struct FieldNames {
  const char *group, *topic, *qnums, *qid, *sysflag, *born, *flag, *props, *reconsume, *maxre,
      *batch;
};
constexpr FieldNames kV1{"producerGroup",
                         "topic",
                         "defaultTopicQueueNums",
                         "queueId",
                         "sysFlag",
                         "bornTimestamp",
                         "flag",
                         "properties",
                         "reconsumeTimes",
                         "maxReconsumeTimes",
                         "batch"};
constexpr FieldNames kV2{"a", "b", "d", "e", "f", "g", "h", "i", "j", "l", "m"};

absl::StatusOr<SendHeader> ParseSendHeader(const RemotingCommand& req) {
  const FieldNames& n = req.code == remoting::request::kSendMessage ? kV1 : kV2;
  SendHeader h;
  STELE_ASSIGN_OR_RETURN(h.producer_group, req.RequireString(n.group));
  STELE_ASSIGN_OR_RETURN(h.topic, req.RequireString(n.topic));
  STELE_ASSIGN_OR_RETURN(h.default_topic_queue_nums, req.IntOr(n.qnums, 4));
  STELE_ASSIGN_OR_RETURN(h.queue_id, req.RequireInt(n.qid));
  STELE_ASSIGN_OR_RETURN(h.sys_flag, req.IntOr(n.sysflag, 0));
  STELE_ASSIGN_OR_RETURN(h.born_timestamp, req.IntOr(n.born, 0));
  STELE_ASSIGN_OR_RETURN(h.flag, req.IntOr(n.flag, 0));
  if (const std::string* p = req.Field(n.props)) h.properties = *p;
  STELE_ASSIGN_OR_RETURN(h.reconsume_times, req.IntOr(n.reconsume, 0));
  if (req.Field(n.maxre) != nullptr) {
    STELE_ASSIGN_OR_RETURN(int64_t m, req.RequireInt(n.maxre));
    h.max_reconsume_times = m;
  }
  STELE_ASSIGN_OR_RETURN(h.batch, req.BoolOr(n.batch, false));
  if (req.code == remoting::request::kSendBatchMessage) h.batch = true;
  return h;
}

// Splits a batch body: per message int32 totalSize, int32 magic, int32 bodyCRC, int32 flag,
// int32 bodyLen, body, int16 propsLen, props.
absl::StatusOr<std::vector<std::pair<std::string_view, std::string_view>>> SplitBatch(
    std::string_view b, std::vector<int32_t>* flags) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  while (!b.empty()) {
    if (b.size() < 20) return absl::InvalidArgumentError("batch body truncated");
    const uint32_t total = LoadBe32(b.data());
    const int32_t flag = static_cast<int32_t>(LoadBe32(b.data() + 12));
    const uint32_t body_len = LoadBe32(b.data() + 16);
    if (total > b.size() || total < 22 || body_len > total - 22) {
      return absl::InvalidArgumentError("batch message length out of bounds");
    }
    const std::string_view body = b.substr(20, body_len);
    const uint16_t props_len = LoadBe16(b.data() + 20 + body_len);
    if (22ull + body_len + props_len != total) {
      return absl::InvalidArgumentError("batch message sizes do not add up");
    }
    out.emplace_back(body, b.substr(22 + body_len, props_len));
    flags->push_back(flag);
    b.remove_prefix(total);
  }
  if (out.empty()) return absl::InvalidArgumentError("empty batch");
  return out;
}

// queueId and queueOffset are the first message's: a retried batch answered from the
// idempotence window names the queue its originals went to.
void FillSuccess(RemotingCommand* resp, const std::vector<SendOutcome>& rs) {
  std::vector<std::string> ids;
  ids.reserve(rs.size());
  bool timeout = false;
  for (const auto& r : rs) {
    ids.push_back(r.result.msg_id);
    timeout |= r.result.status == PutMessageStatus::kFlushDiskTimeout;
  }
  resp->code = timeout ? kFlushDiskTimeout : kSuccess;
  resp->Set("msgId", absl::StrJoin(ids, ","));
  resp->Set("queueId", rs.front().queue_id);
  resp->Set("queueOffset", rs.front().result.queue_offset);
  resp->Set("MSG_REGION", "DefaultRegion");
  resp->Set("TRACE_ON", "true");
}

void HandleSend(BrokerController& b, const ChannelPtr& ch, RemotingCommand req, Reply reply) {
  auto parsed = ParseSendHeader(req);
  if (ReplyIfError(parsed.status(), reply)) return;
  SendHeader h = std::move(*parsed);
  const bool internal = IsRetryTopic(h.topic) || IsDlqTopic(h.topic);
  if (ReplyIfError(internal ? ValidateInternalTopic(h.topic) : ValidateTopic(h.topic), reply)) {
    return;
  }
  if (ReplyIfError(ValidateGroup(h.producer_group), reply)) return;
  if (IsNotAllowedSendTopic(h.topic)) {
    reply(kNoPermission, fmt::format("Sending message to topic[{}] is forbidden.", h.topic));
    return;
  }
  if (!IsWriteable(b.broker_permission())) {
    reply(kNoPermission,
          fmt::format("the broker[{}] sending message is forbidden", b.config().broker_name));
    return;
  }
  const uint32_t max_size = b.config().store.max_message_size;
  MessageLimits limits;
  limits.max_body = max_size;
  if (!h.batch) {
    if (req.body.size() > max_size) {
      reply(kMessageIllegal,
            fmt::format("the message body size over max value, MAX: {}", max_size));
      return;
    }
    if (ReplyIfError(ValidateRemotingProperties(h.properties, limits), reply, kMessageIllegal)) {
      return;
    }
  }
  auto topic = b.TopicForSend(h.topic, static_cast<int>(h.default_topic_queue_nums));
  if (!topic.ok()) {
    reply(kTopicNotExist,
          fmt::format("topic[{}] not exist, apply first please!", ShortForMessage(h.topic)));
    return;
  }
  if (!IsWriteable(topic->perm)) {
    reply(kNoPermission, fmt::format("the topic[{}] sending message is forbidden", h.topic));
    return;
  }
  int32_t queue_id = static_cast<int32_t>(h.queue_id);
  if (h.queue_id < 0) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    queue_id = static_cast<int32_t>(rng() % std::max(1, topic->write_queue_nums));
  } else if (h.queue_id >= topic->write_queue_nums) {
    reply(kSystemError, fmt::format("request queueId[{}] is illegal, {} Producer: {}", h.queue_id,
                                    topic->topic_name, ch->remote_address()));
    return;
  }
  // RocketMQ takes TRAN_MSG=true as the mark of a transaction's half (its clients also set the
  // sysFlag bits); MessageWriter stores a prepared message in the half topic.
  if (auto tran = FindProperty(h.properties, kPropTransactionPrepared);
      tran && absl::EqualsIgnoreCase(absl::string_view(tran->data(), tran->size()), "true")) {
    h.sys_flag = (h.sys_flag & ~sysflag::kTransactionMask) | sysflag::kTransactionPreparedType;
  }
  const bool prepared =
      (h.sys_flag & sysflag::kTransactionMask) == sysflag::kTransactionPreparedType;
  if (prepared && b.reject_transaction_message()) {
    reply(kNoPermission, fmt::format("the broker[{}] sending transaction message is forbidden",
                                     b.config().broker_name));
    return;
  }
  if (prepared && h.batch) {  // RocketMQ's CommitLog.asyncPutMessages refuses these too
    reply(kMessageIllegal, "a batch cannot hold transaction messages");
    return;
  }

  // Consumers re-send failed messages to %RETRY%<group>; past maxReconsumeTimes they go to the
  // group's dead-letter queue instead.
  std::string store_topic = h.topic;
  if (IsRetryTopic(h.topic)) {
    const std::string group = h.topic.substr(kRetryGroupTopicPrefix.size());
    int64_t max_re = 16;
    if (auto g = b.groups().Find(group)) max_re = g->retry_max_times;
    if (h.max_reconsume_times) max_re = *h.max_reconsume_times;
    if (h.reconsume_times >= max_re) {
      store_topic = DlqTopic(group);
      queue_id = 0;
      if (ReplyIfError(b.topics().CreateDlqTopic(group).status(), reply)) return;
      b.RegisterSoon();
    }
  }

  const HostAddress born_host = PeerHost(*ch);
  auto make = [&](std::string body, std::string_view props, int32_t flag) {
    OutgoingMessage m;
    m.topic = store_topic;
    m.queue_id = queue_id;
    m.body = std::move(body);
    m.properties = Properties::Parse(props);
    m.properties.Set(kPropCluster, b.config().broker_cluster_name);
    // The check-back finds the producer by this group (Java clients set it, ali-ons does not).
    if (prepared && !m.properties.Get(kPropProducerGroup)) {
      m.properties.Set(kPropProducerGroup, h.producer_group);
    }
    m.flag = flag;
    m.from_producer = true;
    m.sys_flag = static_cast<int32_t>(h.sys_flag);
    m.born_timestamp = h.born_timestamp;
    m.born_host = born_host;
    m.reconsume_times = static_cast<int32_t>(h.reconsume_times);
    return m;
  };

  // Counted once stored (not when refused, nor when answered from the idempotence window).
  const bool to_dlq = store_topic != h.topic;
  auto count = [stats = &b.stats(), topic = h.topic, to_dlq, t0 = std::chrono::steady_clock::now()](
                   const SendOutcome& o, metrics::MessageType type, int64_t body_bytes) {
    if (o.duplicate) return;
    stats->OnMessageIn(topic, type, body_bytes);
    if (to_dlq) stats->OnSendToDlq(topic.substr(kRetryGroupTopicPrefix.size()), topic);
    stats->OnPutLatency(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count());
  };

  if (!h.batch) {
    const auto type = metrics::ClassifyMessage(h.properties);
    const auto body_bytes = static_cast<int64_t>(req.body.size());
    b.writer().Send(make(std::move(req.body), h.properties, static_cast<int32_t>(h.flag)),
                    [reply, count, type, body_bytes](absl::StatusOr<SendOutcome> r) {
                      if (!r.ok()) {
                        reply(PutFailureCode(r.status()), std::string(r.status().message()));
                        return;
                      }
                      count(*r, type, body_bytes);
                      RemotingCommand resp;
                      FillSuccess(&resp, {*r});
                      reply(std::move(resp));
                    });
    return;
  }
  std::vector<int32_t> flags;
  auto parts = SplitBatch(req.body, &flags);
  if (ReplyIfError(parts.status(), reply, kMessageIllegal)) return;
  std::vector<OutgoingMessage> msgs;
  std::vector<std::pair<metrics::MessageType, int64_t>> kinds;  // per message, for the counters
  size_t total = 0;
  for (size_t i = 0; i < parts->size(); ++i) {
    const auto& [body, props] = (*parts)[i];
    total += body.size();
    // One body over the limit, or all of them together (a batch is one request and one
    // append, as RocketMQ's clients also check).
    if (body.size() > max_size || total > max_size) {
      reply(kMessageIllegal,
            fmt::format("the message body size over max value, MAX: {}{}", max_size,
                        body.size() > max_size ? "" : " (the batch in total)"));
      return;
    }
    if (ReplyIfError(ValidateRemotingProperties(props, limits), reply, kMessageIllegal)) return;
    msgs.push_back(make(std::string(body), props, flags[i]));
    kinds.emplace_back(metrics::ClassifyMessage(props), static_cast<int64_t>(body.size()));
  }
  b.writer().SendBatch(std::move(msgs), [reply, count, kinds = std::move(kinds)](
                                            absl::StatusOr<std::vector<SendOutcome>> r) {
    if (!r.ok()) {
      reply(PutFailureCode(r.status()), std::string(r.status().message()));
      return;
    }
    for (size_t i = 0; i < r->size() && i < kinds.size(); ++i) {
      count((*r)[i], kinds[i].first, kinds[i].second);
    }
    RemotingCommand resp;
    FillSuccess(&resp, *r);
    reply(std::move(resp));
  });
}

}  // namespace

void RegisterSendProcessor(BrokerController& b) {
  const remoting::Handler h = Bind(b, HandleSend);
  b.server().Register(remoting::request::kSendMessage, h);
  b.server().Register(remoting::request::kSendMessageV2, h);
  b.server().Register(remoting::request::kSendBatchMessage, h);
}

}  // namespace stele::broker
