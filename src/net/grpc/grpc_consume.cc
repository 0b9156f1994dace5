// Consumption over gRPC: ReceiveMessage (long polling on the broker's PopService, streamed back),
// AckMessage, ChangeInvisibleDuration, ForwardMessageToDeadLetterQueue, QueryAssignment.
#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>

#include "common/logging.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/pop_service.h"
#include "net/broker/state/names.h"
#include "net/grpc/grpc_service.h"
#include "net/remoting/codes.h"

namespace stele::rpc {
namespace {

// What PopService's errors mean for a call that names a receipt handle: a handle that is
// malformed, for another group, already acked or expired is INVALID_RECEIPT_HANDLE.
absl::Status HandleError(const absl::Status& s) {
  if (s.ok()) return s;
  if (absl::IsInvalidArgument(s) || absl::IsNotFound(s) || absl::IsFailedPrecondition(s)) {
    return Error(v2::INVALID_RECEIPT_HANDLE, broker::StatusMessage(s));
  }
  return s;
}

// One ReceiveMessage: validates, parks a PopAsync, then writes {status} and one {message} per
// popped message (or a single MESSAGE_NOT_FOUND status) and ends the stream.
//
// Lifetime: grpc deletes the reactor after OnDone, which comes only after Finish; Finish is
// called once the pop has answered (or at once when the call is cancelled before it does). The
// pop callback reaches the reactor only through `state_`, which OnDone detaches, so a late
// callback after a cancelled call finds no reactor and drops its messages: they were not acked
// and reappear when their invisible time ends.
class ReceiveReactor final : public grpc::ServerWriteReactor<v2::ReceiveMessageResponse> {
 public:
  ReceiveReactor(MessagingServiceImpl& svc, grpc::CallbackServerContext* ctx,
                 const v2::ReceiveMessageRequest& req)
      : state_(std::make_shared<State>()) {
    state_->reactor = this;
    broker::PopRequest pop;
    std::chrono::steady_clock::time_point deadline;
    absl::Status s = Prepare(svc, *ctx, req, &pop, &deadline);
    if (!s.ok()) {
      out_.emplace_back();
      *out_.back().mutable_status() = ToProto(s);
      waiting_ = false;
      StartWrite(&out_[0]);
      return;
    }
    topic_ = req.message_queue().topic();
    invisible_ms_ = pop.invisible.count();
    svc.broker().pop().PopAsync(
        std::move(pop), deadline,
        [st = state_](absl::StatusOr<std::vector<broker::PoppedMessage>> r) {
          std::lock_guard<std::mutex> l(st->mu);
          if (st->reactor != nullptr) st->reactor->Deliver(std::move(r));
        });
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> l(state_->mu);
      if (ok && ++next_ < out_.size()) {
        StartWrite(&out_[next_]);
        return;
      }
      if (!ShouldFinishLocked()) return;
    }
    Finish(grpc::Status::OK);  // outside the mutex: OnDone may follow at once
  }

  void OnCancel() override {
    {
      std::lock_guard<std::mutex> l(state_->mu);
      // While a write is pending, its OnWriteDone(false) finishes the call.
      if (!waiting_ || !ShouldFinishLocked()) return;
      waiting_ = false;  // the pop's late answer is dropped
    }
    Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    {
      std::lock_guard<std::mutex> l(state_->mu);
      state_->reactor = nullptr;
    }
    delete this;
  }

 private:
  struct State {
    std::mutex mu;
    ReceiveReactor* reactor = nullptr;  // guarded by mu; null once the call is done
  };

