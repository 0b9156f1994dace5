// stele_e2e_bench: end-to-end benchmark of a running mqbroker over the network (producer TPS and
// latency percentiles, consumer TPS), and the same load through the embedded stele::Store API, so
// that what the network layer costs can be quoted as a ratio measured in the same run.
//
//   stele_e2e_bench --mode=broker   --broker=127.0.0.1:10911 [--threads=N | --inflight=W
//                   --connections=K] [--size=1024] [--seconds=5] [--warmup=1] [--rate=R]
//   stele_e2e_bench --mode=rate     ... --rate=R        (= broker mode; --rate required)
//   stele_e2e_bench --mode=embedded --store=DIR [--config=broker.conf] [--consume] (same load
//                   flags; the store options are the broker's, read from the same broker.conf)
//   stele_e2e_bench --mode=consume  --broker=... [--threads=N] [--pull-batch=32]
//   stele_e2e_bench --mode=broker|rate|consume --client=stele --namesrv=HOST:PORT ...
//   stele_e2e_bench --mode=ready    --broker=... --since-epoch=$EPOCHREALTIME [--timeout=10]
//   --topics=N (producer modes): sends spread over N topics NAME-0..NAME-<N-1>, to show how the
//   number of topics changes throughput (RocketMQ keeps one commit log whatever their number).
//
// Load shape: --threads=N is RocketMQ's benchmark Producer (N threads, each a synchronous send
// at a time: N connections with one message in flight each); --inflight=W --connections=K keeps
// W sends in flight over K connections (W/K each), as an asynchronous producer would. Embedded,
// the same numbers mean N threads calling Store::Append, or K threads keeping W/K
// Store::AppendAsync calls in flight. Messages: --size bytes of incompressible body, the
// properties a Java producer sets (UNIQ_KEY unique per message, WAIT), queues 0..--queues-1
// round-robin. --rate=R paces the sends open-loop (see load.h) to measure latency at a given load.
//
// --client=raw (default) sends through a lean wire client that pre-encodes frames (raw_client.h):
// it leaves the two CPUs to the broker. --client=remoting uses the project's RemotingClient.
// --client=stele uses the C++ client library (client_load.h) and finds the broker through the
// name server --namesrv (required): each producer worker is a stele::client::Producer (--threads:
// synchronous Send; --inflight/--connections: SendAsync, W/K in flight per producer), queues
// chosen by the producer's round robin; --mode=consume is one PushConsumer (clustering, from the
// first offset, a new group) counting messages until the topic's backlog is read or --seconds
// pass (--threads sets its consume threads; default: the client's).
// --serialize=json (default, what Java clients send) or rocketmq (binary headers).
// --broker-pid=PID adds the broker's CPU time per message and its RSS to the result, and
// cpu_ratio_vs_peer: this process's CPU per message over the broker's.
//
// Mode ready: polls --broker until it accepts a connection, then sends one message and waits for
// the answer; reports both instants in ms since --since-epoch (seconds since the Unix epoch, as
// bash's $EPOCHREALTIME taken just before starting the broker).
//
// Output: a summary on stderr and one line "RESULT key=value ..." on stdout (see e2e_common.h).
// Exit code 0 when the run completed (failed sends are counted, not fatal), 1 on a setup error,
// 2 on bad flags.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client_load.h"
#include "common/status.h"
#include "e2e_common.h"
#include "fmt/format.h"
#include "load.h"
#include "net/broker/state/broker_config.h"
#include "net/broker/state/json_file.h"
#include "net/remoting/codes.h"
#include "raw_client.h"
#include "stele/file_system.h"

