// stele_grpc_bench: the broker's gRPC endpoint (RocketMQ 5.x MessagingService) against its
// remoting port, same workload, same run, over loopback:
//
//   stele_grpc_bench --grpc=127.0.0.1:8081 --namesrv=127.0.0.1:9876 [--concurrency=16]
//                    [--size=1024] [--seconds=5] [--warmup=1] [--queues=8] [--receivers=4]
//                    [--batch=32] [--broker-pid=PID]
//
// Phases, each on its own fresh topic (created through the name server's master broker):
//   1. gRPC send: --concurrency threads, each one blocking SendMessage at a time on one shared
//      channel (so K calls in flight over one HTTP/2 connection), --size-byte bodies, for
//      --warmup + --seconds; throughput and latency percentiles of the measured seconds.
//   2. gRPC receive + ack: --receivers threads loop ReceiveMessage (batch --batch) followed by one
//      AckMessage for the whole batch, until the topic's backlog (everything phase 1 stored) is
//      consumed; messages per second from the first call to the last ack.
//   3. remoting send: the same --concurrency threads sharing one stele::client::Producer (sync
//      Send), same bodies and duration.
//   4. remoting consume: one stele::client::PushConsumer (new group, from the first offset,
//      --receivers consume threads, pulls of --batch) until the backlog of phase 3 is consumed.
// Each client opens a Telemetry stream and waits for the Settings reply first, as the RocketMQ 5
// clients do. Prints a table (stderr) and one RESULT line per phase plus one with the ratios
// (stdout). With --broker-pid, the broker's CPU seconds per phase are added.
//
// Exit code 0 when every phase ran (failed calls are counted), 1 on a setup error, 2 on bad flags.
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "apache/rocketmq/v2/service.grpc.pb.h"
#include "fmt/format.h"
#include "grpcpp/grpcpp.h"
#include "random_body.h"
#include "stele/client/admin.h"
#include "stele/client/message.h"
#include "stele/client/producer.h"
#include "stele/client/push_consumer.h"

namespace {

namespace v2 = apache::rocketmq::v2;
using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& why, int code = 1) {
  std::fprintf(stderr, "stele_grpc_bench: %s\n", why.c_str());
  std::exit(code);
}

struct Flags {
  std::string grpc = "127.0.0.1:8081";
  std::string namesrv = "127.0.0.1:9876";
  int concurrency = 16;
  int size = 1024;
  double seconds = 5;
  double warmup = 1;
  int queues = 8;
  int receivers = 4;
  int batch = 32;
  pid_t broker_pid = 0;
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) Die("bad flag " + a, 2);
    const std::string k = a.substr(2, eq - 2), v = a.substr(eq + 1);
    const double d = std::atof(v.c_str());
    if (k == "grpc") {
      f.grpc = v;
    } else if (k == "namesrv") {
      f.namesrv = v;
    } else if (k == "concurrency" && d >= 1 && d <= 1024) {
      f.concurrency = static_cast<int>(d);
    } else if (k == "size" && d >= 1 && d <= (1 << 20)) {
      f.size = static_cast<int>(d);
    } else if (k == "seconds" && d > 0) {
      f.seconds = d;
    } else if (k == "warmup" && d >= 0) {
      f.warmup = d;
    } else if (k == "queues" && d >= 1 && d <= 256) {
      f.queues = static_cast<int>(d);
    } else if (k == "receivers" && d >= 1 && d <= 256) {
      f.receivers = static_cast<int>(d);
    } else if (k == "batch" && d >= 1 && d <= 1024) {
      f.batch = static_cast<int>(d);
    } else if (k == "broker-pid" && d > 0) {
      f.broker_pid = static_cast<pid_t>(d);
    } else {
      Die("bad flag " + a + " (see the top of bench/grpc_bench.cc)", 2);
    }
  }
  return f;
}

