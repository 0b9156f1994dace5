#include "engine/commit_log.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"

namespace stele {

using engine::PreparedRecord;

CommitLog::CommitLog(StoreOptions opts) : opts_(std::move(opts)) {}

CommitLog::~CommitLog() { (void)Close(); }

absl::StatusOr<std::unique_ptr<CommitLog>> CommitLog::Open(StoreOptions opts) {
  STELE_RETURN_IF_ERROR(opts.Validate());
  std::unique_ptr<CommitLog> log(new CommitLog(std::move(opts)));
  STELE_RETURN_IF_ERROR(log->Init());
  return log;
}

absl::Status CommitLog::Init() {
  fs_ = opts_.file_system ? opts_.file_system : NewDefaultFileSystem();
  const std::string& root = opts_.store_path_root_dir;
  std::string cl_dir =
      opts_.store_path_commit_log.empty() ? root + "/commitlog" : opts_.store_path_commit_log;
  STELE_RETURN_IF_ERROR(fs_->CreateDirs(root));
  STELE_ASSIGN_OR_RETURN(lock_file_, fs_->Lock(root + "/lock"));
  STELE_ASSIGN_OR_RETURN(enc_.store_host, HostAddress::Parse(opts_.store_host));
  enc_.max_body_size = opts_.max_message_size;
  enc_.prop_crc = opts_.enabled_append_prop_crc;
  seg_size_ = static_cast<int64_t>(opts_.mapped_file_size_commit_log);
  bool zero_fill = opts_.preallocate == Preallocate::kZeroFill ||
                   (opts_.preallocate == Preallocate::kAuto && sync_mode());
  segs_ = std::make_unique<engine::SegmentSet>(fs_.get(), cl_dir, opts_.mapped_file_size_commit_log,
                                               zero_fill, opts_.write_mode == WriteMode::kMmap);
  STELE_RETURN_IF_ERROR(segs_->Load());
  STELE_RETURN_IF_ERROR(Recover());

  // The abort marker says "open, not cleanly closed" until Close() removes it.
  STELE_RETURN_IF_ERROR(
      engine::WriteFileAtomically(fs_.get(), root + "/abort", std::to_string(getpid()) + "\n"));
  segs_->StartAllocator();
  STELE_ASSIGN_OR_RETURN(auto first, segs_->GetOrCreate(reserved_ - reserved_ % seg_size_));
  direct_ = first->wdata != nullptr;
  // The staging ring is only needed when records are written with pwritev.
  ring_size_ = direct_ ? 0 : opts_.write_buffer_size;
  // Not zero-filled: touching 32 MiB at open costs start-up time and resident memory for nothing.
  if (!direct_) ring_ = std::make_unique_for_overwrite<char[]>(ring_size_);
  auto now = Clock::now();
  last_flush_ = last_thorough_flush_ = last_checkpoint_ = now;
  {
    Lock l(mu_);
    CheckpointLocked(l);  // recovery's result becomes the new scan start
  }
  bg_ = std::thread([this] { BackgroundLoop(); });
  if (sync_mode()) watcher_ = std::thread([this] { WatcherLoop(); });
  return absl::OkStatus();
}

absl::Status CommitLog::Close() {
  {
    Lock l(mu_);
    if (closed_ || !bg_.joinable()) {
      closed_ = true;
      return absl::OkStatus();
    }
    closing_ = true;
    stop_bg_ = true;
  }
  bg_cv_.notify_all();
  watcher_cv_.notify_all();
  bg_.join();
  if (watcher_.joinable()) watcher_.join();
  absl::Status result;
  {
    Lock l(mu_);
    if (failed_.ok()) {
      auto w = WaitLocked(l, reserved_, /*durable=*/true, std::nullopt);
      if (!w.ok()) result = w.status();
    }
    if (failed_.ok()) {
      checkpointed_ = -1;
      CheckpointLocked(l);
      if (!last_checkpoint_error_.empty()) result = absl::InternalError(last_checkpoint_error_);
    } else {
      result = failed_;
    }
    closed_ = true;
  }
  segs_->StopAllocator();
  if (result.ok()) {
    // Only a store that flushed everything and checkpointed may skip the crash scan next time.
    const std::string& root = opts_.store_path_root_dir;
    absl::Status st = fs_->Delete(root + "/abort");
    if (st.ok()) st = fs_->SyncDir(root);
    if (!st.ok()) result = st;
  }
  if (!result.ok()) log::Error("store closed uncleanly: {}", result.ToString());
  lock_file_.reset();
  return result;
}

absl::Status CommitLog::Prepare(const Message& m, PreparedRecord* rec) const {
  return engine::PrepareRecord(m, enc_, NowMs(), rec);
}

void CommitLog::Place(const char* p, size_t n) {
  if (!direct_) {
    CopyToRing(p, n);
    return;
  }
  // The segment exists: ReserveLocked made sure of it before placing anything at reserved_.
  auto seg = segs_->Find(reserved_);
  std::memcpy(seg->wdata + (reserved_ - seg->start), p, n);
}

void CommitLog::CopyToRing(const char* p, size_t n) {
  size_t pos = ring_in_ % ring_size_;
  size_t first = std::min(n, ring_size_ - pos);
  std::memcpy(ring_.get() + pos, p, first);
  if (first < n) std::memcpy(ring_.get(), p + first, n - first);
  ring_in_ += n;
}

absl::Status CommitLog::FencedError() const {
  return PutError(PutMessageStatus::kServiceNotAvailable, failed_.code(),
                  "commit log refuses appends after an I/O error (reopen the store to recover): " +
                      std::string(failed_.message()));
}

void CommitLog::FailLocked(const absl::Status& st, int64_t offset) {
  if (failed_.ok()) {
    failed_ = st;
    log::Error("commit log: I/O failed at offset {}: {}; appends are refused until reopened",
               offset, st.ToString());
  }
  WakeWaitersLocked();
  ring_cv_.notify_all();
  bg_cv_.notify_all();
}

absl::Status CommitLog::ReserveLocked(Lock& l, std::span<PreparedRecord> recs, AppendResult* out) {
  uint64_t total = 0;
  for (const auto& r : recs) total += r.size();
  if (total + engine::kBlankRecordSize > static_cast<uint64_t>(seg_size_) ||
      (!direct_ && total > ring_size_ / 2)) {
    return PutError(PutMessageStatus::kMessageIllegal, absl::StatusCode::kInvalidArgument,
                    "append of " + std::to_string(total) +
                        " bytes does not fit in a commit-log segment or the write buffer");
  }
  while (true) {
    if (!failed_.ok()) return FencedError();
    if (closing_) {
      return PutError(PutMessageStatus::kServiceNotAvailable, absl::StatusCode::kUnavailable,
                      "store is closed");
    }
    const int64_t seg_start = reserved_ - reserved_ % seg_size_;
    const int64_t seg_end = seg_start + seg_size_;
    const bool roll = reserved_ + static_cast<int64_t>(total + engine::kBlankRecordSize) > seg_end;
    const int64_t target = roll ? seg_end : seg_start;
    if (segs_->Find(target) == nullptr) {
      l.unlock();
      auto seg = segs_->GetOrCreate(target);
      l.lock();
      if (!seg.ok()) {
        return PutError(PutMessageStatus::kCreateMappedFileFailed, seg.status().code(),
                        "cannot create commit-log segment: " + std::string(seg.status().message()));
      }
      continue;  // state may have moved while unlocked
    }
    const size_t need = roll ? engine::kBlankRecordSize : total;
    if (!direct_ && RingFree() < need) {
      if (!io_busy_) {
        DoIoLocked(l, /*sync=*/false);
      } else {
        ++ring_waiters_;
        ring_cv_.wait(l);
        --ring_waiters_;
      }
      continue;
    }
    if (roll) {
      char blank[engine::kBlankRecordSize];
      StoreBe32(blank, static_cast<uint32_t>(seg_end - reserved_));
      StoreBe32(blank + 4, engine::kBlankMagic);
      Place(blank, sizeof blank);
      if (direct_) {
        written_ = seg_end;  // already in the page cache
        PublishVisibleLocked();
      } else {
        rolls_.push_back(Roll{reserved_ + static_cast<int64_t>(sizeof blank), seg_end});
      }
      reserved_ = seg_end;
      continue;
    }
    // Store timestamps never go backwards, so a time search over the log can bisect.
    const int64_t ts = std::max(NowMs(), last_store_ts_);
    for (size_t i = 0; i < recs.size(); ++i) {
      PreparedRecord& r = recs[i];
      int64_t qo = r.assigns_queue_offset ? queues_.Assign(r.topic(), r.queue_id) : 0;
      engine::FinalizeRecord(&r, qo, reserved_, ts);
      Place(r.buf.data(), r.size());
      AppendResult& res = out[i];
      res.wrote_offset = reserved_;
      res.wrote_bytes = static_cast<int32_t>(r.size());
      res.queue_offset = qo;
      res.store_timestamp = ts;
      reserved_ += r.size();
    }
    last_store_ts_ = ts;
    if (direct_) {
      written_ = reserved_;
      PublishVisibleLocked();
    }
    return absl::OkStatus();
  }
}

absl::StatusOr<bool> CommitLog::WaitLocked(Lock& l, int64_t end, bool durable,
                                           std::optional<Clock::time_point> deadline) {
  while (true) {
    if ((durable ? flushed_ : written_) >= end) return false;
    if (!failed_.ok()) return FencedError();
    if (!io_busy_) {
      DoIoLocked(l, durable);
      continue;
    }
    if (!durable) {
      // A buffered write takes microseconds: yielding to the leader a few times is far cheaper
      // than sleeping on a condition variable and being woken (two context switches).
      for (int spin = 0; spin < 8 && written_ < end && io_busy_; ++spin) {
        l.unlock();
        std::this_thread::yield();
        l.lock();
      }
      if (written_ >= end || !io_busy_) continue;
    }
    Waiter w{end, durable};
    waiters_.push_back(&w);
    bool timed_out = false;
    if (deadline) {
      timed_out = !w.cv.wait_until(l, *deadline, [&] { return w.signaled; });
    } else {
      w.cv.wait(l, [&] { return w.signaled; });
    }
    if (!w.signaled) waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &w));
    if (timed_out && (durable ? flushed_ : written_) < end) return true;
  }
}

