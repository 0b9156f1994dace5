#include "index/dispatcher.h"

#include <algorithm>

#include "common/logging.h"
#include "common/status.h"
#include "index/java_hash.h"

namespace stele::index {
namespace {

// Records per batch: bounds how long readers wait for a batch's entries to be published.
constexpr int kBatchRecords = 4096;
constexpr auto kRetryDelay = std::chrono::milliseconds(500);

}  // namespace

Dispatcher::Dispatcher(CommitLog* log, QueueStore* queues, IndexService* idx, int flush_interval_ms)
    : log_(log), queues_(queues), idx_(idx), flush_interval_(flush_interval_ms) {}

Dispatcher::~Dispatcher() { (void)Stop(); }

void Dispatcher::SetListener(ArrivalListener l) {
  auto p = l ? std::make_shared<const ArrivalListener>(std::move(l)) : nullptr;
  std::lock_guard<std::mutex> g(listener_mu_);
  listener_ = std::move(p);
}

absl::Status Dispatcher::health() const {
  std::lock_guard<std::mutex> l(health_mu_);
  return health_;
}

absl::Status Dispatcher::DispatchBatch(int64_t end) {
  std::vector<ConsumeQueue*> touched;
  std::shared_ptr<ConsumeQueue> cq;  // the last queue used: batches are often one queue's
  absl::Status st;
  int n = 0;
  while (pos_ < end && n < kBatchRecords) {
    auto r = log_->Read(pos_, /*verify_crc=*/false);
    if (!r.ok()) {
      if (absl::IsOutOfRange(r.status())) {  // retention removed it before we got there
        pos_ = log_->MinOffset();
        continue;
      }
      if (absl::IsNotFound(r.status())) {
        // A segment's closing BLANK with nothing visible after it yet: the visible end already
        // points past it, so step over it (else this looks like "no progress" forever).
        const int64_t seg_end = NextSegmentStart(pos_);
        if (end >= seg_end) pos_ = seg_end;
        break;
      }
      // A record that does not decode in the visible log: only disk corruption does that.
      const int64_t next = NextSegmentStart(pos_);
      log::Error("dispatch: {}; skipping to the next segment at {}", r.status().ToString(), next);
      pos_ = next;
      continue;
    }
    const MessageView& m = r->msg;
    if (sysflag::AssignsQueueOffset(m.sys_flag)) {
      if (cq == nullptr || cq->queue_id() != m.queue_id || cq->topic() != m.topic) {
        auto q = queues_->GetOrCreate(m.topic, m.queue_id);
        if (!q.ok()) {
          log::Error("dispatch: record at {} names an unusable queue: {}", pos_,
                     q.status().ToString());
          pos_ = r->next_offset;
          continue;
        }
        cq = *q;
      }
      const std::string_view tags = m.Property(kPropertyTags).value_or("");
      if (cq->Append(m.queue_offset, CqEntry{.phy_offset = r->offset,
                                             .size = static_cast<int32_t>(m.total_size),
                                             .tags_code = TagsCode(tags)})) {
        if (std::find(touched.begin(), touched.end(), cq.get()) == touched.end()) {
          touched.push_back(cq.get());
        }
      }
    }
    if (idx_ != nullptr &&
        (m.sys_flag & sysflag::kTransactionMask) != sysflag::kTransactionRollbackType) {
      st = idx_->Put(m.topic, m.Property(kPropertyKeys).value_or(""),
                     m.Property(kPropertyUniqKey).value_or(""), r->offset, m.store_timestamp);
      if (!st.ok()) break;
    }
    pos_ = r->next_offset;
    ++n;
  }
  // Queues hold their staged entries until a Commit succeeds, so after a failure the batch is
  // simply dispatched again (the queues drop what they already have; the index tolerates
  // duplicates).
  for (ConsumeQueue* q : touched) {
    absl::Status c = q->Commit();
    if (st.ok() && !c.ok()) st = c;
  }
  if (!st.ok()) {
    pos_ = dispatched();
    return st;
  }
  dispatched_.store(pos_, std::memory_order_release);
  Notify(touched);
  return absl::OkStatus();
}

void Dispatcher::Notify(const std::vector<ConsumeQueue*>& touched) {
  if (touched.empty()) return;
  std::shared_ptr<const ArrivalListener> l;
  {
    std::lock_guard<std::mutex> g(listener_mu_);
    l = listener_;
  }
  if (l) {
    for (ConsumeQueue* q : touched) (*l)(q->topic(), q->queue_id(), q->MaxOffset());
  }
  // Sequentially consistent with WaitFor's registration and the queues' max offsets (a Dekker
  // pair: either the waiter sees the new max, or we see the waiter).
  if (waiters_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> g(wait_mu_);
    wait_cv_.notify_all();
  }
}

bool Dispatcher::WaitFor(std::string_view topic, int32_t queue_id, int64_t offset,
                         std::chrono::steady_clock::time_point deadline) {
  auto has = [&] {
    auto q = queues_->Find(topic, queue_id);
    return q != nullptr && q->MaxOffset() > offset;
  };
  if (has()) return true;
  std::unique_lock<std::mutex> l(wait_mu_);
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  bool ok = wait_cv_.wait_until(l, deadline, [&] {
    std::lock_guard<std::mutex> g(mu_);
    return stop_ || has();
  });
  waiters_.fetch_sub(1);
  return ok && has();
}

int64_t Dispatcher::NextSegmentStart(int64_t offset) const {
  const int64_t seg = log_->segment_size();
  return (offset / seg + 1) * seg;
}

absl::Status Dispatcher::DispatchToEnd() {
  while (pos_ < log_->MaxOffset()) {
    const int64_t before = pos_;
    STELE_RETURN_IF_ERROR(DispatchBatch(log_->MaxOffset()));
    if (pos_ == before) break;  // nothing decodable left
  }
  return absl::OkStatus();
}

absl::Status Dispatcher::CatchUp(int64_t from) {
  pos_ = from;
  dispatched_.store(from, std::memory_order_release);
  return DispatchToEnd();
}

void Dispatcher::OnVisible() {
  // The log stored its new end with seq_cst before calling us; the dispatcher stores sleeping_
  // before re-reading that end. Either it sees the new end or we see it asleep.
  if (sleeping_.load(std::memory_order_seq_cst)) {
    std::lock_guard<std::mutex> l(mu_);
    cv_.notify_one();
  }
}

void Dispatcher::Start() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
  flusher_ = std::thread([this] { FlushLoop(); });
}