// CPU seconds (user + system) of `pid` from /proc/<pid>/stat; -1 when unreadable.
double CpuSeconds(pid_t pid) {
  if (pid <= 0) return -1;
  FILE* f = std::fopen(fmt::format("/proc/{}/stat", pid).c_str(), "r");
  if (f == nullptr) return -1;
  char buf[2048];
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
  if (p == nullptr) return -1;
  unsigned long utime = 0, stime = 0;
  // Fields after ")": state(3) ... utime(14) stime(15).
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
      2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// What one phase measured.
struct Result {
  std::string name;
  uint64_t ok = 0;      // successes inside the measured window
  uint64_t stored = 0;  // sends: every acknowledged send, warm-up and drain included
  uint64_t fails = 0;
  std::map<std::string, uint64_t> fail_names;
  double seconds = 0;
  std::vector<float> lat_us;  // sends only
  double broker_cpu_s = -1;
  double tps() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
  double Pct(double p) const {
    if (lat_us.empty()) return 0;
    const size_t i = std::min(lat_us.size() - 1, static_cast<size_t>(p * lat_us.size()));
    return lat_us[i];
  }
};

// A phase's measured window and the broker's CPU over it.
class Window {
 public:
  Window(double warmup, double seconds, pid_t broker)
      : start_(Clock::now()),
        from_(start_ +
              std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup))),
        end_(from_ +
             std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds))),
        broker_(broker) {}
  bool Counts(Clock::time_point t) const { return t >= from_ && t < end_; }
  bool Over() const { return Clock::now() >= end_; }
  // Blocks until the window ends, sampling the broker's CPU at both edges.
  double WaitBrokerCpu() const {
    std::this_thread::sleep_until(from_);
    const double c0 = CpuSeconds(broker_);
    std::this_thread::sleep_until(end_);
    const double c1 = CpuSeconds(broker_);
    return c0 < 0 || c1 < 0 ? -1 : c1 - c0;
  }
  double seconds() const { return std::chrono::duration<double>(end_ - from_).count(); }

 private:
  Clock::time_point start_, from_, end_;
  pid_t broker_;
};

// ---- gRPC client pieces -----------------------------------------------------------------------

// One RocketMQ 5 client identity: its metadata on every call and a Telemetry stream that stays
// open (the endpoint keys settings by x-mq-client-id).
class GrpcClient {
 public:
  GrpcClient(std::shared_ptr<grpc::Channel> channel, std::string id)
      : stub_(v2::MessagingService::NewStub(channel)), id_(std::move(id)) {}
  ~GrpcClient() {
    if (telemetry_ != nullptr) {
      telemetry_->WritesDone();
      telemetry_ctx_.TryCancel();
      telemetry_->Finish().ok();
    }
  }

  void Prepare(grpc::ClientContext* ctx, double timeout_s) const {
    ctx->AddMetadata("x-mq-protocol", "v2");
    ctx->AddMetadata("x-mq-client-id", id_);
    ctx->AddMetadata("x-mq-language", "CPP");
    ctx->AddMetadata("x-mq-client-version", "stele-grpc-bench");
    ctx->AddMetadata("x-mq-request-id", fmt::format("{}-{}", id_, seq_.fetch_add(1)));
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char date[32];
    std::strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
    ctx->AddMetadata("x-mq-date-time", date);
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
  }

  // Opens Telemetry, sends `settings`, waits (10 s at most) for the Settings reply.
  void Handshake(const v2::Settings& settings) {
    Prepare(&telemetry_ctx_, 3600);
    telemetry_ = stub_->Telemetry(&telemetry_ctx_);
    v2::TelemetryCommand cmd;
    *cmd.mutable_settings() = settings;
    if (!telemetry_->Write(cmd)) Die("Telemetry: the stream closed before the settings were sent");
    std::atomic<bool> got{false};
    std::thread reader([&] {
      v2::TelemetryCommand reply;
      got = telemetry_->Read(&reply) && reply.has_settings();
    });
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!got && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!got) telemetry_ctx_.TryCancel();
    reader.join();
    if (!got) Die("Telemetry: no Settings reply within 10 s");
  }

  v2::MessagingService::Stub& stub() { return *stub_; }
  const std::string& id() const { return id_; }

 private:
  std::unique_ptr<v2::MessagingService::Stub> stub_;
  std::string id_;
  mutable std::atomic<uint64_t> seq_{0};
  grpc::ClientContext telemetry_ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v2::TelemetryCommand, v2::TelemetryCommand>> telemetry_;
};

