#include "stele/client/push_consumer.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "client/client_instance.h"
#include "client/consumer_common.h"
#include "client/offset_store.h"
#include "client/wire.h"
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

// A lock the broker granted is trusted for this long without renewal (Java
// REBALANCE_LOCK_MAX_LIVE_TIME); the broker keeps it for 60 s, so a renewal always lands first.
constexpr int64_t kLockLiveMs = 30000;
// An orderly listener keeps its thread at most this long before yielding to other queues.
constexpr int64_t kMaxOrderlySliceMs = 60000;
// How long a message whose send-back failed waits before it is consumed again locally.
constexpr Ms kLocalRetryDelay{5000};

}  // namespace

// One assigned queue: the messages pulled and not yet committed (Java ProcessQueue).
struct ProcessQueue {
  explicit ProcessQueue(MessageQueue q) : mq(std::move(q)) {}
  const MessageQueue mq;
  std::atomic<bool> dropped{false};
  std::atomic<bool> locked{false};
  std::atomic<int64_t> last_lock_ms{0};

  std::mutex mu;
  std::map<int64_t, MessageExt> msgs;   // queue offset -> message, not yet consumed
  std::map<int64_t, MessageExt> taken;  // orderly: handed to the listener, not committed
  size_t bytes = 0;
  int64_t max_offset_seen = -1;
  bool orderly_scheduled = false;

  // Orderly: one listener call at a time.
  std::mutex consume_mu;

  bool LockValid() const { return locked.load() && NowMs() - last_lock_ms.load() < kLockLiveMs; }
  size_t Count() {
    std::lock_guard l(mu);
    return msgs.size() + taken.size();
  }
  // `next_begin_offset`: where the pull that returned `in` ends. Messages between the last of
  // `in` and it were filtered out (by tag); once `in` is consumed the commit point moves past
  // them too, or a queue whose tail is filtered would never commit to its end.
  void Add(const std::vector<MessageExt>& in, int64_t next_begin_offset) {
    std::lock_guard l(mu);
    for (const MessageExt& m : in) {
      if (msgs.emplace(m.queue_offset, m).second) bytes += m.body.size();
      max_offset_seen = std::max(max_offset_seen, m.queue_offset);
    }
    max_offset_seen = std::max(max_offset_seen, next_begin_offset - 1);
  }
  // Removes consumed messages; the offset to commit (the first unconsumed one, or past all).
  int64_t Remove(const std::vector<MessageExt>& done) {
    std::lock_guard l(mu);
    for (const MessageExt& m : done) {
      auto it = msgs.find(m.queue_offset);
      if (it == msgs.end()) continue;
      bytes -= std::min(bytes, it->second.body.size());
      msgs.erase(it);
    }
    return msgs.empty() ? max_offset_seen + 1 : msgs.begin()->first;
  }
};

struct PushConsumer::Impl : ClientMember, std::enable_shared_from_this<PushConsumer::Impl> {
  PushConsumerOptions opt;
  ConcurrentListener concurrent;
  OrderlyListener orderly;
  std::shared_ptr<ClientInstance> instance;
  std::unique_ptr<OffsetStore> offsets;
  std::unique_ptr<Executor> consume_pool;
  std::atomic<bool> running{false};
  bool started_once = false;

  mutable std::mutex mu;
  std::map<std::string, broker::SubscriptionData> subs;  // by topic (incl. the retry topic)
  std::map<MessageQueue, std::shared_ptr<ProcessQueue>> table;
  std::mutex rebalance_mu;

  bool is_orderly() const { return orderly != nullptr; }
  bool clustering() const { return opt.model == MessageModel::kClustering; }
  int max_reconsume() const {
    if (opt.max_reconsume_times >= 0) return opt.max_reconsume_times;
    return is_orderly() ? INT_MAX : 16;
  }

  // --- ClientMember ---
  void FillHeartbeat(broker::HeartbeatData* hb) override {
    broker::ConsumerData c;
    c.group_name = opt.group;
    c.consume_type = broker::ConsumeType::kPassively;
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
    return out;
  }
  void OnConsumerIdsChanged(const std::string& group) override {
    if (group == opt.group && running.load()) Rebalance();
  }

