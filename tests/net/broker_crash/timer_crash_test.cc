// Timer messages across kill -9 of the real mqbroker (SYNC_FLUSH): timers are acknowledged, the
// broker is SIGKILLed while some are delivered and others still wait (and again after the restart,
// mid-delivery), and in the end every acknowledged timer is in its real topic: none lost (a timer
// may be delivered twice only across a crash), none before its time minus the precision.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "broker_process.h"
#include "common/clock.h"
#include "engine/record.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "stele/message.h"
#include "testutil.h"

namespace stele::testing {
namespace {

using remoting::RemotingCommand;
namespace code = remoting::request;
namespace rc = remoting::response;

constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr std::string_view kTopic = "TimerCrash";

class TimerCrashTest : public ::testing::Test {
 protected:
  // SEND_MESSAGE_V2 of body `body` due at `due`; true when acknowledged.
  bool Send(const std::string& body, int64_t due) {
    std::string props;
    AppendProperty(&props, kPropertyUniqKey, body);
    AppendProperty(&props, "TIMER_DELIVER_MS", fmt::format("{}", due));
    RemotingCommand req = RemotingCommand::Request(code::kSendMessageV2);
    req.Set("a", "TimerCrashProducer");
    req.Set("b", kTopic);
    req.Set("c", "TBW102");
    req.Set("d", "1");
    req.Set("e", "0");
    req.Set("f", "0");
    req.Set("g", fmt::format("{}", NowMs()));
    req.Set("h", "0");
    req.Set("i", props);
    req.Set("j", "0");
    req.Set("k", "false");
    req.body = body;
    auto resp = client_.InvokeSync(broker_->addr(), std::move(req), std::chrono::seconds(10));
    return resp.ok() && resp->code == rc::kSuccess;
  }

  // Body -> (copies, earliest store time) in kTopic queue 0.
  std::map<std::string, std::pair<int, int64_t>> Delivered() {
    std::map<std::string, std::pair<int, int64_t>> out;
    for (int64_t offset = 0;;) {
      RemotingCommand req = RemotingCommand::Request(code::kPullMessage);
      req.Set("consumerGroup", "timer_crash_consumer");
      req.Set("topic", kTopic);
      req.Set("queueId", int64_t{0});
      req.Set("queueOffset", offset);
      req.Set("maxMsgNums", int64_t{32});
      req.Set("sysFlag", int64_t{4});
      req.Set("commitOffset", int64_t{0});
      req.Set("suspendTimeoutMillis", int64_t{0});
      req.Set("subscription", "*");
      req.Set("subVersion", int64_t{0});
      auto resp = client_.InvokeSync(broker_->addr(), std::move(req), std::chrono::seconds(10));
      if (!resp.ok() || resp->code != rc::kSuccess) return out;
      std::string_view body = resp->body;
      while (!body.empty()) {
        MessageView m;
        std::string why;
        if (engine::DecodeRecord(body.data(), body.size(), true, &m, &why) !=
            engine::DecodeResult::kOk) {
          ADD_FAILURE() << why;
          return out;
        }
        auto& [copies, first] = out[std::string(m.body)];
        first = copies == 0 ? m.store_timestamp : std::min(first, m.store_timestamp);
        ++copies;
        offset = m.queue_offset + 1;
        body.remove_prefix(m.total_size);
      }
    }
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_ =
      std::make_unique<BrokerProcess>(STELE_MQBROKER, dir_.path(), /*sync_flush=*/true);
  remoting::RemotingClient client_{remoting::ClientOptions{.io_threads = 1, .name = "timer"}};
};

TEST_F(TimerCrashTest, KillNineLosesNoTimer) {
  ASSERT_TRUE(broker_->Start(kStartTimeout).ok()) << broker_->Log();
  constexpr int kCount = 400;
  std::map<std::string, int64_t> due;  // acknowledged timers
  const int64_t base = NowMs() + 1500;
  for (int i = 0; i < kCount; ++i) {
    const std::string body = fmt::format("t{}", i);
    const int64_t at = base + (i % 40) * 100;  // 1.5 s .. 5.4 s ahead
    if (Send(body, at)) due[body] = at;
  }
  ASSERT_EQ(due.size(), static_cast<size_t>(kCount));
  // First kill: while the first slots are being delivered and most timers still wait.
  while (NowMs() < base + 500) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  broker_->Kill();
  ASSERT_TRUE(broker_->Start(kStartTimeout).ok()) << broker_->Log();
  // Second kill: mid-delivery after the restart (its wheel was rebuilt from the timer log).
  while (NowMs() < base + 2500) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  broker_->Kill();
  ASSERT_TRUE(broker_->Start(kStartTimeout).ok()) << broker_->Log();

  std::map<std::string, std::pair<int, int64_t>> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    got = Delivered();
    if (got.size() >= due.size()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  int lost = 0, duplicated = 0, early = 0;
  for (const auto& [body, at] : due) {
    auto it = got.find(body);
    if (it == got.end()) {
      ++lost;
      continue;
    }
    duplicated += it->second.first > 1 ? 1 : 0;
    early += it->second.second < at - 1000 ? 1 : 0;
  }
  std::printf("timer kill -9: %d acknowledged, %d lost, %d delivered twice, %d early\n", kCount,
              lost, duplicated, early);
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(early, 0);
  EXPECT_NE(broker_->Log().find("timer wheel rebuilt"), std::string::npos) << broker_->Log();
}

}  // namespace
}  // namespace stele::testing