  static absl::Status Prepare(MessagingServiceImpl& svc, const grpc::CallbackServerContext& ctx,
                              const v2::ReceiveMessageRequest& req, broker::PopRequest* pop,
                              std::chrono::steady_clock::time_point* deadline) {
    STELE_ASSIGN_OR_RETURN(const std::string client_id, MessagingServiceImpl::ClientId(ctx));
    STELE_RETURN_IF_ERROR(TopicAndGroup(svc.broker(), req.message_queue().topic(), req.group(),
                                        &pop->topic, &pop->group));
    const GrpcOptions& o = svc.options();
    const int64_t invisible =
        req.has_invisible_duration() ? ToMillis(req.invisible_duration()) : 30000;
    if (invisible < o.min_invisible_ms || invisible > o.max_invisible_ms) {
      return Error(v2::ILLEGAL_INVISIBLE_TIME,
                   fmt::format("invisible_duration {} ms is outside [{}, {}] ms", invisible,
                               o.min_invisible_ms, o.max_invisible_ms));
    }
    pop->invisible = std::chrono::milliseconds(invisible);
    if (req.batch_size() < 0 || req.batch_size() > 32) {
      return Error(v2::BAD_REQUEST, fmt::format("batch_size {} is not in 1..32", req.batch_size()));
    }
    pop->max_messages = req.batch_size() == 0 ? 32 : req.batch_size();
    STELE_RETURN_IF_ERROR(
        ResolveFilter(svc.broker(), req.filter_expression(), &pop->filter_type).status());
    const std::string& expr = req.filter_expression().expression();
    pop->filter_expression.assign(pop->filter_type == "TAG" && expr.empty() ? "*" : expr);
    STELE_ASSIGN_OR_RETURN(
        *deadline,
        PollingDeadline(o, ctx,
                        req.has_long_polling_timeout() ? &req.long_polling_timeout() : nullptr,
                        o.max_polling_ms, /*at_least_min=*/true));
    // FIFO consumption: the group's config (consumeMessageOrderly) or the client's settings.
    const std::string group = pop->group;
    if (auto g = svc.broker().groups().Find(group)) {
      pop->fifo = g->consume_message_orderly;
      pop->max_delivery_attempts = g->retry_max_times + 1;
    }
    if (auto s = svc.FindSettings(client_id);
        s && s->has_subscription() && s->subscription().fifo()) {
      pop->fifo = true;
    }
    return absl::OkStatus();
  }

  // Called with state_->mu held.
  void Deliver(absl::StatusOr<std::vector<broker::PoppedMessage>> r) {
    if (!waiting_) return;
    waiting_ = false;
    if (!r.ok()) {
      out_.emplace_back();
      *out_.back().mutable_status() = ToProto(r.status());
    } else if (r->empty()) {
      out_.emplace_back();
      out_.back().mutable_status()->set_code(v2::MESSAGE_NOT_FOUND);
      out_.back().mutable_status()->set_message("no new message");
    } else {
      out_.resize(r->size() + 1);
      *out_[0].mutable_status() = Ok();
      for (size_t i = 0; i < r->size(); ++i) {
        const broker::PoppedMessage& p = (*r)[i];
        v2::Message* m = out_[i + 1].mutable_message();
        ToProtoMessage(p.record.msg, topic_, m);
        v2::SystemProperties* sp = m->mutable_system_properties();
        sp->set_receipt_handle(p.receipt_handle);
        sp->set_delivery_attempt(p.delivery_attempt);
        SetMillis(sp->mutable_invisible_duration(), invisible_ms_);
      }
    }
    StartWrite(&out_[0]);
  }

  bool ShouldFinishLocked() {
    if (finished_) return false;
    finished_ = true;
    return true;
  }

  std::shared_ptr<State> state_;
  v2::Resource topic_;
  int64_t invisible_ms_ = 0;
  // Guarded by state_->mu (grpc callbacks and the pop callback may run on different threads).
  bool waiting_ = true;
  bool finished_ = false;
  std::vector<v2::ReceiveMessageResponse> out_;
  size_t next_ = 0;
};

}  // namespace

absl::Status TopicAndGroup(broker::BrokerController& b, const v2::Resource& topic,
                           const v2::Resource& group, std::string* t, std::string* g) {
  STELE_ASSIGN_OR_RETURN(*g, GroupName(group));
  STELE_ASSIGN_OR_RETURN(*t, TopicName(topic));
  if (!b.topics().Get(*t)) {
    return Error(v2::TOPIC_NOT_FOUND,
                 fmt::format("topic '{}' does not exist", broker::ShortForMessage(*t)));
  }
  return absl::OkStatus();
}

