// LOCK_BATCH_MQ / UNLOCK_BATCH_MQ against a running broker (no name server), over TCP with a
// RemotingClient: grants, contention between two clients of a group, renewal, unlock, locks that
// survive the holder's connection closing (RocketMQ lets them expire instead), and malformed
// bodies answered with an error while the broker keeps serving.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/live_broker_test.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele::broker {
namespace {

using json = nlohmann::json;
using remoting::RemotingCommand;
using namespace remoting::response;
namespace request = remoting::request;

json Mq(int queue_id, const std::string& topic = "TopicOrder") {
  return {{"topic", topic}, {"brokerName", "broker-a"}, {"queueId", queue_id}};
}

json Body(const std::string& client_id, std::vector<json> mqs, const std::string& group = "GO") {
  return {{"consumerGroup", group},
          {"clientId", client_id},
          {"onlyThisBroker", false},
          {"mqSet", std::move(mqs)}};
}

class LockProcessorTest : public LiveBrokerTest {
 protected:
  void SetUp() override { StartBroker(); }

  RemotingCommand Call(int32_t code, std::string body, remoting::RemotingClient* client = nullptr) {
    RemotingCommand req = RemotingCommand::Request(code);
    req.body = std::move(body);
    auto resp =
        (client ? *client : client_).InvokeSync(addr_, std::move(req), std::chrono::seconds(10));
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *std::move(resp) : RemotingCommand{};
  }

  // The queue ids in the LOCK reply (which must be SUCCESS with a LockBatchResponseBody).
  std::vector<int> Lock(const json& body, remoting::RemotingClient* client = nullptr) {
    RemotingCommand resp = Call(request::kLockBatchMq, body.dump(), client);
    EXPECT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
    std::vector<int> ids;
    json j = json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object() && j["lockOKMQSet"].is_array()) << resp.body;
    if (!j.is_object() || !j["lockOKMQSet"].is_array()) return ids;
    for (const json& mq : j["lockOKMQSet"]) {
      EXPECT_EQ(mq["topic"], "TopicOrder");
      EXPECT_EQ(mq["brokerName"], "broker-a");
      ids.push_back(mq["queueId"].get<int>());
    }
    return ids;
  }
  void Unlock(const json& body) {
    RemotingCommand resp = Call(request::kUnlockBatchMq, body.dump());
    EXPECT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  }
};

TEST_F(LockProcessorTest, LockContendUnlockAndRelock) {
  using V = std::vector<int>;
  EXPECT_EQ(Lock(Body("c1", {Mq(1), Mq(0), Mq(1)})), (V{0, 1}));
  // Another client of the group gets only the free queue; another group is independent.
  EXPECT_EQ(Lock(Body("c2", {Mq(0), Mq(1), Mq(2)})), (V{2}));
  EXPECT_EQ(Lock(Body("c2", {Mq(0)}, "OtherGroup")), (V{0}));
  // The holder re-locking (every 20 s in real clients) keeps its queues.
  EXPECT_EQ(Lock(Body("c1", {Mq(0), Mq(1), Mq(2)})), (V{0, 1}));
  // c2 cannot release c1's lock; c1 can, and then c2 gets the queue at once.
  Unlock(Body("c2", {Mq(0)}));
  EXPECT_EQ(Lock(Body("c2", {Mq(0)})), V{});
  Unlock(Body("c1", {Mq(0)}));
  EXPECT_EQ(Lock(Body("c2", {Mq(0)})), (V{0}));
  EXPECT_EQ(Lock(Body("c1", {})), V{});
  EXPECT_EQ(broker_->rebalance_locks().size(), 4u);
}

TEST_F(LockProcessorTest, LocksOutliveTheHoldersConnection) {
  {
    remoting::RemotingClient other;
    EXPECT_EQ(Lock(Body("c1", {Mq(0)}), &other), std::vector<int>{0});
    other.Shutdown();  // closes c1's connection; RocketMQ keeps the lock until it expires
  }
  EXPECT_EQ(Lock(Body("c2", {Mq(0)})), std::vector<int>{});
}

TEST_F(LockProcessorTest, MalformedBodiesGetAnErrorAndTheBrokerKeepsServing) {
  const std::string bad[] = {
      "",
      "not json",
      R"({"clientId":"c1","mqSet":[]})",
      R"({"consumerGroup":"bad/group","clientId":"c1","mqSet":[]})",
      R"({"consumerGroup":"GO","mqSet":[]})",
      R"({"consumerGroup":"GO","clientId":"c1","mqSet":[{"topic":"T","brokerName":"b"}]})",
      R"({"consumerGroup":"GO","clientId":"c1","mqSet":"x"})",
  };
  for (int32_t code : {request::kLockBatchMq, request::kUnlockBatchMq}) {
    for (const std::string& body : bad) {
      RemotingCommand resp = Call(code, body);
      EXPECT_EQ(resp.code, kSystemError) << code << " " << body;
      EXPECT_TRUE(resp.remark.value_or("").starts_with("lock batch body"))
          << resp.remark.value_or("");
    }
  }
  EXPECT_EQ(Lock(Body("c1", {Mq(3)})), std::vector<int>{3});
  EXPECT_EQ(broker_->rebalance_locks().size(), 1u);
}

}  // namespace
}  // namespace stele::broker
