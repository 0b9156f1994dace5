#include "client_load.h"

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "client/route.h"  // SubscribeQueues
#include "fmt/format.h"
#include "stele/client/admin.h"
#include "stele/client/message.h"
#include "stele/client/push_consumer.h"

namespace stele::e2e {

namespace {

// The failure tally name of a client error: RocketMQ's code when the broker answered with one,
// else the transport's (as the other workers name them).
std::string FailName(const absl::Status& s) {
  if (std::optional<int32_t> code = client::RocketMqCode(s)) return ResponseCodeName(*code);
  if (absl::IsDeadlineExceeded(s)) return "TIMEOUT";
  if (absl::IsUnavailable(s)) return "CONNECTION";
  return absl::StatusCodeToString(s.code());
}

// Done's argument for a send's outcome.
std::string Outcome(const absl::StatusOr<client::SendResult>& r) {
  if (!r.ok()) return FailName(r.status());
  if (r->status != client::SendStatus::kSendOk)
    return std::string(client::SendStatusName(r->status));
  return "";
}

// The messages the topic's queues hold now: sum of max - min offset over the route's queues.
absl::StatusOr<int64_t> Backlog(const LoadParams& p) {
  client::AdminClient admin({.namesrv_addr = p.namesrv});
  if (absl::Status s = admin.Start(); !s.ok()) return s;
  auto route = admin.Route(p.topic);
  if (!route.ok()) return route.status();
  int64_t n = 0;
  for (const client::MessageQueue& q : client::SubscribeQueues(p.topic, *route)) {
    auto max = admin.MaxOffset(q);
    if (!max.ok()) return max.status();
    auto min = admin.MinOffset(q);
    if (!min.ok()) return min.status();
    n += *max - *min;
  }
  return n;
}

}  // namespace

absl::StatusOr<std::vector<std::unique_ptr<client::Producer>>> StartProducers(const LoadParams& p,
                                                                              int* route_queues) {
  std::vector<std::unique_ptr<client::Producer>> out;
  *route_queues = 0;
  for (int i = 0; i < p.workers; ++i) {
    auto producer = std::make_unique<client::Producer>(
        client::ProducerOptions{.group = "e2e_bench_producer",
                                .namesrv_addr = p.namesrv,
                                .default_topic_queue_nums = p.queues});
    if (absl::Status s = producer->Start(); !s.ok()) return s;
    auto queues = producer->FetchPublishQueues(p.topic);
    if (!queues.ok()) return queues.status();
    *route_queues = static_cast<int>(queues->size());
    out.push_back(std::move(producer));
  }
  return out;
}

void ClientSendWorker(const LoadParams& p, client::Producer& producer, int worker, Tally* out) {
  client::Message m{.topic = p.topic, .body = std::string(p.body)};
  m.properties.emplace("WAIT", "true");  // as Java's Message constructor sets it
  RunWindowedWorker(
      p, worker,
      [&](int /*queue*/, uint64_t /*seq*/, Done done) {
        if (p.window == 1) {
          done(Outcome(producer.Send(m)), 0);
          return;
        }
        producer.SendAsync(m, [done = std::move(done)](absl::StatusOr<client::SendResult> r) {
          done(Outcome(r), 0);
        });
      },
      out);
}

absl::StatusOr<ConsumeRun> ClientConsume(const LoadParams& p, double seconds, int consume_threads,
                                         pid_t peer) {
  auto backlog = Backlog(p);
  if (!backlog.ok()) return backlog.status();
  if (*backlog <= 0) {
    return absl::FailedPreconditionError(fmt::format("topic {} holds no messages", p.topic));
  }
  const uint64_t want = static_cast<uint64_t>(*backlog);
  const std::string group = fmt::format("e2e_bench_push_{}_{}", getpid(),
                                        std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  client::PushConsumerOptions opts{.group = group,
                                   .namesrv_addr = p.namesrv,
                                   .model = client::MessageModel::kClustering,
                                   .consume_from_where = client::ConsumeFromWhere::kFirstOffset,
                                   .pull_batch_size = p.pull_batch};
  if (consume_threads > 0) opts.consume_threads = consume_threads;
  const int threads = opts.consume_threads;

  struct Count {
    std::mutex mu;
    std::condition_variable cv;
    uint64_t msgs = 0, bytes = 0, calls = 0;
    std::optional<Clock::time_point> first, drained;
  } c;
  client::PushConsumer consumer(std::move(opts));
  if (absl::Status s = consumer.Subscribe(p.topic, "*"); !s.ok()) return s;
  consumer.RegisterListener(
      [&c, want](const std::vector<client::MessageExt>& msgs, client::ConsumeContext&) {
        uint64_t bytes = 0;
        for (const client::MessageExt& m : msgs) bytes += m.body.size();
        const Clock::time_point now = Clock::now();
        std::lock_guard<std::mutex> l(c.mu);
        if (!c.first) c.first = now;
        c.msgs += msgs.size();
        c.bytes += bytes;
        ++c.calls;
        if (!c.drained && c.msgs >= want) {
          c.drained = now;
          c.cv.notify_all();
        }
        return client::ConsumeStatus::kSuccess;
      });

  ConsumeRun run;
  bool drained = false;
  run.win.start = run.win.measure_from = Clock::now();
  run.win.end = run.win.start +
                std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const double self0 = SelfCpuSeconds(), peer0 = peer > 0 ? ProcessCpuSeconds(peer) : -1;
  if (absl::Status s = consumer.Start(); !s.ok()) return s;
  {
    std::unique_lock<std::mutex> l(c.mu);
    c.cv.wait_until(l, run.win.end, [&] { return c.drained.has_value(); });
    drained = c.drained.has_value();
    if (drained) run.win.end = *c.drained;
    run.cpu.self_s = SelfCpuSeconds() - self0;
    if (peer0 >= 0) run.cpu.peer_s = ProcessCpuSeconds(peer) - peer0;
    run.tally.ok = c.msgs;
    run.tally.payload_bytes = c.bytes;
    run.tally.calls = c.calls;
    run.extra = {{"backlog", std::to_string(want)},
                 {"drained", drained ? "true" : "false"},
                 {"group", group},
                 {"consume_threads", std::to_string(threads)},
                 {"pull_batch", std::to_string(p.pull_batch)},
                 {"first_msg_ms",
                  c.first ? Num(Seconds(*c.first - run.win.start) * 1000, 1) : std::string("-")}};
  }
  if (!drained) {
    std::fprintf(stderr, "stele_e2e_bench: consumed %llu of %llu messages in %.1f s\n",
                 static_cast<unsigned long long>(run.tally.ok),
                 static_cast<unsigned long long>(want), seconds);
  }
  consumer.Shutdown();
  return run;
}

}  // namespace stele::e2e
