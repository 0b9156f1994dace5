// MessageWriter: the one path by which the broker stores a message (client sends, send-back,
// delay and timer delivery, transaction commits). It bounds the work waiting for the disk,
// redirects delay-level messages to the schedule topic, timer messages to the timer topic and
// prepared transaction messages to the half topic, and appends without blocking the io thread.
//
// Back-pressure: at most maxInflightSends appends may be waiting for their acknowledgement (under
// SYNC_FLUSH: for fdatasync). Past that a put fails at once with ResourceExhausted, whose message
// says why (in-flight count, bytes not yet flushed); nothing of it was stored. The bound is on
// work actually waiting for the disk, not on a wall-clock queue age, so a healthy but busy disk
// is never refused.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "net/broker/publish_window.h"
#include "stele/message.h"
#include "stele/store.h"

namespace stele::broker {

// Message properties: RocketMQ's "k\x01v\x02" string, kept as received. Reads scan it; adding a
// new key appends to it, so the common send path (add CLUSTER) never re-serializes the whole.
class Properties {
 public:
  Properties() = default;
  // Accepts a trailing separator (ali-ons writes one) or none (Java).
  static Properties Parse(std::string_view s);
  // The store terminates it with \x02, as RocketMQ does.
  const std::string& Serialize() const { return raw_; }
  std::optional<std::string_view> Get(std::string_view key) const;
  void Set(std::string_view key, std::string_view value);
  void Remove(std::string_view key);

 private:
  std::string raw_;
};

inline constexpr std::string_view kPropDelayLevel = "DELAY";
inline constexpr std::string_view kPropRealTopic = "REAL_TOPIC";
inline constexpr std::string_view kPropRealQueueId = "REAL_QID";
inline constexpr std::string_view kPropRetryTopic = "RETRY_TOPIC";
inline constexpr std::string_view kPropOriginMessageId = "ORIGIN_MESSAGE_ID";
inline constexpr std::string_view kPropMaxReconsumeTimes = "MAX_RECONSUME_TIMES";
inline constexpr std::string_view kPropReconsumeTime = "RECONSUME_TIME";
inline constexpr std::string_view kPropCluster = "CLUSTER";
inline constexpr std::string_view kPropTransactionPrepared = "TRAN_MSG";
inline constexpr std::string_view kPropTransactionId = "__transactionId__";
inline constexpr std::string_view kPropProducerGroup = "PGROUP";
// Timer messages (RocketMQ 5 MessageConst). The broker honours the first of TIMER_DELAY_SEC,
// TIMER_DELAY_MS, TIMER_DELIVER_MS, and (Stele, for ONS-era producers and its own C++ client)
// __STARTDELIVERTIME; a parked message carries TIMER_OUT_MS (its due time), which also marks a
// delivered one so that it is never parked again.
inline constexpr std::string_view kPropTimerDeliverMs = "TIMER_DELIVER_MS";
inline constexpr std::string_view kPropTimerDelaySec = "TIMER_DELAY_SEC";
inline constexpr std::string_view kPropTimerDelayMs = "TIMER_DELAY_MS";
inline constexpr std::string_view kPropStartDeliverTime = "__STARTDELIVERTIME";
inline constexpr std::string_view kPropTimerOutMs = "TIMER_OUT_MS";
inline constexpr std::string_view kPropTimerDequeueMs = "TIMER_DEQUEUE_MS";
// RocketMQ 5's timer cancel: a timer message for the same delivery time whose TIMER_DEL_UNIQKEY is
// "<topic>+<UNIQ_KEY>" of the pending timer (TimerMessageStore.buildDeleteKey) stops it; the
// marker is not delivered either. Refused on a message that is not parked as a timer.
inline constexpr std::string_view kPropTimerDelUniqKey = "TIMER_DEL_UNIQKEY";

// A message the broker is about to store; owns its bytes.
struct OutgoingMessage {
  std::string topic;
  int32_t queue_id = 0;
  std::string body;
  Properties properties;
  int32_t flag = 0;
  int32_t sys_flag = 0;
  int64_t born_timestamp = 0;
  HostAddress born_host;
  int32_t reconsume_times = 0;
  int64_t prepared_transaction_offset = 0;  // a committed transaction: its half's log offset
  // Sent by a producer (SEND_MESSAGE / V2 / batch, gRPC SendMessage), not re-stored by the broker
  // itself: idempotent publish applies to it and its DELAY level is validated, not clamped.
  bool from_producer = false;

  // A stored record as a message to store again (delay delivery, send-back): same body, flags,
  // born time/host, reconsume count and properties, minus the record's __CRC32# (the store
  // appends a fresh one). Topic and queue are left for the caller.
  static OutgoingMessage FromStored(const MessageView& v);
};

using PutCallback = std::function<void(absl::StatusOr<AppendResult>)>;

// What a producer is answered: where the message went. A duplicate (idempotent publish) carries
// the original's result and queue id, which may differ from the retry's queue.
struct SendOutcome {
  AppendResult result;
  int32_t queue_id = 0;  // the queue the producer addressed (not the schedule/timer/half queue)
  bool duplicate = false;
};
using SendCallback = std::function<void(absl::StatusOr<SendOutcome>)>;
using SendBatchCallback = std::function<void(absl::StatusOr<std::vector<SendOutcome>>)>;

// How MessageWriter treats timer messages (timerWheelEnable, timerPrecisionMs, timerMaxDelaySec).
struct TimerPolicy {
  bool enable = true;
  int64_t precision_ms = 1000;
  int64_t max_delay_ms = 259200000;
  std::function<int64_t()> clock;  // epoch ms; null = the system clock
};

// Idempotent publish (idempotentPublishEnable / WindowSec / MaxEntries); see publish_window.h.
struct IdempotencePolicy {
  bool enable = false;
  int64_t window_ms = 600000;
  size_t max_entries = 200000;
  // At most this much of the commit log's tail is read to refill the window at start-up, so a
  // broker restarted after heavy traffic does not read minutes of it (older keys are forgotten).
  int64_t restore_max_bytes = 256ll << 20;
};

class MessageWriter {
 public:
  // delay_levels_ms[i] is the wait of delay level i+1.
  MessageWriter(Store& store, int max_inflight, std::vector<int64_t> delay_levels_ms,
                TimerPolicy timer = {}, IdempotencePolicy idempotence = {});

