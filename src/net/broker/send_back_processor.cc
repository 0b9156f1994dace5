// CONSUMER_SEND_MSG_BACK (36): a consumer hands back a message it failed to consume. The broker
// stores a copy in the group's retry topic %RETRY%<group>, parked for a delay level (3 +
// reconsumeTimes unless the client chose one), or once the group's retry budget is spent (or the
// client asked, delayLevel < 0) in its dead-letter topic %DLQ%<group>. RocketMQ's
// SendMessageProcessor.consumerSendMsgBack.
#include <algorithm>
#include <functional>
#include <optional>
#include <random>

#include "common/status.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/message_writer.h"
#include "net/broker/processor_util.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

using namespace remoting::response;

struct SendBackHeader {
  int64_t offset = 0;  // commit-log offset of the message
  std::string group;
  int64_t delay_level = 0;
  std::optional<int64_t> max_reconsume_times;
};

absl::StatusOr<SendBackHeader> ParseHeader(const RemotingCommand& req) {
  SendBackHeader h;
  STELE_ASSIGN_OR_RETURN(h.offset, req.RequireInt("offset"));
  STELE_ASSIGN_OR_RETURN(h.group, req.RequireString("group"));
  STELE_ASSIGN_OR_RETURN(h.delay_level, req.RequireInt("delayLevel"));
  if (req.Field("maxReconsumeTimes") != nullptr) {
    STELE_ASSIGN_OR_RETURN(int64_t m, req.RequireInt("maxReconsumeTimes"));
    h.max_reconsume_times = m;
  }
  return h;
}

// Returns the topic `create` makes (or finds), re-registering with the name servers when it is
// new so that clients can route to it.
absl::StatusOr<TopicConfig> EnsureTopic(
    BrokerController& b, const std::string& name,
    const std::function<absl::StatusOr<TopicConfig>()>& create) {
  const bool existed = b.topics().Find(name) != nullptr;
  auto t = create();
  if (t.ok() && !existed) b.RegisterSoon();
  return t;
}

void ReplyTopicFailed(const Reply& reply, const std::string& topic, const absl::Status& s) {
  reply(kSystemError,
        fmt::format("topic[{}] not exist: {}", ShortForMessage(topic), std::string(s.message())));
}

void HandleSendBack(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const SendBackHeader h, ParseHeader(req), reply);
  if (ReplyIfError(ValidateGroup(h.group), reply)) return;
  auto group = b.groups().FindOrAutoCreate(h.group);
  if (absl::IsNotFound(group.status())) {
    reply(kSubscriptionGroupNotExist,
          fmt::format("subscription group not exist, {}", ShortForMessage(h.group)));
    return;
  }
  if (ReplyIfError(group.status(), reply)) return;
  if (!IsWriteable(b.broker_permission())) {
    reply(kNoPermission,
          fmt::format("the broker[{}] sending message is forbidden", b.config().broker_ip1));
    return;
  }
  if (group->retry_queue_nums <= 0) {  // RocketMQ: the group wants no retries; drop it
    reply(kSuccess);
    return;
  }

  std::string topic = RetryTopic(h.group);
  auto retry = EnsureTopic(
      b, topic, [&] { return b.topics().CreateRetryTopic(h.group, group->retry_queue_nums); });
  if (!retry.ok()) {
    ReplyTopicFailed(reply, topic, retry.status());
    return;
  }
  if (!IsWriteable(retry->perm)) {
    reply(kNoPermission,
          fmt::format("the topic[{}] sending message is forbidden", ShortForMessage(topic)));
    return;
  }
  auto rec = b.store().Read(h.offset);
  if (!rec.ok() || rec->offset != h.offset) {  // not the start of a record
    reply(kSystemError, fmt::format("look message by offset failed, {}", h.offset));
    return;
  }
  const MessageView& v = rec->msg;

  OutgoingMessage m = OutgoingMessage::FromStored(v);
  if (!m.properties.Get(kPropRetryTopic)) m.properties.Set(kPropRetryTopic, v.topic);
  // The first failure names the original message; later ones keep that name (as RocketMQ does,
  // whatever the header's originMsgId says).
  const auto origin = m.properties.Get(kPropOriginMessageId);
  if (!origin || origin->find_first_not_of(" \t\r\n") == std::string_view::npos) {
    m.properties.Set(kPropOriginMessageId, v.OffsetMsgId());
  }

  int64_t max_reconsume = group->retry_max_times;
  if (h.max_reconsume_times) max_reconsume = *h.max_reconsume_times;
  // Past the topic's queues a message would never be pulled: stay within both counts.
  const int32_t queues = std::max(1, std::min(group->retry_queue_nums, retry->write_queue_nums));
  thread_local std::minstd_rand rng{std::random_device{}()};
  m.queue_id = static_cast<int32_t>(rng() % static_cast<uint32_t>(queues));
  if (v.reconsume_times >= max_reconsume || h.delay_level < 0) {
    topic = DlqTopic(h.group);
    auto dlq = EnsureTopic(b, topic, [&] { return b.topics().CreateDlqTopic(h.group); });
    if (!dlq.ok()) {
      ReplyTopicFailed(reply, topic, dlq.status());
      return;
    }
    m.queue_id = 0;  // DLQ_NUMS_PER_GROUP = 1
    m.properties.Set(kPropDelayLevel, "0");
  } else {
    int64_t level = h.delay_level == 0 ? 3 + int64_t{v.reconsume_times} : h.delay_level;
    level = std::min<int64_t>(level, b.writer().max_delay_level());
    m.properties.Set(kPropDelayLevel, fmt::format("{}", level));
  }
  m.topic = std::move(topic);
  m.reconsume_times = v.reconsume_times + 1;

  const bool to_dlq = IsDlqTopic(m.topic);
  std::string origin_topic(v.topic);
  if (auto rt = m.properties.Get(kPropRetryTopic)) origin_topic = std::string(*rt);
  b.writer().Put(std::move(m),
                 [reply, to_dlq, stats = &b.stats(), group = h.group,
                  origin_topic = std::move(origin_topic)](absl::StatusOr<AppendResult> r) {
                   if (r.ok() && to_dlq) stats->OnSendToDlq(group, origin_topic);
                   if (!r.ok()) {
                     reply(PutFailureCode(r.status()), std::string(r.status().message()));
                   } else if (r->status == PutMessageStatus::kFlushDiskTimeout) {
                     reply(kFlushDiskTimeout, "FLUSH_DISK_TIMEOUT");
                   } else {
                     reply(kSuccess);
                   }
                 });
}

}  // namespace

void RegisterSendBackProcessor(BrokerController& b) {
  b.server().Register(remoting::request::kConsumerSendMsgBack, Bind(b, HandleSendBack));
}

}  // namespace stele::broker
