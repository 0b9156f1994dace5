// UPDATE_BROKER_CONFIG's allowlist on a running broker: with updateConfigAllowed=false nothing
// changes; with it, only kRuntimeConfigKeys change (all of a request or none of it), and
// GET_BROKER_CONFIG reports the effective values.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/live_broker_test.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele::broker {
namespace {

using remoting::RemotingCommand;
using namespace remoting::response;
namespace request = remoting::request;

class RuntimeConfigTest : public LiveBrokerTest {
 protected:
  void StartBroker(bool allowed) {
    LiveBrokerTest::StartBroker([&](BrokerConfig& c) { c.update_config_allowed = allowed; });
  }

  RemotingCommand Update(const std::string& properties) {
    return Call(request::kUpdateBrokerConfig, {}, properties);
  }
  std::string ConfigText() { return Call(request::kGetBrokerConfig, {}).body; }
  static bool Has(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
  }
};

TEST_F(RuntimeConfigTest, RefusedWhenUpdateConfigNotAllowed) {
  StartBroker(false);
  RemotingCommand resp = Update("brokerPermission=4\n");
  EXPECT_EQ(resp.code, kNoPermission);
  EXPECT_NE(resp.remark.value_or("").find("updateConfigAllowed=false"), std::string::npos);
  EXPECT_EQ(broker_->broker_permission(), 6);
  EXPECT_TRUE(Has(ConfigText(), "brokerPermission=6"));
}

TEST_F(RuntimeConfigTest, AllowlistedKeysChangeOthersChangeNothing) {
  StartBroker(true);
  RemotingCommand resp =
      Update("brokerPermission=4\nmaxInflightSends=5\nlongPollingEnable=false\n");
  ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  EXPECT_EQ(broker_->broker_permission(), 4);
  EXPECT_FALSE(broker_->long_polling_enable());
  std::string text = ConfigText();
  EXPECT_TRUE(Has(text, "brokerPermission=4")) << text;
  EXPECT_TRUE(Has(text, "maxInflightSends=5")) << text;
  EXPECT_TRUE(Has(text, "longPollingEnable=false")) << text;

  // One refused key refuses the whole request: brokerPermission stays 4.
  resp = Update("brokerPermission=6\nstorePathRootDir=/tmp/elsewhere\n");
  EXPECT_EQ(resp.code, kNoPermission);
  EXPECT_NE(resp.remark.value_or("").find("storePathRootDir"), std::string::npos);
  EXPECT_NE(resp.remark.value_or("").find("shortPollingTimeMills"), std::string::npos)
      << "the remark lists the changeable keys";
  EXPECT_EQ(broker_->broker_permission(), 4);

  for (const char* body : {"listenPort=1\n", "namesrvAddr=10.0.0.1:9876\n", "noSuchKey=1\n",
                           "updateConfigAllowed=false\n"}) {
    resp = Update(body);
    EXPECT_EQ(resp.code, kNoPermission) << body;
  }
  EXPECT_TRUE(Has(ConfigText(), "updateConfigAllowed=true"));

  // A bad value for an allowed key: an error naming it, and again nothing changes.
  resp = Update("shortPollingTimeMills=250\nbrokerPermission=99\n");
  EXPECT_EQ(resp.code, kSystemError);
  EXPECT_NE(resp.remark.value_or("").find("brokerPermission"), std::string::npos);
  EXPECT_EQ(broker_->broker_permission(), 4);
  EXPECT_EQ(broker_->short_polling_time_mills(), 1000);

  resp = Update("brokerPermission=6\nshortPollingTimeMills=250\n");
  ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  EXPECT_EQ(broker_->broker_permission(), 6);
  EXPECT_EQ(broker_->short_polling_time_mills(), 250);
  EXPECT_TRUE(Has(ConfigText(), "shortPollingTimeMills=250"));
}

}  // namespace
}  // namespace stele::broker
