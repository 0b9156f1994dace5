#include "stele/client/lite_pull_consumer.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "client/client_instance.h"
#include "client/consumer_common.h"
#include "client/offset_store.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/broker/state/names.h"
#include "net/remoting/codes.h"

namespace stele::client {

using remoting::RemotingCommand;
namespace code = remoting::request;
using Ms = std::chrono::milliseconds;

namespace {

constexpr int kMaxPullBatch = 1024;

// One held queue. Every field but `mq` is guarded by Impl::mu.
//
// Pulling is a chain of steps on the callback executor: a step sends one PULL_MESSAGE and its
// answer runs the next step. `epoch` names the live chain: Seek and Drop start a new epoch, and a
// step or answer of an older one ends quietly, so a queue never has two live chains and a long
// poll in flight never delivers messages from before a seek.
struct LiteQueue {
  explicit LiteQueue(MessageQueue q) : mq(std::move(q)) {}
  const MessageQueue mq;
  std::deque<MessageExt> buf;  // pulled, not yet returned by Poll; in offset order
  size_t bytes = 0;
  int64_t pull_offset = -1;  // next offset to pull; -1 until the start offset is known
  int64_t position = -1;     // after the last message Poll returned (or the seek target)
  // What the next commit stores: the position as of the latest Poll (auto_commit) or the latest
  // CommitSync. Copied into the offset store only right before it persists, under commit_mu, so
  // that Committed()'s read of the store (which overwrites the store's memory) loses nothing.
  int64_t consumed = -1;
  uint64_t epoch = 0;
  bool pulling = false;  // the chain of `epoch` has a step queued or a pull in flight
  bool dropped = false;
};

}  // namespace

struct LitePullConsumer::Impl : ClientMember, std::enable_shared_from_this<LitePullConsumer::Impl> {
  enum class Mode { kNone, kSubscribe, kAssign };

  LitePullConsumerOptions opt;
  std::shared_ptr<ClientInstance> instance;
  std::unique_ptr<OffsetStore> offsets;
  std::atomic<bool> running{false};
  bool started_once = false;

  mutable std::mutex mu;
  std::condition_variable cv;  // Poll waits here for buffered messages
  Mode mode = Mode::kNone;
  std::map<std::string, broker::SubscriptionData> subs;         // subscribe mode, by topic
  std::vector<MessageQueue> assigned;                           // assign mode
  std::map<std::string, broker::SubscriptionData> assign_subs;  // "*" per assigned topic
  std::map<MessageQueue, std::shared_ptr<LiteQueue>> table;
  std::set<MessageQueue> paused;
  size_t poll_cursor = 0;  // round robin over the table

  std::mutex rebalance_mu;  // one table reconciliation at a time
  std::mutex commit_mu;     // one commit (memory update + persist) at a time

  bool clustering() const { return opt.model == MessageModel::kClustering; }

  // --- ClientMember ---
  void FillHeartbeat(broker::HeartbeatData* hb) override {
    broker::ConsumerData c;
    c.group_name = opt.group;
    c.consume_type = broker::ConsumeType::kActively;
    c.message_model =
        clustering() ? broker::MessageModel::kClustering : broker::MessageModel::kBroadcasting;
    c.consume_from_where = std::string(ConsumeFromWhereName(opt.consume_from_where));
    std::lock_guard l(mu);
    for (const auto& [t, s] : subs) c.subscriptions.push_back(s);
    hb->consumers.push_back(std::move(c));
  }
  std::vector<std::string> RouteTopics() override {
    std::lock_guard l(mu);
    std::vector<std::string> out;
    for (const auto& [t, s] : subs) out.push_back(t);
    for (const auto& [t, s] : assign_subs) out.push_back(t);
    return out;
  }
  void OnConsumerIdsChanged(const std::string& group) override {
    if (group == opt.group && running.load()) Rebalance();
  }