void CommitLog::WakeWaitersLocked() {
  bool leader_chosen = io_busy_;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    Waiter* w = *it;
    const bool covered = (w->durable ? flushed_ : written_) >= w->end;
    if (covered || !failed_.ok() || !leader_chosen) {
      if (!covered && failed_.ok()) leader_chosen = true;  // it will take the I/O token
      w->signaled = true;
      w->cv.notify_one();
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::Status CommitLog::SyncRange(int64_t from, int64_t to) const {
  int64_t pos = from - from % seg_size_;
  while (pos < to) {
    auto seg = segs_->Find(pos);
    if (seg) {
      const auto t0 = Clock::now();
      STELE_RETURN_IF_ERROR(seg->file->Sync());
      NoteSync(t0);
    }
    pos += seg_size_;
  }
  return absl::OkStatus();
}

void CommitLog::NoteSync(Clock::time_point t0) const {
  const auto us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
  sync_count_.fetch_add(1, std::memory_order_relaxed);
  sync_us_total_.fetch_add(us, std::memory_order_relaxed);
  sync_us_last_.store(us, std::memory_order_relaxed);
  uint64_t cur = sync_us_max_.load(std::memory_order_relaxed);
  while (us > cur && !sync_us_max_.compare_exchange_weak(cur, us, std::memory_order_relaxed)) {
  }
}

FlushStats CommitLog::flush_stats() const {
  return FlushStats{.count = sync_count_.load(std::memory_order_relaxed),
                    .total_us = sync_us_total_.load(std::memory_order_relaxed),
                    .max_us = sync_us_max_.load(std::memory_order_relaxed),
                    .last_us = sync_us_last_.load(std::memory_order_relaxed)};
}

void CommitLog::DoIoLocked(Lock& l, bool sync) {
  io_busy_ = true;
  if (sync && arriving_.load(std::memory_order_relaxed) > 0) {
    // Group commit: appenders already on their way would otherwise pay for a fdatasync of their
    // own right after this one. Wait for them briefly (bounded, far below an fdatasync's cost).
    const auto until = Clock::now() + std::chrono::microseconds(50);
    while (arriving_.load(std::memory_order_relaxed) > 0 && Clock::now() < until) {
      l.unlock();
      std::this_thread::yield();
      l.lock();
    }
  }
  absl::Status st;
  int64_t at = written_;
  const int64_t target = reserved_;  // what is staged now; later arrivals go to the next leader
  while (st.ok() && written_ < target) {
    int64_t chunk_end = target;
    bool at_roll = false;
    if (!rolls_.empty() && rolls_.front().blank_end <= chunk_end) {
      chunk_end = rolls_.front().blank_end;
      at_roll = true;
    }
    const size_t n = static_cast<size_t>(chunk_end - written_);
    iovec iov[2];
    size_t pos = ring_out_ % ring_size_;
    size_t first = std::min(n, ring_size_ - pos);
    iov[0] = {ring_.get() + pos, first};
    iov[1] = {ring_.get(), n - first};
    const int cnt = first < n ? 2 : 1;
    auto seg = segs_->Find(written_);
    at = written_;
    const int64_t fl = flushed_;
    l.unlock();
    if (seg == nullptr) {
      st = absl::InternalError("no segment for offset " + std::to_string(at));
    } else {
      // Segments before this one must be durable before this one's sync can stand for them.
      if (sync && fl < seg->start) st = SyncRange(fl, seg->start);
      if (st.ok()) {
        const auto t0 = Clock::now();
        st = seg->file->WriteAt(static_cast<uint64_t>(at - seg->start),
                                std::span<const iovec>(iov, cnt),
                                sync ? SyncMode::kData : SyncMode::kNone);
        if (st.ok() && sync) NoteSync(t0);  // the write and its fdatasync, as one flush
      }
    }
    l.lock();
    if (!st.ok()) break;
    written_ = chunk_end;
    ring_out_ += n;
    if (sync) flushed_ = chunk_end;
    if (at_roll) {
      // Once per segment (1 GiB by default): cheap enough to log under the lock.
      log::Info("commit log: segment roll: offset {} full, writing continues at {} (flush={})",
                rolls_.front().blank_end, rolls_.front().next_start, sync ? "sync" : "async");
      written_ = rolls_.front().next_start;
      if (sync) flushed_ = written_;
      rolls_.pop_front();
    }
    PublishVisibleLocked();
    if (ring_waiters_ > 0) ring_cv_.notify_all();
  }
  if (st.ok() && sync && flushed_ < written_) {
    const int64_t from = flushed_, to = written_;
    l.unlock();
    st = SyncRange(from, to);
    l.lock();
    at = from;
    if (st.ok()) flushed_ = std::max(flushed_, to);
  }
  if (!st.ok()) FailLocked(st, at);
  io_busy_ = false;
  WakeWaitersLocked();
  if (!pending_.empty() || stop_bg_) bg_cv_.notify_all();
}

void CommitLog::FlushLocked(Lock& l) {
  const int64_t from = flushed_, to = written_;
  last_flush_ = Clock::now();
  if (to <= from) return;
  l.unlock();
  absl::Status st = SyncRange(from, to);
  l.lock();
  if (!st.ok()) {
    FailLocked(st, from);
    return;
  }
  flushed_ = std::max(flushed_, to);
  WakeWaitersLocked();
}

void CommitLog::CheckpointLocked(Lock& l) {
  engine::CheckpointData c;
  c.safe_offset = reserved_;
  c.dispatch_offset = std::min(dispatch_durable_.load(std::memory_order_acquire), c.safe_offset);
  if (c.safe_offset == checkpointed_ && c.dispatch_offset == checkpointed_dispatch_) {
    last_checkpoint_ = Clock::now();
    return;
  }
  c.queues = queues_;
  c.physic_msg_timestamp = last_store_ts_;
  c.logics_msg_timestamp = last_store_ts_;
  c.min_offset = MinOffset();
  c.records_have_crc = opts_.enabled_append_prop_crc;
  if (!sync_mode()) {
    // Write what is staged (quick), then fdatasync without holding the I/O token, so ASYNC_FLUSH
    // appenders keep writing meanwhile instead of queueing behind the checkpoint's sync.
    auto w = WaitLocked(l, c.safe_offset, /*durable=*/false, std::nullopt);
    if (w.ok() && flushed_ < c.safe_offset) FlushLocked(l);
  }
  auto w = WaitLocked(l, c.safe_offset, /*durable=*/true, std::nullopt);
  last_checkpoint_ = Clock::now();
  if (!w.ok()) return;  // the log is fenced; the old checkpoint stays valid
  l.unlock();
  absl::Status st;
  {
    std::lock_guard<std::mutex> g(ckpt_io_mu_);
    const bool older =
        c.safe_offset < ckpt_written_safe_ ||
        (c.safe_offset == ckpt_written_safe_ && c.dispatch_offset < ckpt_written_dispatch_);
    if (!older) {
      st = engine::WriteCheckpoint(fs_.get(), opts_.store_path_root_dir, c);
      if (st.ok()) {
        ckpt_written_safe_ = c.safe_offset;
        ckpt_written_dispatch_ = c.dispatch_offset;
      }
    }
  }
  l.lock();
  if (st.ok()) {
    checkpointed_ = c.safe_offset;
    checkpointed_dispatch_ = c.dispatch_offset;
    last_checkpoint_error_.clear();
  } else if (last_checkpoint_error_ != st.ToString()) {
    // Not fatal: the previous checkpoint stays valid and recovery just scans further.
    last_checkpoint_error_ = st.ToString();
    log::Error("cannot write checkpoint: {}", last_checkpoint_error_);
  }
}

void CommitLog::BackgroundLoop() {
  Lock l(mu_);
  const auto flush_interval = std::chrono::milliseconds(opts_.flush_interval_commit_log_ms);
  const auto thorough = std::chrono::milliseconds(opts_.flush_commit_log_thorough_interval_ms);
  const auto ckpt_interval = std::chrono::milliseconds(opts_.checkpoint_interval_ms);
  const int64_t least_bytes = int64_t{opts_.flush_commit_log_least_pages} * 4096;
  std::vector<std::pair<Store::AppendCallback, absl::StatusOr<AppendResult>>> ready;
  while (true) {
    auto now = Clock::now();
    while (!pending_.empty()) {
      Pending& p = pending_.front();
      if ((p.durable ? flushed_ : written_) >= p.end) {
        ready.emplace_back(std::move(p.done), std::move(p.result));
      } else if (!failed_.ok()) {
        ready.emplace_back(std::move(p.done), FencedError());
      } else if (p.durable && now >= p.deadline) {
        p.result.status = PutMessageStatus::kFlushDiskTimeout;
        ready.emplace_back(std::move(p.done), std::move(p.result));
      } else {
        break;
      }
      pending_.pop_front();
    }
    if (!ready.empty()) {
      const size_t completed = ready.size();
      l.unlock();
      for (auto& [done, res] : ready) {
        if (done) done(std::move(res));  // empty: the watcher already answered it
      }
      ready.clear();
      l.lock();
      // Callers usually answer a completion with a new append. Under SYNC_FLUSH, give them a
      // moment to do so, so that the next fdatasync carries a full batch instead of the first few.
      if (sync_mode() && !stop_bg_ && pending_.size() < completed) {
        bg_cv_.wait_for(l, std::chrono::microseconds(100),
                        [&] { return pending_.size() >= completed || stop_bg_; });
      }
      continue;
    }
    if (stop_bg_ && pending_.empty()) return;
    if (!pending_.empty() && !io_busy_ && failed_.ok()) {
      DoIoLocked(l, pending_.front().durable);
      continue;
    }
    if (failed_.ok() && !sync_mode() && written_ > flushed_ &&
        now - last_flush_ >= flush_interval) {
      if (written_ - flushed_ >= least_bytes || now - last_thorough_flush_ >= thorough) {
        last_thorough_flush_ = now;
        FlushLocked(l);
        continue;
      }
      last_flush_ = now;
    }
    if (failed_.ok() && now - last_checkpoint_ >= ckpt_interval) {
      CheckpointLocked(l);
      continue;
    }
    // Only deadlines that can fire count, or the loop would spin on a past one (nothing dirty,
    // SYNC_FLUSH, or a fenced log).
    auto wake = now + std::chrono::seconds(1);
    if (failed_.ok()) wake = std::min(wake, last_checkpoint_ + ckpt_interval);
    if (failed_.ok() && !sync_mode() && written_ > flushed_) {
      wake = std::min(wake, last_flush_ + flush_interval);
    }
    if (!pending_.empty() && pending_.front().durable) {
      wake = std::min(wake, pending_.front().deadline);
    }
    if (stop_bg_) wake = std::min(wake, now + std::chrono::milliseconds(1));
    bg_cv_.wait_until(l, wake);
  }
}

void CommitLog::WatcherLoop() {
  Lock l(mu_);
  std::vector<std::pair<Store::AppendCallback, AppendResult>> late;
  while (!stop_bg_) {
    const auto now = Clock::now();
    std::optional<Clock::time_point> next;
    for (Pending& p : pending_) {
      if (!p.done) continue;
      if (flushed_ >= p.end) continue;  // the background thread answers it right away
      if (now >= p.deadline) {
        AppendResult r = p.result;
        r.status = PutMessageStatus::kFlushDiskTimeout;
        late.emplace_back(std::move(p.done), std::move(r));
        p.done = nullptr;  // stays queued so completions keep their order
      } else if (!next || p.deadline < *next) {
        next = p.deadline;
      }
    }
    if (!late.empty()) {
      l.unlock();
      for (auto& [done, r] : late) done(std::move(r));
      late.clear();
      l.lock();
      continue;
    }
    if (next) {
      watcher_cv_.wait_until(l, *next);
    } else {
      watcher_cv_.wait(l);
    }
  }
}

absl::StatusOr<AppendResult> CommitLog::FinishAppend(Lock& l, AppendResult r) {
  const int64_t end = r.wrote_offset + r.wrote_bytes;
  std::optional<Clock::time_point> deadline;
  if (sync_mode()) deadline = Clock::now() + std::chrono::milliseconds(opts_.sync_flush_timeout_ms);
  STELE_ASSIGN_OR_RETURN(bool timed_out, WaitLocked(l, end, sync_mode(), deadline));
  if (timed_out) r.status = PutMessageStatus::kFlushDiskTimeout;
  return r;
}

absl::StatusOr<AppendResult> CommitLog::Append(const Message& m) {
  thread_local PreparedRecord rec;
  arriving_.fetch_add(1, std::memory_order_relaxed);
  absl::Status st = Prepare(m, &rec);
  AppendResult r;
  Lock l(mu_);
  if (st.ok()) st = ReserveLocked(l, std::span<PreparedRecord>(&rec, 1), &r);
  arriving_.fetch_sub(1, std::memory_order_relaxed);
  STELE_RETURN_IF_ERROR(st);
  STELE_ASSIGN_OR_RETURN(r, FinishAppend(l, std::move(r)));
  l.unlock();
  r.msg_id = OffsetMsgId(enc_.store_host, r.wrote_offset);
  return r;
}

absl::StatusOr<std::vector<AppendResult>> CommitLog::AppendBatch(std::span<const Message> msgs) {
  std::vector<PreparedRecord> recs(msgs.size());
  for (size_t i = 0; i < msgs.size(); ++i) STELE_RETURN_IF_ERROR(Prepare(msgs[i], &recs[i]));
  std::vector<AppendResult> out(msgs.size());
  if (msgs.empty()) return out;
  Lock l(mu_);
  STELE_RETURN_IF_ERROR(ReserveLocked(l, std::span<PreparedRecord>(recs), out.data()));
  STELE_ASSIGN_OR_RETURN(AppendResult last, FinishAppend(l, out.back()));
  l.unlock();
  for (AppendResult& r : out) {
    r.status = last.status;
    r.msg_id = OffsetMsgId(enc_.store_host, r.wrote_offset);
  }
  return out;
}

void CommitLog::AppendAsync(const Message& m, Store::AppendCallback done) {
  PreparedRecord rec;
  absl::Status st = Prepare(m, &rec);
  AppendResult r;
  if (st.ok()) {
    Lock l(mu_);
    st = ReserveLocked(l, std::span<PreparedRecord>(&rec, 1), &r);
    if (st.ok()) {
      r.msg_id = OffsetMsgId(enc_.store_host, r.wrote_offset);
      pending_.push_back(
          Pending{r.wrote_offset + r.wrote_bytes, sync_mode(),
                  Clock::now() + std::chrono::milliseconds(opts_.sync_flush_timeout_ms),
                  std::move(done), std::move(r)});
      bg_cv_.notify_one();
      if (pending_.size() == 1) watcher_cv_.notify_one();
      return;
    }
  }
  done(st);
}

absl::Status CommitLog::Flush() {
  Lock l(mu_);
  return WaitLocked(l, reserved_, /*durable=*/true, std::nullopt).status();
}

int64_t CommitLog::MinOffset() const {
  auto first = segs_->First();
  return first ? first->start : 0;
}

int64_t CommitLog::FlushedOffset() const {
  Lock l(mu_);
  return flushed_;
}

int64_t CommitLog::NextQueueOffset(std::string_view topic, int32_t queue_id) const {
  Lock l(mu_);
  return queues_.Next(topic, queue_id);
}

void CommitLog::PublishVisibleLocked() {
  visible_.store(written_, std::memory_order_seq_cst);
  if (on_visible_) on_visible_();
}

void CommitLog::SetVisibleHook(std::function<void()> hook) {
  Lock l(mu_);
  on_visible_ = std::move(hook);
}

void CommitLog::SetDispatchDurable(int64_t offset) {
  dispatch_durable_.store(offset, std::memory_order_release);
}

absl::StatusOr<int64_t> CommitLog::SegmentFirstTimestamp(int64_t seg_start) const {
  STELE_ASSIGN_OR_RETURN(RecordRef r, Read(seg_start, /*verify_crc=*/false));
  if (r.offset >= seg_start + seg_size_) return absl::NotFoundError("segment holds no record");
  return r.msg.store_timestamp;
}

std::vector<int64_t> CommitLog::SegmentStarts() const { return segs_->Starts(); }

int64_t CommitLog::ActiveSegmentStart() const {
  Lock l(mu_);
  return ActiveSegmentStartLocked();
}

int64_t CommitLog::ActiveSegmentStartLocked() const {
  // Bytes staged or written but not yet durable may still be on their way into an older segment.
  return flushed_ - flushed_ % seg_size_;
}

absl::StatusOr<int> CommitLog::DeleteSegmentsBefore(int64_t offset) {
  Lock l(mu_);
  if (!failed_.ok()) return FencedError();
  offset = std::min(offset, ActiveSegmentStartLocked());
  if (offset <= MinOffset()) return 0;
  // The checkpoint must not point into a segment about to vanish: recovery would refuse it.
  checkpointed_ = -1;
  CheckpointLocked(l);
  if (!last_checkpoint_error_.empty()) {
    return absl::UnavailableError("cannot delete segments: " + last_checkpoint_error_);
  }
  l.unlock();
  return segs_->DeleteBefore(offset);
}

absl::StatusOr<RecordRef> CommitLog::Read(int64_t offset, bool verify_crc) const {
  if (offset < MinOffset()) {
    return absl::OutOfRangeError("offset " + std::to_string(offset) + " is before the log start " +
                                 std::to_string(MinOffset()));
  }
  while (true) {
    const int64_t vis = visible_.load(std::memory_order_acquire);
    if (offset >= vis) {
      return absl::NotFoundError("offset " + std::to_string(offset) + " is at or past the end " +
                                 std::to_string(vis));
    }
    auto seg = segs_->Find(offset);
    if (seg == nullptr)
      return absl::NotFoundError("no segment holds offset " + std::to_string(offset));
    const size_t avail = static_cast<size_t>(std::min(seg->end(), vis) - offset);
    const char* p = seg->map->data() + (offset - seg->start);
    RecordRef ref;
    std::string why;
    switch (engine::DecodeRecord(p, avail, verify_crc, &ref.msg, &why)) {
      case engine::DecodeResult::kBlank:
        offset = seg->end();
        continue;
      case engine::DecodeResult::kEmpty:
        return absl::DataLossError("no record at offset " + std::to_string(offset));
      case engine::DecodeResult::kCorrupt:
        return absl::DataLossError("corrupt record at offset " + std::to_string(offset) + ": " +
                                   why);
      case engine::DecodeResult::kOk:
        break;
    }
    if (ref.msg.physical_offset != offset) {
      return absl::DataLossError("record at offset " + std::to_string(offset) + " claims offset " +
                                 std::to_string(ref.msg.physical_offset));
    }
    ref.offset = offset;
    ref.next_offset = offset + ref.msg.total_size;
    ref.bytes = std::string_view(p, ref.msg.total_size);
    ref.pin = seg;
    return ref;
  }
}

absl::StatusOr<std::string> CommitLog::ReadBytes(int64_t offset, int32_t size) const {
  const int64_t vis = visible_.load(std::memory_order_acquire);
  if (offset < MinOffset() || size < 0 || offset + size > vis) {
    return absl::OutOfRangeError("range [" + std::to_string(offset) + ", +" + std::to_string(size) +
                                 ") is outside the readable log");
  }
  auto seg = segs_->Find(offset);
  if (seg == nullptr || offset + size > seg->end()) {
    return absl::OutOfRangeError("range crosses a segment boundary");
  }
  return std::string(seg->map->data() + (offset - seg->start), static_cast<size_t>(size));
}

}  // namespace stele
