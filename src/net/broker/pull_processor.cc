// PULL_MESSAGE (11): reads a consume queue with the subscription's tag or SQL92 filter, commits the
// consumer's offset when asked, and holds the request (long polling) when there is nothing new.
#include "common/logging.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/processor_util.h"
#include "net/broker/pull_hold.h"
#include "net/broker/state/names.h"
#include "net/broker/subscription_filter.h"

namespace stele::broker {
namespace {

using namespace remoting::response;

// PullSysFlag bits.
constexpr int64_t kFlagCommitOffset = 1;
constexpr int64_t kFlagSuspend = 2;
constexpr int64_t kFlagSubscription = 4;

struct PullHeader {
  std::string group;
  std::string topic;
  int32_t queue_id = 0;
  int64_t queue_offset = 0;
  int32_t max_msg_nums = 32;
  int64_t sys_flag = 0;
  int64_t commit_offset = -1;
  int64_t suspend_timeout_ms = 15000;
  std::string subscription;
  std::string expression_type = "TAG";
};

absl::StatusOr<PullHeader> ParsePullHeader(const RemotingCommand& req) {
  PullHeader h;
  STELE_ASSIGN_OR_RETURN(h.group, req.RequireString("consumerGroup"));
  STELE_ASSIGN_OR_RETURN(h.topic, req.RequireString("topic"));
  STELE_ASSIGN_OR_RETURN(int64_t qid, req.RequireInt("queueId"));
  if (qid < 0 || qid > INT32_MAX) return absl::InvalidArgumentError("queueId out of range");
  h.queue_id = static_cast<int32_t>(qid);
  STELE_ASSIGN_OR_RETURN(h.queue_offset, req.RequireInt("queueOffset"));
  STELE_ASSIGN_OR_RETURN(int64_t n, req.IntOr("maxMsgNums", 32));
  h.max_msg_nums = static_cast<int32_t>(std::clamp<int64_t>(n, 1, 1024));
  STELE_ASSIGN_OR_RETURN(h.sys_flag, req.IntOr("sysFlag", 0));
  STELE_ASSIGN_OR_RETURN(h.commit_offset, req.IntOr("commitOffset", -1));
  STELE_ASSIGN_OR_RETURN(h.suspend_timeout_ms, req.IntOr("suspendTimeoutMillis", 15000));
  if (const std::string* s = req.Field("subscription")) h.subscription = *s;
  if (const std::string* e = req.Field("expressionType"); e != nullptr && !e->empty()) {
    h.expression_type = *e;
  }
  return h;
}

void SetOffsets(RemotingCommand* resp, int64_t next, int64_t min, int64_t max) {
  resp->Set("nextBeginOffset", next);
  resp->Set("minOffset", min);
  resp->Set("maxOffset", max);
  resp->Set("suggestWhichBrokerId", int64_t{0});
}

void ProcessPull(BrokerController& b, const PullHeader& h, const SubscriptionFilter& filter,
                 const Reply& reply, bool allow_suspend) {
  GetOptions opts;
  opts.max_messages = h.max_msg_nums;
  opts.max_bytes = 1 << 20;
  filter.Apply(&opts);
  auto got = b.store().Get(h.topic, h.queue_id, h.queue_offset, opts);
  if (ReplyIfError(got.status(), reply)) return;
  RemotingCommand resp;
  SetOffsets(&resp, got->next_begin_offset, got->min_offset, got->max_offset);
  switch (got->status) {
    case GetMessageStatus::kFound: {
      resp.code = kSuccess;
      resp.body.reserve(static_cast<size_t>(got->total_bytes));
      for (const auto& m : got->messages) resp.body.append(m.bytes);
      break;
    }
    case GetMessageStatus::kNoMatchedMessage:
    case GetMessageStatus::kMessageWasRemoving:
    case GetMessageStatus::kOffsetFoundNull:
      resp.code = kPullRetryImmediately;
      break;
    case GetMessageStatus::kOffsetOverflowOne:
      resp.code = kPullNotFound;
      break;
    case GetMessageStatus::kOffsetTooSmall:
    case GetMessageStatus::kOffsetOverflowBadly:
      resp.code = kPullOffsetMoved;
      break;
    case GetMessageStatus::kNoMatchedLogicQueue:
    case GetMessageStatus::kNoMessageInQueue:
      // RocketMQ: an empty queue asked for offset 0 is "not found" (hold); any other offset has
      // moved (to 0).
      resp.code = h.queue_offset != 0 ? kPullOffsetMoved : kPullNotFound;
      if (resp.code == kPullOffsetMoved) SetOffsets(&resp, 0, 0, 0);
      break;
  }
  const bool found = resp.code == kSuccess;
  if (!found &&
      !(resp.code == kPullNotFound && allow_suspend && (h.sys_flag & kFlagSuspend) != 0)) {
    b.stats().OnGetMiss();
  }
  if (found) {
    b.stats().OnMessagesOut(h.topic, h.group, h.queue_id,
                            static_cast<int64_t>(got->messages.size()), got->total_bytes,
                            got->next_begin_offset);
  }
  if (resp.code == kPullNotFound && allow_suspend && (h.sys_flag & kFlagSuspend) != 0) {
    const int64_t wait = b.long_polling_enable()
                             ? std::clamp<int64_t>(h.suspend_timeout_ms, 0, 25000)
                             : b.short_polling_time_mills();
    b.pull_hold().Hold(h.topic, h.queue_id, h.queue_offset, PullHoldService::NowMs() + wait,
                       [&b, h, filter, reply] { ProcessPull(b, h, filter, reply, false); });
    return;
  }
  reply(std::move(resp));
}

void HandlePull(BrokerController& b, const ChannelPtr& ch, RemotingCommand req, Reply reply) {
  auto parsed = ParsePullHeader(req);
  if (ReplyIfError(parsed.status(), reply)) return;
  const PullHeader& h = *parsed;
  const bool internal = IsRetryTopic(h.topic) || IsDlqTopic(h.topic);
  if (ReplyIfError(internal ? ValidateInternalTopic(h.topic) : ValidateTopic(h.topic), reply) ||
      ReplyIfError(ValidateGroup(h.group), reply)) {
    return;
  }
  if (!IsReadable(b.broker_permission())) {
    reply(kNoPermission,
          fmt::format("the broker[{}] pulling message is forbidden", b.config().broker_name));
    return;
  }
  auto group = b.groups().FindOrAutoCreate(h.group);
  if (!group.ok()) {
    reply(kSubscriptionGroupNotExist,
          fmt::format("subscription group [{}] does not exist", ShortForMessage(h.group)));
    return;
  }
  if (!group->consume_enable) {
    reply(kNoPermission, fmt::format("subscription group no permission, {}", h.group));
    return;
  }
  auto topic = b.topics().Get(h.topic);
  if (!topic) {
    reply(kTopicNotExist,
          fmt::format("topic[{}] not exist, apply first please!", ShortForMessage(h.topic)));
    return;
  }
  if (!IsReadable(topic->perm)) {
    reply(kNoPermission, fmt::format("the topic[{}] pulling message is forbidden", h.topic));
    return;
  }
  if (h.queue_id >= topic->read_queue_nums) {
    reply(kSystemError,
          fmt::format("queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:"
                      "[{}] consumer:[{}]",
                      h.queue_id, h.topic, topic->read_queue_nums, ch->remote_address()));
    return;
  }
  std::string expr = h.subscription;
  std::string type = h.expression_type;
  bool from_heartbeat = false;
  if ((h.sys_flag & kFlagSubscription) == 0) {
    auto sub = b.consumers().FindSubscription(h.group, h.topic);
    if (!sub) {
      reply(kSubscriptionNotExist,
            fmt::format("consumer's subscription not exist, group: {}", h.group));
      return;
    }
    expr = sub->sub_string;
    if (!sub->expression_type.empty()) type = sub->expression_type;
    from_heartbeat = true;
  }
  SubscriptionFilter filter = ResolveSubscriptionFilter(b, type, expr);
  if (filter.error_code != 0) {
    // RocketMQ: a heartbeat subscription that did not compile has no filter data.
    const bool no_filter_data = from_heartbeat && filter.error_code == kSubscriptionParseFailed;
    reply(no_filter_data ? kFilterDataNotExist : filter.error_code, filter.error);
    return;
  }
  if ((h.sys_flag & kFlagCommitOffset) != 0 && h.commit_offset >= 0) {
    if (absl::Status s = b.offsets().Commit(h.group, h.topic, h.queue_id, h.commit_offset);
        !s.ok()) {
      log::Warn("committing offset of {} on {}:{} failed: {}", h.group, h.topic, h.queue_id,
                std::string(s.message()));
    }
  }
  ProcessPull(b, h, filter, reply, true);
}

}  // namespace

void RegisterPullProcessor(BrokerController& b) {
  b.server().Register(remoting::request::kPullMessage, Bind(b, HandlePull));
}

}  // namespace stele::broker
