#include "net/broker/metrics/runtime_info.h"

#include <sys/statvfs.h>

#include <cmath>

#include "common/clock.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/message_writer.h"
#include "net/broker/pull_hold.h"
#include "net/broker/state/names.h"
#include "net/broker/timer_service.h"
#include "net/remoting/command.h"

namespace stele::broker::metrics {
namespace {

// Java's String.valueOf(double) for the values these keys take.
std::string JavaDouble(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEin") == std::string::npos) s.append(".0");
  return s;
}

// RocketMQ's MixAll.humanReadableByteCount(bytes, false): "512 B", "1.5 KiB", "3.0 GiB".
std::string HumanBytes(int64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  const int exp = static_cast<int>(std::log(static_cast<double>(bytes)) / std::log(1024.0));
  const char pre = "KMGTPE"[std::min(exp, 6) - 1];
  return fmt::format("{:.1f} {}iB", static_cast<double>(bytes) / std::pow(1024.0, exp), pre);
}

struct Disk {
  bool ok = false;
  int64_t total = 0, free = 0;
  double used_ratio = -1;  // RocketMQ's getDiskPartitionSpaceUsedPercent: -1 if unknown
};

Disk DiskOf(const std::string& path) {
  Disk d;
  struct statvfs st {};
  if (path.empty() || statvfs(path.c_str(), &st) != 0 || st.f_blocks == 0) return d;
  d.ok = true;
  d.total = static_cast<int64_t>(st.f_blocks) * static_cast<int64_t>(st.f_frsize);
  d.free = static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
  const int64_t used =
      d.total - static_cast<int64_t>(st.f_bfree) * static_cast<int64_t>(st.f_frsize);
  d.used_ratio = static_cast<double>(used) / static_cast<double>(d.total);
  return d;
}

// StoreStatsService's "[ 0 days, 1 hours, 2 minutes, 3 seconds ]".
std::string FormatRuntime(int64_t ms) {
  const int64_t s = ms / 1000;
  return fmt::format("[ {} days, {} hours, {} minutes, {} seconds ]", s / 86400, (s % 86400) / 3600,
                     (s % 3600) / 60, s % 60);
}

}  // namespace

std::map<std::string, std::string> RuntimeInfo(BrokerController& b) {
  using R = BrokerStats::Rate;
  Store& s = b.store();
  const BrokerStats& st = b.stats();
  const BrokerConfig& c = b.config();
  const int64_t now = NowMs();
  std::map<std::string, std::string> t;
  auto n = [](auto v) { return fmt::format("{}", v); };

  t["brokerVersionDesc"] = std::string(kBrokerVersionDesc);
  t["brokerVersion"] = n(remoting::kSteleVersion);

  // BrokerStats: totals at the last two midnights and now. "Get" counts messages handed to
  // consumers (RocketMQ's getMessageTransferedMsgCount).
  const BrokerStats::DayTotals days = st.day_totals();
  t["msgPutTotalYesterdayMorning"] = n(days.put_yesterday_morning);
  t["msgPutTotalTodayMorning"] = n(days.put_today_morning);
  t["msgPutTotalTodayNow"] = n(st.put_times_total());
  t["msgGetTotalYesterdayMorning"] = n(days.get_yesterday_morning);
  t["msgGetTotalTodayMorning"] = n(days.get_today_morning);
  t["msgGetTotalTodayNow"] = n(st.get_transferred_total());

  // Stele has no send/pull thread pools: the send "queue" is the sends accepted and not yet
  // answered, bounded by maxInflightSends; held pulls wait in PullHoldService.
  t["sendThreadPoolQueueSize"] = n(b.writer().inflight());
  t["sendThreadPoolQueueCapacity"] = n(c.max_inflight_sends);
  t["sendThreadPoolQueueHeadWaitTimeMills"] = "0";
  t["pullThreadPoolQueueSize"] = "0";
  t["pullThreadPoolQueueCapacity"] = "0";
  t["pullThreadPoolQueueHeadWaitTimeMills"] = "0";
  t["queryThreadPoolQueueSize"] = "0";
  t["queryThreadPoolQueueCapacity"] = "0";
  t["pageCacheLockTimeMills"] = "0";
  t["startAcceptSendRequestTimeStamp"] = "0";

  const int64_t max = s.MaxOffset(), min = s.MinOffset(), flushed = s.FlushedOffset();
  t["commitLogMinOffset"] = n(min);
  t["commitLogMaxOffset"] = n(max);
  t["dispatchBehindBytes"] = n(std::max<int64_t>(0, max - s.DispatchedOffset()));
  t["remainHowManyDataToFlush"] = HumanBytes(std::max<int64_t>(0, max - flushed));
  int64_t earliest = -1;
  if (max > min) {
    if (auto rec = s.Read(min); rec.ok()) earliest = rec->msg.store_timestamp;
  }
  t["earliestMessageTimeStamp"] = n(earliest);

  const Disk log_disk =
      DiskOf(c.store.store_path_commit_log.empty() ? c.store_path_root_dir + "/commitlog"
                                                   : c.store.store_path_commit_log);
  const Disk cq_disk = DiskOf(c.store_path_root_dir + "/consumequeue");
  t["commitLogDiskRatio"] = JavaDouble(log_disk.used_ratio);
  t["consumeQueueDiskRatio"] = JavaDouble(cq_disk.used_ratio);
  if (log_disk.ok) {
    t["commitLogDirCapacity"] = fmt::format("Total : {}, Free : {}.", HumanBytes(log_disk.total),
                                            HumanBytes(log_disk.free));
  }

  // StoreStatsService.
  const uint64_t puts = st.put_times_total();
  t["bootTimestamp"] = n(st.boot_timestamp_ms());
  t["runtime"] = FormatRuntime(now - st.boot_timestamp_ms());
  t["putMessageEntireTimeMax"] = n(st.put_entire_time_max_ms());
  t["putMessageTimesTotal"] = n(puts);
  t["putMessageSizeTotal"] = n(st.put_size_total());
  std::string dist;
  const auto d = st.put_time_distribution();
  for (size_t i = 0; i < d.size(); ++i) dist.append(fmt::format("{}:{} ", kPutTimeNames[i], d[i]));
  t["putMessageDistributeTime"] = dist;
  t["putMessageAverageSize"] = JavaDouble(
      puts == 0 ? 0.0 : static_cast<double>(st.put_size_total()) / static_cast<double>(puts));
  t["dispatchMaxBuffer"] = "0";
  t["getMessageEntireTimeMax"] = "0";
  t["putTps"] = st.Tps(R::kPut);
  t["getFoundTps"] = st.Tps(R::kGetFound);
  t["getMissTps"] = st.Tps(R::kGetMiss);
  t["getTotalTps"] = st.Tps(R::kGetTotal);
  t["getTransferedTps"] = st.Tps(R::kGetTransferred);

  // Timer wheel (RocketMQ 5's timer keys).
  const TimerService::Stats ts = b.timers().stats();
  t["timerOffsetBehind"] =
      n(std::max<int64_t>(0, s.MaxQueueOffset(kTimerTopic, 0) - ts.enqueue_offset));
  t["timerReadBehind"] = n(ts.dequeue_ms > 0 ? std::max<int64_t>(0, now - ts.dequeue_ms) : 0);

  // Stele's own.
  t["commitLogFlushedOffset"] = n(flushed);
  t["sendInflight"] = n(b.writer().inflight());
  t["pullHeld"] = n(b.pull_hold().held());
  const FlushStats f = s.flush_stats();
  t["flushTimesTotal"] = n(f.count);
  t["flushMicrosTotal"] = n(f.total_us);
  t["flushLastMicros"] = n(f.last_us);
  t["flushMaxMicros"] = n(f.max_us);
  t["recoverySeconds"] = fmt::format("{:.3f}", s.recovery_report().seconds);
  return t;
}

}  // namespace stele::broker::metrics
