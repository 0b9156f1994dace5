#include "stele/client/producer.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>

#include "absl/strings/str_join.h"
#include "client/client_instance.h"
#include "client/wire.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/record.h"
#include "fmt/format.h"
#include "index/java_hash.h"
#include "net/broker/state/names.h"
#include "net/remoting/codes.h"
#include "stele/message.h"

namespace stele::client {

using remoting::RemotingCommand;
namespace code = remoting::request;
namespace rc = remoting::response;
using Ms = std::chrono::milliseconds;

namespace {

// RocketMQ 5's MQFaultStrategy tables: a send that took latency_max[i] or more keeps the broker
// out of queue selection for not_available[i] ms. A failed send counts as 10 s of latency (so
// 10 s out), short enough that a restarted broker rejoins the rotation soon (4.x used 10 min).
constexpr int64_t kLatencyMax[] = {50, 100, 550, 1800, 3000, 5000, 15000};
constexpr int64_t kNotAvailable[] = {0, 0, 2000, 5000, 6000, 10000, 30000};
constexpr int64_t kFailedLatency = 10000;

bool Retryable(int32_t c) {
  return c == rc::kTopicNotExist || c == rc::kServiceNotAvailable || c == rc::kSystemError ||
         c == rc::kSystemBusy || c == rc::kNoPermission || c == rc::kNoBuyerId ||
         c == rc::kNotInCurrentUnit;
}

// The commit-log offset in an offset message id (its last 16 hex digits).
int64_t CommitLogOffsetOf(std::string_view offset_msg_id) {
  if (offset_msg_id.size() < 16) return 0;
  uint64_t v = 0;
  for (char c : offset_msg_id.substr(offset_msg_id.size() - 16)) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : 0;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return static_cast<int64_t>(v);
}

int32_t TransactionFlag(LocalTransactionState s) {
  switch (s) {
    case LocalTransactionState::kCommit:
      return sysflag::kTransactionCommitType;
    case LocalTransactionState::kRollback:
      return sysflag::kTransactionRollbackType;
    case LocalTransactionState::kUnknown:
      return sysflag::kTransactionNotType;
  }
  return sysflag::kTransactionNotType;
}

}  // namespace

class LatencyFaultTolerance {
 public:
  void Update(const std::string& broker, int64_t latency_ms, bool failed) {
    const int64_t l = failed ? kFailedLatency : latency_ms;
    int64_t duration = 0;
    for (int i = static_cast<int>(std::size(kLatencyMax)) - 1; i >= 0; --i) {
      if (l >= kLatencyMax[i]) {
        duration = kNotAvailable[i];
        break;
      }
    }
    std::lock_guard lk(mu_);
    if (duration == 0) {
      until_.erase(broker);
    } else {
      until_[broker] = NowMs() + duration;
    }
  }
  bool Available(const std::string& broker) const {
    std::lock_guard lk(mu_);
    auto it = until_.find(broker);
    return it == until_.end() || NowMs() >= it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> until_;
};

// A topic's writable queues as this producer sees them.
struct PublishInfo {
  std::vector<MessageQueue> queues;
  TopicRoute route;
  bool via_default_topic = false;  // the topic is unknown; sent through create_topic_key
  std::atomic<uint32_t> next{0};
};

struct Producer::Impl : ClientMember, std::enable_shared_from_this<Producer::Impl> {
  ProducerOptions opt;
  std::shared_ptr<ClientInstance> instance;
  std::shared_ptr<TransactionListener> tx_listener;
  LatencyFaultTolerance faults;
  std::mutex mu;
  std::map<std::string, std::shared_ptr<PublishInfo>> topics;
  std::atomic<bool> running{false};
  // Async sends accepted but not yet called back. Shutdown waits for zero before it stops the
  // instance: a completion submitted to a stopped callback executor is dropped, so without the
  // wait a send in flight at Shutdown never called back. A send begins under async_mu only while
  // running, so none can begin after Shutdown looked.
  std::mutex async_mu;
  std::condition_variable async_cv;
  int async_inflight = 0;

