// PopService: acks, invisible-time changes, the dead-letter queue, the service thread (waiting
// pops, snapshots) and the replay at start. See pop_service_impl.h.
#include "net/broker/pop_service_impl.h"

namespace stele::broker::pop_internal {

absl::StatusOr<PopDelivery*> PopServiceImpl::FindLocked(const std::string& group,
                                                        const std::string& topic,
                                                        const std::string& handle,
                                                        ReceiptHandle* h) {
  STELE_ASSIGN_OR_RETURN(*h, DecodeHandle(handle));
  if (h->key.group != group || h->key.topic != topic) {
    return absl::InvalidArgumentError("the receipt handle belongs to another group or topic");
  }
  auto q = table_.queues().find(h->key);
  if (q == table_.queues().end()) return absl::NotFoundError("no such delivery in flight");
  auto d = q->second.in_flight.find(h->queue_offset);
  if (d == q->second.in_flight.end()) {
    return absl::NotFoundError("the message is no longer in flight (acked)");
  }
  if (d->second.gen != h->gen) {
    return absl::FailedPreconditionError(
        "the receipt handle expired: the message was delivered again or its handle changed");
  }
  return &d->second;
}

CompletionPtr PopServiceImpl::AckLocked(const PopKey& key, int64_t qoff,
                                        std::function<void(absl::Status)> f) {
  PopQueue& q = table_.queues()[key];
  const int64_t before = q.Committed();
  q.in_flight.erase(qoff);
  if (q.Committed() != before) CommitLocked(key, q);
  return JournalLocked(AckLine(key, qoff), std::move(f));
}

absl::Status PopServiceImpl::Ack(const std::string& group, const std::string& topic,
                                 const std::string& receipt_handle) {
  std::promise<absl::Status> p;
  CompletionPtr c;
  {
    std::lock_guard<std::mutex> l(mu_);
    ReceiptHandle h;
    STELE_RETURN_IF_ERROR(FindLocked(group, topic, receipt_handle, &h).status());
    c = AckLocked(h.key, h.queue_offset, [&p](absl::Status s) { p.set_value(s); });
  }
  c->Arrive();
  Kick(topic);  // a FIFO queue may be unblocked
  return Wait(p.get_future());
}

absl::StatusOr<std::string> PopServiceImpl::ChangeInvisibleDuration(
    const std::string& group, const std::string& topic, const std::string& receipt_handle,
    std::chrono::milliseconds invisible) {
  // 0 makes it visible at once (a negative acknowledgement).
  if (invisible.count() < 0 || invisible.count() > kMaxInvisibleMs) {
    return absl::InvalidArgumentError("invisible duration must be within [0, 24h]");
  }
  std::promise<absl::Status> p;
  CompletionPtr c;
  std::string handle;
  {
    std::lock_guard<std::mutex> l(mu_);
    ReceiptHandle h;
    STELE_ASSIGN_OR_RETURN(PopDelivery * d, FindLocked(group, topic, receipt_handle, &h));
    if (d->until_ms == kDlqPending) {
      return absl::FailedPreconditionError("the message is being moved to the dead-letter queue");
    }
    d->gen = ++gen_;
    d->until_ms = NowMs() + invisible.count();
    handle = EncodeHandle({h.key, h.queue_offset, d->gen, d->until_ms});
    c = JournalLocked(ChangeLine(h.key, h.queue_offset, d->gen, d->until_ms),
                      [&p](absl::Status s) { p.set_value(s); });
  }
  c->Arrive();
  Kick(topic);  // a shorter invisible time may make it visible before the planned wake-up
  STELE_RETURN_IF_ERROR(Wait(p.get_future()));
  return handle;
}

absl::Status PopServiceImpl::ForwardToDeadLetter(const std::string& group, const std::string& topic,
                                                 const std::string& receipt_handle) {
  DlqItem item;
  {
    std::lock_guard<std::mutex> l(mu_);
    ReceiptHandle h;
    STELE_ASSIGN_OR_RETURN(PopDelivery * d, FindLocked(group, topic, receipt_handle, &h));
    if (d->until_ms == kDlqPending) {
      return absl::FailedPreconditionError("the message is being moved to the dead-letter queue");
    }
    d->until_ms = kDlqPending;
    item = DlqItem{h.key, h.queue_offset, d->gen, d->phys, d->attempt};
  }
  std::promise<absl::Status> p;
  SendToDlq(item, [&p](absl::Status s) { p.set_value(s); });
  return Wait(p.get_future());
}

void PopServiceImpl::Dispatch(std::vector<DlqItem> dlq) {
  for (const DlqItem& item : dlq) {
    SendToDlq(item, [item](absl::Status s) {
      if (!s.ok()) {
        log::Warn("pop: moving {} {} queue {} offset {} to the DLQ failed: {}", item.key.group,
                  item.key.topic, item.key.queue_id, item.qoff, StatusMessage(s));
      }
    });
  }
}

// Stores a copy in %DLQ%<group> queue 0 (as CONSUMER_SEND_MSG_BACK does for remoting consumers),
// then acks the delivery. On failure the delivery becomes visible again soon, to be retried.
void PopServiceImpl::SendToDlq(const DlqItem& item, std::function<void(absl::Status)> done) {
  auto rec = b_.store().Read(item.phys);
  if (!rec.ok() || rec->offset != item.phys) {  // gone: nothing left to forward
    AckIfGen(item, std::move(done));
    return;
  }
  const std::string dlq = DlqTopic(item.key.group);
  const bool existed = b_.topics().Find(dlq) != nullptr;
  auto t = b_.topics().CreateDlqTopic(item.key.group);
  if (!t.ok()) return DlqFailed(item, t.status(), std::move(done));
  if (!existed) b_.RegisterSoon();
  const MessageView& v = rec->msg;
  OutgoingMessage m = OutgoingMessage::FromStored(v);
  m.topic = dlq;
  m.queue_id = 0;  // DLQ_NUMS_PER_GROUP = 1
  m.reconsume_times = item.attempt;
  m.properties.Remove(kPropDelayLevel);
  if (!m.properties.Get(kPropRetryTopic)) m.properties.Set(kPropRetryTopic, v.topic);
  if (!m.properties.Get(kPropOriginMessageId)) {
    m.properties.Set(kPropOriginMessageId, v.OffsetMsgId());
  }
  b_.writer().Put(std::move(m), [this, item, done](absl::StatusOr<AppendResult> r) mutable {
    if (!r.ok()) return DlqFailed(item, r.status(), std::move(done));
    AckIfGen(item, std::move(done));
  });
}

void PopServiceImpl::DlqFailed(const DlqItem& item, absl::Status s,
                               std::function<void(absl::Status)> done) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto q = table_.queues().find(item.key);
    if (q != table_.queues().end()) {
      auto d = q->second.in_flight.find(item.qoff);
      if (d != q->second.in_flight.end() && d->second.gen == item.gen) {
        d->second.until_ms = NowMs() + kDlqRetryMs;
      }
    }
  }
  Kick(item.key.topic);
  done(std::move(s));
}