absl::Status ReadQueue(broker::BrokerController& b, const v2::MessageQueue& q, std::string* topic,
                       int32_t* queue_id) {
  STELE_ASSIGN_OR_RETURN(*topic, TopicName(q.topic()));
  auto cfg = b.topics().Get(*topic);
  if (!cfg) {
    return Error(v2::TOPIC_NOT_FOUND,
                 fmt::format("topic '{}' does not exist", broker::ShortForMessage(*topic)));
  }
  if (q.id() < 0 || q.id() >= cfg->read_queue_nums) {
    return Error(v2::BAD_REQUEST, fmt::format("queue id {} is not a read queue of '{}' (0..{})",
                                              q.id(), *topic, cfg->read_queue_nums - 1));
  }
  *queue_id = q.id();
  return absl::OkStatus();
}

absl::StatusOr<broker::SubscriptionFilter> ResolveFilter(broker::BrokerController& b,
                                                         const v2::FilterExpression& f,
                                                         std::string* type) {
  if (f.type() == v2::SQL) {
    type->assign("SQL92");
  } else if (f.type() == v2::TAG || f.type() == v2::FILTER_TYPE_UNSPECIFIED) {
    type->assign("TAG");
  } else {
    return Error(v2::ILLEGAL_FILTER_EXPRESSION, "unknown filter type");
  }
  const std::string_view expr =
      f.expression().empty() && *type == "TAG" ? std::string_view("*") : f.expression();
  broker::SubscriptionFilter r = broker::ResolveSubscriptionFilter(b, *type, expr);
  if (r.error_code == remoting::response::kSubscriptionParseFailed) {
    return Error(v2::ILLEGAL_FILTER_EXPRESSION, r.error);
  }
  if (r.error_code != 0) {
    return Error(v2::UNSUPPORTED, fmt::format("{} (enablePropertyFilter=false)", r.error));
  }
  return r;
}

absl::StatusOr<std::chrono::steady_clock::time_point> PollingDeadline(
    const GrpcOptions& o, const grpc::CallbackServerContext& ctx,
    const google::protobuf::Duration* requested, int64_t fallback_ms, bool at_least_min) {
  int64_t polling = requested != nullptr ? ToMillis(*requested) : fallback_ms;
  if (polling < 0) {
    return Error(v2::ILLEGAL_POLLING_TIME,
                 fmt::format("long_polling_timeout {} ms is negative", polling));
  }
  if (at_least_min) polling = std::max(polling, o.min_polling_ms);
  polling = std::min(polling, o.max_polling_ms);
  const auto now = std::chrono::steady_clock::now();
  const auto client_deadline = ctx.deadline();
  if (client_deadline != std::chrono::system_clock::time_point::max()) {
    // What the deadline leaves, less a margin to write the answer in.
    const int64_t left = std::chrono::duration_cast<std::chrono::milliseconds>(
                             client_deadline - std::chrono::system_clock::now())
                             .count() -
                         200;
    if (polling > left) {
      if (at_least_min && left < o.min_polling_ms) {
        return Error(v2::ILLEGAL_POLLING_TIME,
                     fmt::format("the deadline leaves {} ms, less than the {} ms a receive may "
                                 "poll; please check network condition",
                                 std::max<int64_t>(left, 0), o.min_polling_ms));
      }
      polling = std::max<int64_t>(left, 0);
    }
  }
  return now + std::chrono::milliseconds(polling);
}

grpc::ServerWriteReactor<v2::ReceiveMessageResponse>* MessagingServiceImpl::ReceiveMessage(
    grpc::CallbackServerContext* ctx, const v2::ReceiveMessageRequest* req) {
  return new ReceiveReactor(*this, ctx, *req);
}

