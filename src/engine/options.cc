#include <cctype>
#include <charconv>
#include <initializer_list>
#include <string>
#include <utility>

#include <fmt/format.h>
#include "stele/message.h"
#include "stele/options.h"

namespace stele {
namespace {

std::string_view Strip(std::string_view v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  return v;
}

template <typename T>
absl::Status ParseInt(std::string_view key, std::string_view v, T* out) {
  v = Strip(v);
  T x{};
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size()) {
    return absl::InvalidArgumentError(fmt::format("{}: '{}' is not an integer", key, v));
  }
  *out = x;
  return absl::OkStatus();
}

absl::Status ParseBool(std::string_view key, std::string_view v, bool* out) {
  std::string s(v);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(0, 1);
  if (s == "true") {
    *out = true;
  } else if (s == "false") {
    *out = false;
  } else {
    return absl::InvalidArgumentError(fmt::format("{}: '{}' is not true/false", key, v));
  }
  return absl::OkStatus();
}

// Sets *out to the value named `v` among `names`, or explains what the key accepts.
template <typename E>
absl::Status ParseEnum(std::string_view key, std::string_view v,
                       std::initializer_list<std::pair<std::string_view, E>> names, E* out) {
  std::string accepted;
  for (const auto& [name, value] : names) {
    if (v == name) {
      *out = value;
      return absl::OkStatus();
    }
    accepted += accepted.empty() ? std::string(name) : ", " + std::string(name);
  }
  return absl::InvalidArgumentError(fmt::format("{}: '{}' is not one of {}", key, v, accepted));
}

}  // namespace

absl::StatusOr<std::vector<int>> ParseDeleteWhen(std::string_view spec) {
  std::vector<int> hours;
  std::string_view rest = spec;
  while (true) {
    size_t semi = rest.find(';');
    std::string_view part = Strip(rest.substr(0, semi));
    int h = -1;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), h);
    if (part.empty() || ec != std::errc() || p != part.data() + part.size() || h < 0 || h > 23) {
      return absl::InvalidArgumentError(
          fmt::format("deleteWhen: '{}' is not a list of hours 0..23 separated by ';'", spec));
    }
    hours.push_back(h);
    if (semi == std::string_view::npos) break;
    rest = rest.substr(semi + 1);
  }
  return hours;
}

absl::Status StoreOptions::SetOption(std::string_view key, std::string_view value) {
  std::string_view v = Strip(value);
  if (key == "storePathRootDir") {
    store_path_root_dir = std::string(v);
  } else if (key == "storePathCommitLog") {
    store_path_commit_log = std::string(v);
  } else if (key == "mappedFileSizeCommitLog" || key == "mapedFileSizeCommitLog") {
    return ParseInt(key, v, &mapped_file_size_commit_log);
  } else if (key == "flushDiskType") {
    return ParseEnum(
        key, v,
        {{"SYNC_FLUSH", FlushDiskType::kSyncFlush}, {"ASYNC_FLUSH", FlushDiskType::kAsyncFlush}},
        &flush_disk_type);
  } else if (key == "flushIntervalCommitLog") {
    return ParseInt(key, v, &flush_interval_commit_log_ms);
  } else if (key == "flushCommitLogLeastPages") {
    return ParseInt(key, v, &flush_commit_log_least_pages);
  } else if (key == "flushCommitLogThoroughInterval") {
    return ParseInt(key, v, &flush_commit_log_thorough_interval_ms);
  } else if (key == "syncFlushTimeout") {
    return ParseInt(key, v, &sync_flush_timeout_ms);
  } else if (key == "maxMessageSize") {
    return ParseInt(key, v, &max_message_size);
  } else if (key == "enabledAppendPropCRC") {
    return ParseBool(key, v, &enabled_append_prop_crc);
  } else if (key == "checkCRCOnRecover") {
    return ParseBool(key, v, &check_crc_on_recover);
  } else if (key == "checkpointInterval") {
    return ParseInt(key, v, &checkpoint_interval_ms);
  } else if (key == "writeBufferSize") {
    return ParseInt(key, v, &write_buffer_size);
  } else if (key == "segmentPreallocate") {
    return ParseEnum(key, v,
                     {{"auto", Preallocate::kAuto},
                      {"zero", Preallocate::kZeroFill},
                      {"fallocate", Preallocate::kFallocate}},
                     &preallocate);
  } else if (key == "commitLogWriteMode") {
    return ParseEnum(key, v, {{"write", WriteMode::kWrite}, {"mmap", WriteMode::kMmap}},
                     &write_mode);
  } else if (key == "mappedFileSizeConsumeQueue" || key == "mapedFileSizeConsumeQueue") {
    return ParseInt(key, v, &mapped_file_size_consume_queue);
  } else if (key == "flushIntervalConsumeQueue") {
    return ParseInt(key, v, &flush_interval_consume_queue_ms);
  } else if (key == "messageIndexEnable") {
    return ParseBool(key, v, &message_index_enable);
  } else if (key == "maxHashSlotNum") {
    return ParseInt(key, v, &max_hash_slot_num);
  } else if (key == "maxIndexNum") {
    return ParseInt(key, v, &max_index_num);
  } else if (key == "maxMsgsNumBatch") {
    return ParseInt(key, v, &max_msgs_num_batch);
  } else if (key == "fileReservedTime") {
    return ParseInt(key, v, &file_reserved_time_hours);
  } else if (key == "deleteWhen") {
    delete_when = std::string(v);
  } else if (key == "diskMaxUsedSpaceRatio") {
    return ParseInt(key, v, &disk_max_used_space_ratio);
  } else if (key == "diskSpaceCleanForciblyRatio") {
    return ParseInt(key, v, &disk_space_clean_forcibly_ratio);
  } else if (key == "diskSpaceWarningLevelRatio") {
    return ParseInt(key, v, &disk_space_warning_level_ratio);
  } else if (key == "cleanFileForciblyEnable") {
    return ParseBool(key, v, &clean_file_forcibly_enable);
  } else if (key == "cleanResourceInterval") {
    return ParseInt(key, v, &clean_resource_interval_ms);
  } else if (key == "deleteFileBatchMax") {
    return ParseInt(key, v, &delete_file_batch_max);
  } else if (key == "storeHost") {
    store_host = std::string(v);
  } else {
    return absl::NotFoundError(fmt::format("unknown store option '{}'", key));
  }
  return absl::OkStatus();
}

