// Consumer offsets (QUERY_CONSUMER_OFFSET 14, UPDATE_CONSUMER_OFFSET 15) and queue offsets
// (GET_MAX_OFFSET 30, GET_MIN_OFFSET 31, SEARCH_OFFSET_BY_TIMESTAMP 29,
// GET_EARLIEST_MSG_STORETIME 32).
#include <unistd.h>

#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/processor_util.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

using namespace remoting::response;

struct QueueRef {
  std::string topic;
  int32_t queue_id = 0;
};

absl::StatusOr<QueueRef> ParseQueue(const RemotingCommand& req) {
  QueueRef q;
  STELE_ASSIGN_OR_RETURN(q.topic, req.RequireString("topic"));
  const bool internal = IsRetryTopic(q.topic) || IsDlqTopic(q.topic);
  STELE_RETURN_IF_ERROR(internal ? ValidateInternalTopic(q.topic) : ValidateTopic(q.topic));
  STELE_ASSIGN_OR_RETURN(int64_t qid, req.RequireInt("queueId"));
  if (qid < 0 || qid > INT32_MAX) return absl::InvalidArgumentError("queueId out of range");
  q.queue_id = static_cast<int32_t>(qid);
  return q;
}

void ReplyOffset(const Reply& reply, int64_t offset) {
  RemotingCommand resp;
  resp.code = kSuccess;
  resp.Set("offset", offset);
  reply(std::move(resp));
}

// RocketMQ starts a group with no committed offset at 0 when the queue's first message is still
// cheap to read (in memory), so a new group sees a new queue from its start; otherwise the
// client's consumeFromWhere decides. "In memory" = within 40% of RAM of the log's end.
bool FirstMessageInMemory(Store& store, const QueueRef& q) {
  if (store.MinQueueOffset(q.topic, q.queue_id) > 0) return false;
  GetOptions one;
  one.max_messages = 1;
  auto got = store.Get(q.topic, q.queue_id, 0, one);
  if (!got.ok() || got->messages.empty()) return true;  // nothing stored yet: start at 0
  const int64_t ram = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  return store.MaxOffset() - got->messages.front().offset < ram * 40 / 100;
}

void HandleQueryConsumerOffset(BrokerController& b, const ChannelPtr&, RemotingCommand req,
                               Reply reply) {
  STELE_FIELD_OR_REPLY(const QueueRef q, ParseQueue(req), reply);
  STELE_FIELD_OR_REPLY(const std::string group, req.RequireString("consumerGroup"), reply);
  if (auto off = b.offsets().Query(group, q.topic, q.queue_id)) {
    ReplyOffset(reply, *off);
    return;
  }
  STELE_FIELD_OR_REPLY(const bool zero_if_not_found, req.BoolOr("setZeroIfNotFound", false), reply);
  if (zero_if_not_found || FirstMessageInMemory(b.store(), q)) {
    ReplyOffset(reply, 0);
    return;
  }
  reply(kQueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first");
}

void HandleUpdateConsumerOffset(BrokerController& b, const ChannelPtr&, RemotingCommand req,
                                Reply reply) {
  STELE_FIELD_OR_REPLY(const QueueRef q, ParseQueue(req), reply);
  STELE_FIELD_OR_REPLY(const std::string group, req.RequireString("consumerGroup"), reply);
  if (ReplyIfError(ValidateGroup(group), reply)) return;
  STELE_FIELD_OR_REPLY(const int64_t offset, req.RequireInt("commitOffset"), reply);
  // ali-ons sends -1 for a queue at offset 0; a negative offset carries no progress.
  if (offset >= 0 && ReplyIfError(b.offsets().Commit(group, q.topic, q.queue_id, offset), reply)) {
    return;
  }
  reply(kSuccess);
}

void HandleMaxOffset(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const QueueRef q, ParseQueue(req), reply);
  ReplyOffset(reply, b.store().MaxQueueOffset(q.topic, q.queue_id));
}

void HandleMinOffset(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const QueueRef q, ParseQueue(req), reply);
  ReplyOffset(reply, b.store().MinQueueOffset(q.topic, q.queue_id));
}

void HandleSearchOffset(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const QueueRef q, ParseQueue(req), reply);
  STELE_FIELD_OR_REPLY(const int64_t ts, req.RequireInt("timestamp"), reply);
  auto off = b.store().SearchQueueOffset(q.topic, q.queue_id, ts);
  ReplyOffset(reply, off.ok() ? *off : 0);
}

void HandleEarliestStoreTime(BrokerController& b, const ChannelPtr&, RemotingCommand req,
                             Reply reply) {
  STELE_FIELD_OR_REPLY(const QueueRef q, ParseQueue(req), reply);
  auto t = b.store().QueueOffsetStoreTime(q.topic, q.queue_id,
                                          b.store().MinQueueOffset(q.topic, q.queue_id));
  if (!t.ok()) {
    reply(kSystemError, fmt::format("Find earliest msg store time failed: {}",
                                    std::string(t.status().message())));
    return;
  }
  RemotingCommand resp;
  resp.code = kSuccess;
  resp.Set("timestamp", *t);
  reply(std::move(resp));
}

}  // namespace

void RegisterOffsetProcessor(BrokerController& b) {
  using namespace remoting::request;
  b.server().Register(kQueryConsumerOffset, Bind(b, HandleQueryConsumerOffset));
  b.server().Register(kUpdateConsumerOffset, Bind(b, HandleUpdateConsumerOffset));
  b.server().Register(kGetMaxOffset, Bind(b, HandleMaxOffset));
  b.server().Register(kGetMinOffset, Bind(b, HandleMinOffset));
  b.server().Register(kSearchOffsetByTimestamp, Bind(b, HandleSearchOffset));
  b.server().Register(kGetEarliestMsgStoretime, Bind(b, HandleEarliestStoreTime));
}

}  // namespace stele::broker
