// A test fixture base for tests that talk to a real BrokerController over loopback: the broker on
// 127.0.0.1 with an ephemeral port, its own temp dir and small segments (testutil's SmallOptions),
// and a RemotingClient to call it. No name server.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/remoting/transport.h"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele::broker {

class LiveBrokerTest : public ::testing::Test {
 protected:
  // `tweak` adjusts the config (broker name, flags) before it is finalized.
  void StartBroker(const std::function<void(BrokerConfig&)>& tweak = {}) {
    BrokerConfig c;
    c.store_path_root_dir = dir_.path();
    c.broker_ip1 = "127.0.0.1";
    c.bind_address = "127.0.0.1";
    c.listen_port = 0;
    c.grpc_server_port = 0;
    c.store = testing::SmallOptions(dir_.path(), NewPosixFileSystem());
    if (tweak) tweak(c);
    ASSERT_TRUE(c.Finalize().ok());
    auto b = BrokerController::Create(std::move(c));
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(*b);
    ASSERT_TRUE(broker_->Start().ok());
    addr_ = fmt::format("127.0.0.1:{}", broker_->port());
  }

  void TearDown() override {
    client_.Shutdown();
    if (broker_) broker_->Shutdown();
  }

  // The broker's answer, whatever its code; a transport failure fails the test and returns an
  // empty command.
  remoting::RemotingCommand Call(remoting::RemotingCommand req,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto resp = client_.InvokeSync(addr_, std::move(req), timeout);
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *std::move(resp) : remoting::RemotingCommand{};
  }
  // A request of `code` with these header fields and body.
  remoting::RemotingCommand Call(int32_t code, const std::map<std::string, std::string>& fields,
                                 std::string body = {}) {
    remoting::RemotingCommand req = remoting::RemotingCommand::Request(code);
    for (const auto& [k, v] : fields) req.Set(k, v);
    req.body = std::move(body);
    return Call(std::move(req));
  }

  testing::TempDir dir_;
  std::unique_ptr<BrokerController> broker_;
  remoting::RemotingClient client_;
  std::string addr_;
};

}  // namespace stele::broker
