// ServiceThread: start once, passes paced by their returned wait, Wake cutting a wait short, Stop
// joining and reporting whether it had started, no start after a stop.
#include "net/broker/service_thread.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace stele::broker {
namespace {

constexpr auto kWait = std::chrono::seconds(20);

// Counts passes; lets the test wait for a given count with a bounded deadline.
struct Passes {
  std::mutex mu;
  std::condition_variable cv;
  int n = 0;
  int64_t Pass(int64_t wait_ms) {
    {
      std::lock_guard<std::mutex> l(mu);
      ++n;
    }
    cv.notify_all();
    return wait_ms;
  }
  bool WaitFor(int count) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, kWait, [&] { return n >= count; });
  }
  int Count() {
    std::lock_guard<std::mutex> l(mu);
    return n;
  }
};

TEST(ServiceThreadTest, StartsOncePreparesFirstAndStopsOnce) {
  ServiceThread t;
  Passes p;
  std::atomic<bool> prepared{false};
  std::atomic<bool> prepared_before_pass{true};
  ASSERT_TRUE(t.Start([&] { prepared = true; },
                      [&] {
                        if (!prepared) prepared_before_pass = false;
                        return p.Pass(0);  // back to back
                      }));
  EXPECT_FALSE(t.Start(nullptr, [] { return int64_t{0}; }));  // already started
  ASSERT_TRUE(p.WaitFor(3));
  EXPECT_TRUE(prepared_before_pass);
  EXPECT_TRUE(t.Stop());
  EXPECT_TRUE(t.stopping());
  const int after = p.Count();
  EXPECT_FALSE(t.Stop());       // idempotent
  EXPECT_EQ(p.Count(), after);  // joined: no pass runs after Stop returned
}

TEST(ServiceThreadTest, WakeCutsALongWaitShort) {
  ServiceThread t;
  Passes p;
  // Each pass asks for an hour; only Wake can bring the next one.
  ASSERT_TRUE(t.Start(nullptr, [&] { return p.Pass(3600 * 1000); }));
  ASSERT_TRUE(p.WaitFor(1));
  t.Wake();
  ASSERT_TRUE(p.WaitFor(2));
  t.Wake();
  ASSERT_TRUE(p.WaitFor(3));
  EXPECT_TRUE(t.Stop());  // wakes the hour-long wait at once
}

TEST(ServiceThreadTest, FirstWaitDelaysTheFirstPassUntilWoken) {
  ServiceThread t;
  Passes p;
  ASSERT_TRUE(t.Start(
      nullptr, [&] { return p.Pass(3600 * 1000); }, 3600 * 1000));
  EXPECT_EQ(p.Count(), 0);
  t.Wake();
  ASSERT_TRUE(p.WaitFor(1));
  EXPECT_TRUE(t.Stop());
}

TEST(ServiceThreadTest, StopBeforeStartRefusesLaterStarts) {
  ServiceThread t;
  EXPECT_FALSE(t.Stop());  // never started: no final hook to run
  bool ran = false;
  EXPECT_FALSE(t.Start([&] { ran = true; }, [] { return int64_t{0}; }));
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace stele::broker
