// A broker on 127.0.0.1 (ephemeral port, temp store, SYNC_FLUSH) for the PopService suites, with
// synchronous helpers around its PopService.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/pop_service.h"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele::broker {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class PopTest : public ::testing::Test {
 protected:
  void SetUp() override { StartBroker(); }
  void TearDown() override {
    if (broker_) broker_->Shutdown();
  }

  void StartBroker() {
    BrokerConfig c;
    c.store_path_root_dir = dir_.path();
    c.broker_ip1 = "127.0.0.1";
    c.bind_address = "127.0.0.1";
    c.listen_port = 0;
    c.store = testing::SmallOptions(dir_.path(), NewPosixFileSystem());
    ASSERT_TRUE(c.Finalize().ok());
    auto b = BrokerController::Create(std::move(c));
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(*b);
    ASSERT_TRUE(broker_->Start().ok());
  }
  void Restart() {
    broker_->Shutdown();
    broker_.reset();
    StartBroker();
  }

  void CreateTopic(const std::string& name, int queues) {
    TopicConfig t;
    t.topic_name = name;
    t.read_queue_nums = queues;
    t.write_queue_nums = queues;
    ASSERT_TRUE(broker_->topics().CreateOrUpdate(t).ok());
  }

  AppendResult Send(const std::string& topic, int32_t qid, const std::string& body,
                    const std::string& tag = "tagA") {
    std::string props;
    AppendProperty(&props, kPropertyTags, tag);
    const Message m{.topic = topic, .queue_id = qid, .body = body, .properties = props};
    auto r = broker_->store().Append(m);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return AppendResult{};
    // Readable by pops once the dispatcher has put it in its consume queue.
    EXPECT_TRUE(
        broker_->store().WaitForMessages(topic, qid, r->queue_offset, std::chrono::seconds(20)));
    return *r;
  }

  PopRequest Req(const std::string& topic = "TopicA", int max = 32, int invisible_ms = 30000) {
    PopRequest r;
    r.group = "G1";
    r.topic = topic;
    r.max_messages = max;
    r.invisible = milliseconds(invisible_ms);
    return r;
  }

  // Pops and waits for the answer (at most `wait`, the long-polling deadline).
  absl::StatusOr<std::vector<PoppedMessage>> Pop(PopRequest req,
                                                 milliseconds wait = milliseconds(0)) {
    auto p = std::make_shared<std::promise<absl::StatusOr<std::vector<PoppedMessage>>>>();
    auto f = p->get_future();
    broker_->pop().PopAsync(
        std::move(req), Clock::now() + wait,
        [p](absl::StatusOr<std::vector<PoppedMessage>> r) { p->set_value(std::move(r)); });
    if (f.wait_for(wait + std::chrono::seconds(20)) != std::future_status::ready) {
      return absl::DeadlineExceededError("pop never answered");
    }
    return f.get();
  }
  // Pops exactly `n` messages (long polling up to 20 s for them).
  std::vector<PoppedMessage> PopN(const PopRequest& req, size_t n) {
    std::vector<PoppedMessage> got;
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (got.size() < n && Clock::now() < deadline) {
      auto r = Pop(req, std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
      for (auto& m : *r) got.push_back(std::move(m));
    }
    EXPECT_EQ(got.size(), n);
    return got;
  }
  static std::string Body(const PoppedMessage& m) { return std::string(m.record.msg.body); }

  testing::TempDir dir_;
  std::unique_ptr<BrokerController> broker_;
};

}  // namespace stele::broker