  // As Java's resetOffset: the held queues of the topic are dropped (their pulled messages are
  // not consumed, their listeners' results not committed), the new offsets are committed again
  // (a periodic persist racing the broker's reset would otherwise leave the old ones), and the
  // rebalance below takes the queues back from the committed offsets.
  void OnResetOffset(const std::string& group, const std::string& topic,
                     const std::map<MessageQueue, int64_t>& reset) override {
    if (group != opt.group || !running.load()) return;
    {
      std::lock_guard rl(rebalance_mu);
      std::vector<std::shared_ptr<ProcessQueue>> held;
      {
        std::lock_guard l(mu);
        for (auto it = table.begin(); it != table.end();) {
          if (it->first.topic == topic && reset.count(it->first) != 0) {
            held.push_back(it->second);
            it = table.erase(it);
          } else {
            ++it;
          }
        }
      }
      std::set<MessageQueue> queues;
      for (const auto& pq : held) {
        pq->dropped.store(true);
        if (is_orderly()) {
          std::lock_guard cl(pq->consume_mu);  // a running listener finishes first
        }
        offsets->Update(pq->mq, reset.at(pq->mq), false);
        queues.insert(pq->mq);
      }
      if (auto s = offsets->Persist(queues); !s.ok()) {
        log::Warn("consumer {}: committing reset offsets of {}: {}", opt.group, topic,
                  s.ToString());
      }
      for (const auto& pq : held) {
        offsets->Remove(pq->mq);
        if (clustering() && is_orderly()) {
          UnlockQueues(*instance, opt.group, pq->mq.broker_name, {pq->mq}, true);
        }
      }
      log::Info("consumer {}: offsets of {} reset on {} queues", opt.group, topic, held.size());
    }
    Rebalance();
  }

  std::vector<std::shared_ptr<ProcessQueue>> Queues() const {
    std::lock_guard l(mu);
    std::vector<std::shared_ptr<ProcessQueue>> out;
    for (const auto& [q, pq] : table) out.push_back(pq);
    return out;
  }
  std::optional<broker::SubscriptionData> SubOf(const std::string& topic) const {
    std::lock_guard l(mu);
    auto it = subs.find(topic);
    if (it == subs.end()) return std::nullopt;
    return it->second;
  }

  // --- rebalance ---
  void Rebalance() {
    std::lock_guard rl(rebalance_mu);
    if (!running.load()) return;
    std::vector<std::string> topics = RouteTopics();
    for (const std::string& topic : topics) {
      auto route = instance->FetchRoute(topic);
      if (!route.ok()) {
        if (!absl::IsNotFound(route.status())) {
          log::Warn("consumer {}: route of {}: {}", opt.group, topic, route.status().ToString());
        }
        continue;
      }
      std::vector<MessageQueue> all = SubscribeQueues(topic, *route);
      std::sort(all.begin(), all.end());
      std::vector<MessageQueue> mine;
      if (clustering()) {
        auto cids = ConsumerIds(*instance, topic, opt.group);
        if (!cids.ok()) {
          log::Warn("consumer {}: consumer list for {}: {}", opt.group, topic,
                    cids.status().ToString());
          continue;
        }
        // A broker that has not seen our heartbeat yet (just restarted, or the first rebalance
        // raced the heartbeat) lists the group without us: allocating from that list would drop
        // every queue we hold. Keep the current assignment and heartbeat; the next rebalance
        // (or the broker's notification) settles it.
        if (std::find(cids->begin(), cids->end(), instance->client_id()) == cids->end()) {
          log::Info("consumer {}: the broker does not list {} in the group yet; keeping {}",
                    opt.group, instance->client_id(), topic);
          instance->SendHeartbeatToAllBrokers();
          continue;
        }
        mine = AllocateAveragely(instance->client_id(), all, *cids);
      } else {
        mine = all;
      }
      UpdateTable(topic, mine);
    }
  }

  void DropQueue(const std::shared_ptr<ProcessQueue>& pq) {
    pq->dropped.store(true);
    if (is_orderly()) {
      // Wait out a running listener call: ConsumeOrderly commits it (under consume_mu, even
      // though the queue is now dropped), so the persist below carries it before the unlock and
      // the next owner does not consume those messages again.
      std::lock_guard cl(pq->consume_mu);
    }
    (void)offsets->Persist({pq->mq});
    offsets->Remove(pq->mq);
    if (clustering() && is_orderly()) {
      UnlockQueues(*instance, opt.group, pq->mq.broker_name, {pq->mq}, true);
    }
  }

