#include "net/broker/pull_hold.h"

#include <algorithm>
#include <chrono>

#include "fmt/format.h"

namespace stele::broker {

PullHoldService::PullHoldService(const Store& store) : store_(store) {}

PullHoldService::~PullHoldService() { Stop(); }

int64_t PullHoldService::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string PullHoldService::Key(std::string_view topic, int32_t queue_id) {
  return fmt::format("{}@{}", topic, queue_id);
}

void PullHoldService::Start() {
  thread_ = std::thread([this] { Run(); });
}

void PullHoldService::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t PullHoldService::held() const {
  std::lock_guard<std::mutex> l(mu_);
  return count_;
}

void PullHoldService::Hold(std::string_view topic, int32_t queue_id, int64_t offset,
                           int64_t deadline_ms, Retry retry) {
  const std::string key = Key(topic, queue_id);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) {
      // Shutting down: answer now instead of holding.
    } else {
      held_[key].push_back(Held{offset, deadline_ms, std::move(retry)});
      ++count_;
      wake_ = true;
      retry = nullptr;
    }
  }
  if (retry) {
    retry();
    return;
  }
  // The message may have arrived between the pull's read and the registration above.
  const int64_t max = store_.MaxQueueOffset(topic, queue_id);
  if (max > offset) Notify(topic, queue_id, max);
  cv_.notify_one();  // the new deadline may be the nearest
}

void PullHoldService::Notify(std::string_view topic, int32_t queue_id, int64_t max_offset) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (count_ == 0) return;  // common case: nobody waits
    arrivals_.emplace_back(Key(topic, queue_id), max_offset);
  }
  cv_.notify_one();
}

void PullHoldService::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    std::vector<Retry> due;
    for (auto& [key, max] : arrivals_) {
      auto it = held_.find(key);
      if (it == held_.end()) continue;
      auto& v = it->second;
      auto mid = std::partition(v.begin(), v.end(), [&](const Held& h) { return h.offset >= max; });
      for (auto i = mid; i != v.end(); ++i) due.push_back(std::move(i->retry));
      v.erase(mid, v.end());
      if (v.empty()) held_.erase(it);
    }
    arrivals_.clear();
    const int64_t now = NowMs();
    int64_t next = now + 1000;
    for (auto it = held_.begin(); it != held_.end();) {
      auto& v = it->second;
      auto mid =
          std::partition(v.begin(), v.end(), [&](const Held& h) { return h.deadline_ms > now; });
      for (auto i = mid; i != v.end(); ++i) due.push_back(std::move(i->retry));
      v.erase(mid, v.end());
      for (const auto& h : v) next = std::min(next, h.deadline_ms);
      it = v.empty() ? held_.erase(it) : std::next(it);
    }
    if (stop_) {
      for (auto& [key, v] : held_) {
        for (auto& h : v) due.push_back(std::move(h.retry));
      }
      held_.clear();
    }
    count_ -= due.size();
    if (!due.empty()) {
      l.unlock();
      for (auto& r : due) r();
      l.lock();
      continue;
    }
    if (stop_) return;
    cv_.wait_for(l, std::chrono::milliseconds(std::max<int64_t>(1, next - now)),
                 [&] { return stop_ || wake_ || !arrivals_.empty(); });
    wake_ = false;
  }
}

}  // namespace stele::broker
