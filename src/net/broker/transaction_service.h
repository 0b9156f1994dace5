// TransactionService: RocketMQ's transactional messages (TransactionalMessageServiceImpl and
// TransactionalMessageCheckService), with the on-disk state RocketMQ keeps.
//
// Records (all ordinary, durable commit-log records):
// - half messages: a prepared send is stored by MessageWriter in RMQ_SYS_TRANS_HALF_TOPIC queue 0,
//   sysFlag NOT_TYPE, the real topic and queue in REAL_TOPIC / REAL_QID. Consumers of the real
//   topic never see it.
// - op records: RMQ_SYS_TRANS_OP_HALF_TOPIC queue 0 (the half's queue id), tags "d", body = the
//   resolved half's queue offset in decimal (RocketMQ 5 batches several, comma-separated; both
//   forms are read). END_TRANSACTION (transaction_processor.cc) writes one per commit or rollback;
//   a commit first stores the message in its real topic, then the op record.
// - check copies: a half checked back with its producer is put again at the end of the half queue
//   with TRANSACTION_CHECK_TIMES incremented (the check names the copy's offsets); past
//   transactionCheckMax checks it is moved to TRANS_CHECK_MAX_TIME_TOPIC instead.
// - progress: consumer offsets of group CID_SYS_RMQ_TRANS on the half and op queues (the
//   consumerOffset.json the broker persists every flushConsumerOffsetInterval and at shutdown).
//
// Check pass (every transactionCheckInterval ms, on the service's thread): reads the op queue from
// its offset, noting which half offsets are resolved; then walks the half queue from its offset up
// to the end seen when the pass began: a resolved half is passed over; an unresolved one younger
// than its timeout (transactionTimeOut, or its CHECK_IMMUNITY_TIME_IN_SECONDS) ends the pass; an
// older one is checked back (CHECK_TRANSACTION_STATE, oneway, to a channel of its producer group
// PGROUP) or discarded. Like RocketMQ's, the half offset never passes a half still waiting for its
// timeout, so a half with a long CHECK_IMMUNITY_TIME delays the checks of the halves after it.
//
// Crash safety: the persisted half offset covers only halves that are resolved, put back or
// discarded, and the persisted op offset never passes an op record naming a half at or after the
// persisted half offset (it is committed after the half offset, so any snapshot of the pair is
// safe). A restart re-reads those op records, so a committed or rolled-back half is never checked
// again; work done after the last persist is redone: a half put back twice is checked twice, and a
// commit whose op record was lost is checked again and may be delivered twice (at-least-once).
// A commit stores the real message before its op record, so no crash loses a committed message;
// a rollback stores nothing but the op record, so none exposes a rolled-back one.
//
// Threading: one thread, started by Start() and joined by Stop() (the owner calls them once, in
// that order). half_offset() and op_offset() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "net/broker/message_writer.h"
#include "net/broker/service_thread.h"
#include "stele/message.h"
#include "stele/store.h"

namespace stele::broker {

class BrokerController;

// RocketMQ's names (TransactionalMessageUtil, MessageConst).
inline constexpr std::string_view kTransactionGroup = "CID_SYS_RMQ_TRANS";
inline constexpr std::string_view kOpRemoveTag = "d";
inline constexpr std::string_view kPropCheckTimes = "TRANSACTION_CHECK_TIMES";
inline constexpr std::string_view kPropCheckImmunitySeconds = "CHECK_IMMUNITY_TIME_IN_SECONDS";

// The message a half stands for, as a commit stores it (RocketMQ's endMessageTransaction): the
// real topic and queue back, REAL_TOPIC / REAL_QID / TRAN_MSG removed, sysFlag COMMIT, the half's
// commit-log offset as the prepared-transaction offset. InvalidArgument when the half names no
// valid real topic and queue.
absl::StatusOr<OutgoingMessage> CommittedMessage(const MessageView& half);
// The op record that marks `half` resolved.
OutgoingMessage OpMessage(const MessageView& half, const HostAddress& broker_host);
// The body of CHECK_TRANSACTION_STATE: `half` encoded as a stored record (as a pull returns it),
// but with its real topic and queue, as RocketMQ's Broker2Client sends it.
absl::StatusOr<std::string> CheckBody(const MessageView& half);

// Ends the transaction of the half message at `commit_log_offset` (queue offset `queue_offset` in
// the half queue), as END_TRANSACTION does: a commit stores the message in its real topic, then
// the op record; a rollback stores the op record only. A non-empty `producer_group` must match
// the half's PGROUP. `done` gets a remoting response code (SUCCESS, SYSTEM_ERROR when the half is
// not found or does not match, a put failure code) and a remark; it may run on an engine thread.
using EndCallback = std::function<void(int32_t code, std::string remark)>;
void EndTransaction(BrokerController& b, std::string_view producer_group, int64_t commit_log_offset,
                    int64_t queue_offset, bool commit, EndCallback done);

class TransactionService {
 public:
  // Records read per store call.
  static constexpr int kBatch = 32;
  // Most op records remembered for halves not yet passed; past it a pass stops reading op records
  // and checks nothing (it cannot tell resolved halves from unresolved ones) until the half offset
  // moves on.
  static constexpr size_t kMaxTrackedOps = 1 << 20;
  static constexpr int64_t kWarnIntervalMs = 10000;