  // Stores `m` and calls `done` once (possibly before returning, possibly on an engine thread).
  // A prepared transaction message (sysFlag PREPARED) is stored as a half message instead: in
  // RMQ_SYS_TRANS_HALF_TOPIC queue 0 with sysFlag NOT_TYPE, the real topic and queue in
  // REAL_TOPIC / REAL_QID and UNIQ_KEY copied to __transactionId__ (parseHalfMessageInner); the
  // transaction service and END_TRANSACTION take it from there.
  // A DELAY property > 0 on a non-transactional message outside the half topic sends it to
  // SCHEDULE_TOPIC_XXXX queue level-1, keeping the real topic and queue in properties; the delay
  // service moves it back when due. From a producer (from_producer) a DELAY that is not a whole
  // number in [0, max_delay_level()] is refused with kMessageIllegal; the broker's own puts
  // (send-back) have their level clamped to the highest.
  // A timer message (see kPropTimerDeliverMs) due at least one timer precision from now is
  // parked in rmq_sys_wheel_timer queue 0 with TIMER_OUT_MS and REAL_TOPIC / REAL_QID (the timer
  // service delivers it); one due sooner or in the past is stored at once. Refused, with nothing
  // stored: a delay past max_delay_ms or an unparsable TIMER_* value (kMessageIllegal), any timer
  // message when timers are disabled (kUnknownError -> SYSTEM_ERROR). DELAY > 0 wins over timer
  // properties (they are removed), as in RocketMQ.
  void Put(OutgoingMessage m, PutCallback done);
  // Stores several messages of one topic queue; `done` gets one result per message, or the first
  // error (messages before it may have been stored, as with RocketMQ's batch).
  void PutBatch(std::vector<OutgoingMessage> msgs,
                std::function<void(absl::StatusOr<std::vector<AppendResult>>)> done);

  // Put / PutBatch for producer sends, answered with the addressed queue too. With idempotent
  // publish on, a from_producer message with a UNIQ_KEY, outside %RETRY% and %DLQ% topics, whose
  // (topic, UNIQ_KEY) was stored within the window is not stored again: `done` gets the original
  // (duplicate = true); one whose first send is still in flight waits for that send's outcome.
  // In a batch each message is looked up on its own (a retried batch stores only the missing).
  void Send(OutgoingMessage m, SendCallback done);
  void SendBatch(std::vector<OutgoingMessage> msgs, SendBatchCallback done);

  // Refills the idempotence window from the commit log's tail: every producer record (keyed by
  // its REAL_TOPIC when parked in the schedule, timer or half topic) stored within the window.
  // Call once after the store is open and before sends are accepted. Reads at most
  // IdempotencePolicy::restore_max_bytes of the tail. Returns keys restored.
  int64_t RebuildPublishWindow();
  const PublishWindow* publish_window() const { return window_.get(); }

  int64_t inflight() const { return inflight_.load(std::memory_order_relaxed); }
  // maxInflightSends changed at run time (UPDATE_BROKER_CONFIG); sends already accepted stay.
  void set_max_inflight(int64_t n) { max_inflight_.store(n, std::memory_order_relaxed); }
  int max_delay_level() const { return static_cast<int>(delay_levels_ms_.size()); }
  int64_t delay_ms(int level) const { return delay_levels_ms_[level - 1]; }
  const TimerPolicy& timer_policy() const { return timer_; }

 private:
  // The commit-log offset of the first record at or after `floor` (the refill's bound).
  int64_t FirstRecordAtOrAfter(int64_t floor);
  absl::Status Admit(int64_t n);
  absl::Status Redirect(OutgoingMessage* m) const;
  absl::Status RedirectTimer(OutgoingMessage* m) const;
  std::string WindowKey(const OutgoingMessage& m) const;
  // Admits and appends one message already redirected; completes `key`'s claim, if any.
  void Store1(OutgoingMessage m, std::string key, int32_t queue_id, SendCallback done);

  Store& store_;
  std::atomic<int64_t> max_inflight_;  // maxInflightSends, changeable at run time
  const std::vector<int64_t> delay_levels_ms_;
  const TimerPolicy timer_;
  std::unique_ptr<PublishWindow> window_;  // null: idempotent publish off
  int64_t restore_max_bytes_ = 0;
  std::atomic<int64_t> inflight_{0};
  // Busy refusals since the last "broker busy" log line, and when that line was written (epoch
  // ms): one line per kBusyLogIntervalMs at most, however many sends are refused.
  static constexpr int64_t kBusyLogIntervalMs = 10000;
  std::atomic<int64_t> busy_refused_{0};
  std::atomic<int64_t> busy_logged_ms_{0};
};

}  // namespace stele::broker