void PopServiceImpl::AckIfGen(const DlqItem& item, std::function<void(absl::Status)> done) {
  CompletionPtr c;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto q = table_.queues().find(item.key);
    if (q != table_.queues().end()) {
      auto d = q->second.in_flight.find(item.qoff);
      if (d != q->second.in_flight.end() && d->second.gen == item.gen) {
        c = AckLocked(item.key, item.qoff, std::move(done));
      }
    }
  }
  Kick(item.key.topic);  // a FIFO queue may be unblocked
  if (c) {
    c->Arrive();
  } else {
    done(absl::OkStatus());  // acked meanwhile
  }
}

void PopServiceImpl::Kick(std::string_view topic) {
  {
    std::lock_guard<std::mutex> l(wake_mu_);
    if (waiting_.find(topic) == waiting_.end()) return;
    kicked_.emplace(topic);
  }
  wake_cv_.notify_all();
}

void PopServiceImpl::AddWaiting(const std::string& topic, int delta, SteadyTime retry_at) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> l(wake_mu_);
    if ((waiting_[topic] += delta) <= 0) waiting_.erase(topic);
    if (delta > 0 && (computing_ || retry_at < planned_wake_)) wake = reschedule_ = true;
  }
  if (wake) wake_cv_.notify_all();
}

SteadyTime PopServiceImpl::RetryAt(const Outcome& out, SteadyTime deadline, int64_t now,
                                   SteadyTime snow) {
  if (out.next_visible_ms == INT64_MAX) return deadline;
  return std::min(deadline, snow + std::chrono::milliseconds(out.next_visible_ms - now));
}

void PopServiceImpl::NotifyArrival(std::string_view topic, int32_t) { Kick(topic); }

int64_t PopServiceImpl::InFlight(const std::string& group, const std::string& topic) const {
  std::lock_guard<std::mutex> l(mu_);
  int64_t n = 0;
  for (auto it = table_.queues().lower_bound(PopKey{group, topic, 0});
       it != table_.queues().end() && it->first.group == group && it->first.topic == topic; ++it) {
    n += static_cast<int64_t>(it->second.in_flight.size());
  }
  return n;
}

