// Reconnect back-off per server address. After a connect to an address fails, the address is not
// tried again until a delay has passed; the delay doubles with each further failure (initial,
// 2 x initial, ... up to max) and is forgotten once a connect succeeds. Calls inside the window
// fail at once with Unavailable instead of each waiting up to the connect timeout, so a client
// does not hammer a broker that is down, and its callers (a producer's retry on another broker, a
// consumer's pull-later) move on at once.
//
// Thread-safe. Holds one entry per address that is currently failing.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "absl/status/status.h"

namespace stele::client {

class ReconnectBackoff {
 public:
  using Clock = std::chrono::steady_clock;
  using Ms = std::chrono::milliseconds;

  // 0 < initial <= max.
  ReconnectBackoff(Ms initial, Ms max);

  // OK when `addr` may be tried at `now`; Unavailable (naming the address, its failures and the
  // time left) while it is backing off.
  absl::Status Admit(const std::string& addr, Clock::time_point now) const;
  // A connect to `addr` failed at `now`: the next try waits the current delay, which then doubles.
  void Failed(const std::string& addr, Clock::time_point now);
  // A connect to `addr` succeeded: no more waiting.
  void Succeeded(const std::string& addr);
  // The wait after the last failure (0 when `addr` is not failing).
  Ms Delay(const std::string& addr) const;

 private:
  struct State {
    int failures = 0;
    Ms delay{0};
    Clock::time_point retry_at;
  };
  const Ms initial_;
  const Ms max_;
  mutable std::mutex mu_;
  std::map<std::string, State> failing_;
  std::atomic<size_t> failing_count_{0};  // failing_.size(): the common case takes no lock
};

}  // namespace stele::client