  // --- the queue table ---
  // Makes the held queues for which `in_scope` holds exactly `wanted`. Caller holds rebalance_mu.
  void Reconcile(const std::function<bool(const MessageQueue&)>& in_scope,
                 const std::vector<MessageQueue>& wanted) {
    std::vector<std::shared_ptr<LiteQueue>> gone;
    {
      std::lock_guard l(mu);
      for (auto it = table.begin(); it != table.end();) {
        if (in_scope(it->first) &&
            std::find(wanted.begin(), wanted.end(), it->first) == wanted.end()) {
          it->second->dropped = true;
          it->second->epoch++;
          gone.push_back(it->second);
          it = table.erase(it);
        } else {
          ++it;
        }
      }
      for (const MessageQueue& q : wanted) {
        if (!running.load() || table.count(q) != 0) continue;
        offsets->Remove(q);  // the start offset is read from the store afresh
        auto lq = std::make_shared<LiteQueue>(q);
        table.emplace(q, lq);
        KickLocked(lq);
      }
    }
    // A queue that moved on gets its commit point stored (`consumed` no longer changes: the
    // queue is out of the table).
    for (const auto& lq : gone) {
      std::lock_guard cl(commit_mu);
      int64_t consumed;
      {
        std::lock_guard l(mu);
        consumed = lq->consumed;
      }
      if (consumed >= 0) {
        offsets->Update(lq->mq, consumed, false);
        (void)offsets->Persist({lq->mq});
      }
      offsets->Remove(lq->mq);
    }
  }

  void Rebalance() {
    std::lock_guard rl(rebalance_mu);
    if (!running.load()) return;
    std::vector<std::string> topics;
    {
      std::lock_guard l(mu);
      if (mode != Mode::kSubscribe) return;
      for (const auto& [t, s] : subs) topics.push_back(t);
    }
    for (const std::string& topic : topics) {
      auto route = instance->FetchRoute(topic);
      if (!route.ok()) {
        if (!absl::IsNotFound(route.status())) {
          log::Warn("lite pull consumer {}: route of {}: {}", opt.group, topic,
                    route.status().ToString());
        }
        continue;
      }
      std::vector<MessageQueue> all = SubscribeQueues(topic, *route);
      std::sort(all.begin(), all.end());
      std::vector<MessageQueue> mine = all;
      if (clustering()) {
        auto cids = ConsumerIds(*instance, topic, opt.group);
        if (!cids.ok()) {
          log::Warn("lite pull consumer {}: consumer list for {}: {}", opt.group, topic,
                    cids.status().ToString());
          continue;
        }
        mine = AllocateAveragely(instance->client_id(), all, *cids);
      }
      Reconcile([&](const MessageQueue& q) { return q.topic == topic; }, mine);
    }
  }

  // --- pulling ---
  // Starts a chain for `lq` unless one runs. Caller holds mu.
  void KickLocked(const std::shared_ptr<LiteQueue>& lq) {
    if (lq->pulling || lq->dropped || !running.load()) return;
    lq->pulling = true;
    std::weak_ptr<Impl> weak = weak_from_this();
    instance->callbacks().Submit([weak, lq, epoch = lq->epoch] {
      if (auto self = weak.lock()) self->Step(lq, epoch);
    });
  }

  void StepLater(std::shared_ptr<LiteQueue> lq, uint64_t epoch, Ms delay) {
    std::weak_ptr<Impl> weak = weak_from_this();
    instance->scheduler().RunAfter(delay, [weak, lq = std::move(lq), epoch] {
      if (auto self = weak.lock()) {
        self->instance->callbacks().Submit([self, lq, epoch] { self->Step(lq, epoch); });
      }
    });
  }

  bool Live(const LiteQueue& lq, uint64_t epoch) const {
    return running.load() && !lq.dropped && lq.epoch == epoch;
  }
  bool Full(const LiteQueue& lq) const {
    return static_cast<int64_t>(lq.buf.size()) >= opt.pull_threshold_for_queue ||
           lq.bytes >= static_cast<size_t>(opt.pull_threshold_size_for_queue_mib) << 20;
  }