namespace stele::e2e {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: stele_e2e_bench --mode=broker|rate|embedded|consume|ready [flags]\n"
    "  --broker=HOST:PORT  (127.0.0.1:10911)   --broker-pid=PID\n"
    "  --topic=NAME (E2EBenchTopic) --queues=8 --size=1024 --seconds=5 --warmup=1\n"
    "  --topics=N (1): producers spread sends over topics NAME-0..NAME-<N-1> (raw, embedded)\n"
    "  --threads=N (8) | --inflight=W --connections=K      --rate=MSGS_PER_S (0 = max)\n"
    "  --client=raw|remoting|stele --namesrv=HOST:PORT (stele) --serialize=json|rocketmq\n"
    "  --pull-batch=32\n"
    "  embedded: --store=DIR --config=broker.conf --consume --keep\n"
    "  ready: --since-epoch=SECONDS --timeout=10\n"
    "See the top of bench/e2e/e2e_bench.cc.\n";

[[noreturn]] void BadFlags(const std::string& why) {
  std::fprintf(stderr, "stele_e2e_bench: %s\n%s", why.c_str(), kUsage);
  std::exit(2);
}

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "stele_e2e_bench: %s\n", why.c_str());
  std::exit(1);
}

struct Flags {
  std::map<std::string, std::string> kv;
  std::string Str(const std::string& k, const std::string& dflt) const {
    auto it = kv.find(k);
    return it == kv.end() ? dflt : it->second;
  }
  bool Has(const std::string& k) const { return kv.count(k) != 0; }
  double Dbl(const std::string& k, double dflt, double min) const {
    if (!Has(k)) return dflt;
    char* end = nullptr;
    const std::string& v = kv.at(k);
    const double d = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0' || d < min) {
      BadFlags(fmt::format("--{}={} is not a number >= {}", k, v, min));
    }
    return d;
  }
  int Int(const std::string& k, int dflt, int min) const {
    return static_cast<int>(Dbl(k, dflt, min));
  }
};

Flags ParseFlags(int argc, char** argv) {
  static const char* const kKnown[] = {
      "mode",    "broker",      "broker-pid", "topic",    "queues",      "size",
      "seconds", "warmup",      "threads",    "inflight", "connections", "rate",
      "client",  "serialize",   "pull-batch", "store",    "config",      "consume",
      "keep",    "since-epoch", "timeout",    "namesrv",  "topics"};
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::printf("%s", kUsage);
      std::exit(0);
    }
    if (a.rfind("--", 0) != 0) BadFlags(fmt::format("unexpected argument '{}'", a));
    a = a.substr(2);
    const size_t eq = a.find('=');
    std::string k = a.substr(0, eq), v = eq == std::string::npos ? "true" : a.substr(eq + 1);
    if (std::find(std::begin(kKnown), std::end(kKnown), k) == std::end(kKnown)) {
      BadFlags(fmt::format("unknown flag --{}", k));
    }
    f.kv[k] = v;
  }
  return f;
}

// The load flags shared by the producer and consumer modes.
LoadParams LoadFromFlags(const Flags& f, const std::string& body) {
  LoadParams p;
  p.broker = f.Str("broker", "127.0.0.1:10911");
  p.namesrv = f.Str("namesrv", "");
  p.topic = f.Str("topic", "E2EBenchTopic");
  p.queues = f.Int("queues", 8, 1);
  p.topics = f.Int("topics", 1, 1);
  if (p.topics > 100000) BadFlags("--topics is at most 100000");
  p.body = body;
  if (f.Has("inflight")) {
    if (f.Has("threads")) BadFlags("--threads and --inflight exclude each other");
    const int w = f.Int("inflight", 1, 1);
    p.workers = std::min(w, f.Int("connections", 1, 1));
    p.window = (w + p.workers - 1) / p.workers;
  } else {
    p.workers = f.Int("threads", 8, 1);
    p.window = 1;
  }
  p.rate = f.Dbl("rate", 0, 0);
  const std::string ser = f.Str("serialize", "json");
  if (ser != "json" && ser != "rocketmq") BadFlags("--serialize must be json or rocketmq");
  p.type = ser == "json" ? remoting::SerializeType::kJson : remoting::SerializeType::kRocketMq;
  p.pull_batch = f.Int("pull-batch", 32, 1);
  return p;
}

Window MakeWindow(double warmup_s, double seconds) {
  using std::chrono::duration;
  Window w;
  w.start = Clock::now() + std::chrono::milliseconds(20);  // lets the workers start
  w.measure_from =
      w.start + std::chrono::duration_cast<Clock::duration>(duration<double>(warmup_s));
  w.end = w.measure_from + std::chrono::duration_cast<Clock::duration>(duration<double>(seconds));
  return w;
}

