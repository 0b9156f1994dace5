// PullMessage: reads one queue from an offset with the call's tag or SQL92 filter, as PULL_MESSAGE
// does for remoting consumers, and streams back {status}, one {message} per record, {next_offset}.
// When nothing new matches, the call is held on the broker's PullHoldService (woken by the store's
// arrival listener, no polling) until a message arrives or its polling time ends.
//
// Offsets outside the queue are corrected as RocketMQ 5 does: below the min offset (removed by
// retention) reads from the min offset; past the end reads (and waits) at the end. The answer's
// next_offset says where to continue.
#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>

#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/pull_hold.h"
#include "net/broker/state/names.h"
#include "net/grpc/grpc_service.h"

namespace stele::rpc {
namespace {

// Consume-queue reads per attempt when the filter skips whole batches, before the call holds.
constexpr int kMaxFilterScans = 16;
constexpr int kMaxPullBatch = 32;

// Lifetime as ReceiveReactor's: grpc deletes the reactor after OnDone; a held retry reaches it only
// through `state_`, which OnDone detaches, so a retry after a cancelled call does nothing.
class PullReactor final : public grpc::ServerWriteReactor<v2::PullMessageResponse> {
 public:
  PullReactor(MessagingServiceImpl& svc, grpc::CallbackServerContext* ctx,
              const v2::PullMessageRequest& req)
      : b_(svc.broker()), state_(std::make_shared<State>()) {
    state_->reactor = this;
    absl::Status s = Prepare(svc, *ctx, req);
    std::optional<HoldAt> hold;
    {
      std::lock_guard<std::mutex> l(state_->mu);
      if (!s.ok()) {
        AnswerLocked(s, {});
        return;
      }
      hold = AttemptLocked(/*allow_hold=*/true);
    }
    // Outside the mutex: Hold runs the retry at once when the service is stopping.
    if (hold) {
      b_.pull_hold().Hold(hold->topic, queue_id_, hold->offset, hold->deadline_ms, [st = state_] {
        std::lock_guard<std::mutex> l(st->mu);
        if (st->reactor != nullptr) st->reactor->AttemptLocked(false);
      });
    }
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
      if (answered_ || !ShouldFinishLocked()) return;
      answered_ = true;  // a held retry finds nothing to do
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
    PullReactor* reactor = nullptr;  // guarded by mu; null once the call is done
  };

  absl::Status Prepare(MessagingServiceImpl& svc, const grpc::CallbackServerContext& ctx,
                       const v2::PullMessageRequest& req) {
    STELE_RETURN_IF_ERROR(MessagingServiceImpl::ClientId(ctx).status());
    STELE_RETURN_IF_ERROR(GroupName(req.group()).status());
    STELE_RETURN_IF_ERROR(ReadQueue(b_, req.message_queue(), &topic_, &queue_id_));
    auto cfg = b_.topics().Get(topic_);
    if (!cfg || !broker::IsReadable(cfg->perm & b_.broker_permission())) {
      return Error(v2::FORBIDDEN, fmt::format("topic '{}' is not readable", topic_));
    }
    if (req.offset() < 0) {
      return Error(v2::ILLEGAL_OFFSET, fmt::format("offset {} is negative", req.offset()));
    }
    if (req.batch_size() < 0 || req.batch_size() > kMaxPullBatch) {
      return Error(v2::BAD_REQUEST,
                   fmt::format("batch_size {} is not in 1..{}", req.batch_size(), kMaxPullBatch));
    }
    max_messages_ = req.batch_size() == 0 ? kMaxPullBatch : req.batch_size();
    std::string type;
    STELE_ASSIGN_OR_RETURN(filter_, ResolveFilter(b_, req.filter_expression(), &type));
    STELE_ASSIGN_OR_RETURN(
        deadline_,
        PollingDeadline(svc.options(), ctx,
                        req.has_long_polling_timeout() ? &req.long_polling_timeout() : nullptr, 0,
                        /*at_least_min=*/false));
    resource_ = req.message_queue().topic();
    offset_ = req.offset();
    return absl::OkStatus();
  }

