// Server-level crash tests: the real mqbroker (1 MiB commit-log segments) as a child process,
// four producers sending to two topics over their own connections, and the broker stopped under
// them at seeded random moments:
//
//   KillNine:  SYNC_FLUSH. SIGKILL while sends are in flight, restart on the same store and port,
//              several times per seed; before some restarts also a start killed part-way through
//              (recovery, consume-queue rebuild). Producers keep sending (and resending what was
//              not acknowledged) across the restarts. Each restart must report an unclean
//              shutdown.
//   CleanStop: SYNC_FLUSH. SIGTERM while sends are in flight; the broker must exit 0 after its
//              clean shutdown, and the restart must report a clean one.
//   KillNineAsyncFlush: KillNine under ASYNC_FLUSH, one seed.
//
// Finally a consumer pulls every queue from offset 0 and every acknowledged msgId must be there
// with its key, body, queue and queue offset (see workload.h for the exact checks); copies of
// unacknowledged attempts are allowed. A kill -9 does not lose the page cache, so this finds
// acknowledgements sent before the record reached the file and recovery bugs, not missing fsyncs
// (the engine's power-loss tests cover those).
//
// Seeds are fixed; STELE_SOAK=n multiplies the number of stops per seed. STELE_TEST_VERBOSE=1
// prints every start's broker log.
#include <signal.h>
#include <sys/wait.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <thread>

#include "broker_process.h"
#include "net/remoting/transport.h"
#include "testutil.h"
#include "workload.h"

namespace stele::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSenders = 4;
constexpr int kQueues = 4;
// Topic 0 is created with UPDATE_AND_CREATE_TOPIC, topic 1 by the first send (autoCreateTopic).
const std::vector<std::string> kTopics = {"CrashTopicA", "CrashTopicB"};
// Start-up includes recovery; under ASan on a loaded 2-core machine it can take seconds.
constexpr std::chrono::milliseconds kStartTimeout{60000};
constexpr std::chrono::milliseconds kStopTimeout{30000};
// The longest we wait for the producers to get an acknowledgement from a running broker.
constexpr std::chrono::seconds kAckDeadline{30};
constexpr int kMinDelayMs = 200;
constexpr int kMaxDelayMs = 1500;
// Acknowledgements wanted after the last restart, so the check also covers sends to a recovered
// broker; and the least a seed must acknowledge in all, so it cannot pass vacuously.
constexpr int64_t kAcksAfterLastStart = 50;
constexpr int64_t kMinAcked = 500;
// ... and so that the commit log rolls twice.
constexpr int64_t kMinLogBytes = 2 * BrokerProcess::kSegmentBytes;
constexpr std::chrono::seconds kFinalDeadline{60};

// "recovery (posix, unclean shutdown, no checkpoint): ..." -> "unclean"; "" if no such line.
std::string RecoveryKind(const std::string& log) {
  static const std::regex re(R"(recovery \([^,]+, (clean|unclean) shutdown)");
  std::smatch m;
  return std::regex_search(log, m, re) ? m[1].str() : std::string();
}

std::string Tail(const std::string& s, size_t lines) {
  size_t pos = s.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    pos = s.rfind('\n', pos - 1);
    if (pos == std::string::npos) return s;
  }
  return s.substr(pos + 1);
}

// Waits until `w` has acknowledged more than `after` messages, and not before `not_before`.
// False if no new acknowledgement came within kAckDeadline.
bool WaitForAcks(const SendWorkload& w, int64_t after, Clock::time_point not_before) {
  const auto deadline = Clock::now() + kAckDeadline;
  while (Clock::now() < not_before || w.acked() <= after) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

enum class StopKind { kKill, kTerm };

struct Scenario {
  StopKind kind = StopKind::kKill;
  int stops = 3;  // times STELE_SOAK
  bool sync_flush = true;
  // Before each restart after a kill, with probability 1/2, also start the broker and SIGKILL it
  // at a seeded moment of its start-up (recovery, consume-queue rebuild, ...).
  bool kill_during_startup = false;
};

class BrokerCrashTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (broker_ == nullptr) return;
    if (std::getenv("STELE_TEST_VERBOSE") != nullptr) {
      for (int n = 1; n <= broker_->starts(); ++n) {
        std::fprintf(stderr, "--- the broker's log, start %d ---\n%s\n", n,
                     broker_->Log(n).c_str());
      }
    } else if (HasFailure() && broker_->starts() > 0) {
      std::fprintf(stderr, "--- last lines of the broker's log (start %d) ---\n%s\n",
                   broker_->starts(), Tail(broker_->Log(), 40).c_str());
    }
    broker_->Kill();  // never leave a broker behind, whatever failed
  }

  void Run(uint64_t seed, Scenario sc);

  TempDir tmp_;
  std::unique_ptr<BrokerProcess> broker_;
};

