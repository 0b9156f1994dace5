// Options for opening a Store. Field names follow RocketMQ's MessageStoreConfig keys (camelCase in
// broker.conf) where RocketMQ has one; SetOption() accepts those exact key strings.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
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
  // File system to use; null = io_uring with POSIX fallback.
  std::shared_ptr<FileSystem> file_system;

  // Sets a field by its RocketMQ key name (e.g. "flushDiskType", "SYNC_FLUSH"). Unknown keys return
  // NotFound; bad values InvalidArgument with the key in the message.
  absl::Status SetOption(std::string_view key, std::string_view value);
  // Checks ranges and relations between fields.
  absl::Status Validate() const;
};

}  // namespace stele