// The stele client always sends JSON headers, whatever --serialize says.
std::string SerializeName(const LoadParams& p, const std::string& client) {
  return client == "stele" || p.type == remoting::SerializeType::kJson ? "json" : "rocketmq";
}

Fields LoadFields(const LoadParams& p, const std::string& client) {
  return {{"client", client},
          {"serialize", SerializeName(p, client)},
          {"size", std::to_string(p.body.size())},
          {"conns", std::to_string(p.workers)},
          {"window", std::to_string(p.window)},
          {"topics", std::to_string(p.topics)},
          {"target_rate", Num(p.rate)}};
}

// Runs `worker(i, &tally)` on p.workers threads over the window; returns the merged tally.
template <typename Fn>
Tally RunWorkers(const LoadParams& p, pid_t peer, CpuUse* cpu, Fn worker) {
  std::vector<Tally> tallies(static_cast<size_t>(p.workers));
  std::vector<std::thread> threads;
  for (int i = 0; i < p.workers; ++i) {
    threads.emplace_back([&, i] { worker(i, &tallies[static_cast<size_t>(i)]); });
  }
  *cpu = SampleCpuOver(p.win, peer);
  for (auto& t : threads) t.join();
  Tally all;
  for (auto& t : tallies) all.Merge(std::move(t));
  return all;
}

// Consumers: queues dealt round-robin to p.workers threads; the window ends early when all
// queues are read to their end.
template <typename Fn>
void RunConsumers(const std::string& mode, LoadParams p, pid_t peer, const Fields& params,
                  Fn worker) {
  p.workers = std::min(p.workers, p.queues);
  p.win.start = p.win.measure_from = Clock::now();
  const double self0 = SelfCpuSeconds(), peer0 = peer > 0 ? ProcessCpuSeconds(peer) : -1;
  std::vector<Tally> tallies(static_cast<size_t>(p.workers));
  std::vector<std::thread> threads;
  for (int i = 0; i < p.workers; ++i) {
    std::vector<int> qs;
    for (int q = i; q < p.queues; q += p.workers) qs.push_back(q);
    threads.emplace_back([&, i, qs] { worker(qs, &tallies[static_cast<size_t>(i)]); });
  }
  for (auto& t : threads) t.join();
  p.win.end = std::min(p.win.end, Clock::now());
  CpuUse cpu{.self_s = SelfCpuSeconds() - self0};
  if (peer0 >= 0) cpu.peer_s = ProcessCpuSeconds(peer) - peer0;
  Tally all;
  for (auto& t : tallies) all.Merge(std::move(t));
  Report(mode, params, std::move(all), p.win, cpu, peer,
         {{"pull_batch", std::to_string(p.pull_batch)}});
}

// Waits (at most 15 s) until the store has prepared its next segment, as a broker that has been
// up for a while has: the measurement must not include creating (under SYNC_FLUSH, zero-filling)
// it. e2e_compare.sh waits for the broker's store the same way.
void WaitForSpareSegment(const std::string& commitlog_dir) {
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline) {
    int n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(commitlog_dir, ec)) {
      if (e.path().filename().string().find('.') == std::string::npos) ++n;
    }
    if (n >= 2) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::fprintf(stderr, "stele_e2e_bench: no spare segment in %s after 15 s\n",
               commitlog_dir.c_str());
}

