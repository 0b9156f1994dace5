// stele::Store — an embeddable, durable, append-only commit log in RocketMQ's on-disk format.
//
//   auto store = stele::Store::Open(options);          // recovers after a crash
//   auto r = (*store)->Append(msg);                     // durable per options.flush_disk_type
//   auto rec = (*store)->Read(r->wrote_offset);         // zero-copy view
//
// Thread safety: every method may be called from any number of threads at once, except that
// Close() (or destruction) must not race with other calls.
//
// Durability: under SYNC_FLUSH an OK append has been made durable with fdatasync (concurrent
// appends share one fdatasync). Under ASYNC_FLUSH an OK append is in the OS page cache (it survives
// a crash of this process, not of the machine) and is flushed within flushIntervalCommitLog ms.
// After any failed write or fdatasync the store refuses appends until it is reopened.
#pragma once

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

class CommitLog;

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

  // Makes everything appended so far durable.
  absl::Status Flush();

  int64_t MinOffset() const;      // first readable byte
  int64_t MaxOffset() const;      // end of what readers can see
  int64_t FlushedOffset() const;  // end of what is durable
  // The queue offset the next message to (topic, queue_id) will get.
  int64_t NextQueueOffset(std::string_view topic, int32_t queue_id) const;
  const RecoveryReport& recovery_report() const;
  const StoreOptions& options() const;

 private:
  Store();
  std::unique_ptr<CommitLog> log_;
};

}  // namespace stele
