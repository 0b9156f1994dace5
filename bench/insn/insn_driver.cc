// insn_driver: runs N operations of one kind for the instruction-count regression guard
// (insn_guard.py runs it under valgrind's callgrind and divides the instructions by N).
//
//   insn_driver --kind=append|cq_read|send_rtt [--ops=N] [--warmup=W] [--dir=PATH]
//
// Kinds:
//   append    stele::Store::Append of one message with a 1 KiB body (ASYNC_FLUSH, POSIX files)
//   cq_read   stele::Store::Get of 32 messages by consume-queue offset (all dispatched first)
//   send_rtt  one SEND_MESSAGE_V2 with a 1 KiB body through RemotingClient::InvokeSync to an
//             in-process BrokerController on loopback, waited for its SUCCESS response
//
// What is counted: callgrind runs with --instr-atstart=no; the driver switches instrumentation on
// after the setup (store open, spare segment ready, broker started, warm-up operations done) and
// off once the engine's background work for the measured operations has finished (the dispatcher
// has built the consume queues and index entries for every appended record). Every thread counts
// meanwhile: for append and send_rtt the dispatcher's work is part of the operation's cost, and for
// send_rtt so are the client's and the broker's io threads. The main thread stops collecting
// (CALLGRIND_TOGGLE_COLLECT) while it waits for that, so that its waiting is not counted.
// Measured on the project VM, (max-min)/median over 5 runs: append 0.8 % at 3000 ops (the
// dispatcher indexes records in batches whose sizes depend on thread scheduling; its ~3,500
// insn/op vary by ~7 %, the appending thread's ~12,200 by 0.1 %), cq_read 0.01 %, send_rtt 0.3 %
// (the calling thread does only ~5 % of that work, and its share moves to and from the client's
// io thread between runs; the sum does not).
//
// Wall-clock time decides only when background threads wake, so the stores and the broker are
// configured with periodic work (flushes, checkpoints, retention, offset persistence) far apart:
// a measured run never reaches one, and what remains is the operations' own work. Without valgrind
// the client requests are no-ops and the driver just runs the operations (a quick check).
//
// Output: one JSON line on stdout ({"kind":..., "ops":N, "warmup":W, "messages":M}); errors go to
// stderr with exit status 1 (2 for bad arguments).
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "stele/file_system.h"
#include "stele/message.h"
#include "stele/options.h"
#include "stele/store.h"

#ifdef STELE_HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_TOGGLE_COLLECT
#endif

namespace stele::insn {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kTopic = "InsnTopic";
constexpr int kQueues = 4;
constexpr size_t kBodySize = 1024;
constexpr int kGetBatch = 32;
// Longer than any measured run under valgrind: periodic background work must not fall inside.
constexpr int kQuietMs = 600000;

struct Args {
  std::string kind;
  int ops = 0;
  int warmup = -1;
  std::string dir;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "insn_driver: %s\nusage: insn_driver --kind=append|cq_read|send_rtt [--ops=N] "
               "[--warmup=W] [--dir=PATH]\n",
               why.c_str());
  std::exit(2);
}

int ParseCount(std::string_view flag, std::string_view v, int min) {
  char* end = nullptr;
  const std::string s(v);
  const long n = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || n < min || n > 10'000'000) {
    Usage(fmt::format("{} wants a whole number from {} to 10000000, got '{}'", flag, min, v));
  }
  return static_cast<int>(n);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string_view key = arg.substr(0, eq);
    const std::string_view val = eq == std::string_view::npos ? "" : arg.substr(eq + 1);
    if (key == "--kind") {
      a.kind = val;
    } else if (key == "--ops") {
      a.ops = ParseCount(key, val, 1);
    } else if (key == "--warmup") {
      a.warmup = ParseCount(key, val, 0);
    } else if (key == "--dir") {
      a.dir = val;
    } else {
      Usage(fmt::format("unknown argument '{}'", arg));
    }
  }
  if (a.kind != "append" && a.kind != "cq_read" && a.kind != "send_rtt") {
    Usage(fmt::format("--kind must be append, cq_read or send_rtt, got '{}'", a.kind));
  }
  if (a.ops == 0) a.ops = 200;
  if (a.warmup < 0) a.warmup = 20;
  return a;
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "insn_driver: %s\n", what.c_str());
  std::exit(1);
}

void Check(const absl::Status& st, std::string_view what) {
  if (!st.ok()) Fail(fmt::format("{}: {}", what, st.ToString()));
}

// A reproducible, not trivially compressible body (its bytes do not change the cost of a CRC or a
// copy, but a constant body would hide nothing either way).
std::string Body() {
  std::string b(kBodySize, '\0');
  uint32_t x = 2463534242u;
  for (char& c : b) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>('a' + x % 26);
  }
  return b;
}

