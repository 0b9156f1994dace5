#include "load.h"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "common/bytes.h"
#include "common/clock.h"
#include "fmt/format.h"
#include "net/remoting/codec.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "raw_client.h"

namespace stele::e2e {

using remoting::RemotingCommand;
namespace rc = remoting::response;

namespace {

// How long sends issued before the end may take to complete before the worker gives up on them.
constexpr auto kDrain = std::chrono::seconds(10);

// A worker's open-loop schedule (see load.h); inactive when the run has no target rate.
class Pacer {
 public:
  Pacer(const LoadParams& p, int worker) {
    if (p.rate <= 0) return;
    interval_ = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(p.workers / p.rate));
    next_ = p.win.start + interval_ * worker / p.workers;
  }
  bool active() const { return interval_ > Clock::duration::zero(); }
  Clock::time_point next() const { return next_; }
  // The scheduled time of the send being issued now (`now` when unpaced); moves to the next.
  Clock::time_point Take(Clock::time_point now) {
    if (!active()) return now;
    const Clock::time_point t = next_;
    next_ += interval_;
    return t;
  }

 private:
  Clock::duration interval_{};
  Clock::time_point next_{};
};

// Records one completed send at `done`.
void Record(const LoadParams& p, Tally* t, bool paced, Clock::time_point sent,
            Clock::time_point sched, Clock::time_point done, uint64_t record_bytes) {
  if (!p.win.Counts(done)) return;
  ++t->ok;
  ++t->calls;
  t->payload_bytes += p.body.size();
  t->record_bytes += record_bytes;
  t->lat_us.push_back(static_cast<float>(Micros(done - sent)));
  if (paced) t->sched_lat_us.push_back(static_cast<float>(Micros(done - sched)));
}

}  // namespace

void RunWindowedWorker(const LoadParams& p, int worker, const Issue& issue, Tally* out) {
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  Tally t;
  Pacer pacer(p, worker);
  int q = worker % p.queues;
  for (uint64_t seq = 0;; ++seq) {
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return outstanding < p.window; });
      ++outstanding;
    }
    if (pacer.active() && pacer.next() > Clock::now()) std::this_thread::sleep_until(pacer.next());
    const Clock::time_point sent = Clock::now();
    if (sent >= p.win.end) {
      std::lock_guard<std::mutex> l(mu);
      --outstanding;
      break;
    }
    const Clock::time_point sched = pacer.Take(sent);
    issue(q, seq, [&, sent, sched](std::string fail, uint64_t record_bytes) {
      const Clock::time_point done = Clock::now();
      std::lock_guard<std::mutex> l(mu);
      --outstanding;
      if (!fail.empty()) {
        if (p.win.Counts(done)) t.Fail(fail);
      } else {
        Record(p, &t, pacer.active(), sent, sched, done, record_bytes);
      }
      cv.notify_all();
    });
    q = (q + 1) % p.queues;
  }
  std::unique_lock<std::mutex> l(mu);
  if (!cv.wait_until(l, p.win.end + kDrain, [&] { return outstanding == 0; })) {
    // Callbacks still reference this frame: wait for them whatever it takes, but say so.
    std::fprintf(stderr, "worker %d: %d operations still pending %lld s after the end\n", worker,
                 outstanding, static_cast<long long>(kDrain.count()));
    cv.wait(l, [&] { return outstanding == 0; });
  }
  out->Merge(std::move(t));
}

std::vector<std::string> WorkerTopics(const LoadParams& p, int worker) {
  if (p.topics <= 1) return {p.topic};
  std::vector<std::string> out;
  if (p.topics <= p.workers) {
    out.push_back(fmt::format("{}-{}", p.topic, worker % p.topics));
  } else {
    for (int t = worker % p.workers; t < p.topics; t += p.workers) {
      out.push_back(fmt::format("{}-{}", p.topic, t));
    }
  }
  return out;
}

