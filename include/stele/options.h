// Options for opening a Store. Field names follow RocketMQ's MessageStoreConfig keys (camelCase in
// broker.conf) where RocketMQ has one; SetOption() accepts those exact key strings.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stele/file_system.h"

namespace stele {

enum class FlushDiskType {
  kAsyncFlush,  // ASYNC_FLUSH: acknowledged once in the OS page cache; flushed in the background
  kSyncFlush,   // SYNC_FLUSH: acknowledged only after fdatasync covers it (group commit)
};

// How a new commit-log segment is prepared before use.
enum class Preallocate {
  kAuto,      // kZeroFill under SYNC_FLUSH, kFallocate under ASYNC_FLUSH
  kZeroFill,  // write zeros over the whole file: fdatasync then has no extent conversion to journal
  kFallocate,  // reserve blocks only (fast to create)
};

// How appended bytes reach the segment file.
enum class WriteMode {
  // Stage records in memory and write them with pwritev, one call per batch of appends.
  kWrite,
  // Copy records into a shared writable mapping of the (preallocated) segment, as RocketMQ does:
  // no system call per append; durability still comes from fdatasync. Falls back to kWrite on
  // file systems without writable mappings (the fault-injecting test wrapper). Measured here
  // (bench/): ASYNC_FLUSH appends ~15% faster, SYNC_FLUSH ~3x slower (after each fdatasync the
  // next store to a page faults into ext4's page_mkwrite), so it is not the default.
  kMmap,
};

struct StoreOptions {
  // storePathRootDir: holds checkpoint, abort, lock and (by default) commitlog/.
  std::string store_path_root_dir;
  // storePathCommitLog: defaults to <root>/commitlog.
  std::string store_path_commit_log;
  // mappedFileSizeCommitLog: segment size in bytes; a multiple of 4096. RocketMQ's default 1 GiB.
  uint64_t mapped_file_size_commit_log = 1ull << 30;
  FlushDiskType flush_disk_type = FlushDiskType::kAsyncFlush;
  // flushIntervalCommitLog (ms) and flushCommitLogLeastPages (4 KiB pages) for ASYNC_FLUSH; a full
  // flush happens at least every flushCommitLogThoroughInterval ms.
  int flush_interval_commit_log_ms = 500;
  int flush_commit_log_least_pages = 4;
  int flush_commit_log_thorough_interval_ms = 10000;
  // syncFlushTimeout (ms): SYNC_FLUSH appends not durable by then report FLUSH_DISK_TIMEOUT.
  int sync_flush_timeout_ms = 5000;
  // maxMessageSize: largest body accepted (bytes); larger appends are refused, nothing written.
  uint32_t max_message_size = 4 * 1024 * 1024;
  // enabledAppendPropCRC: write RocketMQ's whole-record __CRC32# property. On by default here (off
  // in RocketMQ) because the body CRC alone leaves a torn properties tail undetected.
  bool enabled_append_prop_crc = true;
  // checkCRCOnRecover: verify CRCs while recovering.
  bool check_crc_on_recover = true;
  // Interval (ms) at which the checkpoint (safe offset + queue offsets) is rewritten. Recovery
  // after a crash scans only what was appended since the last checkpoint.
  int checkpoint_interval_ms = 1000;
  // Bytes of memory staging appends before they are written; at least 2 x (maxMessageSize + 64
  // KiB).
  uint64_t write_buffer_size = 32ull << 20;
  Preallocate preallocate = Preallocate::kAuto;
  // commitLogWriteMode: "write" or "mmap".
  WriteMode write_mode = WriteMode::kWrite;
  // Store host written into records and message ids ("ip:port", IPv4 or [IPv6]:port).
  std::string store_host = "127.0.0.1:10911";
  // ---- Consume queues and the hash index (built in the background from the commit log) ----
  // mappedFileSizeConsumeQueue: bytes per consume-queue file, rounded up to a multiple of 20 (one
  // entry). RocketMQ's default: 300,000 entries.
  uint64_t mapped_file_size_consume_queue = 300000 * 20;
  // flushIntervalConsumeQueue (ms): how often consume-queue and index files are made durable
  // (and with them the checkpoint's dispatch offset advances).
  int flush_interval_consume_queue_ms = 1000;
  // messageIndexEnable: build the hash index (lookups by KEYS and UNIQ_KEY).
  bool message_index_enable = true;
  // maxHashSlotNum / maxIndexNum: geometry of one index file (420 MB with the defaults).
  uint32_t max_hash_slot_num = 5000000;
  uint32_t max_index_num = 20000000;
  // maxMsgsNumBatch: most results one key query returns.
  int max_msgs_num_batch = 64;

  // ---- Retention ----
  // fileReservedTime (hours): commit-log segments whose newest message is older are deleted.
  int file_reserved_time_hours = 72;
  // deleteWhen: hours of the day ("04", or "04;10") at which expired segments are deleted.
  std::string delete_when = "04";
  // diskMaxUsedSpaceRatio (%): above it expired segments are deleted at any hour.
  int disk_max_used_space_ratio = 75;
  // diskSpaceCleanForciblyRatio (%): above it the oldest segments are deleted even if not expired
  // (cleanFileForciblyEnable).
  int disk_space_clean_forcibly_ratio = 85;
  bool clean_file_forcibly_enable = true;
  // diskSpaceWarningLevelRatio (%): above it appends are refused (SERVICE_NOT_AVAILABLE) until
  // cleaning brings usage back down.
  int disk_space_warning_level_ratio = 90;
  // cleanResourceInterval (ms): how often the cleaner checks.
  int clean_resource_interval_ms = 10000;
  // deleteFileBatchMax: most commit-log segments deleted per cleaner run.
  int delete_file_batch_max = 10;
  // Clock (ms since the epoch) for retention decisions and index file names; null = the system
  // clock. Tests use a fake one.
  std::function<int64_t()> clock_ms;

  // File system to use; null = io_uring with POSIX fallback.
  std::shared_ptr<FileSystem> file_system;

  // Sets a field by its RocketMQ key name (e.g. "flushDiskType", "SYNC_FLUSH"). Unknown keys return
  // NotFound; bad values InvalidArgument with the key in the message.
  absl::Status SetOption(std::string_view key, std::string_view value);
  // Checks ranges and relations between fields.
  absl::Status Validate() const;
};

// The hours of the day in a deleteWhen value ("04;10" -> {4, 10}).
absl::StatusOr<std::vector<int>> ParseDeleteWhen(std::string_view spec);

}  // namespace stele
