// Message lookups: VIEW_MESSAGE_BY_ID (33, by commit-log offset, decoded from an offset msgId by
// the client) and QUERY_MESSAGE (12, by key or UNIQ_KEY through the hash index). Both answer with
// stored records in the commit-log format (protocol.md 2.7), as RocketMQ's QueryMessageProcessor.
#include <algorithm>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/processor_util.h"
#include "net/broker/state/names.h"
#include "net/remoting/codec.h"

namespace stele::broker {
namespace {

using namespace remoting::response;

// MessageStoreConfig.defaultQueryMaxNum: the cap on a query by unique key.
constexpr int64_t kDefaultQueryMaxNum = 32;
// Room for the response header within one frame.
constexpr size_t kMaxQueryBodyBytes = remoting::kMaxFrameSize - (64u << 10);

void HandleViewById(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const int64_t offset, req.RequireInt("offset"), reply);
  auto rec = b.store().Read(offset);
  if (!rec.ok() || rec->offset != offset) {  // also: not the start of a record
    reply(kSystemError, fmt::format("can not find message by the offset, {}", offset));
    return;
  }
  RemotingCommand resp;
  resp.code = kSuccess;
  resp.body = std::string(rec->bytes);
  reply(std::move(resp));
}

struct QueryHeader {
  std::string topic;
  std::string key;
  int64_t max_num = 0;
  int64_t begin = 0;
  int64_t end = 0;
  bool unique_key = false;
};

absl::StatusOr<QueryHeader> ParseQueryHeader(const RemotingCommand& req) {
  QueryHeader h;
  STELE_ASSIGN_OR_RETURN(h.topic, req.RequireString("topic"));
  const bool internal = IsRetryTopic(h.topic) || IsDlqTopic(h.topic);
  STELE_RETURN_IF_ERROR(internal ? ValidateInternalTopic(h.topic) : ValidateTopic(h.topic));
  STELE_ASSIGN_OR_RETURN(h.key, req.RequireString("key"));
  STELE_ASSIGN_OR_RETURN(h.max_num, req.RequireInt("maxNum"));
  STELE_ASSIGN_OR_RETURN(h.begin, req.RequireInt("beginTimestamp"));
  STELE_ASSIGN_OR_RETURN(h.end, req.RequireInt("endTimestamp"));
  // MixAll.UNIQUE_MSG_QUERY_FLAG: compared as a string, as RocketMQ does.
  const std::string* unique = req.Field("_UNIQUE_KEY_QUERY");
  h.unique_key = unique != nullptr && *unique == "true";
  return h;
}

void HandleQueryMessage(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(QueryHeader h, ParseQueryHeader(req), reply);
  if (h.unique_key) h.max_num = kDefaultQueryMaxNum;
  std::vector<RecordRef> found;
  if (h.max_num > 0) {
    auto r = b.store().QueryByKey(
        h.topic, h.key, static_cast<int>(std::min<int64_t>(h.max_num, 1 << 20)), h.begin, h.end);
    if (absl::IsFailedPrecondition(r.status())) {  // the index is off
      reply(kQueryNotFound, std::string(r.status().message()));
      return;
    }
    if (ReplyIfError(r.status(), reply)) return;
    found = std::move(*r);
  }
  RemotingCommand resp;
  for (const RecordRef& rec : found) {
    if (!resp.body.empty() && resp.body.size() + rec.bytes.size() > kMaxQueryBodyBytes) break;
    resp.body.append(rec.bytes);
  }
  // RocketMQ reports its last index file's end; the index covers the log up to the dispatched
  // offset, and was brought up to date just now.
  resp.Set("indexLastUpdateTimestamp", NowMs());
  resp.Set("indexLastUpdatePhyoffset", b.store().DispatchedOffset());
  if (resp.body.empty()) {
    resp.code = kQueryNotFound;
    resp.remark = "can not find message, maybe time range not correct";
  } else {
    resp.code = kSuccess;
  }
  reply(std::move(resp));
}

}  // namespace

void RegisterQueryProcessor(BrokerController& b) {
  b.server().Register(remoting::request::kViewMessageById, Bind(b, HandleViewById));
  b.server().Register(remoting::request::kQueryMessage, Bind(b, HandleQueryMessage));
}

}  // namespace stele::broker