// Keys of equal width for every message, so that record sizes (and so the work) do not change
// with the message number.
std::string Key(int i) { return fmt::format("insn-{:08d}", i); }

// Store options with the periodic background work pushed out of the measured window; small index
// geometry so that setup does not create RocketMQ's 420 MB index file.
StoreOptions QuietOptions(const std::string& root) {
  StoreOptions o;
  o.store_path_root_dir = root;
  o.mapped_file_size_commit_log = 64ull << 20;
  o.flush_disk_type = FlushDiskType::kAsyncFlush;
  o.write_buffer_size = 16ull << 20;
  o.flush_interval_commit_log_ms = kQuietMs;
  o.flush_commit_log_thorough_interval_ms = kQuietMs;
  o.checkpoint_interval_ms = kQuietMs;
  o.flush_interval_consume_queue_ms = kQuietMs;
  o.clean_resource_interval_ms = kQuietMs;
  o.max_hash_slot_num = 100000;
  o.max_index_num = 400000;
  // Valgrind does not support io_uring's system calls; the POSIX backend is what it can run.
  o.file_system = NewPosixFileSystem();
  return o;
}

// The commit-log segment allocator prepares the next segment in the background as soon as one is
// opened: waits (at most 60 s, valgrind is slow) until it is there, so that it is not measured.
void WaitForSpareSegment(const std::string& root) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    int n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(root) / "commitlog", ec)) {
      if (e.path().filename().string().find('.') == std::string::npos) ++n;
    }
    if (n >= 2) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Fail("the spare commit-log segment did not appear within 60 s");
}