void Dispatcher::Loop() {
  while (true) {
    const int64_t end = log_->MaxOffset();
    if (pos_ < end) {
      const int64_t before = pos_;
      absl::Status st = DispatchBatch(end);
      {
        std::lock_guard<std::mutex> l(health_mu_);
        if (!st.ok() && st.ToString() != last_error_) {
          last_error_ = st.ToString();
          log::Error("dispatch stalled at commit-log offset {}: {} (retrying)", pos_, last_error_);
        } else if (st.ok() && !health_.ok()) {
          log::Info("dispatch resumed at commit-log offset {}", pos_);
          last_error_.clear();
        }
        health_ = st;
      }
      if (st.ok()) {
        if (pos_ != before) continue;
        // No progress without an error: nothing decodable yet past pos_; sleep until woken.
      } else {
        std::unique_lock<std::mutex> l(mu_);
        if (stop_) return;
        cv_.wait_for(l, kRetryDelay, [&] { return stop_; });
        continue;
      }
    }
    std::unique_lock<std::mutex> l(mu_);
    if (stop_) return;
    sleeping_.store(true, std::memory_order_seq_cst);
    if (log_->MaxOffset() <= end) {
      // The hook wakes us; the timeout is only a guard against a lost wake-up.
      cv_.wait_for(l, std::chrono::milliseconds(100));
    }
    sleeping_.store(false, std::memory_order_relaxed);
  }
}

absl::Status Dispatcher::FlushNow() {
  std::lock_guard<std::mutex> f(flush_mu_);
  // Everything before `d` is in the page cache of the queue and index files; sync makes it durable.
  const int64_t d = dispatched();
  STELE_RETURN_IF_ERROR(queues_->SyncAll());
  if (idx_ != nullptr) STELE_RETURN_IF_ERROR(idx_->Sync());
  log_->SetDispatchDurable(d);
  return absl::OkStatus();
}

void Dispatcher::FlushLoop() {
  std::string last_error;
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    flush_cv_.wait_for(l, flush_interval_, [&] { return stop_; });
    if (stop_) break;
    l.unlock();
    absl::Status st = FlushNow();
    if (!st.ok() && st.ToString() != last_error) {
      last_error = st.ToString();
      log::Error("cannot make consume queues / index durable: {}", last_error);
    } else if (st.ok()) {
      last_error.clear();
    }
    l.lock();
  }
}

absl::Status Dispatcher::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!thread_.joinable()) return absl::OkStatus();
    stop_ = true;
  }
  cv_.notify_all();
  flush_cv_.notify_all();
  {
    std::lock_guard<std::mutex> l(wait_mu_);
    wait_cv_.notify_all();
  }
  thread_.join();
  flusher_.join();
  // Appends have stopped: whatever became visible meanwhile is dispatched here.
  STELE_RETURN_IF_ERROR(DispatchToEnd());
  return FlushNow();
}

}  // namespace stele::index