  // Where to hold a call that found nothing new.
  struct HoldAt {
    std::string topic;
    int64_t offset = 0;
    int64_t deadline_ms = 0;  // PullHoldService's clock
  };

  // Reads from offset_ and answers what it found. When it found nothing before the deadline and
  // `allow_hold`, returns where the caller should hold the call instead (without state_->mu): the
  // held retry then reads once more and answers, whatever it finds (as PULL_MESSAGE's hold).
  // Called with state_->mu held.
  std::optional<HoldAt> AttemptLocked(bool allow_hold) {
    if (answered_) return std::nullopt;
    GetOptions opts;
    opts.max_messages = max_messages_;
    filter_.Apply(&opts);
    const auto now = std::chrono::steady_clock::now();
    for (int scan = 0; scan < kMaxFilterScans; ++scan) {
      const int64_t min = b_.store().MinQueueOffset(topic_, queue_id_);
      const int64_t max = b_.store().MaxQueueOffset(topic_, queue_id_);
      offset_ = std::clamp(offset_, min, std::max(min, max));
      if (offset_ >= max) break;  // nothing new: hold at the end
      auto r = b_.store().Get(topic_, queue_id_, offset_, opts);
      if (!r.ok()) {
        AnswerLocked(r.status(), {});
        return std::nullopt;
      }
      if (!r->messages.empty()) {
        offset_ = r->next_begin_offset;
        AnswerLocked(absl::OkStatus(), std::move(r->messages));
        return std::nullopt;
      }
      if (r->next_begin_offset <= offset_) break;  // no progress (e.g. entries unreadable)
      offset_ = r->next_begin_offset;              // all filtered out: read on
    }
    if (!allow_hold || now >= deadline_) {
      AnswerLocked(absl::OkStatus(), {});
      return std::nullopt;
    }
    const int64_t wait_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - now).count();
    return HoldAt{topic_, offset_, broker::PullHoldService::NowMs() + wait_ms};
  }

  // Writes {status}, the messages, {next_offset}. Called with state_->mu held.
  void AnswerLocked(const absl::Status& s, std::vector<RecordRef> msgs) {
    answered_ = true;
    out_.emplace_back();
    if (!s.ok()) {
      *out_.back().mutable_status() = ToProto(s);
    } else if (msgs.empty()) {
      out_.back().mutable_status()->set_code(v2::MESSAGE_NOT_FOUND);
      out_.back().mutable_status()->set_message("no new message");
    } else {
      *out_.back().mutable_status() = Ok();
      for (const RecordRef& rec : msgs) {
        out_.emplace_back();
        ToProtoMessage(rec.msg, resource_, out_.back().mutable_message());
      }
    }
    if (s.ok()) {
      out_.emplace_back();
      out_.back().set_next_offset(offset_);
    }
    StartWrite(&out_[0]);
  }

  bool ShouldFinishLocked() {
    if (finished_) return false;
    finished_ = true;
    return true;
  }

  broker::BrokerController& b_;
  std::shared_ptr<State> state_;
  std::string topic_;
  int32_t queue_id_ = 0;
  v2::Resource resource_;
  int max_messages_ = kMaxPullBatch;
  broker::SubscriptionFilter filter_;
  std::chrono::steady_clock::time_point deadline_;
  // Guarded by state_->mu (grpc callbacks and held retries run on different threads).
  int64_t offset_ = 0;
  bool answered_ = false;
  bool finished_ = false;
  std::vector<v2::PullMessageResponse> out_;
  size_t next_ = 0;
};

}  // namespace

grpc::ServerWriteReactor<v2::PullMessageResponse>* MessagingServiceImpl::PullMessage(
    grpc::CallbackServerContext* ctx, const v2::PullMessageRequest* req) {
  return new PullReactor(*this, ctx, *req);
}

}  // namespace stele::rpc
