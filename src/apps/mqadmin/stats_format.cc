#include "mqadmin/stats_format.h"

#include <charconv>
#include <cstdio>
#include <ctime>
#include <system_error>

#include "fmt/format.h"

namespace stele::mqadmin {
namespace {

std::string LocalTime(int64_t ms, const char* fmt_str) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, fmt_str, &tm);
  return buf;
}

}  // namespace

std::string HumanTimeMillis(int64_t ms) {
  return fmt::format("{},{:03}", LocalTime(ms, "%Y-%m-%d %H:%M:%S"), ms % 1000);
}

std::string HumanTimeSeconds(int64_t ms) { return LocalTime(ms, "%Y-%m-%d %H:%M:%S"); }

absl::StatusOr<int64_t> ParseTimeArg(const std::string& s, int64_t now_ms) {
  if (s == "now") return now_ms;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && p == s.data() + s.size()) return v;
  std::tm tm{};
  int millis = 0;
  int used = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d#%2d:%2d:%2d:%3d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis, &used) == 7 &&
      static_cast<size_t>(used) == s.size()) {
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    const std::time_t t = std::mktime(&tm);
    if (t != static_cast<std::time_t>(-1)) return static_cast<int64_t>(t) * 1000 + millis;
  }
  return absl::InvalidArgumentError(
      fmt::format("'{}' is not a time: use now, epoch milliseconds or yyyy-MM-dd#HH:mm:ss:SSS", s));
}

std::string VersionDesc(int32_t version) {
  // MQVersion.Version lists, from V4_0_0_SNAPSHOT (ordinal 212) on, a SNAPSHOT and a release for
  // every x.y.z with y, z in 0..9: V4_9_4 = 212 + 2 * 94 + 1 = 401.
  constexpr int32_t kV400Snapshot = 212;
  const int32_t n = version - kV400Snapshot;
  if (n < 0 || n >= 400) return std::to_string(version);
  const int32_t release = n / 2;
  return fmt::format("V{}_{}_{}{}", 4 + release / 100, release / 10 % 10, release % 10,
                     n % 2 == 0 ? "_SNAPSHOT" : "");
}

void PrintMessageDetail(const client::MessageExt& m) {
  std::string props = "{";
  for (const auto& [k, v] : m.properties) {
    if (props.size() > 1) props += ", ";
    props += fmt::format("{}={}", k, v);
  }
  props += '}';
  const auto line = [](const char* k, const std::string& v) {
    std::printf("%-20s %s\n", k, v.c_str());
  };
  line("OffsetID:", m.offset_msg_id);
  line("Topic:", m.topic);
  line("Tags:", fmt::format("[{}]", m.tags));
  line("Keys:", fmt::format("[{}]", m.keys));
  line("Queue ID:", std::to_string(m.queue_id));
  line("Queue Offset:", std::to_string(m.queue_offset));
  line("CommitLog Offset:", std::to_string(m.commit_log_offset));
  line("Reconsume Times:", std::to_string(m.reconsume_times));
  line("Born Timestamp:", HumanTimeMillis(m.born_timestamp));
  line("Store Timestamp:", HumanTimeMillis(m.store_timestamp));
  line("Born Host:", m.born_host);
  line("Store Host:", m.store_host);
  line("System Flag:", std::to_string(m.sys_flag));
  line("Properties:", props);
  line("Message Body:", m.body);
}

}  // namespace stele::mqadmin
