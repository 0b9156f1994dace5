#include "net/broker/service_thread.h"

#include <chrono>
#include <utility>

namespace stele::broker {

bool ServiceThread::Start(const std::function<void()>& prepare, std::function<int64_t()> pass,
                          int64_t first_wait_ms) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (started_ || stop_) return false;
    started_ = true;
  }
  if (prepare) prepare();
  pass_ = std::move(pass);
  thread_ = std::thread([this, first_wait_ms] { Loop(first_wait_ms); });
  return true;
}

bool ServiceThread::Stop() {
  bool started = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return false;
    stop_ = true;
    started = started_;
  }
  stopping_.store(true, std::memory_order_relaxed);
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  return started;
}

void ServiceThread::Wake() {
  {
    std::lock_guard<std::mutex> l(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void ServiceThread::Loop(int64_t wait_ms) {
  while (!stopping()) {
    if (wait_ms > 0) {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, std::chrono::milliseconds(wait_ms), [this] { return stop_ || wake_; });
      if (stop_) return;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      wake_ = false;  // a Wake during the pass below makes the next wait end at once
    }
    wait_ms = pass_();
  }
}

}  // namespace stele::broker
