// SendMessage and EndTransaction: gRPC messages stored through the broker's MessageWriter (which
// redirects delay-level and prepared transaction messages), transactions ended through the same
// path as remoting's END_TRANSACTION.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/message_writer.h"
#include "net/broker/metrics/broker_stats.h"
#include "net/broker/state/names.h"
#include "net/broker/transaction_service.h"
#include "net/grpc/grpc_service.h"
#include "net/remoting/codes.h"

namespace stele::rpc {
namespace {

// Most messages in one SendMessage (each may be up to maxMessageSize; grpc bounds the total).
constexpr int kMaxBatch = 1024;
// How far a DELAY message's delivery time may be from a delay level's wait and still use it.
constexpr int64_t kDelayToleranceMs = 1500;

// The transaction id handed to the producer: where the half message is, so EndTransaction can
// find it again without any table ("<commit-log offset>.<half queue offset>", decimal).
std::string TransactionId(const AppendResult& r) {
  return fmt::format("{}.{}", r.wrote_offset, r.queue_offset);
}

absl::Status ParseTransactionId(std::string_view id, int64_t* clog, int64_t* qoff) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::string_view(id.data(), id.size()), '.');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], clog) || !absl::SimpleAtoi(parts[1], qoff) ||
      *clog < 0 || *qoff < 0) {
    return Error(v2::INVALID_TRANSACTION_ID,
                 fmt::format("transaction_id '{}' was not issued by this broker",
                             broker::ShortForMessage(id)));
  }
  return absl::OkStatus();
}

// A DELAY message carries its delivery time as TIMER_DELIVER_MS, which the broker's timer wheel
// honours (MessageWriter parks it, or refuses it past timerMaxDelaySec). With the wheel switched
// off (timerWheelEnable=false) a delivery time that matches a delay level's wait still goes out
// at that level; a time already passed means "deliver now".
absl::Status ApplyDelay(broker::BrokerController& b, broker::OutgoingMessage* m) {
  if (b.config().timer_wheel_enable) return absl::OkStatus();
  auto at = m->properties.Get(kPropTimerDeliverMs);
  int64_t at_ms = 0;
  if (!at || !absl::SimpleAtoi(absl::string_view(at->data(), at->size()), &at_ms)) {
    return absl::OkStatus();
  }
  // MessageWriter refuses timer properties while the wheel is off.
  m->properties.Remove(kPropTimerDeliverMs);
  const int64_t wait = at_ms - NowMillis();
  if (wait <= kDelayToleranceMs) return absl::OkStatus();
  const broker::MessageWriter& w = b.writer();
  for (int level = 1; level <= w.max_delay_level(); ++level) {
    if (std::llabs(w.delay_ms(level) - wait) <= kDelayToleranceMs) {
      m->properties.Set(broker::kPropDelayLevel, std::to_string(level));
      return absl::OkStatus();
    }
  }
  return Error(
      v2::UNSUPPORTED,
      fmt::format("timerWheelEnable is false: this broker delivers delayed messages only "
                  "at its messageDelayLevel waits ({}); a delivery {} ms ahead matches none",
                  b.config().message_delay_level, wait));
}

v2::Status PutStatus(const absl::StatusOr<AppendResult>& r) {
  if (!r.ok()) return ToProto(r.status());
  if (r->status == PutMessageStatus::kFlushDiskTimeout) {
    v2::Status st;
    st.set_code(v2::MASTER_PERSISTENCE_TIMEOUT);
    st.set_message("stored, but flushing to disk timed out");
    return st;
  }
  return Ok();
}

// Collects the per-message results of one SendMessage; the last one finishes the call.
struct SendCall {
  grpc::ServerUnaryReactor* reactor;
  v2::SendMessageResponse* resp;
  std::mutex mu;
  int pending = 0;

  void Done(int index, const absl::StatusOr<AppendResult>& r, bool transaction) {
    std::unique_lock<std::mutex> l(mu);
    v2::SendResultEntry* e = resp->mutable_entries(index);
    *e->mutable_status() = PutStatus(r);
    if (r.ok()) {
      e->set_offset(r->queue_offset);
      if (transaction) e->set_transaction_id(TransactionId(*r));
    }
    if (--pending > 0) return;
    // One code for all, or MULTIPLE_RESULTS.
    const v2::Status& first = resp->entries(0).status();
    bool same = true;
    for (const auto& x : resp->entries()) same &= x.status().code() == first.code();
    if (same) {
      *resp->mutable_status() = first;
    } else {
      resp->mutable_status()->set_code(v2::MULTIPLE_RESULTS);
      resp->mutable_status()->set_message("the messages have different results");
    }
    l.unlock();
    reactor->Finish(grpc::Status::OK);
  }
};

}  // namespace