  bool BeginAsync() {
    std::lock_guard l(async_mu);
    if (!running.load()) return false;
    ++async_inflight;
    return true;
  }
  void EndAsync() {
    std::lock_guard l(async_mu);
    if (--async_inflight == 0) async_cv.notify_all();
  }

  // --- ClientMember ---
  void FillHeartbeat(broker::HeartbeatData* hb) override { hb->producers.push_back({opt.group}); }
  std::vector<std::string> RouteTopics() override {
    std::lock_guard l(mu);
    std::vector<std::string> out;
    for (const auto& [t, info] : topics) out.push_back(t);
    return out;
  }
  void OnRouteUpdated(const std::string& topic, const TopicRoute& route) override {
    auto info = MakeInfo(topic, route, false);
    if (info->queues.empty()) return;
    std::lock_guard l(mu);
    auto it = topics.find(topic);
    if (it == topics.end()) return;
    if (!it->second->via_default_topic && it->second->route == route) return;
    info->next.store(it->second->next.load());
    it->second = std::move(info);
  }
  void OnCheckTransaction(const remoting::ChannelPtr& ch, const RemotingCommand& req) override;

  std::shared_ptr<PublishInfo> MakeInfo(const std::string& topic, const TopicRoute& route,
                                        bool via_default) {
    auto info = std::make_shared<PublishInfo>();
    info->route = route;
    info->via_default_topic = via_default;
    info->queues = PublishQueues(topic, route);
    if (via_default) {
      // Java: min(defaultTopicQueueNums, the default topic's queue count) per broker.
      std::map<std::string, int> per_broker;
      std::vector<MessageQueue> qs;
      for (const MessageQueue& q : info->queues) {
        if (per_broker[q.broker_name]++ < opt.default_topic_queue_nums) qs.push_back(q);
      }
      info->queues = std::move(qs);
    }
    return info;
  }

  absl::StatusOr<std::shared_ptr<PublishInfo>> Info(const std::string& topic, bool refresh) {
    if (!refresh) {
      std::lock_guard l(mu);
      auto it = topics.find(topic);
      if (it != topics.end()) return it->second;
    }
    std::shared_ptr<PublishInfo> info;
    auto route = instance->FetchRoute(topic);
    if (route.ok()) {
      info = MakeInfo(topic, *route, false);
    } else if (absl::IsNotFound(route.status())) {
      auto dflt = instance->FetchRoute(opt.create_topic_key);
      if (!dflt.ok()) {
        return absl::NotFoundError(
            fmt::format("no route for topic {} ({}), nor for the default topic {} ({})", topic,
                        std::string(route.status().message()), opt.create_topic_key,
                        std::string(dflt.status().message())));
      }
      info = MakeInfo(topic, *dflt, true);
    } else {
      // The name server is unreachable: keep sending with the route we have (Java does too).
      std::lock_guard l(mu);
      auto it = topics.find(topic);
      if (it != topics.end()) return it->second;
      return route.status();
    }
    if (info->queues.empty()) {
      return absl::NotFoundError(fmt::format("topic {} has no writable queue", topic));
    }
    bool first_route;
    {
      std::lock_guard l(mu);
      auto& slot = topics[topic];
      first_route = slot == nullptr;
      if (slot != nullptr) info->next.store(slot->next.load());
      slot = info;
    }
    // Brokers learn of a producer (and where to send transaction check-backs) by heartbeat:
    // send one as soon as a route names brokers we may not have met, not a period later.
    if (first_route) instance->SendHeartbeatToAllBrokers();
    return info;
  }

  // Round robin, skipping brokers in fault and `last_broker` (the one that just failed) while
  // another choice exists.
  MessageQueue Select(PublishInfo& info, const std::string& last_broker) {
    const size_t n = info.queues.size();
    for (size_t i = 0; i < n; ++i) {
      const MessageQueue& q = info.queues[info.next.fetch_add(1) % n];
      if (q.broker_name == last_broker) continue;
      if (opt.latency_fault_tolerance && !faults.Available(q.broker_name)) continue;
      return q;
    }
    for (size_t i = 0; i < n; ++i) {
      const MessageQueue& q = info.queues[info.next.fetch_add(1) % n];
      if (q.broker_name != last_broker) return q;
    }
    return info.queues[info.next.fetch_add(1) % n];
  }