  void UpdateTable(const std::string& topic, const std::vector<MessageQueue>& mine) {
    std::vector<std::shared_ptr<ProcessQueue>> gone;
    std::vector<MessageQueue> fresh;
    {
      std::lock_guard l(mu);
      for (auto it = table.begin(); it != table.end();) {
        if (it->first.topic == topic &&
            std::find(mine.begin(), mine.end(), it->first) == mine.end()) {
          gone.push_back(it->second);
          it = table.erase(it);
        } else {
          ++it;
        }
      }
      for (const MessageQueue& q : mine) {
        if (table.count(q) == 0) fresh.push_back(q);
      }
    }
    for (const auto& pq : gone) DropQueue(pq);
    for (const MessageQueue& q : fresh) {
      auto pq = std::make_shared<ProcessQueue>(q);
      if (clustering() && is_orderly()) {
        auto locked = LockQueues(*instance, opt.group, q.broker_name, {q});
        if (!locked.ok() || locked->count(q) == 0) continue;  // another consumer still holds it
        pq->locked.store(true);
        pq->last_lock_ms.store(NowMs());
      }
      offsets->Remove(q);
      auto from =
          StartOffset(*instance, *offsets, q, opt.consume_from_where, opt.consume_timestamp_ms);
      if (!from.ok()) {
        log::Warn("consumer {}: start offset of {}: {}", opt.group, q.ToString(),
                  from.status().ToString());
        if (clustering() && is_orderly()) {
          UnlockQueues(*instance, opt.group, q.broker_name, {q}, true);
        }
        continue;
      }
      offsets->Update(q, *from, false);
      {
        std::lock_guard l(mu);
        if (!running.load() || !table.emplace(q, pq).second) continue;
      }
      Pull(pq, *from);
    }
  }

  // --- pulling ---
  void PullLater(std::shared_ptr<ProcessQueue> pq, int64_t offset, Ms delay) {
    std::weak_ptr<Impl> weak = weak_from_this();
    instance->scheduler().RunAfter(delay, [weak, pq = std::move(pq), offset] {
      if (auto self = weak.lock()) {
        self->instance->callbacks().Submit([self, pq, offset] { self->Pull(pq, offset); });
      }
    });
  }

  void Pull(std::shared_ptr<ProcessQueue> pq, int64_t offset) {
    if (!running.load() || pq->dropped.load()) return;
    bool full;
    {
      std::lock_guard l(pq->mu);
      full = static_cast<int>(pq->msgs.size() + pq->taken.size()) > opt.pull_threshold_for_queue ||
             pq->bytes > static_cast<size_t>(opt.pull_threshold_size_for_queue_mib) << 20;
    }
    if (full) {  // flow control: wait for the listener to catch up
      PullLater(pq, offset, Ms(50));
      return;
    }
    if (clustering() && is_orderly() && !pq->LockValid()) {
      PullLater(pq, offset, Ms(std::min<int64_t>(3000, opt.lock_interval.count())));
      return;
    }
    std::optional<broker::SubscriptionData> sub = SubOf(pq->mq.topic);
    if (!sub) return;  // unsubscribed; the next rebalance drops the queue
    PullArgs a;
    a.group = opt.group;
    a.queue = pq->mq;
    a.offset = offset;
    a.max_msgs = opt.pull_batch_size;
    a.commit_offset = clustering() ? offsets->ReadMemory(pq->mq) : -1;
    a.suspend = opt.long_poll_timeout;
    a.sub = &*sub;
    std::weak_ptr<Impl> weak = weak_from_this();
    PullAsync(*instance, a, [weak, pq, offset](absl::StatusOr<PullResult> r) {
      auto self = weak.lock();
      if (self == nullptr || !self->running.load() || pq->dropped.load()) return;
      self->OnPulled(pq, offset, std::move(r));
    });
  }