grpc::ServerUnaryReactor* MessagingServiceImpl::SendMessage(grpc::CallbackServerContext* ctx,
                                                            const v2::SendMessageRequest* req,
                                                            v2::SendMessageResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  std::vector<broker::OutgoingMessage> msgs;
  std::vector<bool> transaction;
  std::vector<std::pair<broker::metrics::MessageType, int64_t>> kinds;  // for the counters
  auto prepare = [&]() -> absl::Status {
    STELE_RETURN_IF_ERROR(ClientId(*ctx).status());
    if (req->messages_size() == 0) return Error(v2::BAD_REQUEST, "no messages to send");
    if (req->messages_size() > kMaxBatch) {
      return Error(v2::BAD_REQUEST, fmt::format("more than {} messages in one request", kMaxBatch));
    }
    STELE_ASSIGN_OR_RETURN(const std::string topic, TopicName(req->messages(0).topic()));
    if (broker::IsNotAllowedSendTopic(topic) || b_.topics().IsSystemTopic(topic)) {
      return Error(v2::FORBIDDEN, fmt::format("sending to system topic '{}' is forbidden", topic));
    }
    if (!broker::IsWriteable(b_.broker_permission())) {
      return Error(v2::FORBIDDEN, fmt::format("broker '{}' does not accept messages now",
                                              b_.config().broker_name));
    }
    auto cfg = b_.TopicForSend(topic, b_.config().default_topic_queue_nums);
    if (!cfg.ok()) {
      return Error(v2::TOPIC_NOT_FOUND,
                   fmt::format("topic '{}' does not exist", broker::ShortForMessage(topic)));
    }
    if (!broker::IsWriteable(cfg->perm)) {
      return Error(v2::FORBIDDEN, fmt::format("topic '{}' is not writable", topic));
    }
    SendLimits limits;
    limits.max_body_size = b_.config().store.max_message_size;
    static std::atomic<uint32_t> round_robin{0};
    const auto peer = HostAddress::Parse(PeerAddress(*ctx));
    for (const v2::Message& in : req->messages()) {
      if (FullName(in.topic()) != topic) {
        return Error(v2::BAD_REQUEST, "all messages of one request must have the same topic");
      }
      broker::OutgoingMessage m;
      v2::MessageType type = v2::NORMAL;
      STELE_RETURN_IF_ERROR(ToOutgoing(in, limits, &m, &type));
      if (type == v2::TRANSACTION && b_.reject_transaction_message()) {
        return Error(v2::FORBIDDEN, "this broker refuses transaction messages");
      }
      if (type == v2::TRANSACTION && req->messages_size() > 1) {
        return Error(v2::BAD_REQUEST, "a batch cannot hold transaction messages");
      }
      if (type == v2::DELAY) STELE_RETURN_IF_ERROR(ApplyDelay(b_, &m));
      const int nq = std::max(1, cfg->write_queue_nums);
      if (auto g = m.properties.Get(kPropShardingKey)) {
        m.queue_id = static_cast<int32_t>(GroupHash(*g) % static_cast<uint32_t>(nq));
      } else {
        m.queue_id = static_cast<int32_t>(round_robin.fetch_add(1) % static_cast<uint32_t>(nq));
      }
      m.topic = topic;
      m.from_producer = true;  // a retry with the same message_id gets the first result
      m.properties.Set(broker::kPropCluster, b_.config().broker_cluster_name);
      if (peer.ok()) m.born_host = *peer;
      kinds.emplace_back(type == v2::FIFO          ? broker::metrics::MessageType::kFifo
                         : type == v2::DELAY       ? broker::metrics::MessageType::kDelay
                         : type == v2::TRANSACTION ? broker::metrics::MessageType::kTransaction
                                                   : broker::metrics::MessageType::kNormal,
                         static_cast<int64_t>(m.body.size()));
      msgs.push_back(std::move(m));
      transaction.push_back(type == v2::TRANSACTION);
    }
    return absl::OkStatus();
  };
  if (absl::Status s = prepare(); !s.ok()) {
    *resp->mutable_status() = ToProto(s);
    for (const v2::Message& in : req->messages()) {
      v2::SendResultEntry* e = resp->add_entries();
      *e->mutable_status() = resp->status();
      e->set_message_id(in.system_properties().message_id());
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  auto call = std::make_shared<SendCall>();
  call->reactor = reactor;
  call->resp = resp;
  call->pending = static_cast<int>(msgs.size());
  for (const v2::Message& in : req->messages()) {
    resp->add_entries()->set_message_id(in.system_properties().message_id());
  }
  for (size_t i = 0; i < msgs.size(); ++i) {
    const bool tx = transaction[i];
    std::string topic = msgs[i].topic;
    b_.writer().Put(std::move(msgs[i]), [call, i, tx, stats = &b_.stats(), kind = kinds[i],
                                         topic = std::move(topic)](absl::StatusOr<AppendResult> r) {
      if (r.ok()) stats->OnMessageIn(topic, kind.first, kind.second);
      call->Done(static_cast<int>(i), r, tx);
    });
  }
  return reactor;
}

grpc::ServerUnaryReactor* MessagingServiceImpl::EndTransaction(grpc::CallbackServerContext* ctx,
                                                               const v2::EndTransactionRequest* req,
                                                               v2::EndTransactionResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  int64_t clog = 0, qoff = 0;
  auto check = [&]() -> absl::Status {
    STELE_RETURN_IF_ERROR(ClientId(*ctx).status());
    STELE_RETURN_IF_ERROR(TopicName(req->topic()).status());
    STELE_RETURN_IF_ERROR(ParseTransactionId(req->transaction_id(), &clog, &qoff));
    if (req->resolution() != v2::COMMIT && req->resolution() != v2::ROLLBACK) {
      return Error(v2::BAD_REQUEST, "resolution must be COMMIT or ROLLBACK");
    }
    return absl::OkStatus();
  };
  if (absl::Status s = check(); !s.ok()) {
    *resp->mutable_status() = ToProto(s);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  broker::EndTransaction(
      b_, "", clog, qoff, req->resolution() == v2::COMMIT,
      [reactor, resp](int32_t code, std::string remark) {
        v2::Status* st = resp->mutable_status();
        if (code == remoting::response::kSuccess) {
          *st = Ok();
        } else {
          st->set_code(code == remoting::response::kSystemError  ? v2::INVALID_TRANSACTION_ID
                       : code == remoting::response::kSystemBusy ? v2::TOO_MANY_REQUESTS
                                                                 : v2::INTERNAL_SERVER_ERROR);
          st->set_message(std::move(remark));
        }
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

}  // namespace stele::rpc