absl::Status StoreOptions::Validate() const {
  auto bad = [](std::string_view what, auto&& v) {
    return absl::InvalidArgumentError(fmt::format("{}{}", what, v));
  };
  if (store_path_root_dir.empty()) return bad("storePathRootDir must be set", "");
  if (mapped_file_size_commit_log < 64 * 1024 || mapped_file_size_commit_log % 4096 != 0 ||
      mapped_file_size_commit_log > (1ull << 40)) {
    return bad("mappedFileSizeCommitLog must be a multiple of 4096 between 64 KiB and 1 TiB, got ",
               mapped_file_size_commit_log);
  }
  if (max_message_size == 0 || max_message_size > 1024u * 1024 * 1024) {
    return bad("maxMessageSize must be between 1 and 1 GiB, got ", max_message_size);
  }
  if (flush_interval_commit_log_ms <= 0 || flush_commit_log_least_pages < 0 ||
      flush_commit_log_thorough_interval_ms <= 0 || sync_flush_timeout_ms <= 0 ||
      checkpoint_interval_ms <= 0) {
    return bad("flush intervals, syncFlushTimeout and checkpointInterval must be positive", "");
  }
  uint64_t min_ring = 2 * (uint64_t{max_message_size} + 64 * 1024);
  if (write_buffer_size < min_ring) {
    return bad("writeBufferSize must be at least 2 x (maxMessageSize + 64 KiB) = ", min_ring);
  }
  if (mapped_file_size_consume_queue < 20 || mapped_file_size_consume_queue > (1ull << 31)) {
    return bad("mappedFileSizeConsumeQueue must be between 20 bytes and 2 GiB, got ",
               mapped_file_size_consume_queue);
  }
  if (flush_interval_consume_queue_ms <= 0 || clean_resource_interval_ms <= 0) {
    return bad("flushIntervalConsumeQueue and cleanResourceInterval must be positive", "");
  }
  if (max_hash_slot_num == 0 || max_index_num < 2 || max_hash_slot_num > 100000000 ||
      max_index_num > 100000000) {
    return bad("maxHashSlotNum must be 1..1e8 and maxIndexNum 2..1e8", "");
  }
  if (max_msgs_num_batch <= 0)
    return bad("maxMsgsNumBatch must be positive, got ", max_msgs_num_batch);
  if (file_reserved_time_hours < 0) {
    return bad("fileReservedTime must not be negative, got ", file_reserved_time_hours);
  }
  for (int r : {disk_max_used_space_ratio, disk_space_clean_forcibly_ratio,
                disk_space_warning_level_ratio}) {
    if (r < 1 || r > 100) return bad("disk space ratios are percentages (1..100), got ", r);
  }
  if (delete_file_batch_max <= 0) {
    return bad("deleteFileBatchMax must be positive, got ", delete_file_batch_max);
  }
  if (auto hours = ParseDeleteWhen(delete_when); !hours.ok()) return hours.status();
  if (auto h = HostAddress::Parse(store_host); !h.ok()) {
    return bad("storeHost: ", std::string(h.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace stele