  void OnPulled(const std::shared_ptr<ProcessQueue>& pq, int64_t offset,
                absl::StatusOr<PullResult> r) {
    if (!r.ok()) {
      log::Debug("consumer {}: {}", opt.group, r.status().ToString());
      PullLater(pq, offset, opt.pull_delay_on_error);
      return;
    }
    switch (r->status) {
      case PullStatus::kFound: {
        std::vector<MessageExt> msgs = std::move(r->msgs);
        for (MessageExt& m : msgs) RestoreRetryTopic(opt.group, &m);
        if (!msgs.empty()) {
          pq->Add(msgs, r->next_begin_offset);
          Dispatch(pq, std::move(msgs));
        } else {
          // Everything filtered out: the commit point may still move past them.
          std::lock_guard l(pq->mu);
          if (pq->msgs.empty() && pq->taken.empty()) {
            offsets->Update(pq->mq, r->next_begin_offset, true);
          }
        }
        Pull(pq, r->next_begin_offset);
        return;
      }
      case PullStatus::kNoNewMsg:
      case PullStatus::kNoMatchedMsg: {
        {
          std::lock_guard l(pq->mu);
          if (pq->msgs.empty() && pq->taken.empty() && r->next_begin_offset > offset) {
            offsets->Update(pq->mq, r->next_begin_offset, true);
          }
        }
        Pull(pq, r->next_begin_offset);
        return;
      }
      case PullStatus::kOffsetIllegal:
        log::Warn("consumer {}: offset {} of {} is illegal; moving to {}", opt.group, offset,
                  pq->mq.ToString(), r->next_begin_offset);
        offsets->Update(pq->mq, r->next_begin_offset, false);
        (void)offsets->Persist({pq->mq});
        PullLater(pq, r->next_begin_offset, Ms(0));
        return;
    }
  }

  void Dispatch(const std::shared_ptr<ProcessQueue>& pq, std::vector<MessageExt> msgs) {
    if (is_orderly()) {
      ScheduleOrderly(pq, Ms(0));
      return;
    }
    const size_t batch = static_cast<size_t>(std::max(1, opt.consume_batch_size));
    std::vector<std::function<void()>> tasks;
    tasks.reserve((msgs.size() + batch - 1) / batch);
    for (size_t i = 0; i < msgs.size(); i += batch) {
      std::vector<MessageExt> part(
          std::make_move_iterator(msgs.begin() + i),
          std::make_move_iterator(msgs.begin() + std::min(msgs.size(), i + batch)));
      tasks.push_back(ConsumeTask(pq, std::move(part)));
    }
    consume_pool->SubmitAll(std::move(tasks));
  }

  // --- concurrent consumption ---
  // A listener call for `msgs` of `pq`, for the consume pool.
  std::function<void()> ConsumeTask(std::shared_ptr<ProcessQueue> pq,
                                    std::vector<MessageExt> msgs) {
    std::weak_ptr<Impl> weak = weak_from_this();
    return [weak, pq = std::move(pq), msgs = std::move(msgs)]() mutable {
      if (auto self = weak.lock()) self->ConsumeConcurrently(pq, std::move(msgs));
    };
  }

  void SubmitConcurrent(std::shared_ptr<ProcessQueue> pq, std::vector<MessageExt> msgs, Ms delay) {
    std::weak_ptr<Impl> weak = weak_from_this();
    std::function<void()> task = ConsumeTask(std::move(pq), std::move(msgs));
    if (delay.count() == 0) {
      consume_pool->Submit(std::move(task));
      return;
    }
    instance->scheduler().RunAfter(delay, [weak, task = std::move(task)]() mutable {
      if (auto self = weak.lock()) self->consume_pool->Submit(std::move(task));
    });
  }