// The service thread: retries the waiting pops when a message arrives on their topic, when an
// ack or change may have made something visible, and when an in-flight delivery they could take
// becomes visible; answers them at their deadline; snapshots the state every kSnapshotInterval.
void PopServiceImpl::Run() {
  auto next_snapshot = std::chrono::steady_clock::now() + kSnapshotInterval;
  std::set<std::string, std::less<>> kicked;
  while (true) {
    std::vector<CompletionPtr> ready;
    std::vector<DlqItem> dlq;
    SteadyTime wake = next_snapshot;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) return;
      const int64_t now = NowMs();
      const SteadyTime snow = std::chrono::steady_clock::now();
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (snow < it->retry_at && !kicked.contains(it->req.topic)) {
          wake = std::min(wake, it->retry_at);
          ++it;
          continue;
        }
        Outcome out;
        TryPop(it->req, it->filter, now, &out);
        std::move(out.dlq.begin(), out.dlq.end(), std::back_inserter(dlq));
        if (!out.msgs.empty() || snow >= it->deadline) {
          ready.push_back(AnswerLocked(&out, std::move(it->done)));
          AddWaiting(it->req.topic, -1, SteadyTime::max());
          it = waiters_.erase(it);
          continue;
        }
        ready.push_back(JournalLocked(std::move(out.journal), [](absl::Status) {}));
        it->retry_at = RetryAt(out, it->deadline, now, snow);
        wake = std::min(wake, it->retry_at);
        ++it;
      }
    }
    for (const CompletionPtr& c : ready) c->Arrive();
    Dispatch(std::move(dlq));
    if (std::chrono::steady_clock::now() >= next_snapshot) {
      Snapshot();
      next_snapshot = std::chrono::steady_clock::now() + kSnapshotInterval;
      wake = std::min(wake, next_snapshot);
    }
    std::unique_lock<std::mutex> w(wake_mu_);
    planned_wake_ = wake;
    computing_ = false;
    wake_cv_.wait_until(w, wake,
                        [this] { return !kicked_.empty() || reschedule_ || stop_thread_; });
    if (stop_thread_) return;
    kicked.clear();
    kicked.swap(kicked_);
    reschedule_ = false;
    computing_ = true;  // until planned_wake_ is set again, every new waiter reschedules
  }
}

// Rebuilds the table: the snapshot, then the journal records after the offset it covers.
absl::Status PopServiceImpl::Replay() {
  int64_t from = 0;
  std::lock_guard<std::mutex> l(mu_);
  absl::Status ls = snapshot_.Load([&](const nlohmann::json& doc) -> absl::Status {
    STELE_ASSIGN_OR_RETURN(from, table_.FromJson(doc));
    return absl::OkStatus();
  });
  if (!ls.ok() && !absl::IsNotFound(ls)) return ls;
  Store& st = b_.store();
  const int64_t end = st.NextQueueOffset(kPopStateTopic, 0);
  if (end > 0 && !st.WaitForMessages(kPopStateTopic, 0, end - 1, std::chrono::seconds(60))) {
    return absl::UnavailableError("the pop state journal was not indexed within 60 s");
  }
  if (from > end) {
    log::Warn("pop: snapshot covers journal offset {} but the journal ends at {}", from, end);
    from = end;
  }
  int64_t records = 0;
  int64_t off = from;
  while (off < end) {
    GetOptions o;
    o.max_messages = 64;
    STELE_ASSIGN_OR_RETURN(GetResult r, st.Get(kPopStateTopic, 0, off, o));
    if (r.status == GetMessageStatus::kOffsetTooSmall && r.min_offset > off) {
      log::Error("pop: journal records [{}, {}) were deleted before a snapshot covered them", off,
                 r.min_offset);
      off = r.min_offset;
      continue;
    }
    if (r.messages.empty() || r.next_begin_offset <= off) {
      return absl::DataLossError(fmt::format("pop: cannot read the journal at offset {} ({})", off,
                                             GetMessageStatusName(r.status)));
    }
    for (const RecordRef& rec : r.messages) {
      if (absl::Status s = table_.ApplyBody(rec.msg.body); !s.ok()) {
        log::Error("pop: journal record at {}: {}", rec.offset, StatusMessage(s));
      }
      ++records;
    }
    off = r.next_begin_offset;
  }
  // Unique across restarts even if the tail of the journal was lost: never below the clock.
  gen_ = std::max(table_.max_gen(), NowMs() * 1024);
  int64_t in_flight = 0;
  for (const auto& [k, q] : table_.queues()) in_flight += static_cast<int64_t>(q.in_flight.size());
  log::Info("pop: state recovered ({} queues, {} in flight; {} journal records after the snapshot)",
            table_.queues().size(), in_flight, records);
  return absl::OkStatus();
}

// Writes the table and the journal offset it covers. The journal is flushed first: the snapshot
// must never cover records a machine crash could still take away (new records would then reuse
// their offsets and be skipped by the next replay).
void PopServiceImpl::Snapshot() {
  std::lock_guard<std::mutex> s(snapshot_mu_);
  nlohmann::json doc;
  int64_t changes = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (changes_ == snapshotted_) return;
    changes = changes_;
    doc = table_.ToJson(b_.store().NextQueueOffset(kPopStateTopic, 0));
  }
  if (absl::Status st = b_.store().Flush(); !st.ok()) {
    log::Error("pop: flushing before the snapshot failed: {}", StatusMessage(st));
    return;
  }
  if (absl::Status st = snapshot_.Store(doc); !st.ok()) {
    log::Error("pop: writing {} failed: {}", snapshot_.path(), StatusMessage(st));
    return;
  }
  std::lock_guard<std::mutex> l(mu_);
  snapshotted_ = changes;
}

}  // namespace stele::broker::pop_internal

namespace stele::broker {

absl::StatusOr<std::unique_ptr<PopService>> PopService::Create(BrokerController& broker) {
  return std::unique_ptr<PopService>(new pop_internal::PopServiceImpl(broker));
}
}  // namespace stele::broker