grpc::ServerUnaryReactor* MessagingServiceImpl::AckMessage(grpc::CallbackServerContext* ctx,
                                                           const v2::AckMessageRequest* req,
                                                           v2::AckMessageResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  std::string topic, group;
  absl::Status s = ClientId(*ctx).status();
  if (s.ok()) s = TopicAndGroup(b_, req->topic(), req->group(), &topic, &group);
  if (s.ok() && req->entries_size() == 0) s = Error(v2::BAD_REQUEST, "no entries to ack");
  if (!s.ok()) {
    *resp->mutable_status() = ToProto(s);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  bool same = true;
  for (const v2::AckMessageEntry& in : req->entries()) {
    v2::AckMessageResultEntry* e = resp->add_entries();
    e->set_message_id(in.message_id());
    e->set_receipt_handle(in.receipt_handle());
    absl::Status r = in.receipt_handle().empty()
                         ? Error(v2::INVALID_RECEIPT_HANDLE, "receipt_handle is empty")
                         : HandleError(b_.pop().Ack(group, topic, in.receipt_handle()));
    *e->mutable_status() = ToProto(r);
    same &= e->status().code() == resp->entries(0).status().code();
  }
  if (same) {
    *resp->mutable_status() = resp->entries(0).status();
  } else {
    resp->mutable_status()->set_code(v2::MULTIPLE_RESULTS);
    resp->mutable_status()->set_message("the entries have different results");
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* MessagingServiceImpl::ChangeInvisibleDuration(
    grpc::CallbackServerContext* ctx, const v2::ChangeInvisibleDurationRequest* req,
    v2::ChangeInvisibleDurationResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  auto run = [&]() -> absl::Status {
    STELE_RETURN_IF_ERROR(ClientId(*ctx).status());
    std::string topic, group;
    STELE_RETURN_IF_ERROR(TopicAndGroup(b_, req->topic(), req->group(), &topic, &group));
    const int64_t ms = ToMillis(req->invisible_duration());
    if (ms < 0 || ms > options_.max_invisible_ms) {
      return Error(v2::ILLEGAL_INVISIBLE_TIME,
                   fmt::format("invisible_duration {} ms is outside [0, {}] ms", ms,
                               options_.max_invisible_ms));
    }
    if (req->receipt_handle().empty()) {
      return Error(v2::INVALID_RECEIPT_HANDLE, "receipt_handle is empty");
    }
    auto h = b_.pop().ChangeInvisibleDuration(group, topic, req->receipt_handle(),
                                              std::chrono::milliseconds(ms));
    STELE_RETURN_IF_ERROR(HandleError(h.status()));
    resp->set_receipt_handle(*h);
    return absl::OkStatus();
  };
  *resp->mutable_status() = ToProto(run());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* MessagingServiceImpl::ForwardMessageToDeadLetterQueue(
    grpc::CallbackServerContext* ctx, const v2::ForwardMessageToDeadLetterQueueRequest* req,
    v2::ForwardMessageToDeadLetterQueueResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  auto run = [&]() -> absl::Status {
    STELE_RETURN_IF_ERROR(ClientId(*ctx).status());
    std::string topic, group;
    STELE_RETURN_IF_ERROR(TopicAndGroup(b_, req->topic(), req->group(), &topic, &group));
    if (req->receipt_handle().empty()) {
      return Error(v2::INVALID_RECEIPT_HANDLE, "receipt_handle is empty");
    }
    return HandleError(b_.pop().ForwardToDeadLetter(group, topic, req->receipt_handle()));
  };
  *resp->mutable_status() = ToProto(run());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* MessagingServiceImpl::QueryAssignment(
    grpc::CallbackServerContext* ctx, const v2::QueryAssignmentRequest* req,
    v2::QueryAssignmentResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  auto run = [&]() -> absl::Status {
    STELE_RETURN_IF_ERROR(ClientId(*ctx).status());
    std::string topic, group;
    STELE_RETURN_IF_ERROR(TopicAndGroup(b_, req->topic(), req->group(), &topic, &group));
    auto cfg = b_.topics().Get(topic);
    const int perm = cfg ? cfg->perm & b_.broker_permission() : 0;
    if (!cfg || !broker::IsReadable(perm) || cfg->read_queue_nums == 0) {
      return Error(v2::FORBIDDEN, fmt::format("topic '{}' has no readable queue", topic));
    }
    // One assignment for the whole broker (queue id -1): ReceiveMessage pops from every queue.
    v2::MessageQueue* q = resp->add_assignments()->mutable_message_queue();
    *q->mutable_topic() = req->topic();
    q->set_id(-1);
    q->set_permission(broker::IsWriteable(perm) ? v2::READ_WRITE : v2::READ);
    FillBroker(req->has_endpoints() ? &req->endpoints() : nullptr, q->mutable_broker());
    return absl::OkStatus();
  };
  absl::Status s = run();
  if (!s.ok()) resp->clear_assignments();
  *resp->mutable_status() = ToProto(s);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace stele::rpc
