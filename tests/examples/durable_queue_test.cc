// The durable_queue example under kill -9: the real binary is run on one data directory, killed
// with SIGKILL at seeded points several times, then run to completion. Every message must then
// have been produced once and consumed once, in order, per topic.
//
// Kill points are deterministic triggers, not delays: "this run has added 1..60 more lines to
// consumed.log" (the count drawn from a seeded generator, so the consumer is interrupted
// mid-stream, possibly mid-write), and once "the program has just opened the store" (so a restart
// is interrupted during startup). When exactly the kill lands after its trigger varies from run to
// run; what must hold after every kill does not.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "stele/store.h"
#include "testutil.h"

extern char** environ;

namespace stele {
namespace {

constexpr int kMessages = 300;  // per topic
constexpr int kTopics = 3;
constexpr int kTotal = kMessages * kTopics;
// A cycle that reaches no trigger within this long has hung.
constexpr auto kCycleLimit = std::chrono::seconds(60);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int CompleteLines(const std::string& path) {
  const std::string s = ReadFile(path);
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

struct Outcome {
  int status = 0;       // from waitpid
  bool killed = false;  // by us, on the trigger
  std::string output;   // stdout + stderr
};

// Starts durable_queue on `dir` and waits until it exits or `trigger` holds; then kills it with
// SIGKILL. A null trigger lets it run to the end.
Outcome RunExample(const std::string& dir, const std::string& out_path,
                   const std::function<bool()>& trigger) {
  const std::string messages = std::to_string(kMessages), topics = std::to_string(kTopics);
  std::vector<const char*> argv = {
      STELE_DURABLE_QUEUE, dir.c_str(),    "--messages", messages.c_str(),
      "--topics",          topics.c_str(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, STELE_DURABLE_QUEUE, &fa, nullptr,
                             const_cast<char* const*>(argv.data()), environ);
  posix_spawn_file_actions_destroy(&fa);
  Outcome run;
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn " << STELE_DURABLE_QUEUE << ": " << rc;
    return run;
  }
  const auto deadline = std::chrono::steady_clock::now() + kCycleLimit;
  while (true) {
    if (waitpid(pid, &run.status, WNOHANG) == pid) break;
    const bool hung = std::chrono::steady_clock::now() > deadline;
    if (hung || (trigger && trigger())) {
      kill(pid, SIGKILL);
      waitpid(pid, &run.status, 0);
      run.killed = !hung;
      if (hung) {
        ADD_FAILURE() << "durable_queue neither finished nor reached its kill trigger in "
                      << kCycleLimit.count() << " s";
      }
      break;
    }
    // The child's progress is only visible in its files; look again in a millisecond.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  run.output = ReadFile(out_path);
  return run;
}

// Checks that consumed.log's complete lines are, per topic, exactly queue offsets 0, 1, ... with
// seq == queue offset. Returns the number of lines per topic.
std::map<std::string, int> CheckConsumed(const std::string& path) {
  std::map<std::string, int> next;
  std::istringstream in(ReadFile(path));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no '\n': a torn tail, which the next run cuts off
    ++n;
    std::istringstream ls(line);
    std::string topic;
    int queue = -1;
    long long offset = -1, seq = -1;
    std::string rest;
    if (!(ls >> topic >> queue >> offset >> seq) || (ls >> rest) || queue != 0) {
      ADD_FAILURE() << "line " << n << " is malformed: \"" << line << "\"";
      continue;
    }
    int& expect = next[topic];
    if (offset != expect || seq != expect) {
      ADD_FAILURE() << "line " << n << ": " << topic << " consumed seq " << seq << " (offset "
                    << offset << "), expected " << expect
                    << (seq < expect ? ": repeated" : ": gap");
    }
    expect = static_cast<int>(std::max<long long>(expect, offset + 1));
  }
  return next;
}

TEST(DurableQueueExampleTest, KillNineLosesAndRepeatsNothing) {
  testing::TempDir tmp;
  const std::string dir = tmp.path() + "/data", consumed = dir + "/consumed.log";
  std::mt19937_64 rng(20240611);
  int torn_tails = 0;
  constexpr int kCycles = 6;
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    const std::string out = tmp.path() + "/run" + std::to_string(cycle) + ".out";
    std::function<bool()> trigger;
    std::string what;
    if (cycle == 2) {
      // Interrupt a restart: right after the store is open and recovered, before much else.
      trigger = [&] { return ReadFile(out).find("store: opened") != std::string::npos; };
      what = "just after opening the store";
    } else {
      // After this run has consumed 1..60 more messages (seeded). A kill lands a little after
      // its trigger, so leave the run plenty of stream to be killed in before it could finish.
      const int target =
          std::min(CompleteLines(consumed) + 1 + static_cast<int>(rng() % 60), kTotal * 9 / 10);
      trigger = [&, target] { return CompleteLines(consumed) >= target; };
      what = "at " + std::to_string(target) + " consumed lines";
    }
    Outcome run = RunExample(dir, out, trigger);
    ASSERT_TRUE(run.killed && WIFSIGNALED(run.status) && WTERMSIG(run.status) == SIGKILL)
        << "cycle " << cycle << " (kill " << what << ") ended with status " << run.status
        << "; output:\n"
        << run.output;
    if (run.output.find("torn tail") != std::string::npos) ++torn_tails;
    const auto lines = CheckConsumed(consumed);
    int total = 0;
    for (const auto& [topic, n] : lines) total += n;
    std::printf("cycle %d: killed %s; consumed.log holds %d complete lines\n", cycle, what.c_str(),
                total);
    ASSERT_FALSE(HasFailure()) << "after cycle " << cycle << "; output:\n" << run.output;
  }

  Outcome last = RunExample(dir, tmp.path() + "/final.out", nullptr);
  ASSERT_TRUE(WIFEXITED(last.status) && WEXITSTATUS(last.status) == 0)
      << "final run status " << last.status << "; output:\n"
      << last.output;
  EXPECT_NE(last.output.find("produced and consumed exactly once"), std::string::npos)
      << last.output;
  if (last.output.find("torn tail") != std::string::npos) ++torn_tails;
  std::printf("%d kill -9 cycles, %d restarts cut a torn consumed.log line\n", kCycles, torn_tails);

  // Consumed: every seq of every topic exactly once, in order, and nothing else.
  const auto lines = CheckConsumed(consumed);
  const std::string text = ReadFile(consumed);
  EXPECT_TRUE(!text.empty() && text.back() == '\n') << "consumed.log ends with a torn line";
  ASSERT_EQ(lines.size(), static_cast<size_t>(kTopics));
  for (int t = 0; t < kTopics; ++t) {
    EXPECT_EQ(lines.at("DurableQueue" + std::to_string(t)), kMessages) << "topic " << t;
  }

  // Produced: each topic's queue holds seq 0..kMessages-1 exactly once, in order, with the
  // example's tags and keys.
  StoreOptions opts;  // as the example opens it
  opts.store_path_root_dir = dir + "/store";
  opts.flush_disk_type = FlushDiskType::kSyncFlush;
  opts.mapped_file_size_commit_log = 16ull << 20;
  opts.max_hash_slot_num = 100000;
  opts.max_index_num = 400000;
  auto store = Store::Open(opts);
  ASSERT_TRUE(store.ok()) << store.status();
  for (int t = 0; t < kTopics; ++t) {
    const std::string topic = "DurableQueue" + std::to_string(t);
    EXPECT_EQ((*store)->NextQueueOffset(topic, 0), kMessages) << topic;
    int64_t next = 0;
    while (next < kMessages) {
      auto got = (*store)->Get(topic, 0, next, {.max_messages = 64});
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->status, GetMessageStatus::kFound)
          << topic << " at " << next << ": " << GetMessageStatusName(got->status);
      for (const RecordRef& rec : got->messages) {
        EXPECT_EQ(rec.msg.queue_offset, next);
        EXPECT_EQ(rec.msg.body, std::to_string(next)) << topic;
        EXPECT_EQ(rec.msg.Property(kPropertyTags), next % 2 == 0 ? "even" : "odd");
        EXPECT_EQ(rec.msg.Property(kPropertyKeys),
                  "order-" + std::to_string(t) + "-" + std::to_string(next));
        ++next;
      }
    }
  }
}

}  // namespace
}  // namespace stele
