// ReconnectBackoff on a fake clock: the window after each failure, its doubling up to the cap,
// and the reset after a success.
#include "client/reconnect_backoff.h"

#include <gtest/gtest.h>

#include <string>

namespace stele::client {
namespace {

using namespace std::chrono_literals;
using Clock = ReconnectBackoff::Clock;

TEST(ClientReconnectBackoff, WindowDoublesUpToTheCapAndResetsOnSuccess) {
  ReconnectBackoff b(100ms, 350ms);
  const std::string a = "127.0.0.1:1";
  const Clock::time_point t0{};
  EXPECT_TRUE(b.Admit(a, t0).ok());
  EXPECT_EQ(b.Delay(a), 0ms);

  b.Failed(a, t0);
  EXPECT_EQ(b.Delay(a), 100ms);
  absl::Status s = b.Admit(a, t0 + 99ms);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(s.message().find("back-off"), std::string::npos) << s;
  EXPECT_NE(s.message().find(a), std::string::npos) << s;
  EXPECT_TRUE(b.Admit(a, t0 + 100ms).ok());

  b.Failed(a, t0 + 100ms);
  EXPECT_EQ(b.Delay(a), 200ms);
  EXPECT_FALSE(b.Admit(a, t0 + 299ms).ok());
  EXPECT_TRUE(b.Admit(a, t0 + 300ms).ok());

  b.Failed(a, t0 + 300ms);
  EXPECT_EQ(b.Delay(a), 350ms);  // capped
  b.Failed(a, t0 + 650ms);
  EXPECT_EQ(b.Delay(a), 350ms);
  EXPECT_FALSE(b.Admit(a, t0 + 999ms).ok());

  b.Succeeded(a);
  EXPECT_EQ(b.Delay(a), 0ms);
  EXPECT_TRUE(b.Admit(a, t0 + 651ms).ok());
  b.Failed(a, t0 + 700ms);
  EXPECT_EQ(b.Delay(a), 100ms);  // starts over
}

TEST(ClientReconnectBackoff, AddressesAreIndependent) {
  ReconnectBackoff b(100ms, 1s);
  const Clock::time_point t0{};
  b.Failed("127.0.0.1:1", t0);
  EXPECT_FALSE(b.Admit("127.0.0.1:1", t0).ok());
  EXPECT_TRUE(b.Admit("127.0.0.1:2", t0).ok());
  b.Succeeded("127.0.0.1:2");  // not failing: no effect
  EXPECT_FALSE(b.Admit("127.0.0.1:1", t0).ok());
}

}  // namespace
}  // namespace stele::client