int RunEmbedded(const Flags& f, LoadParams p, double warmup, double seconds) {
  const std::string dir = f.Str("store", "");
  if (dir.empty()) BadFlags("--mode=embedded needs --store=DIR (a new directory)");
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    Die(fmt::format("--store={} exists and is not empty", dir));
  }
  std::string text;
  if (f.Has("config")) {
    auto read = broker::ReadFileToString(*NewPosixFileSystem(), f.Str("config", ""), 1 << 20);
    if (!read.ok()) Die(fmt::format("--config: {}", read.status().ToString()));
    text = *read;
  }
  auto config = broker::BrokerConfigFromText(text, f.Str("config", "defaults"));
  if (!config.ok()) Die(fmt::format("--config: {}", config.status().ToString()));
  StoreOptions opts = config->store;
  opts.store_path_root_dir = dir;
  if (!config->explicitly_set.contains("storePathCommitLog")) opts.store_path_commit_log.clear();
  p.cluster = config->broker_cluster_name;
  auto store = Store::Open(opts);
  if (!store.ok()) Die(fmt::format("Store::Open({}): {}", dir, store.status().ToString()));
  WaitForSpareSegment(opts.store_path_commit_log.empty() ? dir + "/commitlog"
                                                         : opts.store_path_commit_log);
  if (opts.flush_disk_type == FlushDiskType::kSyncFlush) {
    // fdatasync is slow while the zero-filled spare segment is being written back (perf.md):
    // start from a clean file system, as e2e_compare.sh does (sync -f) before the broker's case.
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      ::syncfs(fd);
      ::close(fd);
    }
  }
  p.win = MakeWindow(warmup, seconds);
  const std::string flush =
      opts.flush_disk_type == FlushDiskType::kSyncFlush ? "SYNC_FLUSH" : "ASYNC_FLUSH";
  Fields params = LoadFields(p, p.window == 1 ? "append" : "append_async");
  params.emplace_back("flush", flush);
  CpuUse cpu;
  Tally t =
      RunWorkers(p, 0, &cpu, [&](int i, Tally* out) { EmbeddedAppendWorker(p, **store, i, out); });
  Report("embedded", params, std::move(t), p.win, cpu, 0);
  if (f.Has("consume")) {
    // Let the dispatcher catch up so that Get sees every appended message.
    const auto until = Clock::now() + std::chrono::seconds(10);
    while ((*store)->DispatchedOffset() < (*store)->MaxOffset() && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    p.win.end = Clock::now() +
                std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    RunConsumers(
        "embedded-consume", p, 0, {{"client", "get"}, {"flush", flush}},
        [&](const std::vector<int>& qs, Tally* out) { EmbeddedGetWorker(p, **store, qs, out); });
  }
  if (absl::Status s = (*store)->Close(); !s.ok()) Die(fmt::format("close: {}", s.ToString()));
  store->reset();
  if (!f.Has("keep")) fs::remove_all(dir, ec);
  return 0;
}

// --mode=consume --client=stele: see client_load.h.
int RunClientConsume(const Flags& f, const LoadParams& p, double seconds, pid_t peer) {
  const int threads = f.Has("threads") ? p.workers : 0;
  auto run = ClientConsume(p, seconds, threads, peer);
  if (!run.ok()) Die(fmt::format("--client=stele consume: {}", run.status().ToString()));
  const Fields params{{"client", "stele"},
                      {"serialize", SerializeName(p, "stele")},
                      {"size", std::to_string(p.body.size())}};
  Report("consume", params, std::move(run->tally), run->win, run->cpu, peer, run->extra);
  return 0;
}

// Mode ready: see the top of the file.
int RunReady(const Flags& f, const LoadParams& p) {
  if (!f.Has("since-epoch")) BadFlags("--mode=ready needs --since-epoch=SECONDS");
  const double since = f.Dbl("since-epoch", 0, 0);
  const auto deadline = Clock::now() + std::chrono::milliseconds(
                                           static_cast<int64_t>(f.Dbl("timeout", 10, 0) * 1000));
  auto epoch_ms = [since] {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration<double, std::milli>(now).count() - since * 1000;
  };
  std::unique_ptr<RawConnection> conn;
  int attempts = 0;
  while (!conn) {
    ++attempts;
    auto c = RawConnection::Connect(p.broker);
    if (c.ok()) {
      conn = *std::move(c);
      break;
    }
    if (Clock::now() > deadline)
      Die(fmt::format("{} not accepting: {}", p.broker, c.status().ToString()));
    std::this_thread::sleep_for(std::chrono::microseconds(250));
  }
  const double accept_ms = epoch_ms();
  auto frame = MakeSendFrame(SendSpec{.topic = p.topic,
                                      .queue_id = 0,
                                      .default_queue_nums = p.queues,
                                      .body = p.body,
                                      .properties = BenchProperties(),
                                      .type = p.type});
  if (!frame.ok()) Die(std::string(frame.status().message()));
  std::string buf;
  frame->AppendTo(&buf, kOpaqueBase, 0, 0);
  const auto t0 = Clock::now();
  absl::Status st = conn->WriteAll(buf);
  auto resp = st.ok() ? conn->ReadCommand() : absl::StatusOr<remoting::RemotingCommand>(st);
  if (!resp.ok()) Die(fmt::format("first send: {}", resp.status().ToString()));
  const double answer_ms = epoch_ms();
  const double first_rt_ms = Seconds(Clock::now() - t0) * 1000;
  std::fprintf(stderr,
               "ready: accepting after %.1f ms (%d attempts), first send answered after "
               "%.1f ms (code %d, round trip %.2f ms)\n",
               accept_ms, attempts, answer_ms, resp->code, first_rt_ms);
  std::printf(
      "RESULT mode=ready accept_ms=%.1f answer_ms=%.1f first_code=%d first_rt_ms=%.2f "
      "attempts=%d\n",
      accept_ms, answer_ms, resp->code, first_rt_ms, attempts);
  return resp->code == remoting::response::kSuccess ? 0 : 1;
}