  // `b` must outlive the service; its store, writer, offsets, producers and server are used.
  explicit TransactionService(BrokerController& b);
  ~TransactionService();  // Stop()

  // Loads the progress (CID_SYS_RMQ_TRANS offsets; missing = the queues' first offsets), pulls an
  // offset past its queue's end back to it (records lost in a machine crash), and starts the
  // thread. Call after the offsets are loaded and before the broker serves requests.
  void Start();
  // Stops the thread and commits the progress to the offset manager (the broker persists it).
  // Idempotent. Call before the store is closed and the offsets persisted.
  void Stop();

  // The next half-queue offset not known to be resolved, and the op-queue offset up to which op
  // records are no longer needed (what is committed as CID_SYS_RMQ_TRANS progress).
  int64_t half_offset() const { return half_offset_.load(); }
  int64_t op_offset() const { return op_offset_.load(); }
  // Check passes completed since Start.
  int64_t passes() const { return passes_.load(); }

  // Another way to reach producers (the gRPC endpoint's Telemetry streams): called on the
  // service's thread with the check copy of a half whose producer group has no connected remoting
  // producer (or that names none); returns true if it asked a producer. A null hook removes it;
  // SetCheckHook waits for a running call, so after SetCheckHook(nullptr) the old hook is unused.
  using CheckHook = std::function<bool(const MessageView& copy)>;
  void SetCheckHook(CheckHook hook);

 private:
  enum class Outcome { kDone, kNotDue, kFailed };
  // Loads the progress (before the thread starts).
  void Prepare();
  void Pass();
  // Reads op records up to the op queue's end; false if it could not (error, or too many).
  bool ReadOps();
  void ApplyOp(const MessageView& op);
  // Checks back or discards one unresolved half.
  Outcome Resolve(const MessageView& half, int64_t now_ms);
  void SendCheck(const MessageView& copy);
  absl::StatusOr<AppendResult> PutAndWait(OutgoingMessage m);
  void AdvanceHead(int64_t offset);
  void CommitProgress();
  bool ShouldWarn();

  BrokerController& b_;

  std::mutex hook_mu_;
  CheckHook hook_;  // guarded by hook_mu_

  // Run thread only (and Start/Stop, which do not overlap it).
  int64_t head_ = 0;     // next half offset not yet resolved
  int64_t op_read_ = 0;  // next op offset to read
  // Half offset (>= head_) -> the op record naming it; op offset -> how many of those it names.
  std::map<int64_t, int64_t> removed_;
  std::map<int64_t, int> op_refs_;
  int64_t committed_half_ = 0;  // what the offset manager holds
  int64_t committed_op_ = 0;
  int64_t last_warn_ms_ = INT64_MIN / 2;

  std::atomic<int64_t> half_offset_{0};
  std::atomic<int64_t> op_offset_{0};
  std::atomic<int64_t> passes_{0};
  ServiceThread thread_;  // last: stopped (joined) before the members it uses go
};

}  // namespace stele::broker