  void ConsumeConcurrently(const std::shared_ptr<ProcessQueue>& pq, std::vector<MessageExt> msgs) {
    if (!running.load() || pq->dropped.load()) return;
    ConsumeContext ctx;
    ctx.queue = pq->mq;
    ConsumeStatus st = ConsumeStatus::kReconsumeLater;
    try {
      st = concurrent(msgs, ctx);
    } catch (const std::exception& e) {
      log::Warn("consumer {}: listener threw: {}", opt.group, e.what());
    } catch (...) {
      log::Warn("consumer {}: listener threw", opt.group);
    }
    if (pq->dropped.load()) return;  // the queue moved on; its new owner re-consumes
    std::vector<MessageExt> retry_locally;
    if (st == ConsumeStatus::kReconsumeLater) {
      if (clustering()) {
        std::vector<MessageExt> done;
        for (MessageExt& m : msgs) {
          absl::Status s =
              SendBack(*instance, opt.group, m, ctx.delay_level_when_next_consume, max_reconsume());
          if (s.ok()) {
            done.push_back(std::move(m));
          } else {
            log::Warn("consumer {}: send back of {} failed ({}); retrying locally", opt.group,
                      m.msg_id, s.ToString());
            m.reconsume_times++;
            retry_locally.push_back(std::move(m));
          }
        }
        msgs = std::move(done);
      } else {
        // Broadcasting has no retry topic (RocketMQ drops them too); log and move on.
        log::Warn("consumer {}: broadcast messages failed and are not retried ({} messages)",
                  opt.group, msgs.size());
      }
    }
    const int64_t commit = pq->Remove(msgs);
    if (!retry_locally.empty()) {
      SubmitConcurrent(pq, std::move(retry_locally), kLocalRetryDelay);
      return;
    }
    offsets->Update(pq->mq, commit, true);
  }

  // --- orderly consumption ---
  void ScheduleOrderly(const std::shared_ptr<ProcessQueue>& pq, Ms delay) {
    {
      std::lock_guard l(pq->mu);
      if (pq->orderly_scheduled && delay.count() == 0) return;
      pq->orderly_scheduled = true;
    }
    std::weak_ptr<Impl> weak = weak_from_this();
    auto task = [weak, pq] {
      if (auto self = weak.lock()) self->ConsumeOrderly(pq);
    };
    if (delay.count() == 0) {
      consume_pool->Submit(std::move(task));
    } else {
      instance->scheduler().RunAfter(delay, [weak, task = std::move(task)]() mutable {
        if (auto self = weak.lock()) self->consume_pool->Submit(std::move(task));
      });
    }
  }

  void ConsumeOrderly(const std::shared_ptr<ProcessQueue>& pq) {
    std::lock_guard cl(pq->consume_mu);
    {
      std::lock_guard l(pq->mu);
      pq->orderly_scheduled = false;
    }
    const int64_t start = NowMs();
    const size_t batch = static_cast<size_t>(std::max(1, opt.consume_batch_size));
    while (running.load() && !pq->dropped.load()) {
      if (clustering() && !pq->LockValid()) {
        ScheduleOrderly(pq, Ms(100));
        return;
      }
      if (NowMs() - start > kMaxOrderlySliceMs) {
        ScheduleOrderly(pq, Ms(10));
        return;
      }
      std::vector<MessageExt> msgs;
      {
        std::lock_guard l(pq->mu);
        while (!pq->msgs.empty() && msgs.size() < batch) {
          auto it = pq->msgs.begin();
          pq->taken.emplace(it->first, it->second);
          msgs.push_back(std::move(it->second));
          pq->msgs.erase(it);
        }
      }
      if (msgs.empty()) return;
      ConsumeContext ctx;
      ctx.queue = pq->mq;
      OrderlyStatus st = OrderlyStatus::kSuspendCurrentQueueAMoment;
      try {
        st = orderly(msgs, ctx);
      } catch (...) {
        log::Warn("consumer {}: orderly listener threw", opt.group);
      }
      if (st == OrderlyStatus::kSuspendCurrentQueueAMoment) {
        // Messages past the retry budget go to the DLQ (by send-back); the rest come again.
        bool all_gone = true;
        std::vector<MessageExt> again;
        for (MessageExt& m : msgs) {
          if (m.reconsume_times + 1 > max_reconsume() &&
              SendBack(*instance, opt.group, m, -1, max_reconsume()).ok()) {
            continue;
          }
          all_gone = false;
          m.reconsume_times++;
          again.push_back(std::move(m));
        }
        if (!all_gone) {
          std::lock_guard l(pq->mu);
          for (MessageExt& m : again) {
            pq->taken.erase(m.queue_offset);
            const int64_t off = m.queue_offset;
            pq->msgs.insert_or_assign(off, std::move(m));
          }
          // What is left in `taken` went to the DLQ: settled, drop it. (This loop used to keep
          // exactly those entries without advancing: an endless loop for a batch in which some
          // messages went to the DLQ and others did not.)
          for (const auto& [off, m] : pq->taken) pq->bytes -= std::min(pq->bytes, m.body.size());
          pq->taken.clear();
        }
        if (!all_gone) {
          const Ms wait = ctx.suspend_time.count() > 0 ? ctx.suspend_time : opt.suspend_time;
          ScheduleOrderly(pq, wait);
          return;
        }
      }
      // Commit what was taken.
      int64_t commit;
      {
        std::lock_guard l(pq->mu);
        for (const auto& [off, m] : pq->taken) pq->bytes -= std::min(pq->bytes, m.body.size());
        commit = pq->taken.empty() ? -1 : pq->taken.rbegin()->first + 1;
        pq->taken.clear();
      }
      // Committed even when the queue was dropped meanwhile: DropQueue waits for consume_mu
      // before it persists, so this commit reaches the broker before the queue is unlocked.
      if (commit >= 0) offsets->Update(pq->mq, commit, false);
      // Fairness: there are usually fewer consume threads than queues, and this loop keeps its
      // thread while the queue has messages (up to kMaxOrderlySliceMs), so busy queues starved
      // the others for up to a minute. Give the thread up after each call when other work waits;
      // this queue goes to the back of the line.
      if (consume_pool->queued() > 0) {
        ScheduleOrderly(pq, Ms(0));
        return;
      }
    }
  }