std::string ClientId(const std::string& role) {
  return fmt::format("stele-bench@{}@{}@{}", getpid(), role,
                     std::chrono::system_clock::now().time_since_epoch().count());
}

v2::Settings ProducerSettings(const std::string& topic) {
  v2::Settings s;
  s.set_client_type(v2::PRODUCER);
  s.mutable_request_timeout()->set_seconds(3);
  s.mutable_publishing()->add_topics()->set_name(topic);
  s.mutable_user_agent()->set_language(v2::CPP);
  s.mutable_user_agent()->set_version("stele-grpc-bench");
  return s;
}

v2::Settings ConsumerSettings(const std::string& group, const std::string& topic) {
  v2::Settings s;
  s.set_client_type(v2::SIMPLE_CONSUMER);
  s.mutable_request_timeout()->set_seconds(3);
  v2::Subscription* sub = s.mutable_subscription();
  sub->mutable_group()->set_name(group);
  v2::SubscriptionEntry* e = sub->add_subscriptions();
  e->mutable_topic()->set_name(topic);
  e->mutable_expression()->set_type(v2::TAG);
  e->mutable_expression()->set_expression("*");
  sub->mutable_long_polling_timeout()->set_seconds(5);
  s.mutable_user_agent()->set_language(v2::CPP);
  return s;
}

std::string CodeName(int code) { return fmt::format("code{}", code); }

Result GrpcSend(const Flags& f, const std::shared_ptr<grpc::Channel>& channel,
                const std::string& topic, const std::string& body) {
  GrpcClient client(channel, ClientId("producer"));
  client.Handshake(ProducerSettings(topic));
  Window win(f.warmup, f.seconds, f.broker_pid);
  std::mutex mu;
  Result total{.name = "grpc_send"};
  std::vector<std::thread> threads;
  for (int t = 0; t < f.concurrency; ++t) {
    threads.emplace_back([&, t] {
      Result mine;
      v2::SendMessageRequest req;
      v2::Message* m = req.add_messages();
      m->mutable_topic()->set_name(topic);
      m->set_body(body);
      v2::SystemProperties* sp = m->mutable_system_properties();
      sp->set_tag("bench");
      sp->set_body_encoding(v2::IDENTITY);
      sp->set_message_type(v2::NORMAL);
      sp->set_born_host("127.0.0.1");
      for (uint64_t seq = 0; !win.Over(); ++seq) {
        sp->set_message_id(fmt::format("01{:08X}{:08X}{:016X}", getpid(), t, seq));
        grpc::ClientContext ctx;
        client.Prepare(&ctx, 5);
        v2::SendMessageResponse resp;
        const auto t0 = Clock::now();
        const grpc::Status s = client.stub().SendMessage(&ctx, req, &resp);
        const auto t1 = Clock::now();
        int code = s.ok() ? resp.status().code() : -s.error_code();
        if (code == v2::OK && resp.entries_size() == 1) code = resp.entries(0).status().code();
        if (code == v2::OK) ++mine.stored;
        if (!win.Counts(t1)) continue;
        if (code == v2::OK) {
          ++mine.ok;
          mine.lat_us.push_back(std::chrono::duration<float, std::micro>(t1 - t0).count());
        } else {
          ++mine.fails;
          ++mine.fail_names[s.ok() ? CodeName(code) : "grpc:" + s.error_message()];
        }
      }
      std::lock_guard l(mu);
      total.ok += mine.ok;
      total.stored += mine.stored;
      total.fails += mine.fails;
      for (auto& [k, v] : mine.fail_names) total.fail_names[k] += v;
      total.lat_us.insert(total.lat_us.end(), mine.lat_us.begin(), mine.lat_us.end());
    });
  }
  total.broker_cpu_s = win.WaitBrokerCpu();
  for (std::thread& t : threads) t.join();
  total.seconds = win.seconds();
  std::sort(total.lat_us.begin(), total.lat_us.end());
  return total;
}