void BrokerCrashTest::Run(uint64_t seed, Scenario sc) {
  const char* what = sc.kind == StopKind::kKill ? "SIGKILL" : "SIGTERM";
  const char* flush = sc.sync_flush ? "SYNC_FLUSH" : "ASYNC_FLUSH";
  const auto t0 = Clock::now();
  std::mt19937_64 rng(seed);
  const int stops = sc.stops * SoakFactor();
  broker_ = std::make_unique<BrokerProcess>(STELE_MQBROKER, tmp_.path(), sc.sync_flush);
  ASSERT_TRUE(broker_->Start(kStartTimeout).ok()) << broker_->Log();
  remoting::RemotingClient admin(remoting::ClientOptions{.name = "crash-admin"});
  ASSERT_TRUE(CreateTopic(admin, broker_->addr(), kTopics[0], kQueues).ok());

  SendWorkload w(broker_->addr(), seed, kSenders, kTopics, kQueues);
  w.Start();
  int64_t inflight_at_stops = 0;
  int startup_kills = 0, startup_kills_after_boot = 0;
  for (int i = 0; i < stops; ++i) {
    const int delay = kMinDelayMs + static_cast<int>(rng() % (kMaxDelayMs - kMinDelayMs + 1));
    // Stop `delay` ms after this start, and only once this start acknowledged something (a slow
    // machine must not make a cycle vacuous).
    ASSERT_TRUE(WaitForAcks(w, w.acked(), Clock::now() + std::chrono::milliseconds(delay)))
        << "seed " << seed << " stop " << i << ": no send acknowledged by a running broker";
    inflight_at_stops += w.inflight();
    if (sc.kind == StopKind::kKill) {
      const int status = broker_->Kill();
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
      if (sc.kill_during_startup && rng() % 2 == 0) {
        // Somewhere in [0, 1.5 x the slowest full start so far).
        const auto span = static_cast<uint64_t>(broker_->slowest_start_seconds() * 1500) + 1;
        auto booted = broker_->StartAndKillAfter(std::chrono::milliseconds(rng() % span));
        ASSERT_TRUE(booted.ok()) << booted.status();
        ++startup_kills;
        startup_kills_after_boot += *booted ? 1 : 0;
      }
    } else {
      auto status = broker_->Stop(kStopTimeout);
      ASSERT_TRUE(status.ok()) << status.status();
      EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << "mqbroker did not exit 0 after SIGTERM (wait status " << *status << "); log:\n"
          << Tail(broker_->Log(), 40);
      EXPECT_NE(broker_->Log().find("broker stopped cleanly"), std::string::npos);
    }
    const uint16_t port = broker_->port();
    ASSERT_TRUE(broker_->Start(kStartTimeout).ok()) << broker_->Log();
    if (broker_->port() != port) w.SetAddr(broker_->addr());  // port taken meanwhile: rare
    EXPECT_EQ(RecoveryKind(broker_->Log()), sc.kind == StopKind::kKill ? "unclean" : "clean")
        << "seed " << seed << " restart " << i + 1 << " after " << what << "; log:\n"
        << Tail(broker_->Log(), 20);
  }
  // The recovered broker takes new messages (and the resends of those the stop cut off). Keep
  // sending until the seed has enough acknowledgements and the log has rolled twice, however
  // slow the machine (bounded by kFinalDeadline).
  const int64_t before_last = w.acked();
  const auto final_deadline = Clock::now() + kFinalDeadline;
  while (w.acked() < std::max(before_last + kAcksAfterLastStart, kMinAcked) ||
         w.max_acked_offset() < kMinLogBytes) {
    ASSERT_LT(Clock::now(), final_deadline)
        << "seed " << seed << ": after the last restart the broker acknowledged "
        << w.acked() - before_last << " messages; " << w.acked()
        << " in all, the last at commit-log offset " << w.max_acked_offset();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  w.Stop();

  const VerifyReport r = VerifyAll(w, admin, broker_->addr());
  auto status = broker_->Stop(kStopTimeout);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf(
      "seed %llu, %d x %s under %s load (%lld sends in flight at the stops; %d kills during "
      "start-up, %d of them after boot): %lld attempts, %lld acknowledged, %lld transport "
      "failures, %lld FLUSH_DISK_TIMEOUT, %lld other error replies; %s; %d segment files, slowest "
      "start %.2f s [%.1f s]\n",
      static_cast<unsigned long long>(seed), stops, what, flush,
      static_cast<long long>(inflight_at_stops), startup_kills, startup_kills_after_boot,
      static_cast<long long>(w.attempts()), static_cast<long long>(w.acked()),
      static_cast<long long>(w.transport_failures()), static_cast<long long>(w.flush_timeouts()),
      static_cast<long long>(w.error_replies()), r.Summary().c_str(), broker_->CommitLogSegments(),
      broker_->slowest_start_seconds(), secs);
  for (const auto& d : r.details) std::printf("  %s\n", d.c_str());
  EXPECT_TRUE(r.ok()) << r.Summary();
  EXPECT_EQ(r.lost, 0) << "acknowledged messages lost";
  EXPECT_GE(r.acked, kMinAcked) << "too few acknowledged messages for a meaningful check";
  EXPECT_GE(r.log_end, kMinLogBytes) << "the consumer did not read past two segments";
}

class BrokerCrashSeeds : public BrokerCrashTest, public ::testing::WithParamInterface<uint64_t> {};

// kill -9 at random moments of serving (and of start-up); three restarts per seed.
TEST_P(BrokerCrashSeeds, KillNine) {
  Run(GetParam(), {.kind = StopKind::kKill, .stops = 3, .kill_during_startup = true});
}

// SIGTERM at random moments; two clean restarts per seed.
TEST_P(BrokerCrashSeeds, CleanStop) { Run(GetParam(), {.kind = StopKind::kTerm, .stops = 2}); }

INSTANTIATE_TEST_SUITE_P(Seeds, BrokerCrashSeeds, ::testing::Values(1u, 2u, 3u));

// Under ASYNC_FLUSH an acknowledged message is in the page cache, which kill -9 does not lose
// either (only power loss does).
TEST_F(BrokerCrashTest, KillNineAsyncFlush) {
  Run(4, {.kind = StopKind::kKill, .stops = 3, .sync_flush = false, .kill_during_startup = true});
}

}  // namespace
}  // namespace stele::testing
