#include "e2e_common.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "../random_body.h"
#include "fmt/format.h"
#include "net/remoting/codes.h"
#include "stele/message.h"

namespace stele::e2e {

namespace {
constexpr std::string_view kUniqPlaceholder = "E2EBENCHUNIQKEYPLACEHOLDER000000";
static_assert(kUniqPlaceholder.size() == kUniqKeyLen);
}  // namespace

std::string Body(size_t size) { return bench::RandomBody(size); }

std::string BenchProperties(std::string_view cluster) {
  // As a Java producer sends them (messageProperties2String: name \x01 value \x02 each).
  std::string p;
  AppendProperty(&p, "UNIQ_KEY", kUniqPlaceholder);
  AppendProperty(&p, "WAIT", "true");
  if (!cluster.empty()) {
    // As the broker stores them: it adds CLUSTER and re-serializes without the final separator.
    AppendProperty(&p, "CLUSTER", cluster);
    p.pop_back();
  }
  return p;
}

size_t FindUniqKey(std::string_view s) { return s.find(kUniqPlaceholder); }

void StampUniqKey(char* dst, uint32_t worker, uint64_t seq) {
  static const uint32_t pid = static_cast<uint32_t>(getpid());
  static constexpr char kHex[] = "0123456789ABCDEF";
  auto put = [&dst](uint64_t v, int digits) {
    for (int i = digits - 1; i >= 0; --i) {
      dst[i] = kHex[v & 0xF];
      v >>= 4;
    }
    dst += digits;
  };
  put(pid, 8);
  put(worker, 8);
  put(seq, 16);
}

void Tally::Merge(Tally&& o) {
  ok += o.ok;
  payload_bytes += o.payload_bytes;
  record_bytes += o.record_bytes;
  calls += o.calls;
  for (const auto& [k, v] : o.failures) failures[k] += v;
  lat_us.insert(lat_us.end(), o.lat_us.begin(), o.lat_us.end());
  sched_lat_us.insert(sched_lat_us.end(), o.sched_lat_us.begin(), o.sched_lat_us.end());
}

double Percentile(const std::vector<float>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

std::string ResponseCodeName(int32_t code) {
  namespace r = remoting::response;
  const char* name = "CODE";
  switch (code) {
    case r::kSystemError:
      name = "SYSTEM_ERROR";
      break;
    case r::kSystemBusy:
      name = "SYSTEM_BUSY";
      break;
    case r::kRequestCodeNotSupported:
      name = "REQUEST_CODE_NOT_SUPPORTED";
      break;
    case r::kFlushDiskTimeout:
      name = "FLUSH_DISK_TIMEOUT";
      break;
    case r::kMessageIllegal:
      name = "MESSAGE_ILLEGAL";
      break;
    case r::kServiceNotAvailable:
      name = "SERVICE_NOT_AVAILABLE";
      break;
    case r::kNoPermission:
      name = "NO_PERMISSION";
      break;
    case r::kTopicNotExist:
      name = "TOPIC_NOT_EXIST";
      break;
    case r::kPullNotFound:
      name = "PULL_NOT_FOUND";
      break;
    case r::kPullRetryImmediately:
      name = "PULL_RETRY_IMMEDIATELY";
      break;
    case r::kPullOffsetMoved:
      name = "PULL_OFFSET_MOVED";
      break;
    case r::kSubscriptionGroupNotExist:
      name = "SUBSCRIPTION_GROUP_NOT_EXIST";
      break;
    default:
      break;
  }
  return fmt::format("{}({})", name, code);
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (pid <= 0 || !std::getline(f, line)) return -1;
  // The command name (field 2) may contain spaces; fields after its closing ')' are fixed.
  const size_t rp = line.rfind(')');
  if (rp == std::string::npos) return -1;
  std::istringstream in(line.substr(rp + 2));
  std::string skip;
  for (int field = 3; field < 14; ++field) in >> skip;  // state .. cmajflt
  unsigned long long utime = 0, stime = 0;
  if (!(in >> utime >> stime)) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long ProcessStatusKb(pid_t pid, std::string_view key) {
  std::ifstream f(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(f, line)) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 &&
        line[key.size()] == ':') {
      return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

CpuUse SampleCpuOver(const Window& w, pid_t peer) {
  std::this_thread::sleep_until(w.measure_from);
  const double self0 = SelfCpuSeconds();
  const double peer0 = peer > 0 ? ProcessCpuSeconds(peer) : -1;
  std::this_thread::sleep_until(w.end);
  CpuUse u;
  u.self_s = SelfCpuSeconds() - self0;
  if (peer0 >= 0) {
    const double peer1 = ProcessCpuSeconds(peer);
    if (peer1 >= 0) u.peer_s = peer1 - peer0;
  }
  return u;
}

std::string Num(double v, int decimals) { return fmt::format("{:.{}f}", v, decimals); }

void Report(const std::string& mode, const Fields& params, Tally t, const Window& w,
            const CpuUse& cpu, pid_t peer, const Fields& extra) {
  std::sort(t.lat_us.begin(), t.lat_us.end());
  std::sort(t.sched_lat_us.begin(), t.sched_lat_us.end());
  const double secs = w.measured_seconds();
  const double tps = secs > 0 ? static_cast<double>(t.ok) / secs : 0;
  const double mbps = secs > 0 ? static_cast<double>(t.payload_bytes) / 1e6 / secs : 0;
  uint64_t fails = 0;
  std::string codes;
  for (const auto& [k, v] : t.failures) {
    fails += v;
    codes += fmt::format("{}{}:{}", codes.empty() ? "" : ",", k, v);
  }
  Fields f{{"mode", mode}};
  f.insert(f.end(), params.begin(), params.end());
  f.emplace_back("seconds", Num(secs, 2));
  f.emplace_back("msgs", std::to_string(t.ok));
  f.emplace_back("tps", Num(tps));
  f.emplace_back("mbps", Num(mbps, 1));
  if (t.record_bytes > 0 && t.ok > 0) {
    f.emplace_back("rec_bytes", Num(static_cast<double>(t.record_bytes) / t.ok, 1));
  }
  if (t.calls > 0) f.emplace_back("calls", std::to_string(t.calls));
  for (const auto& [name, p] :
       {std::pair{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p999", 0.999}}) {
    f.emplace_back(std::string(name) + "_us", Num(Percentile(t.lat_us, p), 1));
  }
  f.emplace_back("max_us", Num(t.lat_us.empty() ? 0 : t.lat_us.back(), 1));
  if (!t.sched_lat_us.empty()) {
    f.emplace_back("sched_p50_us", Num(Percentile(t.sched_lat_us, 0.5), 1));
    f.emplace_back("sched_p99_us", Num(Percentile(t.sched_lat_us, 0.99), 1));
    f.emplace_back("sched_max_us", Num(t.sched_lat_us.back(), 1));
  }
  f.emplace_back("fails", std::to_string(fails));
  if (!codes.empty()) f.emplace_back("fail_codes", codes);
  const double per = t.ok > 0 ? 1e6 / static_cast<double>(t.ok) : 0;
  f.emplace_back("cpu_s", Num(cpu.self_s, 2));
  f.emplace_back("cpu_us_per_msg", Num(cpu.self_s * per, 2));
  // This process's CPU per message over the broker's (same messages, same window: the ratio of
  // the CPU seconds). For a load generator that is a client, what the client costs per message
  // relative to the broker that serves it.
  std::string cpu_ratio;
  if (cpu.peer_s >= 0) {
    f.emplace_back("peer_cpu_s", Num(cpu.peer_s, 2));
    f.emplace_back("peer_cpu_us_per_msg", Num(cpu.peer_s * per, 2));
    cpu_ratio = cpu.peer_s > 0 ? Num(cpu.self_s / cpu.peer_s, 3) : "?";
    f.emplace_back("cpu_ratio_vs_peer", cpu_ratio);
  }
  if (peer > 0) {
    f.emplace_back("peer_rss_kb", std::to_string(ProcessStatusKb(peer, "VmRSS")));
    f.emplace_back("peer_hwm_kb", std::to_string(ProcessStatusKb(peer, "VmHWM")));
  }
  f.insert(f.end(), extra.begin(), extra.end());

  std::fprintf(
      stderr,
      "%s: %llu msgs in %.2f s = %.0f msg/s, %.1f MB/s payload; latency us p50 %.1f "
      "p99 %.1f p999 %.1f max %.1f; failures %llu%s%s; CPU us/msg %.2f%s\n",
      mode.c_str(), static_cast<unsigned long long>(t.ok), secs, tps, mbps,
      Percentile(t.lat_us, 0.5), Percentile(t.lat_us, 0.99), Percentile(t.lat_us, 0.999),
      t.lat_us.empty() ? 0.0 : t.lat_us.back(), static_cast<unsigned long long>(fails),
      codes.empty() ? "" : " ", codes.c_str(), cpu.self_s * per,
      cpu_ratio.empty()
          ? ""
          : fmt::format(", broker {:.2f} (ratio {})", cpu.peer_s * per, cpu_ratio).c_str());
  std::string line = "RESULT";
  for (const auto& [k, v] : f) line += fmt::format(" {}={}", k, v);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace stele::e2e