// Receives and acks until `backlog` messages were acked or 120 s passed.
Result GrpcReceiveAck(const Flags& f, const std::shared_ptr<grpc::Channel>& channel,
                      const std::string& topic, uint64_t backlog) {
  const std::string group = "GID_" + topic;
  GrpcClient client(channel, ClientId("consumer"));
  client.Handshake(ConsumerSettings(group, topic));
  std::atomic<uint64_t> acked{0}, fails{0};
  std::mutex mu;
  std::map<std::string, uint64_t> fail_names;
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::seconds(120);
  std::optional<Clock::time_point> done_at;
  const double cpu0 = CpuSeconds(f.broker_pid);
  std::vector<std::thread> threads;
  for (int t = 0; t < f.receivers; ++t) {
    threads.emplace_back([&] {
      while (acked.load() < backlog && Clock::now() < deadline) {
        v2::ReceiveMessageRequest req;
        req.mutable_group()->set_name(group);
        req.mutable_message_queue()->mutable_topic()->set_name(topic);
        req.mutable_message_queue()->set_id(-1);
        req.mutable_filter_expression()->set_type(v2::TAG);
        req.mutable_filter_expression()->set_expression("*");
        req.set_batch_size(f.batch);
        req.mutable_invisible_duration()->set_seconds(60);
        req.mutable_long_polling_timeout()->set_seconds(5);
        req.set_auto_renew(false);
        grpc::ClientContext ctx;
        client.Prepare(&ctx, 10);
        auto reader = client.stub().ReceiveMessage(&ctx, req);
        v2::ReceiveMessageResponse resp;
        v2::AckMessageRequest ack;
        ack.mutable_group()->set_name(group);
        ack.mutable_topic()->set_name(topic);
        int status = 0;
        while (reader->Read(&resp)) {
          if (resp.has_status()) status = resp.status().code();
          if (resp.has_message()) {
            v2::AckMessageEntry* e = ack.add_entries();
            e->set_message_id(resp.message().system_properties().message_id());
            e->set_receipt_handle(resp.message().system_properties().receipt_handle());
          }
        }
        const grpc::Status s = reader->Finish();
        if (!s.ok() || (status != v2::OK && status != v2::MESSAGE_NOT_FOUND)) {
          ++fails;
          std::lock_guard l(mu);
          ++fail_names[s.ok() ? "receive:" + CodeName(status)
                              : "receive:grpc:" + s.error_message()];
          continue;
        }
        if (ack.entries_size() == 0) continue;
        grpc::ClientContext actx;
        client.Prepare(&actx, 5);
        v2::AckMessageResponse aresp;
        const grpc::Status as = client.stub().AckMessage(&actx, ack, &aresp);
        if (as.ok() && aresp.status().code() == v2::OK) {
          if (acked.fetch_add(ack.entries_size()) + ack.entries_size() >= backlog) {
            std::lock_guard l(mu);
            done_at = Clock::now();  // not the join: other receivers may sit in a long poll
          }
        } else {
          fails += ack.entries_size();
          std::lock_guard l(mu);
          fail_names[as.ok() ? "ack:" + CodeName(aresp.status().code())
                             : "ack:grpc:" + as.error_message()] += ack.entries_size();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double cpu1 = CpuSeconds(f.broker_pid);
  Result r{.name = "grpc_receive_ack"};
  r.ok = acked.load();
  r.fails = fails.load();
  r.fail_names = std::move(fail_names);
  r.seconds = std::chrono::duration<double>(done_at.value_or(Clock::now()) - t0).count();
  r.broker_cpu_s = cpu0 < 0 || cpu1 < 0 ? -1 : cpu1 - cpu0;
  return r;
}

// ---- remoting (the project's C++ client) --------------------------------------------------------

Result RemotingSend(const Flags& f, const std::string& topic, const std::string& body) {
  stele::client::Producer producer({.group = "PID_GRPC_BENCH", .namesrv_addr = f.namesrv});
  if (absl::Status s = producer.Start(); !s.ok()) Die("remoting producer: " + s.ToString());
  if (auto q = producer.FetchPublishQueues(topic); !q.ok()) Die("route: " + q.status().ToString());
  Window win(f.warmup, f.seconds, f.broker_pid);
  std::mutex mu;
  Result total{.name = "remoting_send"};
  std::vector<std::thread> threads;
  for (int t = 0; t < f.concurrency; ++t) {
    threads.emplace_back([&] {
      Result mine;
      stele::client::Message m{.topic = topic, .body = body, .tags = "bench"};
      while (!win.Over()) {
        const auto t0 = Clock::now();
        auto r = producer.Send(m);
        const auto t1 = Clock::now();
        const bool stored = r.ok() && r->status == stele::client::SendStatus::kSendOk;
        if (stored) ++mine.stored;
        if (!win.Counts(t1)) continue;
        if (stored) {
          ++mine.ok;
          mine.lat_us.push_back(std::chrono::duration<float, std::micro>(t1 - t0).count());
        } else {
          ++mine.fails;
          ++mine.fail_names[r.ok() ? std::string(stele::client::SendStatusName(r->status))
                                   : r.status().ToString().substr(0, 60)];
        }
      }
      std::lock_guard l(mu);
      total.ok += mine.ok;
      total.stored += mine.stored;
      total.fails += mine.fails;
      for (auto& [k, v] : mine.fail_names) total.fail_names[k] += v;
      total.lat_us.insert(total.lat_us.end(), mine.lat_us.begin(), mine.lat_us.end());
    });
  }
  total.broker_cpu_s = win.WaitBrokerCpu();
  for (std::thread& t : threads) t.join();
  producer.Shutdown();
  total.seconds = win.seconds();
  std::sort(total.lat_us.begin(), total.lat_us.end());
  return total;
}

Result RemotingConsume(const Flags& f, const std::string& topic, uint64_t backlog) {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t seen = 0;
  stele::client::PushConsumer c(
      {.group = "GID_" + topic,
       .namesrv_addr = f.namesrv,
       .consume_from_where = stele::client::ConsumeFromWhere::kFirstOffset,
       .consume_threads = f.receivers,
       .pull_batch_size = f.batch,
       .consume_batch_size = f.batch,
       .rebalance_interval = std::chrono::milliseconds(1000)});
  if (absl::Status s = c.Subscribe(topic); !s.ok()) Die("subscribe: " + s.ToString());
  c.RegisterListener(
      [&](const std::vector<stele::client::MessageExt>& msgs, stele::client::ConsumeContext&) {
        std::lock_guard l(mu);
        seen += msgs.size();
        cv.notify_all();
        return stele::client::ConsumeStatus::kSuccess;
      });
  const double cpu0 = CpuSeconds(f.broker_pid);
  const auto t0 = Clock::now();
  if (absl::Status s = c.Start(); !s.ok()) Die("push consumer: " + s.ToString());
  {
    std::unique_lock l(mu);
    cv.wait_for(l, std::chrono::seconds(120), [&] { return seen >= backlog; });
  }
  Result r{.name = "remoting_consume"};
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu1 = CpuSeconds(f.broker_pid);
  r.broker_cpu_s = cpu0 < 0 || cpu1 < 0 ? -1 : cpu1 - cpu0;
  c.Shutdown();
  std::lock_guard l(mu);
  r.ok = std::min(seen, backlog);
  return r;
}

// ---- setup and report ---------------------------------------------------------------------------

void CreateTopic(stele::client::AdminClient& admin, const std::string& topic, int queues) {
  auto cluster = admin.ClusterInfo();
  if (!cluster.ok() || cluster->brokers.empty()) {
    Die("cluster info: " + (cluster.ok() ? "no broker" : cluster.status().ToString()));
  }
  for (const auto& [name, data] : cluster->brokers) {
    auto it = data.addrs.find(0);
    if (it == data.addrs.end()) continue;
    if (absl::Status s = admin.CreateOrUpdateTopic(
            it->second, {.topic = topic, .read_queue_nums = queues, .write_queue_nums = queues});
        !s.ok()) {
      Die("create topic " + topic + ": " + s.ToString());
    }
  }
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!admin.Route(topic).ok()) {
    if (Clock::now() > deadline) Die("the name server does not route " + topic + " after 10 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void PrintResult(const Flags& f, const Result& r) {
  std::string fails;
  for (const auto& [k, v] : r.fail_names)
    fails += fmt::format("{}{}:{}", fails.empty() ? "" : ",", k, v);
  std::printf(
      "RESULT mode=%s concurrency=%d receivers=%d size=%d msgs=%llu secs=%.2f tps=%.0f p50_us=%.0f "
      "p99_us=%.0f p999_us=%.0f fails=%llu%s%s broker_cpu_us_per_msg=%.1f\n",
      r.name.c_str(), f.concurrency, f.receivers, f.size, static_cast<unsigned long long>(r.ok),
      r.seconds, r.tps(), r.Pct(0.5), r.Pct(0.99), r.Pct(0.999),
      static_cast<unsigned long long>(r.fails), fails.empty() ? "" : " fail_codes=", fails.c_str(),
      r.broker_cpu_s >= 0 && r.ok > 0 ? r.broker_cpu_s * 1e6 / static_cast<double>(r.ok) : -1.0);
  std::fflush(stdout);
}

std::string Cpu(const Result& r) {
  return r.broker_cpu_s >= 0 && r.ok > 0
             ? fmt::format("{:.1f}", r.broker_cpu_s * 1e6 / static_cast<double>(r.ok))
             : "-";
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  const std::string body = stele::bench::RandomBody(static_cast<size_t>(f.size));
  const std::string run = std::to_string(getpid());
  const std::string grpc_topic = "GrpcBench_g" + run, remoting_topic = "GrpcBench_r" + run;

  stele::client::AdminClient admin({.namesrv_addr = f.namesrv});
  if (absl::Status s = admin.Start(); !s.ok()) Die("admin: " + s.ToString());
  CreateTopic(admin, grpc_topic, f.queues);
  CreateTopic(admin, remoting_topic, f.queues);

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(f.grpc, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    Die("cannot connect to the gRPC endpoint " + f.grpc);
  }

  std::fprintf(
      stderr,
      "stele_grpc_bench: %d senders, %d receivers, %d-byte bodies, %.0f s + %.0f s warm-up\n",
      f.concurrency, f.receivers, f.size, f.seconds, f.warmup);
  const Result gs = GrpcSend(f, channel, grpc_topic, body);
  PrintResult(f, gs);
  // The backlog to consume is everything the send phase stored, warm-up included.
  const Result gr = GrpcReceiveAck(f, channel, grpc_topic, gs.stored);
  PrintResult(f, gr);
  const Result rs = RemotingSend(f, remoting_topic, body);
  PrintResult(f, rs);
  const Result rc = RemotingConsume(f, remoting_topic, rs.stored);
  PrintResult(f, rc);
  admin.Shutdown();

  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  std::fprintf(stderr, "\n| %-22s | %12s | %12s | %8s |\n| %-22s | %12s | %12s | %8s |\n", "metric",
               "gRPC", "remoting", "gRPC/rem", "---", "---", "---", "---");
  auto row = [&](const char* what, double g, double r, const char* fmtv) {
    std::fprintf(stderr, "| %-22s | %12s | %12s | %7.2fx |\n", what,
                 fmt::format(fmt::runtime(fmtv), g).c_str(),
                 fmt::format(fmt::runtime(fmtv), r).c_str(), ratio(g, r));
  };
  row("send msgs/s", gs.tps(), rs.tps(), "{:.0f}");
  row("send p50 us", gs.Pct(0.5), rs.Pct(0.5), "{:.0f}");
  row("send p99 us", gs.Pct(0.99), rs.Pct(0.99), "{:.0f}");
  row("receive+ack msgs/s", gr.tps(), rc.tps(), "{:.0f}");
  std::fprintf(stderr, "| %-22s | %12s | %12s | %8s |\n", "broker CPU us/msg send", Cpu(gs).c_str(),
               Cpu(rs).c_str(), "");
  std::fprintf(stderr, "| %-22s | %12s | %12s | %8s |\n", "broker CPU us/msg recv", Cpu(gr).c_str(),
               Cpu(rc).c_str(), "");
  std::printf("RESULT mode=ratio send_tps=%.2f send_p50=%.2f send_p99=%.2f consume_tps=%.2f\n",
              ratio(gs.tps(), rs.tps()), ratio(gs.Pct(0.5), rs.Pct(0.5)),
              ratio(gs.Pct(0.99), rs.Pct(0.99)), ratio(gr.tps(), rc.tps()));
  const bool all_ran = gs.ok > 0 && gr.ok >= gs.stored && rs.ok > 0 && rc.ok >= rs.stored;
  return all_ran ? 0 : 1;
}
