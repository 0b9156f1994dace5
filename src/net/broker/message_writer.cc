#include "net/broker/message_writer.h"

#include <charconv>
#include <memory>
#include <mutex>

#include "common/clock.h"
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
                             TimerPolicy timer)
    : store_(store),
      max_inflight_(max_inflight),
      delay_levels_ms_(std::move(delay_levels_ms)),
      timer_(std::move(timer)) {}

absl::Status MessageWriter::Admit(int64_t n) {
  const int64_t now = inflight_.fetch_add(n, std::memory_order_relaxed) + n;
  if (now <= max_inflight_) return absl::OkStatus();
  inflight_.fetch_sub(n, std::memory_order_relaxed);
  return absl::ResourceExhaustedError(fmt::format(
      "[TOO_MANY_INFLIGHT] broker busy: {} sends are waiting for the disk (maxInflightSends={}), "
      "{} bytes appended but not yet flushed; the message was not stored, retry later",
      now - n, max_inflight_, store_.MaxOffset() - store_.FlushedOffset()));
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
    if (ec != std::errc()) level = 0;  // RocketMQ ignores levels <= 0
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
  if (!delay_sec && !delay_ms && !deliver_ms && !start_deliver) return absl::OkStatus();
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
  // Less than one tick ahead (or past): the wheel could not deliver it any sooner.
  if (due - now < timer_.precision_ms) return absl::OkStatus();
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

void MessageWriter::Put(OutgoingMessage m, PutCallback done) {
  if (absl::Status s = Redirect(&m); !s.ok()) {
    done(s);
    return;
  }
  if (absl::Status s = Admit(1); !s.ok()) {
    done(s);
    return;
  }
  // The store copies the bytes before AppendAsync returns, so `e` may go out of scope.
  Encoded e = Encode(m);
  e.msg.properties = e.props;
  store_.AppendAsync(e.msg, [this, done = std::move(done)](absl::StatusOr<AppendResult> r) {
    inflight_.fetch_sub(1, std::memory_order_relaxed);
    done(std::move(r));
  });
}

void MessageWriter::PutBatch(std::vector<OutgoingMessage> msgs,
                             std::function<void(absl::StatusOr<std::vector<AppendResult>>)> done) {
  const int64_t n = static_cast<int64_t>(msgs.size());
  if (n == 0) {
    done(std::vector<AppendResult>{});
    return;
  }
  // All redirected before any is stored: a refused timer refuses the whole batch.
  for (OutgoingMessage& m : msgs) {
    if (absl::Status s = Redirect(&m); !s.ok()) {
      done(s);
      return;
    }
  }
  if (absl::Status s = Admit(n); !s.ok()) {
    done(s);
    return;
  }
  struct Gather {
    std::mutex mu;
    std::vector<AppendResult> results;
    absl::Status first_error;
    int64_t remaining;
    std::function<void(absl::StatusOr<std::vector<AppendResult>>)> done;
  };
  auto g = std::make_shared<Gather>();
  g->results.resize(msgs.size());
  g->remaining = n;
  g->done = std::move(done);
  for (size_t i = 0; i < msgs.size(); ++i) {
    Encoded e = Encode(msgs[i]);
    e.msg.properties = e.props;
    store_.AppendAsync(e.msg, [this, g, i](absl::StatusOr<AppendResult> r) {
      inflight_.fetch_sub(1, std::memory_order_relaxed);
      bool last = false;
      {
        std::lock_guard<std::mutex> l(g->mu);
        if (r.ok()) {
          g->results[i] = std::move(*r);
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
    });
  }
}

}  // namespace stele::broker
