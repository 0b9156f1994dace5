// Crash with a real process: a child appends with four threads and reports every acknowledged
// append through a pipe; the parent kills it with SIGKILL at a seeded random moment, reopens the
// store and checks that every acknowledged record is present and intact, in the commit log, in its
// consume queue and in the hash index. Several cycles on the same store, so recovery also runs over
// the previous cycles' recoveries.
//
// After each reopen the parent also checks that the queues agree with the log (no holes, no entry
// past the log's end, max offset = the next queue offset the log assigns), that records the child
// wrote but never acknowledged are, if the log kept them, in their queue and the index too, and
// that a message appended after recovery continues its queue and can be read through it at once.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "recovery_checks.h"
#include "stele/store.h"
#include "testutil.h"

namespace stele {
namespace {

constexpr std::string_view kTopic = "crash";
constexpr int kQueues = 4;  // crash_child's threads, one queue each
// The longest a child may run before the parent kills it whatever it has acknowledged.
constexpr auto kChildDeadline = std::chrono::seconds(30);

// The key crash_child gives message i of thread t in cycle c (see crash_child.cc).
std::string ChildKey(int cycle, int thread, int i) {
  return fmt::format("k-{}-{}-{}", cycle, thread, i);
}

// One acknowledged append: what the store must give back after every later crash.
struct Acked {
  int cycle = 0;
  int32_t queue = 0;
  uint64_t body_seed = 0;  // body = testing::Body(body_seed, i, size)
  uint64_t i = 0;
  size_t size = 0;
  int64_t queue_offset = 0;
  std::string key;
};

// Runs one child until killed `delay_ms` after it is ready (and not before its first
// acknowledgement, so that a slow machine cannot make a cycle vacuous); returns its acknowledged
// appends by commit-log offset.
std::map<int64_t, Acked> RunAndKill(const std::string& dir, bool sync, int cycle, int delay_ms,
                                    const char* backend) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::string c = std::to_string(cycle);
    execl(STELE_CRASH_CHILD, STELE_CRASH_CHILD, dir.c_str(), sync ? "SYNC" : "ASYNC", c.c_str(),
          backend, static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string buf;
  char chunk[65536];
  bool ready = false, acked = false, killed = false;
  size_t ready_end = 0;
  const auto deadline = std::chrono::steady_clock::now() + kChildDeadline;
  auto kill_at = std::chrono::steady_clock::time_point::max();
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  while (true) {
    ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      if (!ready) {
        if (size_t p = buf.find("ready\n"); p != std::string::npos) {
          ready = true;
          ready_end = p + 6;
          kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
        }
      }
      // Lines are written whole, so any byte after "ready\n" means an acknowledged append.
      acked = acked || (ready && buf.size() > ready_end);
      continue;
    }
    if (n == 0) break;  // child gone and pipe drained
    const auto now = std::chrono::steady_clock::now();
    if (!killed && ((now >= kill_at && acked) || now >= deadline)) {
      kill(pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(ready) << "child never became ready; exit status " << status;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  std::map<int64_t, Acked> acks;
  std::istringstream in(buf);
  std::string line;
  while (std::getline(in, line)) {
    if (line == "ready") continue;
    std::istringstream ls(line);
    int64_t off;
    int c, t, i;
    Acked a;
    if (ls >> off >> c >> t >> i >> a.size >> a.queue_offset) {
      a.cycle = c;
      a.queue = t;
      a.body_seed = static_cast<uint64_t>(c * 100 + t);
      a.i = static_cast<uint64_t>(i);
      a.key = ChildKey(c, t, i);
      acks[off] = a;
    }
  }
  return acks;
}

using testing::CheckQueues;
using testing::PlacedRecord;
using testing::QueueNaming;
using testing::Reporter;
using testing::Tally;

// crash_child's queues: one topic, so messages name its queues by number.
testing::QueueLayout Layout() {
  testing::QueueLayout layout{.naming = QueueNaming::kNumber};
  for (int32_t q = 0; q < kQueues; ++q) layout.queues.emplace_back(std::string(kTopic), q);
  return layout;
}

// Empty if the record at commit-log offset `off` is the one Get returns at its queue offset and
// the only one QueryByKey returns for its key; otherwise what is wrong.
std::string QueueOrIndexProblem(const Store& s, int64_t off, int32_t queue, int64_t queue_offset,
                                std::string_view body, std::string_view key) {
  return testing::QueueOrIndexProblem(s,
                                      PlacedRecord{.offset = off,
                                                   .topic = kTopic,
                                                   .queue_id = queue,
                                                   .queue_offset = queue_offset,
                                                   .body = body,
                                                   .key = key},
                                      QueueNaming::kNumber);
}

// Appends one message to each queue of the reopened store and checks it continues the queue and
// is readable through Get (and the index) as soon as the dispatcher has it. Adds them to `all`.
void CheckAppendAfterRecovery(Store& s, int cycle, std::map<int64_t, Acked>* all, Reporter& rep,
                              Tally* tally) {
  for (int32_t q = 0; q < kQueues; ++q) {
    Acked a{.cycle = cycle,
            .queue = q,
            .body_seed = static_cast<uint64_t>(1000000 + cycle * 100 + q),
            .i = 0,
            .size = static_cast<size_t>(100 + q),
            .key = fmt::format("probe-{}-{}", cycle, q)};
    const std::string body = testing::Body(a.body_seed, a.i, a.size);
    const int64_t before = s.MaxQueueOffset(kTopic, q);
    auto r = s.Append(Message{.topic = kTopic, .queue_id = q, .body = body, .keys = a.key});
    if (!r.ok() || r->status != PutMessageStatus::kPutOk) {
      rep.Fail(&tally->problems, fmt::format("append after recovery to queue {} failed: {}", q,
                                             r.ok() ? std::string(PutMessageStatusName(r->status))
                                                    : r.status().ToString()));
      continue;
    }
    a.queue_offset = r->queue_offset;
    (*all)[r->wrote_offset] = a;
    if (r->queue_offset != before) {
      rep.Fail(&tally->problems,
               fmt::format("append after recovery to queue {} got queue offset {}, expected the "
                           "recovered max {}",
                           q, r->queue_offset, before));
    }
    testing::CheckDispatched(s,
                             PlacedRecord{.offset = r->wrote_offset,
                                          .topic = kTopic,
                                          .queue_id = q,
                                          .queue_offset = r->queue_offset,
                                          .body = body,
                                          .key = a.key},
                             QueueNaming::kNumber, rep, tally);
  }
}

void CrashLoop(bool sync, int cycles, uint64_t seed, const char* backend) {
  const std::string run = fmt::format("seed {} {} {}", seed, backend, sync ? "SYNC" : "ASYNC");
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/store";
  std::mt19937_64 rng(seed);
  std::map<int64_t, Acked> all;
  Tally tally;
  std::set<int64_t> unacked_seen;  // offsets of unacknowledged records the log kept
  cycles *= testing::SoakFactor();
  for (int cycle = 0; cycle < cycles; ++cycle) {
    Reporter rep(fmt::format("{} cycle {}", run, cycle));
    int delay = 30 + static_cast<int>(rng() % 300);
    auto acks = RunAndKill(dir, sync, cycle, delay, backend);
    EXPECT_GT(acks.size(), 0u) << rep.where() << ": acknowledged nothing";
    all.insert(acks.begin(), acks.end());
    // Reopen in this process and check every acknowledged record of every cycle so far.
    auto store = Store::Open(testing::SmallOptions(dir, NewDefaultFileSystem()));
    ASSERT_TRUE(store.ok()) << rep.where() << ": reopen failed: " << store.status();
    Store& s = **store;
    EXPECT_FALSE(s.recovery_report().clean_shutdown) << rep.where();
    for (const auto& [off, a] : all) {
      const std::string body = testing::Body(a.body_seed, a.i, a.size);
      auto rec = s.Read(off);
      std::string problem;
      if (!rec.ok()) {
        problem = "not in the log: " + rec.status().ToString();
      } else if (rec->msg.queue_id != a.queue || rec->msg.queue_offset != a.queue_offset ||
                 rec->msg.body != body) {
        problem = "the log holds different content";
      } else {
        problem = QueueOrIndexProblem(s, off, a.queue, a.queue_offset, body, a.key);
      }
      if (!problem.empty()) {
        rep.Fail(&tally.lost,
                 fmt::format("acknowledged record at {} (cycle {}, queue {}, queue offset {}) "
                             "lost: {}",
                             off, a.cycle, a.queue, a.queue_offset, problem));
      }
    }
    // Every record in the log (acknowledged or not) is in its queue and the index: recovery
    // dispatched all of it before Open returned.
    int64_t end = s.MinOffset();
    for (int64_t off = s.MinOffset(); off < s.MaxOffset();) {
      auto rec = s.Read(off);
      if (absl::IsNotFound(rec.status())) break;  // the log ends with a segment's BLANK filler
      if (!rec.ok()) {
        rep.Fail(&tally.problems,
                 fmt::format("unreadable record at {}: {}", off, rec.status().ToString()));
        break;
      }
      off = end = rec->next_offset;
      if (all.count(rec->offset)) continue;  // checked above
      unacked_seen.insert(rec->offset);
      const std::string key(rec->msg.Property(kPropertyKeys).value_or(""));
      if (std::string p = QueueOrIndexProblem(s, rec->offset, rec->msg.queue_id,
                                              rec->msg.queue_offset, rec->msg.body, key);
          !p.empty()) {
        rep.Fail(&tally.inconsistent,
                 fmt::format("unacknowledged record at {} is in the log but {}", rec->offset, p));
      }
    }
    EXPECT_GE(s.DispatchedOffset(), end)
        << rep.where() << ": Open returned before dispatching the log";
    CheckQueues(s, Layout(), nullptr, rep, &tally);
    // Queue offsets continue after the last acknowledged one.
    std::map<int, int64_t> max_qo;
    for (const auto& [off, a] : all) max_qo[a.queue] = std::max(max_qo[a.queue], a.queue_offset);
    for (const auto& [q, m] : max_qo) EXPECT_GT(s.NextQueueOffset(kTopic, q), m) << rep.where();
    CheckAppendAfterRecovery(s, cycle, &all, rep, &tally);
  }
  std::printf(
      "%s %s: %d kill -9 cycles, %zu acknowledged appends checked in log, queue and index after "
      "every recovery: %lld lost (summed over recoveries); %zu unacknowledged records kept by the "
      "log, %lld missing from their queue / index; %lld other problems; slowest dispatch after an "
      "append %.3f s\n",
      backend, sync ? "SYNC_FLUSH" : "ASYNC_FLUSH", cycles, all.size(),
      static_cast<long long>(tally.lost), unacked_seen.size(),
      static_cast<long long>(tally.inconsistent), static_cast<long long>(tally.problems),
      std::chrono::duration<double>(tally.slowest_wait).count());
  EXPECT_EQ(tally.lost, 0) << run << ": acknowledged messages lost";
  EXPECT_EQ(tally.inconsistent, 0) << run
                                   << ": records in the log missing from their queue or "
                                      "index";
  EXPECT_EQ(tally.problems, 0) << run;
}

// Under SYNC_FLUSH an acknowledged append is on disk; under ASYNC_FLUSH it is in the page cache,
// which a process kill does not lose either.
TEST(CrashTest, KillNineSyncFlushUring) { CrashLoop(true, 8, 1, "uring"); }
TEST(CrashTest, KillNineSyncFlushPosix) { CrashLoop(true, 6, 3, "posix"); }
TEST(CrashTest, KillNineAsyncFlushUring) { CrashLoop(false, 6, 2, "uring"); }

}  // namespace
}  // namespace stele