  void LockAll() {
    std::map<std::string, std::vector<std::shared_ptr<ProcessQueue>>> by_broker;
    for (auto& pq : Queues()) by_broker[pq->mq.broker_name].push_back(pq);
    for (auto& [broker_name, pqs] : by_broker) {
      std::vector<MessageQueue> qs;
      for (auto& pq : pqs) qs.push_back(pq->mq);
      auto locked = LockQueues(*instance, opt.group, broker_name, qs);
      if (!locked.ok()) continue;  // keep the old state; it expires on its own
      const int64_t now = NowMs();
      for (auto& pq : pqs) {
        const bool ok = locked->count(pq->mq) != 0;
        pq->locked.store(ok);
        if (ok) pq->last_lock_ms.store(now);
      }
    }
  }

  // Commits the offsets of the queues held now, and only those: OffsetStore::Persist({}) means
  // "everything it knows", which can include a queue dropped by a rebalance whose late listener
  // ack re-inserted its old offset; committing that would move the new owner's commit back.
  void PersistHeld() {
    const std::set<MessageQueue> held = HeldQueues();
    if (!held.empty()) (void)offsets->Persist(held);
  }

  std::set<MessageQueue> HeldQueues() const {
    std::set<MessageQueue> out;
    std::lock_guard l(mu);
    for (const auto& [q, pq] : table) out.insert(q);
    return out;
  }
};

PushConsumer::PushConsumer(PushConsumerOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->opt = std::move(options);
}

PushConsumer::~PushConsumer() { Shutdown(); }

absl::Status PushConsumer::Subscribe(const std::string& topic, const std::string& expression,
                                     ExpressionType type) {
  STELE_RETURN_IF_ERROR(broker::ValidateTopic(topic));
  STELE_ASSIGN_OR_RETURN(broker::SubscriptionData s, BuildSubscription(topic, expression, type));
  if (impl_->running.load()) {
    (void)impl_->instance->FetchRoute(topic);
    STELE_RETURN_IF_ERROR(CheckSubscriptionsInBrokers(*impl_->instance, impl_->opt.group, {s}));
  }
  {
    std::lock_guard l(impl_->mu);
    impl_->subs[topic] = std::move(s);
  }
  if (impl_->running.load()) {
    client::HeartbeatSync(*impl_->instance, *impl_, fmt::format("consumer {}", impl_->opt.group));
    impl_->instance->callbacks().Submit([im = impl_] { im->Rebalance(); });
  }
  return absl::OkStatus();
}

void PushConsumer::Unsubscribe(const std::string& topic) {
  {
    std::lock_guard l(impl_->mu);
    impl_->subs.erase(topic);
  }
  if (impl_->running.load()) {
    client::HeartbeatSync(*impl_->instance, *impl_, fmt::format("consumer {}", impl_->opt.group));
    impl_->instance->callbacks().Submit([im = impl_, topic] {
      std::lock_guard rl(im->rebalance_mu);  // not interleaved with a rebalance's UpdateTable
      im->UpdateTable(topic, {});
    });
  }
}

