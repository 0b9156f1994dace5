// stele::Store — an embeddable, durable, append-only commit log in RocketMQ's on-disk format.
//
//   auto store = stele::Store::Open(options);          // recovers after a crash
//   auto r = (*store)->Append(msg);                     // durable per options.flush_disk_type
//   auto rec = (*store)->Read(r->wrote_offset);         // zero-copy view
//   auto got = (*store)->Get("TopicA", 0, next_offset);  // consume by queue offset
//
// Every append gets a queue offset (its position in its topic queue) at once; a dispatcher thread
// then adds it to that queue's consume queue and to the hash index (by KEYS and UNIQ_KEY), after
// which Get/QueryByKey see it, typically within microseconds. Waiters and the arrival listener
// are told.
//
// Thread safety: every method may be called from any number of threads at once, except that
// Close() (or destruction) must not race with other calls.
//
// Durability: under SYNC_FLUSH an OK append has been made durable with fdatasync (concurrent
// appends share one fdatasync). Under ASYNC_FLUSH an OK append is in the OS page cache (it survives
// a crash of this process, not of the machine) and is flushed within flushIntervalCommitLog ms.
// After any failed write or fdatasync the store refuses appends until it is reopened.
#pragma once

#include <chrono>
#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stele/message.h"
#include "stele/options.h"

