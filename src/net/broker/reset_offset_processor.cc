// INVOKE_BROKER_TO_RESET_OFFSET 222 (mqadmin resetOffsetByTime / skipAccumulatedMessage, the
// dashboard's "reset offset"): moves a group's offsets on one topic of this broker.
//
// Header (Java ResetOffsetRequestHeader): topic, group, timestamp (ms; -1 = each queue's end),
// isForce, and optionally queueId + offset to set one queue to an exact offset (offset -1: to the
// timestamp's offset), which is what Java's `resetOffsetByTime -b -q [-o]` sends.
//
// Targets follow Java's Broker2Client.resetOffset: a queue goes to the first offset stored at or
// after the timestamp (its end for -1); without isForce an offset only ever moves back (a target
// past the group's offset leaves it where it is). Unlike Java, which only asks the online
// consumers to commit the new offsets (and fails when none is online), the broker commits them
// itself, then tells the online remoting consumers with RESET_CONSUMER_CLIENT_OFFSET (oneway,
// ResetOffsetBody) as Java does. A consumer that ignores that message (Stele's C++ client does)
// overwrites the reset with its next commit, so reset a group while it is stopped.
// The answer is ResetOffsetBody: the offsets now in force.
#include <map>

#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/processor_util.h"
#include "net/broker/queue_table_json.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

using namespace remoting::response;

// The first offset stored at or after `timestamp` (-1: the queue's end).
int64_t TimestampOffset(Store& s, const std::string& topic, int32_t q, int64_t timestamp) {
  if (timestamp == -1) return s.MaxQueueOffset(topic, q);
  auto found = s.SearchQueueOffset(topic, q, timestamp);
  return found.ok() ? *found : 0;
}

void HandleResetOffset(BrokerController& b, const ChannelPtr& ch, RemotingCommand req,
                       Reply reply) {
  STELE_FIELD_OR_REPLY(const std::string topic, req.RequireString("topic"), reply);
  const bool internal = IsRetryTopic(topic) || IsDlqTopic(topic);
  if (ReplyIfError(internal ? ValidateInternalTopic(topic) : ValidateTopic(topic), reply)) return;
  STELE_FIELD_OR_REPLY(const std::string group, req.RequireString("group"), reply);
  if (ReplyIfError(ValidateGroup(group), reply)) return;
  STELE_FIELD_OR_REPLY(const int64_t timestamp, req.RequireInt("timestamp"), reply);
  STELE_FIELD_OR_REPLY(const bool force, req.BoolOr("isForce", false), reply);
  STELE_FIELD_OR_REPLY(const int64_t only_queue, req.IntOr("queueId", -1), reply);
  const std::string* exact = req.Field("offset");

  auto t = b.topics().Find(topic);
  if (t == nullptr) {
    reply(kSystemError,
          fmt::format("[reset-offset] reset offset failed, no topic in this broker. topic={}",
                      topic));
    return;
  }
  Store& s = b.store();
  std::map<int32_t, int64_t> targets;
  if (only_queue >= 0 && exact != nullptr && !exact->empty()) {
    // Java's direct path (5.x resetOffsetInner): one queue, to an exact offset checked against
    // the queue's range, or (offset -1) to the timestamp's offset. No isForce here.
    STELE_FIELD_OR_REPLY(const int64_t offset, req.RequireInt("offset"), reply);
    if (only_queue >= t->read_queue_nums) {
      reply(kSystemError, fmt::format("queueId {} out of range: topic {} has {} read queues",
                                      only_queue, topic, t->read_queue_nums));
      return;
    }
    const int32_t q = static_cast<int32_t>(only_queue);
    const int64_t min = s.MinQueueOffset(topic, q);
    const int64_t max = s.MaxQueueOffset(topic, q);
    if (offset == -1) {
      targets[q] = TimestampOffset(s, topic, q, timestamp);
    } else if (offset < min || offset > max) {
      reply(kSystemError,
            fmt::format("Target offset {} not in consume queue range [{}-{}]", offset, min, max));
      return;
    } else {
      targets[q] = offset;
    }
  } else {
    // Java refuses a group without offsets on the topic (a mistyped name would otherwise create
    // offsets nobody uses); one that is online or configured on this broker is taken as meant.
    const auto committed = b.offsets().QueryTopic(group, topic);
    if (committed.empty() && b.consumers().FindGroup(group) == std::nullopt &&
        b.groups().Find(group) == std::nullopt) {
      reply(kSystemError, fmt::format("THe consumer group <{}> not exist", group));
      return;
    }
    for (int32_t q = 0; q < t->write_queue_nums; ++q) {
      if (only_queue >= 0 && q != only_queue) continue;
      const int64_t target = TimestampOffset(s, topic, q, timestamp);
      auto current = committed.find(q);
      targets[q] = force || current == committed.end() || target < current->second
                       ? target
                       : current->second;
    }
  }
  QueueTableWriter table;
  for (const auto& [q, offset] : targets) {
    if (ReplyIfError(b.offsets().Commit(group, topic, q, offset), reply)) return;
    table.Add(topic, b.config().broker_name, q, offset);
  }
  const std::string body = fmt::format("{{\"offsetTable\":{}}}", table.Object());
  log::Info("offsets of group {} on topic {} reset to {} (force {}) by {}", group, topic, timestamp,
            force, ch->remote_address());

  if (const auto g = b.consumers().FindGroup(group)) {
    for (const ClientChannel& c : g->clients) {
      remoting::ChannelPtr consumer = b.server().FindChannel(c.channel_id);
      // Java skips clients older than 3.0.7; a client that does not know the code ignores it.
      if (consumer == nullptr) continue;
      RemotingCommand notify =
          RemotingCommand::Request(remoting::request::kResetConsumerClientOffset);
      notify.Set("topic", topic);
      notify.Set("group", group);
      notify.Set("timestamp", timestamp);
      notify.Set("isForce", force ? "true" : "false");
      notify.body = body;
      consumer->InvokeOneway(std::move(notify));
    }
  }
  RemotingCommand resp;
  resp.code = kSuccess;
  resp.body = body;
  reply(std::move(resp));
}

}  // namespace

void RegisterResetOffsetProcessor(BrokerController& b) {
  b.server().Register(remoting::request::kInvokeBrokerToResetOffset, Bind(b, HandleResetOffset));
}

}  // namespace stele::broker