  // One step of `lq`'s chain (on the callback executor).
  void Step(const std::shared_ptr<LiteQueue>& lq, uint64_t epoch) {
    int64_t offset;
    {
      std::lock_guard l(mu);
      if (!Live(*lq, epoch)) return;
      offset = lq->pull_offset;
    }
    if (offset < 0) {
      auto from = StartOffset(*instance, *offsets, lq->mq, opt.consume_from_where,
                              opt.consume_timestamp_ms);
      std::lock_guard l(mu);
      if (!Live(*lq, epoch)) return;
      if (!from.ok()) {
        log::Warn("lite pull consumer {}: start offset of {}: {}", opt.group, lq->mq.ToString(),
                  from.status().ToString());
        StepLater(lq, epoch, opt.pull_delay_on_error);
        return;
      }
      offset = lq->pull_offset = lq->position = *from;
    }
    PullArgs a;
    broker::SubscriptionData sub;
    {
      std::lock_guard l(mu);
      if (!Live(*lq, epoch)) return;
      const auto& by_topic = mode == Mode::kSubscribe ? subs : assign_subs;
      auto it = by_topic.find(lq->mq.topic);
      // Paused, full (Poll restarts it) or unsubscribed (the next rebalance drops it): stop.
      if (paused.count(lq->mq) != 0 || Full(*lq) || it == by_topic.end()) {
        lq->pulling = false;
        return;
      }
      sub = it->second;
    }
    a.group = opt.group;
    a.queue = lq->mq;
    a.offset = offset;
    a.max_msgs = opt.pull_batch_size;
    a.suspend = opt.long_poll_timeout;
    a.sub = &sub;
    std::weak_ptr<Impl> weak = weak_from_this();
    PullAsync(*instance, a, [weak, lq, epoch, offset](absl::StatusOr<PullResult> r) {
      if (auto self = weak.lock()) self->OnPulled(lq, epoch, offset, std::move(r));
    });
  }

  void OnPulled(const std::shared_ptr<LiteQueue>& lq, uint64_t epoch, int64_t offset,
                absl::StatusOr<PullResult> r) {
    Ms delay{0};
    {
      std::lock_guard l(mu);
      if (!Live(*lq, epoch)) return;
      if (!r.ok()) {
        log::Debug("lite pull consumer {}: {}", opt.group, r.status().ToString());
        delay = opt.pull_delay_on_error;
      } else {
        bool added = false;
        for (MessageExt& m : r->msgs) {
          if (m.queue_offset < offset) continue;  // never before what was asked for
          lq->bytes += m.body.size();
          lq->buf.push_back(std::move(m));
          added = true;
        }
        if (r->status == PullStatus::kOffsetIllegal) {
          log::Warn("lite pull consumer {}: offset {} of {} is illegal; moving to {}", opt.group,
                    offset, lq->mq.ToString(), r->next_begin_offset);
        }
        // With nothing left to return, the position follows the pull past filtered-out
        // messages (or to where an illegal offset was corrected).
        if (lq->buf.empty() &&
            (r->next_begin_offset > lq->position || r->status == PullStatus::kOffsetIllegal)) {
          lq->position = r->next_begin_offset;
        }
        lq->pull_offset = r->next_begin_offset;
        if (added) cv.notify_all();
        if (r->status == PullStatus::kNoNewMsg && opt.long_poll_timeout.count() == 0) {
          delay = opt.pull_interval_when_idle;
        }
      }
    }
    if (delay.count() > 0) {
      StepLater(lq, epoch, delay);
    } else {
      Step(lq, epoch);
    }
  }

  // --- offsets ---
  // Every position becomes what the next commit stores. Caller holds mu.
  void MarkConsumedLocked() {
    for (const auto& [q, lq] : table) lq->consumed = lq->position;
  }

  // Stores every held queue's `consumed` (after MarkConsumedLocked if `all_positions`).
  absl::Status Commit(bool all_positions) {
    std::lock_guard cl(commit_mu);
    std::set<MessageQueue> qs;
    {
      std::lock_guard l(mu);
      if (all_positions) MarkConsumedLocked();
      for (const auto& [q, lq] : table) {
        if (lq->consumed < 0) continue;
        offsets->Update(q, lq->consumed, false);
        qs.insert(q);
      }
    }
    // A failed commit keeps the offsets in memory; the next commit sends them again.
    return qs.empty() ? absl::OkStatus() : offsets->Persist(qs);
  }