namespace stele {

// RocketMQ's PutMessageStatus.
enum class PutMessageStatus {
  kPutOk,
  kFlushDiskTimeout,  // stored, but not confirmed durable within syncFlushTimeout
  kServiceNotAvailable,
  kCreateMappedFileFailed,
  kMessageIllegal,
  kPropertiesSizeExceeded,
  kOsPageCacheBusy,
  kUnknownError,
};
std::string_view PutMessageStatusName(PutMessageStatus s);
// The put status a failed append's absl::Status stands for (kPutOk for OK).
PutMessageStatus PutStatusOf(const absl::Status& s);
// An error status that carries `put` (read back with PutStatusOf).
absl::Status PutError(PutMessageStatus put, absl::StatusCode code, std::string_view msg);

struct AppendResult {
  PutMessageStatus status = PutMessageStatus::kPutOk;  // kPutOk or kFlushDiskTimeout
  int64_t wrote_offset = 0;                            // commit-log offset of the record
  int32_t wrote_bytes = 0;                             // record size
  int64_t queue_offset = 0;                            // position in its topic queue
  int64_t store_timestamp = 0;                         // ms since epoch
  std::string msg_id;                                  // RocketMQ offset message id
};

// A zero-copy record. `bytes` and the views in `msg` stay valid while this object (or a copy)
// lives, even if the store is closed meanwhile.
struct RecordRef {
  std::shared_ptr<const void> pin;
  std::string_view bytes;
  MessageView msg;
  int64_t offset = 0;       // where the record starts
  int64_t next_offset = 0;  // where the next one starts (blank fillers skipped by Read)
};

// What Open() found and did.
struct RecoveryReport {
  bool clean_shutdown = false;  // no abort marker and a valid checkpoint
  bool checkpoint_used = false;
  std::string file_system;  // backend name
  int64_t scan_start_offset = 0;
  int64_t end_offset = 0;  // commit-log max offset after recovery
  uint64_t bytes_scanned = 0;
  uint64_t records_scanned = 0;
  uint64_t truncated_bytes = 0;  // non-zero bytes found past the end and moved to quarantine/
  std::string truncate_reason;
  double scan_seconds = 0;  // validating records from scan_start_offset on
  double seconds = 0;       // all of recovery (scan, tail check and quarantine, sync)
};

// RocketMQ's GetMessageStatus: the outcome of reading a consume queue.
enum class GetMessageStatus {
  kFound,
  kNoMatchedMessage,     // entries were there, but none passed the tag filter
  kMessageWasRemoving,   // the entries point at commit-log data already deleted
  kOffsetFoundNull,      // entries could not be read
  kOffsetOverflowBadly,  // offset > max offset
  kOffsetOverflowOne,    // offset == max offset: no new message yet
  kOffsetTooSmall,       // offset < min offset (deleted by retention)
  kNoMatchedLogicQueue,  // no such topic / queue
  kNoMessageInQueue,     // the queue exists but has never had a message
};
std::string_view GetMessageStatusName(GetMessageStatus s);

struct GetOptions {
  int32_t max_messages = 32;
  // Stop before the total size of returned records would exceed this (at least one is returned).
  int64_t max_bytes = 4 << 20;
  // Accept only these tags (the TAGS property); empty accepts all, as does "*". Matched on the
  // consume queue's tag hash first, then on the record's tag string, so hash collisions never leak.
  std::vector<std::string> tags;
  // When set, also accept only records it returns true for (a property filter). It runs on the
  // calling thread, after the tag filter, on each record read from the commit log; skipped
  // records still advance next_begin_offset.
  std::function<bool(const MessageView&)> record_filter;
};

struct GetResult {
  GetMessageStatus status = GetMessageStatus::kNoMatchedLogicQueue;
  int64_t next_begin_offset = 0;  // queue offset to read from next
  int64_t min_offset = 0;
  int64_t max_offset = 0;
  std::vector<RecordRef> messages;  // in queue order; each keeps its bytes alive
  int64_t total_bytes = 0;
};

struct QueueInfo {
  std::string topic;
  int32_t queue_id = 0;
  int64_t min_offset = 0;
  int64_t max_offset = 0;
};

// Commit-log flushes (fdatasync of segment data, whether by a SYNC_FLUSH appender, the background
// flusher or Flush()) since Open, for monitoring. Read without locks; the fields are each exact
// but not taken at one instant.
struct FlushStats {
  uint64_t count = 0;     // fdatasync calls that succeeded
  uint64_t total_us = 0;  // their summed duration
  uint64_t max_us = 0;    // the slowest
  uint64_t last_us = 0;   // the latest
};

// What one retention pass did (Store::CleanExpiredFiles).
struct CleanReport {
  int segments_deleted = 0;
  int queue_files_deleted = 0;
  int index_files_deleted = 0;
  double disk_used_ratio = -1;  // -1 when the file system cannot tell
  bool disk_full = false;       // above diskSpaceWarningLevelRatio: appends are refused
  std::string why;
};

// Called on the engine's dispatcher thread when new messages of a queue become readable with
// Get(); `max_offset` is the queue's new max offset. Keep it short and non-blocking.
using ArrivalListener =
    std::function<void(std::string_view topic, int32_t queue_id, int64_t max_offset)>;

class CommitLog;
struct IndexLayer;

class Store {
 public:
  // Opens (creating if needed) the store at options.store_path_root_dir and recovers it. Fails if
  // another process has it open, if options are invalid, or if files are missing or misnamed.
  static absl::StatusOr<std::unique_ptr<Store>> Open(StoreOptions options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Flushes, writes a checkpoint, removes the abort marker, stops background threads. Idempotent.
  absl::Status Close();

  // Appends one message and waits until it is acknowledged (see Durability above).
  absl::StatusOr<AppendResult> Append(const Message& m);
  // Appends messages contiguously with one reservation; all or none are written.
  absl::StatusOr<std::vector<AppendResult>> AppendBatch(std::span<const Message> msgs);
  // Appends without blocking for durability: `done` runs on an engine thread once the append is
  // acknowledged or failed. Keep it short; it must not call Close().
  using AppendCallback = std::function<void(absl::StatusOr<AppendResult>)>;
  void AppendAsync(const Message& m, AppendCallback done);

  // Reads the record at `offset` (a blank filler there moves on to the next segment). NotFound
  // past the end, OutOfRange before the start, DataLoss if its CRC does not match.
  absl::StatusOr<RecordRef> Read(int64_t offset) const;
  // Copies `size` raw bytes starting at `offset` (within one segment).
  absl::StatusOr<std::string> ReadBytes(int64_t offset, int32_t size) const;

  // Makes everything appended so far durable (the commit log; consume queues and the index
  // follow within flushIntervalConsumeQueue and are rebuilt from the log after a crash).
  absl::Status Flush();

  // ---- Consuming (consume queues, built in the background; see Dispatched()) ----
  // Reads a queue from `queue_offset`, with RocketMQ's statuses and next offset. Non-OK only for
  // invalid arguments.
  absl::StatusOr<GetResult> Get(std::string_view topic, int32_t queue_id, int64_t queue_offset,
                                const GetOptions& opts = {}) const;
  // Min and max queue offsets (max = one past the newest readable message); 0 for unknown queues.
  int64_t MinQueueOffset(std::string_view topic, int32_t queue_id) const;
  int64_t MaxQueueOffset(std::string_view topic, int32_t queue_id) const;
  // The first queue offset whose message was stored at or after `timestamp_ms` (max offset if
  // none), by binary search. NotFound for an unknown queue.
  absl::StatusOr<int64_t> SearchQueueOffset(std::string_view topic, int32_t queue_id,
                                            int64_t timestamp_ms) const;
  // Store time of the message at a queue offset.
  absl::StatusOr<int64_t> QueueOffsetStoreTime(std::string_view topic, int32_t queue_id,
                                               int64_t queue_offset) const;
  // Blocks until the queue has a message at `queue_offset` or the timeout passes; true if it has.
  // No polling: the dispatcher wakes waiters when it publishes new entries.
  bool WaitForMessages(std::string_view topic, int32_t queue_id, int64_t queue_offset,
                       std::chrono::milliseconds timeout) const;
  // Replaces the arrival listener (null removes it).
  void SetArrivalListener(ArrivalListener listener);
  std::vector<QueueInfo> ListQueues() const;
  // Commit-log offset up to which records are in their consume queues and the index.
  int64_t DispatchedOffset() const;

  // ---- Lookups ----
  // Messages of `topic` whose KEYS contain `key` or whose UNIQ_KEY is `key`, stored within
  // [begin_ms, end_ms], newest first, at most min(max, maxMsgsNumBatch).
  absl::StatusOr<std::vector<RecordRef>> QueryByKey(std::string_view topic, std::string_view key,
                                                    int max, int64_t begin_ms = 0,
                                                    int64_t end_ms = INT64_MAX) const;
  // The message named by a RocketMQ offset message id (store host + commit-log offset).
  absl::StatusOr<RecordRef> LookupMessageId(std::string_view offset_msg_id) const;

  // ---- Retention ----
  // Runs one retention pass now; `manual` deletes expired segments whatever the hour.
  absl::StatusOr<CleanReport> CleanExpiredFiles(bool manual = true);

  int64_t MinOffset() const;      // first readable byte
  int64_t MaxOffset() const;      // end of what readers can see
  int64_t FlushedOffset() const;  // end of what is durable
  // The queue offset the next message to (topic, queue_id) will get.
  int64_t NextQueueOffset(std::string_view topic, int32_t queue_id) const;
  const RecoveryReport& recovery_report() const;
  const StoreOptions& options() const;
  FlushStats flush_stats() const;

 private:
  Store();
  absl::Status OpenIndexLayer();
  absl::Status CheckWritable() const;
  std::unique_ptr<CommitLog> log_;
  std::unique_ptr<IndexLayer> idx_;
};

}  // namespace stele