  absl::Status Validate(const Message& m) const {
    STELE_RETURN_IF_ERROR(broker::ValidateTopic(m.topic));
    if (m.body.empty()) return absl::InvalidArgumentError("the message body is empty");
    if (m.body.size() > opt.max_message_size) {
      return absl::InvalidArgumentError(
          fmt::format("the message body is {} bytes, more than max_message_size {}", m.body.size(),
                      opt.max_message_size));
    }
    if (m.delay_level < 0) return absl::InvalidArgumentError("delay_level must be >= 0");
    return absl::OkStatus();
  }

  // The request for one message (or a batch body), with its UNIQ_KEY.
  struct Prepared {
    RemotingCommand req;
    std::string uniq;
  };
  absl::StatusOr<Prepared> Prepare(const Message& m,
                                   const std::map<std::string, std::string>& extra_props,
                                   int32_t sys_flag, bool may_compress = true) {
    Prepared p;
    std::map<std::string, std::string> extra = extra_props;
    auto u = m.properties.find(std::string(prop::kUniqKey));
    p.uniq = u != m.properties.end() ? u->second : GlobalIdGenerator().Next();
    extra[std::string(prop::kUniqKey)] = p.uniq;
    p.req = RemotingCommand::Request(code::kSendMessageV2);
    p.req.body = m.body;
    if (may_compress && m.body.size() > opt.compress_threshold) {
      STELE_ASSIGN_OR_RETURN(p.req.body, Deflate(m.body, opt.compress_level));
      sys_flag |= sysflag::kCompressed;
    }
    p.req.Set("a", opt.group);
    p.req.Set("b", m.topic);
    p.req.Set("c", opt.create_topic_key);
    p.req.Set("d", int64_t{opt.default_topic_queue_nums});
    p.req.Set("f", int64_t{sys_flag});
    p.req.Set("g", NowMs());
    p.req.Set("h", int64_t{m.flag});
    p.req.Set("i", EncodeProperties(m, extra));
    p.req.Set("j", int64_t{0});
    p.req.Set("k", "false");
    p.req.Set("m", "false");
    return p;
  }

  absl::StatusOr<SendResult> ParseResult(const RemotingCommand& resp, const MessageQueue& mq,
                                         const std::string& uniq) {
    SendResult r;
    switch (resp.code) {
      case rc::kSuccess:
        r.status = SendStatus::kSendOk;
        break;
      case rc::kFlushDiskTimeout:
        r.status = SendStatus::kFlushDiskTimeout;
        break;
      case rc::kFlushSlaveTimeout:
        r.status = SendStatus::kFlushSlaveTimeout;
        break;
      case rc::kSlaveNotAvailable:
        r.status = SendStatus::kSlaveNotAvailable;
        break;
      default:
        return ResponseError(resp.code, resp.remark.value_or(""), "send");
    }
    r.msg_id = uniq;
    if (const std::string* id = resp.Field("msgId")) r.offset_msg_id = *id;
    r.queue = mq;
    if (auto q = resp.IntOr("queueId", mq.queue_id); q.ok())
      r.queue.queue_id = static_cast<int32_t>(*q);
    if (auto o = resp.IntOr("queueOffset", 0); o.ok()) r.queue_offset = *o;
    if (const std::string* t = resp.Field("transactionId")) r.transaction_id = *t;
    if (r.transaction_id.empty()) r.transaction_id = uniq;
    return r;
  }

