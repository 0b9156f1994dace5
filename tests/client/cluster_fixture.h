// An in-process test cluster for client tests: one name server and N brokers on 127.0.0.1, each
// on its own port and in its own temporary directory, registered under one cluster name.
//
//   auto c = stele::testing::TestCluster::Start({.brokers = 2});
//   (*c)->CreateTopic("T", 4);                      // on every running broker, route visible
//   Producer p({.namesrv_addr = (*c)->namesrv_addr()});
//   ...
//   auto stored = (*c)->WaitForStored("T", 10);     // read back from the brokers' stores
//
// Brokers run SYNC_FLUSH with the small store options of tests/testutil.h and
// autoCreateTopicEnable on (both adjustable per broker with ClusterOptions::tweak). A broker can
// be stopped (a clean Shutdown: it unregisters from the name server) and restarted on the same
// directory and port, so clients see the same address come back.
//
// Every wait here is bounded: helpers return DeadlineExceeded (or false) instead of hanging.
//
// Thread safety: drive a TestCluster from one thread. broker(i) returns a running controller,
// whose own methods are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "net/broker/broker_controller.h"
#include "net/namesrv/namesrv_controller.h"
#include "testutil.h"

namespace stele::testing {

// Polls `pred` every few ms until it holds (true) or `limit` passes (false).
bool WaitUntil(const std::function<bool()>& pred,
               std::chrono::milliseconds limit = std::chrono::seconds(20));

// A port on 127.0.0.1 that was free a moment ago (bound and released), for servers that must
// keep their port across a restart.
absl::StatusOr<uint16_t> PickFreePort();

struct ClusterOptions {
  int brokers = 2;
  std::string cluster_name = "SteleTestCluster";
  FlushDiskType flush = FlushDiskType::kSyncFlush;
  // Applied to broker i's config last (before Finalize): change anything.
  std::function<void(int i, broker::BrokerConfig& config)> tweak;
};

// One record as a broker stored it, copied out of the store.
struct StoredMessage {
  int broker = 0;  // index in the cluster
  std::string broker_name;
  std::string topic;
  int32_t queue_id = 0;
  int64_t queue_offset = 0;
  int64_t commit_log_offset = 0;
  int32_t sys_flag = 0;
  int32_t flag = 0;
  int32_t reconsume_times = 0;
  std::string body;  // as stored: still compressed when sys_flag has kCompressed
  std::map<std::string, std::string> properties;
  std::string offset_msg_id;
  std::string record;  // the whole record, byte for byte

  // The property's value, or nullptr.
  const std::string* Property(std::string_view name) const;
};

class TestCluster {
 public:
  // Starts the name server, then the brokers; returns once every broker has registered.
  static absl::StatusOr<std::unique_ptr<TestCluster>> Start(ClusterOptions options = {});
  ~TestCluster();  // stops the brokers, then the name server
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  std::string namesrv_addr() const;
  namesrv::NamesrvController& namesrv() { return *namesrv_; }
  int broker_count() const { return static_cast<int>(brokers_.size()); }
  // Broker i; it must be running (aborts the test otherwise).
  broker::BrokerController& broker(int i);
  bool running(int i) const;
  const std::string& broker_name(int i) const;
  // "127.0.0.1:port": stays the same across StopBroker/RestartBroker.
  std::string broker_addr(int i) const;
  int running_broker_count() const;

  // Clean shutdown of broker i (unregisters from the name server, closes its store).
  void StopBroker(int i);
  // Starts broker i again on its directory and port; returns once it has re-registered.
  absl::Status RestartBroker(int i);

  // Creates (or updates) `topic` with `queues` read/write queues on every running broker, then
  // waits until the name server routes it to all of them.
  absl::Status CreateTopic(const std::string& topic, int queues,
                           int perm = broker::kPermRead | broker::kPermWrite);
  // Waits until the name server's route for `topic` lists exactly `n_brokers` broker groups with
  // queues (0: until it has no route for it).
  absl::Status WaitForRoute(const std::string& topic, int n_brokers,
                            std::chrono::milliseconds limit = std::chrono::seconds(20));
  // The broker names the name server routes `topic` to now (empty if none).
  std::vector<std::string> RoutedBrokers(const std::string& topic) const;

  // Every record of `topic` in the running brokers' stores (what their consume queues index),
  // ordered by broker, queue id, queue offset.
  std::vector<StoredMessage> ReadTopic(const std::string& topic) const;
  // ReadTopic once it holds at least `n` records; DeadlineExceeded (saying how many) otherwise.
  absl::StatusOr<std::vector<StoredMessage>> WaitForStored(
      const std::string& topic, size_t n,
      std::chrono::milliseconds limit = std::chrono::seconds(20)) const;

 private:
  struct Node {
    std::string name;
    std::string dir;
    uint16_t port = 0;
    std::unique_ptr<broker::BrokerController> controller;
  };
  explicit TestCluster(ClusterOptions options) : options_(std::move(options)) {}
  absl::Status StartNode(int i);
  absl::Status WaitForRegistration(int i, std::chrono::milliseconds limit);

  ClusterOptions options_;
  TempDir root_;
  std::unique_ptr<namesrv::NamesrvController> namesrv_;
  std::vector<Node> brokers_;
};

// A gtest fixture owning a started TestCluster (override Options() for another shape).
class ClusterTest : public ::testing::Test {
 protected:
  virtual ClusterOptions Options() const { return {}; }
  void SetUp() override;
  void TearDown() override { cluster_.reset(); }

  std::unique_ptr<TestCluster> cluster_;
};

}  // namespace stele::testing
