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
  if (auto h = HostAddress::Parse(store_host); !h.ok()) {
    return bad("storeHost: ", std::string(h.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace stele
