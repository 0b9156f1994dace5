// Crash with a real process: a child appends with four threads and reports every acknowledged
// append through a pipe; the parent kills it with SIGKILL at a seeded random moment, reopens the
// store and checks that every acknowledged record is present and intact. Several cycles on the
// same store, so recovery also runs over the previous cycles' recoveries.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "stele/store.h"
#include "testutil.h"

namespace stele {
namespace {

struct Acked {
  int cycle, thread, i;
  size_t size;
  int64_t queue_offset;
};

// Runs one child until killed `delay_ms` after it is ready; returns its acknowledged appends.
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
  bool ready = false;
  auto killed_at = std::chrono::steady_clock::time_point::max();
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  while (true) {
    ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      if (!ready && buf.find("ready\n") != std::string::npos) {
        ready = true;
        killed_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
      }
      continue;
    }
    if (n == 0) break;  // child gone and pipe drained
    if (std::chrono::steady_clock::now() >= killed_at) {
      kill(pid, SIGKILL);
      killed_at = std::chrono::steady_clock::time_point::max();
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
    Acked a;
    if (ls >> off >> a.cycle >> a.thread >> a.i >> a.size >> a.queue_offset) acks[off] = a;
  }
  return acks;
}

void CrashLoop(bool sync, int cycles, uint64_t seed, const char* backend) {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/store";
  std::mt19937_64 rng(seed);
  std::map<int64_t, Acked> all;
  int64_t lost = 0;
  cycles *= testing::SoakFactor();
  for (int cycle = 0; cycle < cycles; ++cycle) {
    int delay = 30 + static_cast<int>(rng() % 300);
    auto acks = RunAndKill(dir, sync, cycle, delay, backend);
    EXPECT_GT(acks.size(), 0u) << "cycle " << cycle << " acknowledged nothing";
    all.insert(acks.begin(), acks.end());
    // Reopen in this process and check every acknowledged record of every cycle so far.
    auto store = Store::Open(testing::SmallOptions(dir, NewDefaultFileSystem()));
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_FALSE((*store)->recovery_report().clean_shutdown);
    for (const auto& [off, a] : all) {
      auto rec = (*store)->Read(off);
      bool ok = rec.ok() && rec->msg.queue_id == a.thread &&
                rec->msg.queue_offset == a.queue_offset &&
                rec->msg.body == testing::Body(a.cycle * 100 + a.thread, a.i, a.size);
      if (!ok) {
        ++lost;
        ADD_FAILURE() << "acknowledged record at " << off << " (cycle " << a.cycle
                      << ") lost: " << (rec.ok() ? "content differs" : rec.status().ToString());
      }
    }
    // Queue offsets continue after the last acknowledged one.
    std::map<int, int64_t> max_qo;
    for (const auto& [off, a] : all) max_qo[a.thread] = std::max(max_qo[a.thread], a.queue_offset);
    for (const auto& [q, m] : max_qo) EXPECT_GT((*store)->NextQueueOffset("crash", q), m);
  }
  std::printf("%s %s: %d kill -9 cycles, %zu acknowledged appends checked, %lld lost\n", backend,
              sync ? "SYNC_FLUSH" : "ASYNC_FLUSH", cycles, all.size(),
              static_cast<long long>(lost));
  EXPECT_EQ(lost, 0);
}

// Under SYNC_FLUSH an acknowledged append is on disk; under ASYNC_FLUSH it is in the page cache,
// which a process kill does not lose either.
TEST(CrashTest, KillNineSyncFlushUring) { CrashLoop(true, 8, 1, "uring"); }
TEST(CrashTest, KillNineSyncFlushPosix) { CrashLoop(true, 6, 3, "posix"); }
TEST(CrashTest, KillNineAsyncFlushUring) { CrashLoop(false, 6, 2, "uring"); }

}  // namespace
}  // namespace stele
