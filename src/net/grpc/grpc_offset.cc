// The offset RPCs on the broker's consumer-offset table (ConsumerOffsetManager: the table remoting
// consumers commit to and admin tools read, persisted to consumerOffset.json like their offsets):
// UpdateOffset commits, GetOffset reads the committed offset, QueryOffset reads the queue itself
// (first offset, end, or the first message stored at or after a time).
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/state/names.h"
#include "net/grpc/grpc_service.h"

namespace stele::rpc {
namespace {

// Runs `run` and answers its status in `resp`.
template <typename Resp, typename Fn>
grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* ctx, Resp* resp, Fn run) {
  auto* reactor = ctx->DefaultReactor();
  absl::Status s = run();
  if (!s.ok()) resp->Clear();
  *resp->mutable_status() = ToProto(s);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* MessagingServiceImpl::UpdateOffset(grpc::CallbackServerContext* ctx,
                                                             const v2::UpdateOffsetRequest* req,
                                                             v2::UpdateOffsetResponse* resp) {
  return Answer(ctx, resp, [&]() -> absl::Status {
    STELE_RETURN_IF_ERROR(ClientId(*ctx).status());
    STELE_ASSIGN_OR_RETURN(const std::string group, GroupName(req->group()));
    std::string topic;
    int32_t queue_id = 0;
    STELE_RETURN_IF_ERROR(ReadQueue(b_, req->message_queue(), &topic, &queue_id));
    // An offset the queue can hold: RocketMQ consumers commit at most the end (the next message
    // to consume); negative offsets are never stored.
    const int64_t max = b_.store().MaxQueueOffset(topic, queue_id);
    if (req->offset() < 0 || req->offset() > max) {
      return Error(v2::ILLEGAL_OFFSET, fmt::format("offset {} is outside [0, {}] of {} queue {}",
                                                   req->offset(), max, topic, queue_id));
    }
    return b_.offsets().Commit(group, topic, queue_id, req->offset());
  });
}

grpc::ServerUnaryReactor* MessagingServiceImpl::GetOffset(grpc::CallbackServerContext* ctx,
                                                          const v2::GetOffsetRequest* req,
                                                          v2::GetOffsetResponse* resp) {
  return Answer(ctx, resp, [&]() -> absl::Status {
    STELE_RETURN_IF_ERROR(ClientId(*ctx).status());
    STELE_ASSIGN_OR_RETURN(const std::string group, GroupName(req->group()));
    std::string topic;
    int32_t queue_id = 0;
    STELE_RETURN_IF_ERROR(ReadQueue(b_, req->message_queue(), &topic, &queue_id));
    auto committed = b_.offsets().Query(group, topic, queue_id);
    if (!committed) {
      return Error(v2::OFFSET_NOT_FOUND,
                   fmt::format("group {} has no offset on {} queue {}", group, topic, queue_id));
    }
    resp->set_offset(*committed);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* MessagingServiceImpl::QueryOffset(grpc::CallbackServerContext* ctx,
                                                            const v2::QueryOffsetRequest* req,
                                                            v2::QueryOffsetResponse* resp) {
  return Answer(ctx, resp, [&]() -> absl::Status {
    STELE_RETURN_IF_ERROR(ClientId(*ctx).status());
    std::string topic;
    int32_t queue_id = 0;
    STELE_RETURN_IF_ERROR(ReadQueue(b_, req->message_queue(), &topic, &queue_id));
    switch (req->query_offset_policy()) {
      case v2::BEGINNING:
        resp->set_offset(b_.store().MinQueueOffset(topic, queue_id));
        return absl::OkStatus();
      case v2::END:
        resp->set_offset(b_.store().MaxQueueOffset(topic, queue_id));
        return absl::OkStatus();
      case v2::TIMESTAMP: {
        if (!req->has_timestamp()) {
          return Error(v2::BAD_REQUEST, "query_offset_policy TIMESTAMP needs a timestamp");
        }
        const int64_t ms = ToMillis(req->timestamp());
        if (ms < 0) return Error(v2::BAD_REQUEST, fmt::format("timestamp {} is negative", ms));
        // An empty queue (never written) has nothing to search: its end is the answer.
        if (b_.store().MaxQueueOffset(topic, queue_id) == 0) {
          resp->set_offset(0);
          return absl::OkStatus();
        }
        STELE_ASSIGN_OR_RETURN(const int64_t off,
                               b_.store().SearchQueueOffset(topic, queue_id, ms));
        resp->set_offset(off);
        return absl::OkStatus();
      }
      default:
        return Error(v2::BAD_REQUEST, fmt::format("unknown query_offset_policy {}",
                                                  static_cast<int>(req->query_offset_policy())));
    }
  });
}

}  // namespace stele::rpc