int Main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  // Paced sends sleep until their slot: without this the kernel may add 50 us of timer slack.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  std::string mode = f.Str("mode", "");
  const std::string body = Body(static_cast<size_t>(f.Int("size", 1024, 0)));
  LoadParams p = LoadFromFlags(f, body);
  const double warmup = f.Dbl("warmup", 1, 0);
  const double seconds = f.Dbl("seconds", 5, 0.1);
  const pid_t peer = static_cast<pid_t>(f.Int("broker-pid", 0, 0));
  const std::string client = f.Str("client", "raw");
  if (client != "raw" && client != "remoting" && client != "stele") {
    BadFlags("--client must be raw, remoting or stele");
  }
  const bool stele = client == "stele" && (mode == "broker" || mode == "rate" || mode == "consume");
  if (stele && p.namesrv.empty()) {
    BadFlags(
        "--client=stele needs --namesrv=HOST:PORT (the name server the broker registers with)");
  }

  if (p.topics > 1 &&
      (mode == "ready" || mode == "consume" || (mode != "embedded" && client != "raw"))) {
    BadFlags("--topics > 1 is for the producer modes with --client=raw, and --mode=embedded");
  }
  if (mode == "ready") return RunReady(f, p);
  if (mode == "embedded") return RunEmbedded(f, p, warmup, seconds);
  if (mode == "consume") {
    if (client == "remoting") BadFlags("--mode=consume takes --client=raw or stele");
    if (stele) return RunClientConsume(f, p, seconds, peer);
    p.win = MakeWindow(0, seconds);
    RunConsumers("consume", p, peer, LoadFields(p, "raw"),
                 [&](const std::vector<int>& qs, Tally* out) { RawPullWorker(p, qs, out); });
    return 0;
  }
  if (mode == "rate" && p.rate <= 0) BadFlags("--mode=rate needs --rate=MSGS_PER_S");
  if (mode != "broker" && mode != "rate") BadFlags("--mode is required");
  std::vector<std::unique_ptr<client::Producer>> producers;
  Fields extra;
  if (stele) {
    int route_queues = 0;
    auto started = StartProducers(p, &route_queues);
    if (!started.ok()) Die(fmt::format("--client=stele: {}", started.status().ToString()));
    producers = *std::move(started);
    if (route_queues != p.queues) {
      std::fprintf(stderr, "stele_e2e_bench: the name server routes %d queues of %s, not %d\n",
                   route_queues, p.topic.c_str(), p.queues);
    }
    extra.emplace_back("route_queues", std::to_string(route_queues));
  }
  p.win = MakeWindow(warmup, seconds);
  CpuUse cpu;
  Tally t = RunWorkers(p, peer, &cpu, [&](int i, Tally* out) {
    if (client == "raw") {
      RawSendWorker(p, i, out);
    } else if (client == "remoting") {
      RemotingSendWorker(p, i, out);
    } else {
      ClientSendWorker(p, *producers[static_cast<size_t>(i)], i, out);
    }
  });
  Report(mode, LoadFields(p, client), std::move(t), p.win, cpu, peer, extra);
  for (auto& producer : producers) producer->Shutdown();
  return 0;
}

}  // namespace
}  // namespace stele::e2e

int main(int argc, char** argv) { return stele::e2e::Main(argc, argv); }
