// Pieces every stele_e2e_bench mode shares: the message it sends (body, properties, a unique key
// per message), the run's time window, per-worker tallies, CPU and memory sampling, and the
// report (a human summary on stderr, one machine-readable RESULT line on stdout).
//
// A run has three instants: `start` (workers begin), `measure_from` (= start + warm-up) and `end`.
// Only completions inside [measure_from, end) are counted and timed; rates divide by
// end - measure_from. Work issued before `end` that completes later is drained, not counted.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stele::e2e {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
inline double Micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// The message every mode sends or appends: `size` incompressible, reproducible body bytes, and the
// properties a RocketMQ Java producer sets on a plain send (UNIQ_KEY, a 32-hex-digit id unique per
// message, and WAIT=true). The broker adds CLUSTER=<brokerClusterName>; the embedded mode adds the
// same, so that both store identical records.
std::string Body(size_t size);
// The serialized properties "UNIQ_KEY\x01<placeholder>\x02WAIT\x01true\x02" as a producer sends
// them; with a `cluster`, "...\x02CLUSTER\x01<cluster>" as the broker stores them. The
// kUniqKeyLen-character placeholder is found with FindUniqKey and overwritten per message.
std::string BenchProperties(std::string_view cluster = {});
constexpr size_t kUniqKeyLen = 32;
// Where the UNIQ_KEY placeholder starts in `s` (which holds BenchProperties() verbatim, e.g. an
// encoded frame); npos if absent.
size_t FindUniqKey(std::string_view s);
// Writes a unique id for message `seq` of worker `worker` (kUniqKeyLen hex digits) at `dst`.
void StampUniqKey(char* dst, uint32_t worker, uint64_t seq);

// The run's window (see the top of the file).
struct Window {
  Clock::time_point start, measure_from, end;
  bool Counts(Clock::time_point t) const { return t >= measure_from && t < end; }
  double measured_seconds() const { return Seconds(end - measure_from); }
};

// What one worker saw; merged into one at the end.
struct Tally {
  uint64_t ok = 0;                           // acknowledged sends / appends, or consumed messages
  uint64_t payload_bytes = 0;                // message body bytes of those
  uint64_t record_bytes = 0;                 // bytes as stored (0 when the mode cannot see them)
  uint64_t calls = 0;                        // requests (consume: pulls) completed in the window
  std::map<std::string, uint64_t> failures;  // by name: response code or client-side error
  std::vector<float> lat_us;                 // send -> acknowledgement (consume: pull round trip)
  std::vector<float> sched_lat_us;           // paced runs: scheduled send time -> acknowledgement

  void Fail(const std::string& why, uint64_t n = 1) { failures[why] += n; }
  void Merge(Tally&& o);
};

// Nearest-rank quantile of an ascending vector; 0 when empty.
double Percentile(const std::vector<float>& sorted, double p);

// The name of a RocketMQ response code ("SYSTEM_BUSY(2)"), for failure tallies.
std::string ResponseCodeName(int32_t code);

// CPU seconds (user + system) of this process, and of another one from /proc/<pid>/stat (-1 when
// it cannot be read).
double SelfCpuSeconds();
double ProcessCpuSeconds(pid_t pid);
// A "VmRSS"/"VmHWM" line of /proc/<pid>/status in KiB; -1 when it cannot be read.
long ProcessStatusKb(pid_t pid, std::string_view key);

// Samples CPU of this process and optionally of `peer` (the broker) at measure_from and end; call
// from a thread that is not a worker (main). Blocks until `w.end`.
struct CpuUse {
  double self_s = 0;
  double peer_s = -1;
};
CpuUse SampleCpuOver(const Window& w, pid_t peer);

// Key=value pairs of the RESULT line, in insertion order.
using Fields = std::vector<std::pair<std::string, std::string>>;
std::string Num(double v, int decimals = 0);

// Prints the summary of a finished run (stderr) and its RESULT line (stdout):
//   RESULT mode=... <params> msgs= tps= mbps= [rec_bytes=] p50_us= p90_us= p99_us= p999_us=
//   max_us= [sched_p50_us= sched_p99_us=] fails= [fail_codes=] cpu_s= cpu_us_per_msg=
//   [peer_cpu_s= peer_cpu_us_per_msg= cpu_ratio_vs_peer=] [peer_rss_kb= peer_hwm_kb=] <extra>
// cpu_ratio_vs_peer = cpu_us_per_msg / peer_cpu_us_per_msg (this process's CPU per message over
// the broker's), present whenever the peer's CPU could be read.
// `params` describe the load; `extra` are mode-specific figures appended at the end.
void Report(const std::string& mode, const Fields& params, Tally t, const Window& w,
            const CpuUse& cpu, pid_t peer, const Fields& extra = {});

}  // namespace stele::e2e
