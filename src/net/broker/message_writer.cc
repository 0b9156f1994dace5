#include "net/broker/message_writer.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <mutex>

#include "common/clock.h"
#include "common/logging.h"
#include "fmt/format.h"
#include "net/broker/state/names.h"

namespace stele::broker {

Properties Properties::Parse(std::string_view s) {
  Properties p;
  p.raw_ = std::string(s);
  return p;
}

std::optional<std::string_view> Properties::Get(std::string_view key) const {
  return FindProperty(raw_, key);
}

void Properties::Set(std::string_view key, std::string_view value) {
  if (Get(key)) Remove(key);
  if (!raw_.empty() && raw_.back() != kPropertySeparator) raw_ += kPropertySeparator;
  raw_ += key;
  raw_ += kNameValueSeparator;
  raw_ += value;
  raw_ += kPropertySeparator;
}

void Properties::Remove(std::string_view key) {
  std::string out;
  out.reserve(raw_.size());
  std::string_view rest = raw_;
  while (!rest.empty()) {
    const size_t end = rest.find(kPropertySeparator);
    const std::string_view item = rest.substr(0, end);
    const size_t eq = item.find(kNameValueSeparator);
    if (!item.empty() && !(eq != std::string_view::npos && item.substr(0, eq) == key)) {
      out += item;
      out += kPropertySeparator;
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  raw_ = std::move(out);
}

OutgoingMessage OutgoingMessage::FromStored(const MessageView& v) {
  OutgoingMessage m;
  m.properties = Properties::Parse(v.properties);
  m.properties.Remove(kPropertyCrc32);
  m.body = std::string(v.body);
  m.flag = v.flag;
  m.sys_flag = v.sys_flag;
  m.born_timestamp = v.born_timestamp;
  m.born_host = v.born_host;
  m.reconsume_times = v.reconsume_times;
  return m;
}

MessageWriter::MessageWriter(Store& store, int max_inflight, std::vector<int64_t> delay_levels_ms,
                             TimerPolicy timer, IdempotencePolicy idempotence)
    : store_(store),
      max_inflight_(max_inflight),
      delay_levels_ms_(std::move(delay_levels_ms)),
      timer_(std::move(timer)) {
  if (idempotence.enable) {
    window_ = std::make_unique<PublishWindow>(idempotence.window_ms, idempotence.max_entries,
                                              timer_.clock);
    restore_max_bytes_ = idempotence.restore_max_bytes;
  }
}

absl::Status MessageWriter::Admit(int64_t n) {
  const int64_t now = inflight_.fetch_add(n, std::memory_order_relaxed) + n;
  const int64_t max = max_inflight_.load(std::memory_order_relaxed);
  if (now <= max) return absl::OkStatus();
  inflight_.fetch_sub(n, std::memory_order_relaxed);
  const int64_t refused = busy_refused_.fetch_add(1, std::memory_order_relaxed) + 1;
  const int64_t now_ms = NowMs();
  int64_t last = busy_logged_ms_.load(std::memory_order_relaxed);
  if (now_ms - last >= kBusyLogIntervalMs &&
      busy_logged_ms_.compare_exchange_strong(last, now_ms, std::memory_order_relaxed)) {
    busy_refused_.fetch_sub(refused, std::memory_order_relaxed);
    log::Warn(
        "broker busy: cause=too_many_inflight refused={} inflight={} maxInflightSends={} "
        "unflushed_bytes={}",
        refused, now - n, max_inflight_, store_.MaxOffset() - store_.FlushedOffset());
  }
  return absl::ResourceExhaustedError(fmt::format(
      "[TOO_MANY_INFLIGHT] broker busy: {} sends are waiting for the disk (maxInflightSends={}), "
      "{} bytes appended but not yet flushed; the message was not stored, retry later",
      now - n, max, store_.MaxOffset() - store_.FlushedOffset()));
}

absl::Status MessageWriter::Redirect(OutgoingMessage* m) const {
  if ((m->sys_flag & sysflag::kTransactionMask) == sysflag::kTransactionPreparedType) {
    if (auto uniq = m->properties.Get(kPropertyUniqKey); uniq && !uniq->empty()) {
      m->properties.Set(kPropTransactionId, std::string(*uniq));
    }
    m->properties.Set(kPropRealTopic, m->topic);
    m->properties.Set(kPropRealQueueId, fmt::format("{}", m->queue_id));
    m->sys_flag &= ~sysflag::kTransactionMask;  // NOT_TYPE: the half gets a queue offset
    m->topic = std::string(kTransHalfTopic);
    m->queue_id = 0;
    return absl::OkStatus();
  }
  // A half message put back for another check keeps the client's DELAY; parking it would deliver
  // it to its real topic uncommitted.
  if (m->topic == kTransHalfTopic || !sysflag::AssignsQueueOffset(m->sys_flag)) {
    return absl::OkStatus();
  }
  auto level_text = m->properties.Get(kPropDelayLevel);
  int level = 0;
  if (level_text) {
    auto [p, ec] =
        std::from_chars(level_text->data(), level_text->data() + level_text->size(), level);
    const bool number = ec == std::errc() && p == level_text->data() + level_text->size();
    // A producer's level must name one of messageDelayLevel's (0: no delay). The broker's own
    // puts, and consumers sending back to %RETRY% (the Java client's fallback asks for level
    // 3 + reconsumeTimes), compute theirs and are clamped below, as RocketMQ does.
    if (m->from_producer && !IsRetryTopic(m->topic) && !IsDlqTopic(m->topic) &&
        (!number || level < 0 || level > max_delay_level())) {
      return PutError(
          PutMessageStatus::kMessageIllegal, absl::StatusCode::kInvalidArgument,
          fmt::format("delay level illegal: DELAY={} is not a level in [0, {}] "
                      "(0 = no delay; messageDelayLevel has {} levels)",
                      ShortForMessage(*level_text), max_delay_level(), max_delay_level()));
    }
    if (!number) level = 0;  // RocketMQ ignores levels <= 0
  }
  if (level <= 0 || delay_levels_ms_.empty()) return RedirectTimer(m);
  // HookUtils.checkIfTimerMessage: a delay level wins; the timer properties go.
  for (std::string_view k : {kPropTimerDeliverMs, kPropTimerDelaySec, kPropTimerDelayMs}) {
    m->properties.Remove(k);
  }
  level = std::min(level, max_delay_level());
  m->properties.Set(kPropDelayLevel, fmt::format("{}", level));
  m->properties.Set(kPropRealTopic, m->topic);
  m->properties.Set(kPropRealQueueId, fmt::format("{}", m->queue_id));
  m->topic = std::string(kScheduleTopic);
  m->queue_id = level - 1;
  return absl::OkStatus();
}

namespace {
absl::Status CancelIllegal() {
  return PutError(PutMessageStatus::kMessageIllegal, absl::StatusCode::kInvalidArgument,
                  "timer message illegal: a TIMER_DEL_UNIQKEY message must be a timer message "
                  "due at least one timer precision from now");
}

bool ParseMs(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

absl::Status MessageWriter::RedirectTimer(OutgoingMessage* m) const {
  // Already parked (the timer topic itself) or delivered (TIMER_OUT_MS): store as it is.
  if (m->topic == kTimerTopic || m->properties.Get(kPropTimerOutMs)) return absl::OkStatus();
  const auto delay_sec = m->properties.Get(kPropTimerDelaySec);
  const auto delay_ms = m->properties.Get(kPropTimerDelayMs);
  const auto deliver_ms = m->properties.Get(kPropTimerDeliverMs);
  const auto start_deliver = m->properties.Get(kPropStartDeliverTime);
  const bool cancel = m->properties.Get(kPropTimerDelUniqKey).has_value();
  if (!delay_sec && !delay_ms && !deliver_ms && !start_deliver) {
    if (cancel) return CancelIllegal();
    return absl::OkStatus();
  }
  if (!timer_.enable) {
    return PutError(PutMessageStatus::kUnknownError, absl::StatusCode::kFailedPrecondition,
                    "accurate timer message is not enabled, timerWheelEnable is false");
  }
  const int64_t now = timer_.clock ? timer_.clock() : NowMs();
  const auto illegal = [&](std::string_view why) {
    return PutError(PutMessageStatus::kMessageIllegal, absl::StatusCode::kInvalidArgument,
                    fmt::format("timer message illegal, the delay time should not be bigger than "
                                "the max delay {}ms; or if set del msg, the delay time should be "
                                "bigger than the current time ({})",
                                timer_.max_delay_ms, why));
  };
  int64_t v = 0;
  int64_t due = 0;
  // Delays are bounded before they are added, so no value can overflow `due`.
  constexpr int64_t kMaxRelativeMs = int64_t{1} << 50;
  if (delay_sec) {
    if (!ParseMs(*delay_sec, &v) || v > kMaxRelativeMs / 1000 || v < -kMaxRelativeMs / 1000) {
      return illegal("TIMER_DELAY_SEC is not a number of seconds");
    }
    due = now + v * 1000;
  } else if (delay_ms) {
    if (!ParseMs(*delay_ms, &v) || v > kMaxRelativeMs || v < -kMaxRelativeMs) {
      return illegal("TIMER_DELAY_MS is not a number of milliseconds");
    }
    due = now + v;
  } else if (deliver_ms) {
    if (!ParseMs(*deliver_ms, &due)) return illegal("TIMER_DELIVER_MS is not a time in ms");
  } else if (!ParseMs(*start_deliver, &due)) {
    // RocketMQ ignores this property altogether; an unparsable one leaves a normal message.
    return absl::OkStatus();
  }
  if (due > now && due - now > timer_.max_delay_ms) {
    return illegal(fmt::format("due in {} ms", due - now));
  }
  // Less than one tick ahead (or past): the wheel could not deliver it any sooner. A cancel for
  // such a time is too late (its target is being delivered), as RocketMQ refuses it.
  if (due - now < timer_.precision_ms) return cancel ? CancelIllegal() : absl::OkStatus();
  m->properties.Set(kPropTimerOutMs, fmt::format("{}", due));
  m->properties.Set(kPropRealTopic, m->topic);
  m->properties.Set(kPropRealQueueId, fmt::format("{}", m->queue_id));
  m->topic = std::string(kTimerTopic);
  m->queue_id = 0;
  return absl::OkStatus();
}

namespace {
struct Encoded {
  std::string props;
  Message msg;
};
Encoded Encode(const OutgoingMessage& m) {
  Encoded e;
  e.props = m.properties.Serialize();
  e.msg = Message{.topic = m.topic,
                  .queue_id = m.queue_id,
                  .body = m.body,
                  .properties = e.props,
                  .flag = m.flag,
                  .sys_flag = m.sys_flag,
                  .born_timestamp_ms = m.born_timestamp,
                  .born_host = m.born_host,
                  .reconsume_times = m.reconsume_times,
                  .prepared_transaction_offset = m.prepared_transaction_offset};
  return e;
}
}  // namespace

std::string MessageWriter::WindowKey(const OutgoingMessage& m) const {
  if (!window_ || !m.from_producer || IsRetryTopic(m.topic) || IsDlqTopic(m.topic)) return {};
  auto uniq = m.properties.Get(kPropertyUniqKey);
  return uniq ? PublishWindow::Key(m.topic, *uniq) : std::string();
}

void MessageWriter::Put(OutgoingMessage m, PutCallback done) {
  Send(std::move(m), [done = std::move(done)](absl::StatusOr<SendOutcome> r) {
    if (!r.ok()) {
      done(r.status());
    } else {
      done(std::move(r->result));
    }
  });
}

void MessageWriter::Send(OutgoingMessage m, SendCallback done) {
  std::string key = WindowKey(m);
  const int32_t queue_id = m.queue_id;  // before Redirect: the queue the producer addressed
  if (absl::Status s = Redirect(&m); !s.ok()) {
    done(s);
    return;
  }
  if (!key.empty()) {
    PublishRecord original;
    const PublishWindow::Claim c = window_->Begin(
        key,
        [done](absl::StatusOr<PublishRecord> r) {
          if (!r.ok()) {
            done(r.status());
          } else {
            done(SendOutcome{.result = r->result, .queue_id = r->queue_id, .duplicate = true});
          }
        },
        &original);
    if (c == PublishWindow::Claim::kWaiting) return;
    if (c == PublishWindow::Claim::kDuplicate) {
      done(SendOutcome{
          .result = std::move(original.result), .queue_id = original.queue_id, .duplicate = true});
      return;
    }
  }
  if (absl::Status s = Admit(1); !s.ok()) {
    if (!key.empty()) window_->Complete(key, s);
    done(s);
    return;
  }
  Store1(std::move(m), std::move(key), queue_id, std::move(done));
}

void MessageWriter::Store1(OutgoingMessage m, std::string key, int32_t queue_id,
                           SendCallback done) {
  // The store copies the bytes before AppendAsync returns, so `e` may go out of scope.
  Encoded e = Encode(m);
  e.msg.properties = e.props;
  store_.AppendAsync(e.msg, [this, key = std::move(key), queue_id,
                             done = std::move(done)](absl::StatusOr<AppendResult> r) {
    inflight_.fetch_sub(1, std::memory_order_relaxed);
    if (!r.ok()) {
      if (!key.empty()) window_->Complete(key, r.status());
      done(r.status());
      return;
    }
    if (!key.empty()) window_->Complete(key, PublishRecord{.result = *r, .queue_id = queue_id});
    done(SendOutcome{.result = *std::move(r), .queue_id = queue_id});
  });
}

void MessageWriter::PutBatch(std::vector<OutgoingMessage> msgs,
                             std::function<void(absl::StatusOr<std::vector<AppendResult>>)> done) {
  SendBatch(std::move(msgs), [done = std::move(done)](absl::StatusOr<std::vector<SendOutcome>> r) {
    if (!r.ok()) {
      done(r.status());
      return;
    }
    std::vector<AppendResult> out;
    out.reserve(r->size());
    for (SendOutcome& o : *r) out.push_back(std::move(o.result));
    done(std::move(out));
  });
}

void MessageWriter::SendBatch(std::vector<OutgoingMessage> msgs, SendBatchCallback done) {
  const size_t n = msgs.size();
  if (n == 0) {
    done(std::vector<SendOutcome>{});
    return;
  }
  std::vector<std::string> keys(n);
  std::vector<int32_t> queue_ids(n);
  // All redirected before any is stored: a refused timer refuses the whole batch.
  for (size_t i = 0; i < n; ++i) {
    keys[i] = WindowKey(msgs[i]);
    queue_ids[i] = msgs[i].queue_id;
    if (absl::Status s = Redirect(&msgs[i]); !s.ok()) {
      done(s);
      return;
    }
  }
  struct Gather {
    std::mutex mu;
    std::vector<SendOutcome> results;
    absl::Status first_error;
    size_t remaining;
    SendBatchCallback done;
  };
  auto g = std::make_shared<Gather>();
  g->results.resize(n);
  g->remaining = n;
  g->done = std::move(done);
  // Each message finishes exactly once (stored, a duplicate, or failed); the last calls done.
  auto finish = [g](size_t i, absl::StatusOr<SendOutcome> r) {
    bool last = false;
    {
      std::lock_guard<std::mutex> l(g->mu);
      if (r.ok()) {
        g->results[i] = *std::move(r);
      } else if (g->first_error.ok()) {
        g->first_error = r.status();
      }
      last = --g->remaining == 0;
    }
    if (!last) return;
    if (!g->first_error.ok()) {
      g->done(g->first_error);
    } else {
      g->done(std::move(g->results));
    }
  };
  // Claims first (a duplicate within the batch waits for its earlier twin), then stores the rest.
  std::vector<size_t> to_store;
  for (size_t i = 0; i < n; ++i) {
    if (keys[i].empty()) {
      to_store.push_back(i);
      continue;
    }
    PublishRecord original;
    const PublishWindow::Claim c = window_->Begin(
        keys[i],
        [finish, i](absl::StatusOr<PublishRecord> r) {
          if (!r.ok()) {
            finish(i, r.status());
          } else {
            finish(i, SendOutcome{.result = r->result, .queue_id = r->queue_id, .duplicate = true});
          }
        },
        &original);
    if (c == PublishWindow::Claim::kFirst) {
      to_store.push_back(i);
    } else if (c == PublishWindow::Claim::kDuplicate) {
      finish(i, SendOutcome{.result = std::move(original.result),
                            .queue_id = original.queue_id,
                            .duplicate = true});
    }
  }
  if (to_store.empty()) return;
  if (absl::Status s = Admit(static_cast<int64_t>(to_store.size())); !s.ok()) {
    for (size_t i : to_store) {
      if (!keys[i].empty()) window_->Complete(keys[i], s);
      finish(i, s);
    }
    return;
  }
  for (size_t i : to_store) {
    Store1(std::move(msgs[i]), std::move(keys[i]), queue_ids[i],
           [finish, i](absl::StatusOr<SendOutcome> r) { finish(i, std::move(r)); });
  }
}

int64_t MessageWriter::FirstRecordAtOrAfter(int64_t floor) {
  // Every dispatched record is in some consume queue, whose entries follow the log's order: the
  // smallest commit-log offset >= floor over all queues (a binary search in each) is a record
  // boundary. The undispatched tail starts at DispatchedOffset(), a boundary as well.
  int64_t best = store_.DispatchedOffset();
  auto offset_at = [&](const QueueInfo& q, int64_t qo) -> int64_t {
    auto got = store_.Get(q.topic, q.queue_id, qo, GetOptions{.max_messages = 1});
    if (!got.ok() || got->messages.empty()) return -1;
    return got->messages[0].offset;
  };
  for (const QueueInfo& q : store_.ListQueues()) {
    int64_t lo = q.min_offset, hi = q.max_offset;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      const int64_t off = offset_at(q, mid);
      if (off < 0) break;  // removed by retention meanwhile: leave the queue out
      if (off < floor) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo < q.max_offset) {
      const int64_t off = offset_at(q, lo);
      if (off >= floor) best = std::min(best, off);
    }
  }
  return best;
}

int64_t MessageWriter::RebuildPublishWindow() {
  if (!window_) return 0;
  const int64_t now = timer_.clock ? timer_.clock() : NowMs();
  const int64_t since = now - window_->window_ms();
  // Where the window's records start: the earliest record stored after `since` in any queue,
  // and no later than what the consume queues have seen (the rest is scanned in full).
  int64_t start = store_.DispatchedOffset();
  for (const QueueInfo& q : store_.ListQueues()) {
    if (q.max_offset <= q.min_offset) continue;
    auto qo = store_.SearchQueueOffset(q.topic, q.queue_id, since);
    if (!qo.ok() || *qo >= q.max_offset) continue;
    auto got = store_.Get(q.topic, q.queue_id, *qo, GetOptions{.max_messages = 1});
    if (got.ok() && !got->messages.empty()) start = std::min(start, got->messages[0].offset);
  }
  start = std::max(start, store_.MinOffset());
  const int64_t end = store_.MaxOffset();
  if (end - start > restore_max_bytes_) start = FirstRecordAtOrAfter(end - restore_max_bytes_);
  int64_t restored = 0;
  for (int64_t off = start; off < end;) {
    auto r = store_.Read(off);
    if (!r.ok()) break;  // recovery left a clean tail; nothing readable lies past an error
    off = r->next_offset;
    const MessageView& v = r->msg;
    if (v.store_timestamp <= since) continue;
    auto uniq = v.Property(kPropertyUniqKey);
    if (!uniq || uniq->empty()) continue;
    std::string_view topic = v.topic;
    int32_t queue_id = v.queue_id;
    if (topic == kScheduleTopic || topic == kTimerTopic || topic == kTransHalfTopic) {
      // Parked by MessageWriter: the producer addressed REAL_TOPIC / REAL_QID.
      auto real = v.Property(kPropRealTopic);
      auto qid = v.Property(kPropRealQueueId);
      if (!real || !qid) continue;
      auto [p, ec] = std::from_chars(qid->data(), qid->data() + qid->size(), queue_id);
      if (ec != std::errc()) continue;
      topic = *real;
    } else if (v.Property(kPropRealTopic) || v.prepared_transaction_offset != 0 ||
               IsSystemTopic(topic) || IsRetryTopic(topic) || IsDlqTopic(topic)) {
      continue;  // a delivery, a commit or the broker's own record: not a producer's send
    }
    PublishRecord rec;
    rec.result = AppendResult{.status = PutMessageStatus::kPutOk,
                              .wrote_offset = r->offset,
                              .wrote_bytes = static_cast<int32_t>(v.total_size),
                              .queue_offset = v.queue_offset,
                              .store_timestamp = v.store_timestamp,
                              .msg_id = v.OffsetMsgId()};
    rec.queue_id = queue_id;
    window_->Restore(PublishWindow::Key(topic, *uniq), rec, v.store_timestamp);
    ++restored;
  }
  return restored;
}

}  // namespace stele::broker