  // Sync send with RocketMQ's retry rules. `fixed` pins the queue (no retry elsewhere).
  absl::StatusOr<SendResult> SendSync(const Message& m, const MessageQueue* fixed,
                                      const std::map<std::string, std::string>& extra = {},
                                      int32_t sys_flag = 0) {
    if (!running.load()) return absl::FailedPreconditionError("producer is not started");
    STELE_RETURN_IF_ERROR(Validate(m));
    STELE_ASSIGN_OR_RETURN(Prepared p, Prepare(m, extra, sys_flag));
    const int64_t deadline = NowMs() + opt.send_timeout.count();
    const int attempts = fixed != nullptr ? 1 : 1 + std::max(0, opt.retry_times);
    std::string last_broker;
    absl::Status last = absl::DeadlineExceededError("send timed out before the first attempt");
    bool refresh = false;
    for (int i = 0; i < attempts; ++i) {
      const int64_t left = deadline - NowMs();
      if (left <= 0) break;
      MessageQueue mq;
      std::shared_ptr<PublishInfo> info;
      if (fixed != nullptr) {
        mq = *fixed;
      } else {
        auto got = Info(m.topic, refresh);
        if (!got.ok()) return got.status();
        info = *got;
        mq = Select(*info, last_broker);
      }
      std::string addr = instance->BrokerAddr(mq.broker_name);
      if (addr.empty()) {
        (void)Info(m.topic, true);
        addr = instance->BrokerAddr(mq.broker_name);
        if (addr.empty()) {
          last = absl::NotFoundError(fmt::format("no address for broker {}", mq.broker_name));
          continue;
        }
      }
      RemotingCommand req = p.req;
      req.Set("e", int64_t{mq.queue_id});
      const int64_t t0 = NowMs();
      auto resp = instance->Call(addr, std::move(req), Ms(left));
      const int64_t took = NowMs() - t0;
      last_broker = mq.broker_name;
      if (!resp.ok()) {
        faults.Update(mq.broker_name, took, true);
        last = absl::Status(resp.status().code(),
                            fmt::format("send to {} ({}): {}", mq.broker_name, addr,
                                        std::string(resp.status().message())));
        refresh = true;
        continue;
      }
      faults.Update(mq.broker_name, took, false);
      if (Retryable(resp->code)) {
        last = ResponseError(resp->code, resp->remark.value_or(""),
                             fmt::format("send to {} ({})", mq.broker_name, addr));
        refresh = resp->code == rc::kTopicNotExist || resp->code == rc::kNoPermission;
        continue;
      }
      auto r = ParseResult(*resp, mq, p.uniq);
      if (r.ok() && r->status != SendStatus::kSendOk &&
          opt.retry_another_broker_when_not_store_ok && i + 1 < attempts) {
        last = absl::UnavailableError(fmt::format("{} from {}", SendStatusName(r->status), addr));
        continue;
      }
      return r;
    }
    return last;
  }

  // Async: the same rules, each attempt started from the previous one's callback.
  struct AsyncSend {
    Message msg;
    Prepared p;
    SendCallback done;
    int64_t deadline = 0;
    int attempts_left = 0;
    std::string last_broker;
    absl::Status last;
    std::optional<MessageQueue> fixed;  // a pinned queue: one attempt, never moved
  };
  void AsyncAttempt(std::shared_ptr<AsyncSend> s) {
    auto finish = [this, s](absl::StatusOr<SendResult> r) {
      instance->callbacks().Submit([s, r = std::move(r)]() mutable { s->done(std::move(r)); });
    };
    const int64_t left = s->deadline - NowMs();
    if (s->attempts_left-- <= 0 || left <= 0) {
      finish(s->last.ok() ? absl::DeadlineExceededError("send timed out") : s->last);
      return;
    }
    MessageQueue mq;
    if (s->fixed) {
      mq = *s->fixed;
      if (instance->BrokerAddr(mq.broker_name).empty()) (void)Info(s->msg.topic, true);
    } else {
      auto info = Info(s->msg.topic, !s->last.ok());
      if (!info.ok()) {
        finish(info.status());
        return;
      }
      mq = Select(**info, s->last_broker);
    }
    std::string addr = instance->BrokerAddr(mq.broker_name);
    if (addr.empty()) {
      s->last = absl::NotFoundError(fmt::format("no address for broker {}", mq.broker_name));
      AsyncAttempt(std::move(s));
      return;
    }
    RemotingCommand req = s->p.req;
    req.Set("e", int64_t{mq.queue_id});
    const int64_t t0 = NowMs();
    auto self = shared_from_this();
    instance->CallAsync(
        addr, std::move(req), Ms(left),
        [self, s, mq, addr, t0, finish](absl::StatusOr<RemotingCommand> resp) mutable {
          const int64_t took = NowMs() - t0;
          s->last_broker = mq.broker_name;
          if (!resp.ok()) {
            self->faults.Update(mq.broker_name, took, true);
            s->last = absl::Status(resp.status().code(),
                                   fmt::format("send to {} ({}): {}", mq.broker_name, addr,
                                               std::string(resp.status().message())));
            self->AsyncAttempt(std::move(s));
            return;
          }
          self->faults.Update(mq.broker_name, took, false);
          if (Retryable(resp->code)) {
            s->last = ResponseError(resp->code, resp->remark.value_or(""),
                                    fmt::format("send to {} ({})", mq.broker_name, addr));
            self->AsyncAttempt(std::move(s));
            return;
          }
          s->done(self->ParseResult(*resp, mq, s->p.uniq));
        });
  }