void RawSendWorker(const LoadParams& p, int worker, Tally* out) {
  // Frames are ordered queue-major (every topic's queue 0, then queue 1, ...) so that consecutive
  // sends go to different topics, as many independent producers would.
  std::vector<SendFrame> frames;
  const std::vector<std::string> topics = WorkerTopics(p, worker);
  for (int q = 0; q < p.queues; ++q) {
    for (const std::string& topic : topics) {
      auto f = MakeSendFrame(SendSpec{.topic = topic,
                                      .queue_id = q,
                                      .default_queue_nums = p.queues,
                                      .body = p.body,
                                      .properties = BenchProperties(),
                                      .type = p.type});
      if (!f.ok()) {
        out->Fail(std::string(f.status().message()));
        return;
      }
      frames.push_back(*std::move(f));
    }
  }
  const int nframes = static_cast<int>(frames.size());
  auto conn = RawConnection::Connect(p.broker);
  if (!conn.ok()) {
    std::fprintf(stderr, "worker %d: %s\n", worker, std::string(conn.status().message()).c_str());
    out->Fail("CONNECT");
    return;
  }
  struct Slot {
    Clock::time_point sent, sched;
  };
  std::vector<Slot> slots(static_cast<size_t>(p.window));
  std::vector<int32_t> free_slots;
  std::vector<char> busy(static_cast<size_t>(p.window), 0);
  for (int s = p.window - 1; s >= 0; --s) free_slots.push_back(s);
  Tally t;
  Pacer pacer(p, worker);
  int q = topics.size() == 1 ? worker % p.queues : 0;  // index into frames
  uint64_t seq = 0;
  std::string wbuf;
  const auto on_frame = [&](std::string_view frame, Clock::time_point done) {
    const ResponseHead h = PeekResponse(frame);
    const int64_t slot = static_cast<int64_t>(h.opaque) - kOpaqueBase;
    if (!h.ok || slot < 0 || slot >= p.window || !busy[static_cast<size_t>(slot)]) {
      t.Fail("BAD_RESPONSE");
      return;
    }
    busy[static_cast<size_t>(slot)] = 0;
    free_slots.push_back(static_cast<int32_t>(slot));
    const Slot& s = slots[static_cast<size_t>(slot)];
    if (h.code == rc::kSuccess) {
      Record(p, &t, pacer.active(), s.sent, s.sched, done, 0);
    } else if (p.win.Counts(done)) {
      t.Fail(ResponseCodeName(h.code));
    }
  };
  while (true) {
    const Clock::time_point now = Clock::now();
    const bool sending = now < p.win.end;
    while (sending && !free_slots.empty() && (!pacer.active() || pacer.next() <= now)) {
      const int32_t s = free_slots.back();
      free_slots.pop_back();
      busy[static_cast<size_t>(s)] = 1;
      slots[static_cast<size_t>(s)] = Slot{now, pacer.Take(now)};
      frames[static_cast<size_t>(q)].AppendTo(&wbuf, kOpaqueBase + s, static_cast<uint32_t>(worker),
                                              seq++);
      q = (q + 1) % nframes;
    }
    if (!wbuf.empty()) {
      if (absl::Status st = (*conn)->WriteAll(wbuf); !st.ok()) {
        t.Fail("CONNECTION");
        break;
      }
      wbuf.clear();
    }
    const size_t outstanding = static_cast<size_t>(p.window) - free_slots.size();
    if (!sending && (outstanding == 0 || now > p.win.end + kDrain)) break;
    // Block for responses unless a paced send falls due first (or the run ends).
    std::optional<Clock::time_point> until;
    if (!sending) {
      until = p.win.end + kDrain;
    } else if (pacer.active() && !free_slots.empty()) {
      until = pacer.next();
    } else if (outstanding == 0) {
      until = p.win.end;
    }
    if (outstanding == 0) {
      if (until) std::this_thread::sleep_until(*until);
      continue;
    }
    absl::Status st =
        (*conn)->ReadFrames(until, [&](std::string_view frame) { on_frame(frame, Clock::now()); });
    if (!st.ok()) {
      std::fprintf(stderr, "worker %d: %s\n", worker, std::string(st.message()).c_str());
      t.Fail(absl::IsDeadlineExceeded(st) ? "TIMEOUT" : "CONNECTION");
      break;
    }
  }
  out->Merge(std::move(t));
}

void RemotingSendWorker(const LoadParams& p, int worker, Tally* out) {
  remoting::RemotingClient client(remoting::ClientOptions{.io_threads = 1, .name = "e2e-bench"});
  std::vector<RemotingCommand> reqs;
  for (int q = 0; q < p.queues; ++q) {
    reqs.push_back(SendRequest(SendSpec{.topic = p.topic,
                                        .queue_id = q,
                                        .default_queue_nums = p.queues,
                                        .body = p.body,
                                        .properties = BenchProperties(),
                                        .type = p.type}));
  }
  const size_t uniq_pos = FindUniqKey(BenchProperties());
  RunWindowedWorker(
      p, worker,
      [&](int q, uint64_t seq, Done done) {
        RemotingCommand req = reqs[static_cast<size_t>(q)];  // a client builds one per send
        StampUniqKey(req.ext_fields["i"].data() + uniq_pos, static_cast<uint32_t>(worker), seq);
        client.Invoke(p.broker, std::move(req), std::chrono::seconds(10),
                      [done = std::move(done)](absl::StatusOr<RemotingCommand> r) {
                        if (!r.ok()) {
                          done(absl::IsDeadlineExceeded(r.status()) ? "TIMEOUT" : "CONNECTION", 0);
                        } else {
                          done(r->code == rc::kSuccess ? "" : ResponseCodeName(r->code), 0);
                        }
                      });
      },
      out);
  client.Shutdown();
}

