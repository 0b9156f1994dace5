// Idempotent publish across kill -9 of the real mqbroker (SYNC_FLUSH): messages are acknowledged,
// the broker is SIGKILLed, and producer retries of every acknowledged message (on other queues,
// as the Java producer retries) are answered with the original msgId, queue and offset; nothing
// is stored twice. A second kill right after the retries checks the window rebuilt from a log
// that already went through one crash recovery. Fixed seed.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <string>

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
constexpr std::string_view kTopic = "IdemCrash";
constexpr int kQueues = 4;

struct Ack {
  std::string msg_id;
  std::string queue_id;
  std::string queue_offset;
  bool delayed = false;
};

class IdempotentCrashTest : public ::testing::Test {
 protected:
  // SEND_MESSAGE_V2; the answer's (msgId, queueId, queueOffset), or nullopt if not acknowledged.
  std::optional<Ack> Send(const std::string& body, int queue_id, bool delayed) {
    std::string props;
    AppendProperty(&props, kPropertyUniqKey, "U-" + body);
    if (delayed) AppendProperty(&props, "DELAY", "18");  // 2 h: stays parked during the test
    RemotingCommand req = RemotingCommand::Request(code::kSendMessageV2);
    req.Set("a", "IdemCrashProducer");
    req.Set("b", kTopic);
    req.Set("c", "TBW102");
    req.Set("d", fmt::format("{}", kQueues));
    req.Set("e", fmt::format("{}", queue_id));
    req.Set("f", "0");
    req.Set("g", fmt::format("{}", NowMs()));
    req.Set("h", "0");
    req.Set("i", props);
    req.Set("j", "0");
    req.Set("k", "false");
    req.body = body;
    auto resp = client_.InvokeSync(broker_->addr(), std::move(req), std::chrono::seconds(10));
    if (!resp.ok() || resp->code != rc::kSuccess) return std::nullopt;
    auto f = [&](std::string_view k) {
      const std::string* v = resp->Field(k);
      return v ? *v : std::string();
    };
    return Ack{f("msgId"), f("queueId"), f("queueOffset"), delayed};
  }

  // Body -> copies stored in kTopic (all queues).
  std::map<std::string, int> Stored() {
    std::map<std::string, int> out;
    for (int q = 0; q < kQueues; ++q) {
      for (int64_t offset = 0;;) {
        RemotingCommand req = RemotingCommand::Request(code::kPullMessage);
        req.Set("consumerGroup", "idem_crash_consumer");
        req.Set("topic", kTopic);
        req.Set("queueId", int64_t{q});
        req.Set("queueOffset", offset);
        req.Set("maxMsgNums", int64_t{32});
        req.Set("sysFlag", int64_t{4});
        req.Set("commitOffset", int64_t{0});
        req.Set("suspendTimeoutMillis", int64_t{0});
        req.Set("subscription", "*");
        req.Set("subVersion", int64_t{0});
        auto resp = client_.InvokeSync(broker_->addr(), std::move(req), std::chrono::seconds(10));
        if (!resp.ok() || resp->code != rc::kSuccess) break;
        std::string_view body = resp->body;
        while (!body.empty()) {
          MessageView m;
          std::string why;
          if (engine::DecodeRecord(body.data(), body.size(), true, &m, &why) !=
              engine::DecodeResult::kOk) {
            ADD_FAILURE() << why;
            return out;
          }
          ++out[std::string(m.body)];
          offset = m.queue_offset + 1;
          body.remove_prefix(m.total_size);
        }
      }
    }
    return out;
  }

  // Retries every acknowledged message on another queue; returns how many answers differ.
  int RetryAll(const std::map<std::string, Ack>& acked, std::mt19937& rng) {
    int mismatched = 0;
    for (const auto& [body, ack] : acked) {
      const int q = static_cast<int>(rng() % kQueues);
      auto again = Send(body, q, ack.delayed);
      if (!again || again->msg_id != ack.msg_id || again->queue_id != ack.queue_id ||
          again->queue_offset != ack.queue_offset) {
        ADD_FAILURE() << body << ": first " << ack.msg_id << " q" << ack.queue_id << "@"
                      << ack.queue_offset << ", retry "
                      << (again ? fmt::format("{} q{}@{}", again->msg_id, again->queue_id,
                                              again->queue_offset)
                                : std::string("not acknowledged"));
        ++mismatched;
      }
    }
    return mismatched;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_ =
      std::make_unique<BrokerProcess>(STELE_MQBROKER, dir_.path(), /*sync_flush=*/true);
  remoting::RemotingClient client_{remoting::ClientOptions{.io_threads = 1, .name = "idem"}};
};

TEST_F(IdempotentCrashTest, RetriesAfterKillNineStoreNoDuplicate) {
  std::mt19937 rng(20261126);
  ASSERT_TRUE(broker_->Start(kStartTimeout).ok()) << broker_->Log();
  constexpr int kCount = 300;
  std::map<std::string, Ack> acked;
  for (int i = 0; i < kCount; ++i) {
    const std::string body = fmt::format("m{}", i);
    const bool delayed = rng() % 10 == 0;
    if (auto a = Send(body, static_cast<int>(rng() % kQueues), delayed)) acked[body] = *a;
  }
  ASSERT_EQ(acked.size(), static_cast<size_t>(kCount));
  broker_->Kill();
  ASSERT_TRUE(broker_->Start(kStartTimeout).ok()) << broker_->Log();
  EXPECT_NE(broker_->Log().find(fmt::format("idempotent publish: {} records", kCount)),
            std::string::npos)
      << broker_->Log();
  EXPECT_EQ(RetryAll(acked, rng), 0);
  // Again, on a log that has been through one crash recovery and holds no new record.
  broker_->Kill();
  ASSERT_TRUE(broker_->Start(kStartTimeout).ok()) << broker_->Log();
  EXPECT_EQ(RetryAll(acked, rng), 0);

  const std::map<std::string, int> stored = Stored();
  int missing = 0, duplicated = 0, immediate = 0;
  for (const auto& [body, ack] : acked) {
    if (ack.delayed) {
      EXPECT_FALSE(stored.contains(body)) << body << " is parked for 2 h";
      continue;
    }
    ++immediate;
    auto it = stored.find(body);
    if (it == stored.end()) {
      ++missing;
    } else if (it->second > 1) {
      ++duplicated;
    }
  }
  std::printf("idempotent kill -9: %d acknowledged (%d immediate), %d missing, %d duplicated\n",
              kCount, immediate, missing, duplicated);
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(stored.size(), static_cast<size_t>(immediate));
}

}  // namespace
}  // namespace stele::testing