  absl::Status EndTransaction(const remoting::ChannelPtr& ch, const std::string& addr,
                              const SendResult& half, LocalTransactionState state, bool from_check,
                              int64_t tran_state_offset) {
    RemotingCommand req = RemotingCommand::Request(code::kEndTransaction);
    req.Set("producerGroup", opt.group);
    req.Set("tranStateTableOffset", tran_state_offset);
    req.Set("commitLogOffset", CommitLogOffsetOf(half.offset_msg_id));
    req.Set("commitOrRollback", int64_t{TransactionFlag(state)});
    req.Set("fromTransactionCheck", from_check ? "true" : "false");
    req.Set("msgId", half.msg_id);
    req.Set("transactionId", half.transaction_id);
    if (ch != nullptr) {
      ch->InvokeOneway(std::move(req));
      return absl::OkStatus();
    }
    return instance->Oneway(addr, std::move(req));
  }
};

void Producer::Impl::OnCheckTransaction(const remoting::ChannelPtr& ch,
                                        const RemotingCommand& req) {
  if (tx_listener == nullptr) return;
  auto msgs = DecodeMessages(req.body, "");
  if (!msgs.ok() || msgs->size() != 1) {
    log::Warn("producer {}: undecodable CHECK_TRANSACTION_STATE from {}: {}", opt.group,
              ch->remote_address(),
              msgs.ok() ? fmt::format("{} messages", msgs->size()) : msgs.status().ToString());
    return;
  }
  const MessageExt& m = msgs->front();
  const std::string* group = m.Property(prop::kProducerGroup);
  if (group != nullptr && *group != opt.group) return;
  LocalTransactionState st = LocalTransactionState::kUnknown;
  try {
    st = tx_listener->Check(m);
  } catch (...) {
    log::Warn("producer {}: transaction check listener threw; state stays unknown", opt.group);
  }
  SendResult half;
  half.msg_id = m.msg_id;
  half.offset_msg_id = m.offset_msg_id;
  if (const std::string* id = req.Field("offsetMsgId"); id != nullptr && !id->empty()) {
    half.offset_msg_id = *id;
  }
  if (const std::string* t = req.Field("transactionId"); t != nullptr && !t->empty()) {
    half.transaction_id = *t;
  } else {
    half.transaction_id = m.msg_id;
  }
  int64_t tran_offset = m.queue_offset;
  if (auto o = req.IntOr("tranStateTableOffset", m.queue_offset); o.ok()) tran_offset = *o;
  (void)EndTransaction(ch, "", half, st, true, tran_offset);
}

Producer::Producer(ProducerOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->opt = std::move(options);
}

Producer::~Producer() { Shutdown(); }

absl::Status Producer::Start() {
  Impl& im = *impl_;
  if (im.running.load()) return absl::OkStatus();
  if (im.instance != nullptr) {
    return absl::FailedPreconditionError("a producer cannot be restarted; create a new one");
  }
  STELE_RETURN_IF_ERROR(broker::ValidateGroup(im.opt.group));
  if (im.opt.retry_times < 0) return absl::InvalidArgumentError("retry_times must be >= 0");
  {
    STELE_ASSIGN_OR_RETURN(
        im.instance,
        ClientInstance::Create({.namesrv_addr = im.opt.namesrv_addr,
                                .instance_name = im.opt.instance_name,
                                .timeout = im.opt.send_timeout,
                                .poll_name_server_interval = im.opt.poll_name_server_interval,
                                .heartbeat_interval = im.opt.heartbeat_interval,
                                .callback_threads = im.opt.callback_threads}));
  }
  im.instance->AddMember(impl_.get());
  im.instance->Start();
  im.running.store(true);
  return absl::OkStatus();
}

void Producer::Shutdown() {
  Impl& im = *impl_;
  {
    std::unique_lock l(im.async_mu);
    if (!im.running.exchange(false) || im.instance == nullptr) return;
    // Every attempt is bounded by send_timeout (plus a connect), so this ends well within the
    // limit; the limit only guards against a completion the transport lost.
    const Ms limit = im.opt.send_timeout * 2 + Ms(5000);
    if (!im.async_cv.wait_for(l, limit, [&] { return im.async_inflight == 0; })) {
      log::Warn("producer {}: {} async send(s) still pending after {} ms; shutting down anyway",
                im.opt.group, im.async_inflight, limit.count());
    }
  }
  for (const std::string& addr : im.instance->BrokerAddrs()) {
    RemotingCommand req = RemotingCommand::Request(code::kUnregisterClient);
    req.Set("clientID", im.instance->client_id());
    req.Set("producerGroup", im.opt.group);
    (void)im.instance->Call(addr, std::move(req), Ms(1000));
  }
  im.instance->RemoveMember(impl_.get());
  im.instance->Shutdown();
}

const std::string& Producer::client_id() const {
  static const std::string kNone;
  return impl_->instance != nullptr ? impl_->instance->client_id() : kNone;
}

absl::StatusOr<SendResult> Producer::Send(const Message& msg) {
  return impl_->SendSync(msg, nullptr);
}

absl::StatusOr<SendResult> Producer::Send(const Message& msg, const MessageQueue& queue) {
  if (queue.topic != msg.topic) {
    return absl::InvalidArgumentError(
        fmt::format("queue {} is not of the message's topic {}", queue.ToString(), msg.topic));
  }
  if (impl_->running.load() && impl_->instance->BrokerAddr(queue.broker_name).empty()) {
    (void)impl_->Info(msg.topic, true);
  }
  return impl_->SendSync(msg, &queue);
}

absl::StatusOr<SendResult> Producer::Send(const Message& msg, const QueueSelector& selector) {
  STELE_ASSIGN_OR_RETURN(std::vector<MessageQueue> qs, FetchPublishQueues(msg.topic));
  const MessageQueue q = qs[selector(qs, msg) % qs.size()];
  return impl_->SendSync(msg, &q);
}

absl::StatusOr<SendResult> Producer::SendOrderly(const Message& msg,
                                                 std::string_view sharding_key) {
  const uint32_t h = static_cast<uint32_t>(index::JavaStringHash(sharding_key));
  return Send(msg, [h](const std::vector<MessageQueue>& qs, const Message&) {
    // Java: Math.abs(key.hashCode()) % size; abs of INT_MIN stays negative there, so use the
    // unsigned magnitude.
    const int32_t s = static_cast<int32_t>(h);
    const uint32_t mag = s < 0 ? 0u - static_cast<uint32_t>(s) : static_cast<uint32_t>(s);
    return static_cast<size_t>(mag % qs.size());
  });
}

void Producer::SendAsync(Message msg, SendCallback done) {
  SendAsyncTo(std::move(msg), std::nullopt, std::move(done));
}

void Producer::SendAsync(Message msg, const MessageQueue& queue, SendCallback done) {
  SendAsyncTo(std::move(msg), queue, std::move(done));
}

void Producer::SendAsyncTo(Message msg, std::optional<MessageQueue> queue, SendCallback done) {
  Impl& im = *impl_;
  if (!im.BeginAsync()) {
    done(absl::FailedPreconditionError("producer is not started"));  // no executor to run it on
    return;
  }
  // From here `done` runs on the callback executor, which Shutdown keeps running until EndAsync.
  SendCallback counted = [impl = impl_, done = std::move(done)](absl::StatusOr<SendResult> r) {
    done(std::move(r));
    impl->EndAsync();
  };
  auto fail = [&](absl::Status s) {
    im.instance->callbacks().Submit([counted = std::move(counted), s] { counted(s); });
  };
  if (absl::Status v = im.Validate(msg); !v.ok()) return fail(v);
  if (queue && queue->topic != msg.topic) {
    return fail(absl::InvalidArgumentError(
        fmt::format("queue {} is not of the message's topic {}", queue->ToString(), msg.topic)));
  }
  auto p = im.Prepare(msg, {}, 0);
  if (!p.ok()) return fail(p.status());
  auto s = std::make_shared<Impl::AsyncSend>();
  s->fixed = std::move(queue);
  s->msg = std::move(msg);
  s->p = *std::move(p);
  s->done = std::move(counted);
  s->deadline = NowMs() + im.opt.send_timeout.count();
  s->attempts_left = s->fixed ? 1 : 1 + im.opt.retry_times;
  im.AsyncAttempt(std::move(s));
}

absl::Status Producer::SendOneway(const Message& msg) {
  Impl& im = *impl_;
  if (!im.running.load()) return absl::FailedPreconditionError("producer is not started");
  STELE_RETURN_IF_ERROR(im.Validate(msg));
  STELE_ASSIGN_OR_RETURN(Impl::Prepared p, im.Prepare(msg, {}, 0));
  STELE_ASSIGN_OR_RETURN(auto info, im.Info(msg.topic, false));
  const MessageQueue mq = im.Select(*info, "");
  const std::string addr = im.instance->BrokerAddr(mq.broker_name);
  if (addr.empty()) return absl::NotFoundError(fmt::format("no address for {}", mq.broker_name));
  p.req.Set("e", int64_t{mq.queue_id});
  return im.instance->Oneway(addr, std::move(p.req));
}

absl::StatusOr<SendResult> Producer::SendBatch(const std::vector<Message>& msgs) {
  Impl& im = *impl_;
  if (msgs.empty()) return absl::InvalidArgumentError("empty batch");
  std::string body;
  std::vector<std::string> ids;
  for (const Message& m : msgs) {
    if (m.topic != msgs.front().topic) {
      return absl::InvalidArgumentError("a batch must have one topic");
    }
    if (m.delay_level > 0 || m.deliver_time_ms > 0) {
      return absl::InvalidArgumentError("a batch cannot hold delayed messages");
    }
    STELE_RETURN_IF_ERROR(im.Validate(m));
    std::string uniq = GlobalIdGenerator().Next();
    const std::string props = EncodeProperties(m, {{std::string(prop::kUniqKey), uniq}});
    if (props.size() > 32767) return absl::InvalidArgumentError("properties longer than 32767");
    // Java MessageDecoder.encodeMessage: size, magic 0, body CRC 0, flag, body, properties.
    const uint32_t size = static_cast<uint32_t>(20 + m.body.size() + 2 + props.size());
    char hdr[20];
    StoreBe32(hdr, size);
    StoreBe32(hdr + 4, 0);
    StoreBe32(hdr + 8, 0);
    StoreBe32(hdr + 12, static_cast<uint32_t>(m.flag));
    StoreBe32(hdr + 16, static_cast<uint32_t>(m.body.size()));
    body.append(hdr, 20);
    body.append(m.body);
    const char plen[2] = {static_cast<char>(props.size() >> 8), static_cast<char>(props.size())};
    body.append(plen, 2);
    body.append(props);
    ids.push_back(std::move(uniq));
  }
  if (body.size() > im.opt.max_message_size) {
    return absl::InvalidArgumentError(
        fmt::format("the batch is {} bytes, more than max_message_size {}", body.size(),
                    im.opt.max_message_size));
  }
  if (!im.running.load()) return absl::FailedPreconditionError("producer is not started");
  Message carrier;
  carrier.topic = msgs.front().topic;
  carrier.body = std::move(body);
  const std::string joined = absl::StrJoin(ids, ",");
  // The batch body goes as is: never compressed as a whole (the broker splits it), and each
  // message carries its own properties.
  STELE_ASSIGN_OR_RETURN(Impl::Prepared p,
                         im.Prepare(carrier, {{std::string(prop::kUniqKey), joined}}, 0, false));
  p.req.code = code::kSendBatchMessage;
  p.req.Set("i", "");
  p.req.Set("m", "true");
  STELE_ASSIGN_OR_RETURN(auto info, im.Info(carrier.topic, false));
  absl::Status last = absl::UnavailableError("batch not sent");
  std::string last_broker;
  const int64_t deadline = NowMs() + im.opt.send_timeout.count();
  for (int i = 0; i <= im.opt.retry_times && NowMs() < deadline; ++i) {
    const MessageQueue mq = im.Select(*info, last_broker);
    const std::string addr = im.instance->BrokerAddr(mq.broker_name);
    last_broker = mq.broker_name;
    if (addr.empty()) {
      last = absl::NotFoundError(fmt::format("no address for broker {}", mq.broker_name));
      continue;
    }
    RemotingCommand req = p.req;
    req.Set("e", int64_t{mq.queue_id});
    const int64_t t0 = NowMs();
    auto resp = im.instance->Call(addr, std::move(req), Ms(std::max<int64_t>(1, deadline - t0)));
    im.faults.Update(mq.broker_name, NowMs() - t0, !resp.ok());
    if (!resp.ok()) {
      last = resp.status();
      continue;
    }
    if (Retryable(resp->code)) {
      last = ResponseError(resp->code, resp->remark.value_or(""), "batch send");
      continue;
    }
    return im.ParseResult(*resp, mq, joined);
  }
  return last;
}

void Producer::SetTransactionListener(std::shared_ptr<TransactionListener> listener) {
  impl_->tx_listener = std::move(listener);
}

absl::StatusOr<TransactionSendResult> Producer::SendInTransaction(const Message& msg) {
  Impl& im = *impl_;
  if (im.tx_listener == nullptr) {
    return absl::FailedPreconditionError("SendInTransaction needs a TransactionListener");
  }
  if (msg.delay_level > 0 || msg.deliver_time_ms > 0) {
    return absl::InvalidArgumentError("a transactional message cannot be delayed");
  }
  STELE_ASSIGN_OR_RETURN(SendResult half,
                         im.SendSync(msg, nullptr,
                                     {{std::string(prop::kTransactionPrepared), "true"},
                                      {std::string(prop::kProducerGroup), im.opt.group}},
                                     sysflag::kTransactionPreparedType));
  TransactionSendResult out;
  static_cast<SendResult&>(out) = half;
  if (half.status != SendStatus::kSendOk) {
    out.local_state = LocalTransactionState::kRollback;
  } else {
    try {
      out.local_state = im.tx_listener->Execute(msg, half);
    } catch (...) {
      out.local_state = LocalTransactionState::kUnknown;
    }
  }
  const std::string addr = im.instance->BrokerAddr(half.queue.broker_name);
  if (!addr.empty()) {
    (void)im.EndTransaction(nullptr, addr, half, out.local_state, false, half.queue_offset);
  }
  return out;
}

absl::StatusOr<std::vector<MessageQueue>> Producer::FetchPublishQueues(const std::string& topic) {
  if (!impl_->running.load()) return absl::FailedPreconditionError("producer is not started");
  STELE_ASSIGN_OR_RETURN(auto info, impl_->Info(topic, false));
  return info->queues;
}

}  // namespace stele::client