void PushConsumer::RegisterListener(ConcurrentListener listener) {
  impl_->concurrent = std::move(listener);
}

void PushConsumer::RegisterOrderlyListener(OrderlyListener listener) {
  impl_->orderly = std::move(listener);
}

absl::Status PushConsumer::Start() {
  Impl& im = *impl_;
  if (im.running.load()) return absl::OkStatus();
  if (im.started_once) {
    return absl::FailedPreconditionError("a push consumer cannot be restarted; create a new one");
  }
  STELE_RETURN_IF_ERROR(broker::ValidateGroup(im.opt.group));
  if ((im.concurrent == nullptr) == (im.orderly == nullptr)) {
    return absl::FailedPreconditionError("register exactly one listener before Start()");
  }
  {
    std::lock_guard l(im.mu);
    if (im.subs.empty()) return absl::FailedPreconditionError("subscribe to a topic first");
  }
  if (im.opt.pull_batch_size < 1 || im.opt.pull_batch_size > 1024) {
    return absl::InvalidArgumentError("pull_batch_size must be in [1, 1024]");
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
    std::lock_guard l(im.mu);
    auto retry = BuildSubscription(RetryTopicOf(im.opt.group), "*", ExpressionType::kTag);
    im.subs[retry->topic] = *retry;
  } else {
    STELE_ASSIGN_OR_RETURN(im.offsets, OpenLocalOffsetStore(im.opt.offset_store_dir,
                                                            im.opt.instance_name, im.opt.group));
  }
  im.consume_pool = std::make_unique<Executor>(im.opt.consume_threads, "stele-consume");
  im.instance->AddMember(impl_.get());
  im.instance->Start();
  im.running.store(true);
  FetchRoutes(*im.instance, im.RouteTopics(), fmt::format("consumer {}", im.opt.group));
  std::vector<broker::SubscriptionData> subs;
  {
    std::lock_guard l(im.mu);
    for (const auto& entry : im.subs) subs.push_back(entry.second);
  }
  if (absl::Status s = CheckSubscriptionsInBrokers(*im.instance, im.opt.group, subs); !s.ok()) {
    Shutdown();
    return s;
  }
  client::HeartbeatSync(*im.instance, im, fmt::format("consumer {}", im.opt.group));
  RunPeriodically(impl_, im.opt.rebalance_interval, [](Impl& s) { s.Rebalance(); });
  RunPeriodically(impl_, im.opt.persist_offset_interval, [](Impl& s) { s.PersistHeld(); });
  if (im.is_orderly() && im.clustering()) {
    RunPeriodically(impl_, im.opt.lock_interval, [](Impl& s) { s.LockAll(); });
  }
  im.Rebalance();
  return absl::OkStatus();
}

void PushConsumer::Shutdown() {
  Impl& im = *impl_;
  if (!im.running.exchange(false)) return;
  // No more pulls or listener calls start; running ones finish.
  im.consume_pool->Shutdown();
  {
    std::lock_guard rl(im.rebalance_mu);  // a rebalance in flight finishes first
  }
  std::vector<std::shared_ptr<ProcessQueue>> held = im.Queues();
  for (auto& pq : held) pq->dropped.store(true);
  im.PersistHeld();
  if (im.is_orderly() && im.clustering()) {
    std::map<std::string, std::vector<MessageQueue>> by_broker;
    for (auto& pq : held) by_broker[pq->mq.broker_name].push_back(pq->mq);
    for (auto& [b, qs] : by_broker) UnlockQueues(*im.instance, im.opt.group, b, qs, false);
  }
  UnregisterConsumer(*im.instance, im.opt.group);
  im.instance->RemoveMember(impl_.get());
  im.instance->Shutdown();
  std::lock_guard l(im.mu);
  im.table.clear();
}

std::vector<MessageQueue> PushConsumer::AssignedQueues() const {
  std::lock_guard l(impl_->mu);
  std::vector<MessageQueue> out;
  for (const auto& [q, pq] : impl_->table) out.push_back(q);
  return out;
}

const std::string& PushConsumer::client_id() const {
  static const std::string kNone;
  return impl_->instance != nullptr ? impl_->instance->client_id() : kNone;
}

void PushConsumer::RebalanceNow() {
  if (impl_->running.load()) impl_->Rebalance();
}

}  // namespace stele::client
