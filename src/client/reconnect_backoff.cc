#include "client/reconnect_backoff.h"

#include <algorithm>
#include <cassert>

#include "fmt/format.h"

namespace stele::client {

ReconnectBackoff::ReconnectBackoff(Ms initial, Ms max) : initial_(initial), max_(max) {
  assert(initial.count() > 0 && initial <= max);
}

absl::Status ReconnectBackoff::Admit(const std::string& addr, Clock::time_point now) const {
  if (failing_count_.load(std::memory_order_relaxed) == 0) return absl::OkStatus();
  std::lock_guard l(mu_);
  auto it = failing_.find(addr);
  if (it == failing_.end() || now >= it->second.retry_at) return absl::OkStatus();
  const auto left = std::chrono::duration_cast<Ms>(it->second.retry_at - now);
  return absl::UnavailableError(
      fmt::format("{} is unreachable ({} failed connect(s)); reconnect back-off: next try in {} ms",
                  addr, it->second.failures, std::max<int64_t>(1, left.count())));
}

void ReconnectBackoff::Failed(const std::string& addr, Clock::time_point now) {
  std::lock_guard l(mu_);
  State& s = failing_[addr];
  failing_count_.store(failing_.size(), std::memory_order_relaxed);
  ++s.failures;
  s.delay = s.delay.count() == 0 ? initial_ : std::min(max_, s.delay * 2);
  s.retry_at = now + s.delay;
}

void ReconnectBackoff::Succeeded(const std::string& addr) {
  if (failing_count_.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard l(mu_);
  failing_.erase(addr);
  failing_count_.store(failing_.size(), std::memory_order_relaxed);
}

ReconnectBackoff::Ms ReconnectBackoff::Delay(const std::string& addr) const {
  std::lock_guard l(mu_);
  auto it = failing_.find(addr);
  return it == failing_.end() ? Ms(0) : it->second.delay;
}

}  // namespace stele::client