void EmbeddedAppendWorker(const LoadParams& p, Store& store, int worker, Tally* out) {
  std::string props = BenchProperties(p.cluster);
  const size_t uniq_pos = FindUniqKey(props);
  const std::vector<std::string> topics = WorkerTopics(p, worker);
  Message m{.topic = topics[0], .body = p.body, .properties = props, .born_timestamp_ms = NowMs()};
  if (auto host = HostAddress::Parse(fmt::format("127.0.0.1:{}", 40000 + worker)); host.ok()) {
    m.born_host = *host;
  }
  auto fail_name = [](const absl::Status& s) {
    return std::string(PutMessageStatusName(PutStatusOf(s)));
  };
  RunWindowedWorker(
      p, worker,
      [&](int q, uint64_t seq, Done done) {
        // The store copies the message before Append/AppendAsync returns, so one buffer is reused.
        StampUniqKey(props.data() + uniq_pos, static_cast<uint32_t>(worker), seq);
        m.queue_id = q;
        m.topic = topics[seq % topics.size()];
        auto finish = [&fail_name, done = std::move(done)](absl::StatusOr<AppendResult> r) {
          if (!r.ok()) {
            done(fail_name(r.status()), 0);
          } else if (r->status != PutMessageStatus::kPutOk) {
            done(std::string(PutMessageStatusName(r->status)), 0);
          } else {
            done("", static_cast<uint64_t>(r->wrote_bytes));
          }
        };
        if (p.window == 1) {
          finish(store.Append(m));
        } else {
          store.AppendAsync(m, std::move(finish));
        }
      },
      out);
}

void RawPullWorker(const LoadParams& p, const std::vector<int>& queues, Tally* out) {
  auto conn = RawConnection::Connect(p.broker);
  if (!conn.ok()) {
    out->Fail("CONNECT");
    return;
  }
  Tally t;
  for (int q : queues) {
    int64_t offset = 0;
    while (Clock::now() < p.win.end) {
      RemotingCommand req = RemotingCommand::Request(remoting::request::kPullMessage);
      req.language = remoting::LanguageCode::kJava;
      req.serialize_type = p.type;
      req.Set("consumerGroup", "e2e_bench_consumer");
      req.Set("topic", p.topic);
      req.Set("queueId", int64_t{q});
      req.Set("queueOffset", offset);
      req.Set("maxMsgNums", int64_t{p.pull_batch});
      req.Set("sysFlag", int64_t{4});  // subscription in the request, no suspend, no commit
      req.Set("commitOffset", int64_t{0});
      req.Set("suspendTimeoutMillis", int64_t{0});
      req.Set("subscription", "*");
      req.Set("subVersion", int64_t{0});
      req.Set("expressionType", "TAG");
      const Clock::time_point t0 = Clock::now();
      auto r = (*conn)->WriteAll(remoting::EncodeFrame(req));
      auto resp = r.ok() ? (*conn)->ReadCommand() : absl::StatusOr<RemotingCommand>(r);
      if (!resp.ok()) {
        t.Fail("CONNECTION");
        out->Merge(std::move(t));
        return;
      }
      ++t.calls;
      t.lat_us.push_back(static_cast<float>(Micros(Clock::now() - t0)));
      if (resp->code != rc::kSuccess) {
        if (resp->code != rc::kPullNotFound) t.Fail(ResponseCodeName(resp->code));
        break;  // the queue's end (or an error): next queue
      }
      for (std::string_view b = resp->body; b.size() >= 4;) {
        const uint32_t n = LoadBe32(b.data());
        if (n == 0 || n > b.size()) {
          t.Fail("BAD_BODY");
          break;
        }
        ++t.ok;
        t.payload_bytes += p.body.size();
        t.record_bytes += n;
        b.remove_prefix(n);
      }
      const std::string* next = resp->Field("nextBeginOffset");
      if (next == nullptr || std::stoll(*next) <= offset) break;
      offset = std::stoll(*next);
    }
  }
  out->Merge(std::move(t));
}

void EmbeddedGetWorker(const LoadParams& p, const Store& store, const std::vector<int>& queues,
                       Tally* out) {
  Tally t;
  GetOptions opts;
  opts.max_messages = p.pull_batch;
  opts.max_bytes = 1 << 20;  // as the broker's pull processor
  for (int q : queues) {
    int64_t offset = 0;
    while (Clock::now() < p.win.end) {
      const Clock::time_point t0 = Clock::now();
      auto got = store.Get(p.topic, q, offset, opts);
      ++t.calls;
      t.lat_us.push_back(static_cast<float>(Micros(Clock::now() - t0)));
      if (!got.ok() || got->status != GetMessageStatus::kFound) {
        if (!got.ok()) t.Fail(std::string(got.status().message()));
        break;
      }
      for (const RecordRef& m : got->messages) {
        ++t.ok;
        t.payload_bytes += m.msg.body.size();
        t.record_bytes += m.bytes.size();
      }
      if (got->next_begin_offset <= offset) break;
      offset = got->next_begin_offset;
    }
  }
  out->Merge(std::move(t));
}

}  // namespace stele::e2e