// Waits (bounded) until the dispatcher has caught up with everything appended.
void WaitDispatched(const Store& store) {
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (store.DispatchedOffset() < store.MaxOffset()) {
    if (Clock::now() > deadline) Fail("the dispatcher did not catch up within 120 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Brackets the measured loop (see the header comment).
class Window {
 public:
  void Begin() { CALLGRIND_START_INSTRUMENTATION; }
  // The operations are done; background work for them may still be running.
  void EndOfOperations() { CALLGRIND_TOGGLE_COLLECT; }
  void End() {
    CALLGRIND_STOP_INSTRUMENTATION;
    CALLGRIND_TOGGLE_COLLECT;  // back to the initial state for this thread
  }
};

std::vector<std::string> Keys(int n) {
  std::vector<std::string> keys;
  keys.reserve(n);
  for (int i = 0; i < n; ++i) keys.push_back(Key(i));
  return keys;
}

int64_t RunAppend(const Args& a, const std::string& root) {
  auto store = Store::Open(QuietOptions(root));
  Check(store.status(), "open store");
  WaitForSpareSegment(root);
  const std::string body = Body();
  const int total = a.warmup + a.ops;
  const std::vector<std::string> keys = Keys(total);
  auto append = [&](int i) {
    Message m{
        .topic = kTopic, .queue_id = i % kQueues, .body = body, .tags = "TagA", .keys = keys[i]};
    auto r = (*store)->Append(m);
    if (!r.ok()) Fail(fmt::format("append {}: {}", i, r.status().ToString()));
  };
  for (int i = 0; i < a.warmup; ++i) append(i);
  WaitDispatched(**store);
  Window w;
  w.Begin();
  for (int i = a.warmup; i < total; ++i) append(i);
  w.EndOfOperations();
  WaitDispatched(**store);
  w.End();
  Check((*store)->Close(), "close store");
  return a.ops;
}

int64_t RunCqRead(const Args& a, const std::string& root) {
  auto store = Store::Open(QuietOptions(root));
  Check(store.status(), "open store");
  const std::string body = Body();
  // Enough distinct messages for the reads to move through the queue (64 batches, then wrap).
  constexpr int kMessages = 64 * kGetBatch;
  const std::vector<std::string> keys = Keys(kMessages);
  for (int i = 0; i < kMessages; ++i) {
    Message m{.topic = kTopic, .queue_id = 0, .body = body, .tags = "TagA", .keys = keys[i]};
    auto r = (*store)->Append(m);
    if (!r.ok()) Fail(fmt::format("append {}: {}", i, r.status().ToString()));
  }
  WaitDispatched(**store);
  GetOptions opts;
  opts.max_messages = kGetBatch;
  int64_t messages = 0;
  auto read = [&](int i) {
    const int64_t offset = (static_cast<int64_t>(i) * kGetBatch) % kMessages;
    auto r = (*store)->Get(kTopic, 0, offset, opts);
    if (!r.ok()) Fail(fmt::format("get at {}: {}", offset, r.status().ToString()));
    if (r->status != GetMessageStatus::kFound || r->messages.size() != kGetBatch) {
      Fail(fmt::format("get at {}: {} with {} messages, want FOUND with {}", offset,
                       GetMessageStatusName(r->status), r->messages.size(), kGetBatch));
    }
    messages += static_cast<int64_t>(r->messages.size());
  };
  for (int i = 0; i < a.warmup; ++i) read(i);
  messages = 0;
  Window w;
  w.Begin();
  for (int i = a.warmup; i < a.warmup + a.ops; ++i) read(i);
  w.EndOfOperations();
  w.End();
  Check((*store)->Close(), "close store");
  return messages;
}

remoting::RemotingCommand SendRequest(const std::string& body, const std::string& props,
                                      int queue_id, int64_t born_ms) {
  auto req = remoting::RemotingCommand::Request(remoting::request::kSendMessageV2);
  req.Set("a", "InsnProducer");
  req.Set("b", kTopic);
  req.Set("c", "TBW102");
  req.Set("d", kQueues);
  req.Set("e", queue_id);
  req.Set("f", int64_t{0});
  req.Set("g", born_ms);
  req.Set("h", int64_t{0});
  req.Set("i", props);
  req.Set("j", int64_t{0});
  req.Set("k", "false");
  req.body = body;
  return req;
}

int64_t RunSendRtt(const Args& a, const std::string& root) {
  broker::BrokerConfig c;
  c.store_path_root_dir = root;
  c.broker_ip1 = "127.0.0.1";
  c.bind_address = "127.0.0.1";
  c.listen_port = 0;
  c.grpc_server_port = 0;
  c.flush_consumer_offset_interval_ms = kQuietMs;
  c.store = QuietOptions(root);
  Check(c.Finalize(), "broker config");
  auto broker = broker::BrokerController::Create(std::move(c));
  Check(broker.status(), "create broker");
  Check((*broker)->Start(), "start broker");
  WaitForSpareSegment(root);
  const std::string addr = fmt::format("127.0.0.1:{}", (*broker)->port());
  remoting::RemotingClient client;

  const std::string body = Body();
  const int total = a.warmup + a.ops;
  // Properties as a Java producer sends them; UNIQ_KEY differs per message (idempotent publish
  // would answer a repeated one without storing it) but has the same width.
  std::vector<std::string> props(total);
  for (int i = 0; i < total; ++i) {
    AppendProperty(&props[i], kPropertyUniqKey, fmt::format("7F00000100002A9F0000{:012X}", i));
    AppendProperty(&props[i], kPropertyKeys, Key(i));
    AppendProperty(&props[i], kPropertyTags, "TagA");
    AppendProperty(&props[i], "WAIT", "true");
  }
  // Every request carries the same born timestamp: its digits are part of the header's size.
  const int64_t born_ms = 1700000000000;
  auto send = [&](int i) {
    auto resp = client.InvokeSync(addr, SendRequest(body, props[i], i % kQueues, born_ms),
                                  std::chrono::seconds(60));
    if (!resp.ok()) Fail(fmt::format("send {}: {}", i, resp.status().ToString()));
    if (resp->code != remoting::response::kSuccess) {
      Fail(fmt::format("send {}: response code {} ({})", i, resp->code, resp->remark.value_or("")));
    }
  };
  // The first send connects and creates the topic: warm-up covers that.
  for (int i = 0; i < a.warmup; ++i) send(i);
  WaitDispatched((*broker)->store());
  Window w;
  w.Begin();
  for (int i = a.warmup; i < total; ++i) send(i);
  w.EndOfOperations();
  WaitDispatched((*broker)->store());
  w.End();
  client.Shutdown();
  (*broker)->Shutdown();
  return a.ops;
}

}  // namespace
}  // namespace stele::insn

int main(int argc, char** argv) {
  using namespace stele::insn;
  Args a = ParseArgs(argc, argv);
  const bool own_dir = a.dir.empty();
  if (own_dir) {
    const char* tmp = std::getenv("TMPDIR");
    a.dir = (fs::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
             fmt::format("stele-insn-{}-{}", getpid(), a.kind))
                .string();
  }
  std::error_code ec;
  fs::remove_all(a.dir, ec);
  fs::create_directories(a.dir, ec);
  if (ec) Fail(fmt::format("cannot create {}: {}", a.dir, ec.message()));
  int64_t messages = 0;
  if (a.kind == "append") {
    messages = RunAppend(a, a.dir);
  } else if (a.kind == "cq_read") {
    messages = RunCqRead(a, a.dir);
  } else {
    messages = RunSendRtt(a, a.dir);
  }
  if (own_dir) fs::remove_all(a.dir, ec);
  std::printf("{\"kind\":\"%s\",\"ops\":%d,\"warmup\":%d,\"messages\":%lld}\n", a.kind.c_str(),
              a.ops, a.warmup, static_cast<long long>(messages));
  return 0;
}
