// PopService: validation, pops (from in-flight deliveries that became visible, then new
// messages) and their journal records. See pop_service_impl.h.
#include "net/broker/pop_service_impl.h"

namespace stele::broker::pop_internal {

absl::Status PopServiceImpl::Start() {
  STELE_RETURN_IF_ERROR(Replay());
  {
    std::lock_guard<std::mutex> l(mu_);
    started_ = true;
  }
  Snapshot();  // the next start replays only what follows
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void PopServiceImpl::Stop() {
  std::list<Waiter> waiters;
  bool started = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return;
    stopping_ = true;
    started = started_;
    waiters.swap(waiters_);
  }
  {
    std::lock_guard<std::mutex> l(wake_mu_);
    stop_thread_ = true;
    waiting_.clear();
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (Waiter& w : waiters) w.done(std::vector<PoppedMessage>{});
  if (started) Snapshot();  // never over a good snapshot with a table that was not loaded
}

absl::Status PopServiceImpl::Validate(PopRequest* req, SubscriptionFilter* filter) const {
  STELE_RETURN_IF_ERROR(ValidateGroup(req->group));
  if (!ValidateTopic(req->topic).ok() &&
      !(IsRetryTopic(req->topic) && ValidateInternalTopic(req->topic).ok())) {
    return absl::InvalidArgumentError(fmt::format("invalid topic {}", ShortForMessage(req->topic)));
  }
  // Topics only the broker writes (schedule, transaction half/op, rmq_sys_*: this service's
  // journal among them). The benchmark and trace topics may be consumed, as with PULL_MESSAGE.
  if (IsNotAllowedSendTopic(req->topic) || req->topic.starts_with(kSystemTopicPrefix)) {
    return absl::InvalidArgumentError(
        fmt::format("topic {} is a system topic", ShortForMessage(req->topic)));
  }
  auto t = b_.topics().Find(req->topic);
  if (t == nullptr) {
    return absl::NotFoundError(fmt::format("topic {} not exist", ShortForMessage(req->topic)));
  }
  if (!IsReadable(t->perm) || !IsReadable(b_.broker_permission())) {
    return absl::PermissionDeniedError(
        fmt::format("topic {} is not readable", ShortForMessage(req->topic)));
  }
  if (req->queue_id < -1 || req->queue_id >= t->read_queue_nums) {
    return absl::InvalidArgumentError(fmt::format("queue id {} out of range", req->queue_id));
  }
  if (req->max_messages <= 0) return absl::InvalidArgumentError("max_messages must be positive");
  req->max_messages = std::min(req->max_messages, kMaxPopBatch);
  if (req->invisible.count() <= 0 || req->invisible.count() > kMaxInvisibleMs) {
    return absl::InvalidArgumentError("invisible duration must be within (0, 24h]");
  }
  if (req->max_delivery_attempts < 1) {
    return absl::InvalidArgumentError("max_delivery_attempts must be positive");
  }
  // TAG or SQL92 (the latter only with enablePropertyFilter), as for PULL_MESSAGE.
  *filter = ResolveSubscriptionFilter(b_, req->filter_type, req->filter_expression);
  if (filter->error_code != 0) return absl::InvalidArgumentError(filter->error);
  return absl::OkStatus();
}

PopQueue& PopServiceImpl::QueueFor(const PopKey& k, Outcome* out) {
  auto [it, inserted] = table_.queues().try_emplace(k);
  if (inserted) {
    const int64_t min = b_.store().MinQueueOffset(k.topic, k.queue_id);
    const auto committed = b_.offsets().Query(k.group, k.topic, k.queue_id);
    it->second.pop_offset = committed ? std::max(*committed, min) : min;
    out->journal += QueueLine(k, it->second.pop_offset);
    CommitLocked(k, it->second);  // admin tools see the group on the queue from its first pop
  }
  return it->second;
}

void PopServiceImpl::TryPop(const PopRequest& req, const SubscriptionFilter& filter, int64_t now,
                            Outcome* out) {
  auto t = b_.topics().Find(req.topic);
  if (t == nullptr) return;  // deleted since the request was validated
  const int32_t n = t->read_queue_nums;
  if (req.queue_id >= 0) {
    if (req.queue_id < n)
      PopQueue1(req, filter, PopKey{req.group, req.topic, req.queue_id}, now, out);
    return;
  }
  const uint32_t first = rr_++;
  for (int32_t i = 0; i < n && static_cast<int>(out->msgs.size()) < req.max_messages; ++i) {
    const auto qid = static_cast<int32_t>((first + static_cast<uint32_t>(i)) % uint32_t(n));
    PopQueue1(req, filter, PopKey{req.group, req.topic, qid}, now, out);
  }
}

void PopServiceImpl::PopQueue1(const PopRequest& req, const SubscriptionFilter& filter,
                               const PopKey& key, int64_t now, Outcome* out) {
  PopQueue& q = QueueFor(key, out);
  const int64_t start_offset = q.pop_offset;
  const int64_t start_committed = q.Committed();
  bool blocked = false;  // FIFO: an earlier message of the queue is still in flight
  std::vector<int64_t> gone;
  for (auto& [qoff, d] : q.in_flight) {
    if (static_cast<int>(out->msgs.size()) >= req.max_messages) break;
    if (d.until_ms > now) {
      if (d.until_ms != kDlqPending)
        out->next_visible_ms = std::min(out->next_visible_ms, d.until_ms);
      if (req.fifo) {
        blocked = true;
        break;
      }
      continue;
    }
    if (d.attempt >= req.max_delivery_attempts) {
      d.until_ms = kDlqPending;
      out->dlq.push_back(DlqItem{key, qoff, d.gen, d.phys, d.attempt});
      if (req.fifo) {
        blocked = true;
        break;
      }
      continue;
    }
    auto rec = b_.store().Read(d.phys);
    if (!rec.ok() || rec->offset != d.phys || rec->msg.queue_offset != qoff ||
        rec->msg.topic != key.topic) {
      gone.push_back(qoff);  // removed by retention (or lost in a crash): nothing to deliver
      continue;
    }
    d.gen = ++gen_;
    d.attempt++;
    d.until_ms = now + req.invisible.count();
    out->journal += DeliverLine(key, qoff, d);
    out->msgs.push_back(PoppedMessage{*std::move(rec), EncodeHandle({key, qoff, d.gen, d.until_ms}),
                                      d.attempt, d.until_ms});
  }
  for (int64_t qoff : gone) {
    log::Warn("pop: {} {} queue {} offset {} is gone from the store; dropped", key.group, key.topic,
              key.queue_id, qoff);
    q.in_flight.erase(qoff);
    out->journal += AckLine(key, qoff);
  }
  if (!blocked) ReadNew(req, filter, key, q, now, out);
  if (q.pop_offset != start_offset) out->journal += QueueLine(key, q.pop_offset);
  if (q.Committed() != start_committed) CommitLocked(key, q);
}

void PopServiceImpl::ReadNew(const PopRequest& req, const SubscriptionFilter& filter,
                             const PopKey& key, PopQueue& q, int64_t now, Outcome* out) {
  for (int scan = 0; scan < kMaxFilterScans; ++scan) {
    const int room = req.max_messages - static_cast<int>(out->msgs.size());
    if (room <= 0 || q.in_flight.size() >= kMaxInFlightPerQueue) return;
    GetOptions o;
    o.max_messages = room;
    filter.Apply(&o);
    auto r = b_.store().Get(key.topic, key.queue_id, q.pop_offset, o);
    if (!r.ok()) return;
    if (r->status == GetMessageStatus::kOffsetTooSmall && r->min_offset > q.pop_offset) {
      q.pop_offset = r->min_offset;  // retention removed what was never delivered
      continue;
    }
    if (r->status == GetMessageStatus::kOffsetOverflowBadly) {
      q.pop_offset = r->max_offset;  // e.g. the store lost its tail in a machine crash
      return;
    }
    for (RecordRef& rec : r->messages) {
      const int64_t qoff = rec.msg.queue_offset;
      PopDelivery d{++gen_, 1, now + req.invisible.count(), rec.offset};
      q.in_flight[qoff] = d;
      out->journal += DeliverLine(key, qoff, d);
      out->msgs.push_back(PoppedMessage{
          std::move(rec), EncodeHandle({key, qoff, d.gen, d.until_ms}), 1, d.until_ms});
    }
    if (r->next_begin_offset <= q.pop_offset) return;
    q.pop_offset = r->next_begin_offset;
  }
}

void PopServiceImpl::CommitLocked(const PopKey& key, const PopQueue& q) {
  if (absl::Status s = b_.offsets().Commit(key.group, key.topic, key.queue_id, q.Committed());
      !s.ok()) {
    log::Warn("pop: committing {} {} queue {} failed: {}", key.group, key.topic, key.queue_id,
              StatusMessage(s));
  }
}

CompletionPtr PopServiceImpl::JournalLocked(std::string journal,
                                            std::function<void(absl::Status)> finish) {
  if (journal.empty()) return std::make_shared<Completion>(1, std::move(finish));
  auto c = std::make_shared<Completion>(2, std::move(finish));
  OutgoingMessage m;
  m.topic = std::string(kPopStateTopic);
  m.queue_id = 0;
  m.body = std::move(journal);
  m.born_timestamp = NowMs();
  ++changes_;
  b_.writer().Put(std::move(m), [c](absl::StatusOr<AppendResult> r) {
    if (!r.ok()) {
      c->status = r.status();
    } else if (r->status == PutMessageStatus::kFlushDiskTimeout) {
      c->status = absl::DeadlineExceededError("pop state not flushed in time");
    }
    c->Arrive();
  });
  return c;
}

CompletionPtr PopServiceImpl::AnswerLocked(Outcome* out, PopCallback done) {
  return JournalLocked(std::move(out->journal), [msgs = std::move(out->msgs),
                                                 done = std::move(done)](absl::Status s) mutable {
    if (s.ok()) {
      done(std::move(msgs));
    } else {
      done(absl::UnavailableError(fmt::format("recording the pop failed: {}", StatusMessage(s))));
    }
  });
}

void PopServiceImpl::PopAsync(PopRequest req, SteadyTime deadline, PopCallback done) {
  SubscriptionFilter filter;
  if (absl::Status s = Validate(&req, &filter); !s.ok()) {
    done(s);
    return;
  }
  Outcome out;
  CompletionPtr c;
  bool exhausted = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!stopping_) TryPop(req, filter, NowMs(), &out);
    if (out.msgs.empty() && !stopping_ && std::chrono::steady_clock::now() < deadline) {
      if (waiters_.size() >= kMaxWaiters) {
        c = JournalLocked(std::move(out.journal), [](absl::Status) {});
        exhausted = true;
      } else {
        c = JournalLocked(std::move(out.journal), [](absl::Status) {});
        const SteadyTime retry_at =
            RetryAt(out, deadline, NowMs(), std::chrono::steady_clock::now());
        AddWaiting(req.topic, 1, retry_at);
        waiters_.push_back(
            Waiter{std::move(req), std::move(filter), deadline, std::move(done), retry_at});
      }
    } else {
      c = AnswerLocked(&out, std::move(done));
    }
  }
  c->Arrive();
  Dispatch(std::move(out.dlq));
  if (exhausted) {
    done(absl::ResourceExhaustedError(
        fmt::format("too many pop requests waiting (at most {})", kMaxWaiters)));
  }
}

}  // namespace stele::broker::pop_internal