  absl::Status SeekChecked(const MessageQueue& queue,
                           const std::function<absl::StatusOr<int64_t>()>& target,
                           bool check_range) {
    if (!running.load()) return absl::FailedPreconditionError("the consumer is not running");
    auto not_assigned = [&] {
      return absl::FailedPreconditionError(
          fmt::format("queue {} is not assigned to this consumer (now)", queue.ToString()));
    };
    {
      std::lock_guard l(mu);
      if (table.count(queue) == 0) return not_assigned();
    }
    STELE_ASSIGN_OR_RETURN(int64_t offset, target());
    if (check_range) {
      STELE_ASSIGN_OR_RETURN(int64_t min, MinOffset(*instance, queue));
      STELE_ASSIGN_OR_RETURN(int64_t max, MaxOffset(*instance, queue));
      if (offset < min || offset > max) {
        return absl::InvalidArgumentError(fmt::format("seek offset {} of {} is outside [{}, {}]",
                                                      offset, queue.ToString(), min, max));
      }
    }
    std::lock_guard l(mu);
    auto it = table.find(queue);
    if (it == table.end()) return not_assigned();
    LiteQueue& lq = *it->second;
    lq.epoch++;
    lq.buf.clear();
    lq.bytes = 0;
    lq.pull_offset = lq.position = offset;
    lq.pulling = false;
    KickLocked(it->second);
    return absl::OkStatus();
  }
};

LitePullConsumer::LitePullConsumer(LitePullConsumerOptions options)
    : impl_(std::make_shared<Impl>()) {
  impl_->opt = std::move(options);
}

LitePullConsumer::~LitePullConsumer() { Shutdown(); }

absl::Status LitePullConsumer::Subscribe(const std::string& topic, const std::string& expression,
                                         ExpressionType type) {
  Impl& im = *impl_;
  STELE_RETURN_IF_ERROR(broker::ValidateTopic(topic));
  STELE_ASSIGN_OR_RETURN(broker::SubscriptionData s, BuildSubscription(topic, expression, type));
  if (im.running.load()) {
    (void)im.instance->FetchRoute(topic);
    STELE_RETURN_IF_ERROR(CheckSubscriptionsInBrokers(*im.instance, im.opt.group, {s}));
  }
  {
    std::lock_guard l(im.mu);
    if (im.mode == Impl::Mode::kAssign) {
      return absl::FailedPreconditionError("Subscribe after Assign: use one or the other");
    }
    im.mode = Impl::Mode::kSubscribe;
    im.subs[topic] = std::move(s);
  }
  if (im.running.load()) {
    client::HeartbeatSync(*im.instance, im, fmt::format("lite pull consumer {}", im.opt.group));
    im.instance->callbacks().Submit([w = std::weak_ptr<Impl>(impl_)] {
      if (auto self = w.lock()) self->Rebalance();
    });
  }
  return absl::OkStatus();
}

void LitePullConsumer::Unsubscribe(const std::string& topic) {
  Impl& im = *impl_;
  {
    std::lock_guard l(im.mu);
    if (im.mode != Impl::Mode::kSubscribe || im.subs.erase(topic) == 0) return;
  }
  if (im.running.load()) {
    client::HeartbeatSync(*im.instance, im, fmt::format("lite pull consumer {}", im.opt.group));
    std::lock_guard rl(im.rebalance_mu);
    im.Reconcile([&](const MessageQueue& q) { return q.topic == topic; }, {});
  }
}

absl::Status LitePullConsumer::Assign(const std::vector<MessageQueue>& queues) {
  Impl& im = *impl_;
  if (queues.empty()) return absl::InvalidArgumentError("Assign needs at least one queue");
  std::map<std::string, broker::SubscriptionData> topics;
  for (const MessageQueue& q : queues) {
    STELE_RETURN_IF_ERROR(broker::ValidateTopic(q.topic));
    if (q.broker_name.empty() || q.queue_id < 0) {
      return absl::InvalidArgumentError(fmt::format("bad queue {}", q.ToString()));
    }
    if (topics.count(q.topic) == 0) {
      STELE_ASSIGN_OR_RETURN(topics[q.topic],
                             BuildSubscription(q.topic, "*", ExpressionType::kTag));
    }
  }
  std::vector<MessageQueue> wanted = queues;
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::lock_guard rl(im.rebalance_mu);
  {
    std::lock_guard l(im.mu);
    if (im.mode == Impl::Mode::kSubscribe) {
      return absl::FailedPreconditionError("Assign after Subscribe: use one or the other");
    }
    im.mode = Impl::Mode::kAssign;
    im.assigned = wanted;
    im.assign_subs = std::move(topics);
  }
  if (im.running.load()) {
    for (const std::string& t : im.RouteTopics()) (void)im.instance->Route(t);
    im.Reconcile([](const MessageQueue&) { return true; }, wanted);
  }
  return absl::OkStatus();
}

absl::Status LitePullConsumer::Start() {
  Impl& im = *impl_;
  if (im.running.load()) return absl::OkStatus();
  if (im.started_once) {
    return absl::FailedPreconditionError(
        "a lite pull consumer cannot be restarted; create a new one");
  }
  STELE_RETURN_IF_ERROR(broker::ValidateGroup(im.opt.group));
  if (im.opt.pull_batch_size < 1 || im.opt.pull_batch_size > kMaxPullBatch) {
    return absl::InvalidArgumentError(
        fmt::format("pull_batch_size must be in [1, {}]", kMaxPullBatch));
  }
  if (im.opt.pull_threshold_for_queue < 1 || im.opt.pull_threshold_size_for_queue_mib < 1) {
    return absl::InvalidArgumentError("pull thresholds must be positive");
  }
  if (im.opt.auto_commit_interval.count() <= 0 || im.opt.rebalance_interval.count() <= 0 ||
      im.opt.long_poll_timeout.count() < 0) {
    return absl::InvalidArgumentError("intervals must be positive");
  }
  STELE_ASSIGN_OR_RETURN(
      im.instance,
      ClientInstance::Create({.namesrv_addr = im.opt.namesrv_addr,
                              .instance_name = im.opt.instance_name,
                              .timeout = im.opt.timeout,
                              .poll_name_server_interval = im.opt.poll_name_server_interval,
                              .heartbeat_interval = im.opt.heartbeat_interval}));
  im.started_once = true;
  if (im.clustering()) {
    im.offsets = std::make_unique<RemoteOffsetStore>(im.instance, im.opt.group);
  } else {
    STELE_ASSIGN_OR_RETURN(im.offsets, OpenLocalOffsetStore(im.opt.offset_store_dir,
                                                            im.opt.instance_name, im.opt.group));
  }
  im.instance->AddMember(impl_.get());
  im.instance->Start();
  im.running.store(true);
  FetchRoutes(*im.instance, im.RouteTopics(), fmt::format("lite pull consumer {}", im.opt.group));
  std::vector<broker::SubscriptionData> subs;
  {
    std::lock_guard l(im.mu);
    for (const auto& entry : im.subs) subs.push_back(entry.second);
  }
  if (absl::Status s = CheckSubscriptionsInBrokers(*im.instance, im.opt.group, subs); !s.ok()) {
    Shutdown();
    return s;
  }
  client::HeartbeatSync(*im.instance, im, fmt::format("lite pull consumer {}", im.opt.group));
  RunPeriodically(impl_, im.opt.rebalance_interval, [](Impl& s) { s.Rebalance(); });
  if (im.opt.auto_commit) {
    RunPeriodically(impl_, im.opt.auto_commit_interval, [](Impl& s) { (void)s.Commit(false); });
  }
  std::vector<MessageQueue> assigned;
  {
    std::lock_guard l(im.mu);
    assigned = im.assigned;
  }
  if (!assigned.empty()) {
    std::lock_guard rl(im.rebalance_mu);
    im.Reconcile([](const MessageQueue&) { return true; }, assigned);
  }
  im.Rebalance();
  return absl::OkStatus();
}

void LitePullConsumer::Shutdown() {
  Impl& im = *impl_;
  if (!im.running.exchange(false)) return;
  im.cv.notify_all();  // a blocked Poll returns
  {
    std::lock_guard rl(im.rebalance_mu);  // a rebalance in flight finishes first
  }
  {
    std::lock_guard l(im.mu);
    for (auto& [q, lq] : im.table) lq->dropped = true;
  }
  // Without auto_commit, what CommitSync() stored stands.
  if (im.opt.auto_commit) (void)im.Commit(true);
  UnregisterConsumer(*im.instance, im.opt.group);
  im.instance->RemoveMember(impl_.get());
  im.instance->Shutdown();
  std::lock_guard l(im.mu);
  im.table.clear();
}

std::vector<MessageExt> LitePullConsumer::Poll() { return Poll(impl_->opt.poll_timeout); }

std::vector<MessageExt> LitePullConsumer::Poll(std::chrono::milliseconds timeout) {
  Impl& im = *impl_;
  std::vector<MessageExt> out;
  if (!im.running.load()) return out;
  std::unique_lock l(im.mu);
  // The caller is done with what the previous Poll returned.
  if (im.opt.auto_commit) im.MarkConsumedLocked();
  auto ready = [&] {
    if (!im.running.load()) return true;
    for (const auto& [q, lq] : im.table) {
      if (!lq->buf.empty() && im.paused.count(q) == 0) return true;
    }
    return false;
  };
  im.cv.wait_for(l, std::max(timeout, Ms(0)), ready);
  if (!im.running.load() || im.table.empty()) return out;
  std::vector<std::shared_ptr<LiteQueue>> order;
  for (const auto& [q, lq] : im.table) order.push_back(lq);
  const size_t n = order.size();
  const size_t batch = static_cast<size_t>(im.opt.pull_batch_size);
  for (size_t i = 0; i < n && out.size() < batch; ++i) {
    const std::shared_ptr<LiteQueue>& lq = order[(im.poll_cursor + i) % n];
    if (lq->buf.empty() || im.paused.count(lq->mq) != 0) continue;
    while (!lq->buf.empty() && out.size() < batch) {
      MessageExt& m = lq->buf.front();
      lq->bytes -= std::min(lq->bytes, m.body.size());
      lq->position = m.queue_offset + 1;
      out.push_back(std::move(m));
      lq->buf.pop_front();
    }
    im.KickLocked(lq);  // it may have stopped on a full buffer
  }
  im.poll_cursor = (im.poll_cursor + 1) % n;
  return out;
}

absl::Status LitePullConsumer::Seek(const MessageQueue& queue, int64_t offset) {
  return impl_->SeekChecked(
      queue, [offset]() -> absl::StatusOr<int64_t> { return offset; }, true);
}

absl::Status LitePullConsumer::SeekToBegin(const MessageQueue& queue) {
  Impl& im = *impl_;
  return im.SeekChecked(
      queue, [&] { return MinOffset(*im.instance, queue); }, false);
}

absl::Status LitePullConsumer::SeekToEnd(const MessageQueue& queue) {
  Impl& im = *impl_;
  return im.SeekChecked(
      queue, [&] { return MaxOffset(*im.instance, queue); }, false);
}

absl::Status LitePullConsumer::CommitSync() {
  Impl& im = *impl_;
  if (!im.running.load()) return absl::FailedPreconditionError("the consumer is not running");
  return im.Commit(true);
}

absl::StatusOr<int64_t> LitePullConsumer::Committed(const MessageQueue& queue) {
  Impl& im = *impl_;
  if (!im.running.load()) return absl::FailedPreconditionError("the consumer is not running");
  std::lock_guard cl(im.commit_mu);
  return im.offsets->ReadStore(queue);
}

void LitePullConsumer::Pause(const std::vector<MessageQueue>& queues) {
  std::lock_guard l(impl_->mu);
  impl_->paused.insert(queues.begin(), queues.end());
}

void LitePullConsumer::Resume(const std::vector<MessageQueue>& queues) {
  Impl& im = *impl_;
  std::lock_guard l(im.mu);
  for (const MessageQueue& q : queues) {
    im.paused.erase(q);
    if (auto it = im.table.find(q); it != im.table.end()) im.KickLocked(it->second);
  }
  im.cv.notify_all();  // what they buffered may be returned now
}

absl::StatusOr<std::vector<MessageQueue>> LitePullConsumer::FetchMessageQueues(
    const std::string& topic) {
  Impl& im = *impl_;
  if (!im.running.load()) return absl::FailedPreconditionError("the consumer is not running");
  STELE_RETURN_IF_ERROR(broker::ValidateTopic(topic));
  STELE_ASSIGN_OR_RETURN(TopicRoute route, im.instance->FetchRoute(topic));
  std::vector<MessageQueue> out = SubscribeQueues(topic, route);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<MessageQueue> LitePullConsumer::Assignment() const {
  std::lock_guard l(impl_->mu);
  std::vector<MessageQueue> out;
  for (const auto& [q, lq] : impl_->table) out.push_back(q);
  return out;
}

const std::string& LitePullConsumer::client_id() const {
  static const std::string kNone;
  return impl_->instance != nullptr ? impl_->instance->client_id() : kNone;
}

void LitePullConsumer::RebalanceNow() {
  if (impl_->running.load()) impl_->Rebalance();
}

}  // namespace stele::client
