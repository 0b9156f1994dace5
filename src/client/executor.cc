#include "client/executor.h"

#include <pthread.h>

#include <algorithm>

namespace stele::client {

Executor::Executor(int threads, std::string name) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this] { Loop(); });
    pthread_setname_np(threads_.back().native_handle(), name.substr(0, 15).c_str());
  }
}

Executor::~Executor() { Shutdown(); }

void Executor::Submit(std::function<void()> fn) {
  {
    std::lock_guard l(mu_);
    if (stop_) return;
    q_.push_back(std::move(fn));
  }
  cv_.notify_one();
}

void Executor::SubmitAll(std::vector<std::function<void()>> fns) {
  if (fns.empty()) return;
  size_t wake;
  {
    std::lock_guard l(mu_);
    if (stop_) return;
    for (auto& fn : fns) q_.push_back(std::move(fn));
    wake = std::min(fns.size(), static_cast<size_t>(idle_));
  }
  if (wake == static_cast<size_t>(idle_)) {
    cv_.notify_all();
  } else {
    for (size_t i = 0; i < wake; ++i) cv_.notify_one();
  }
}

size_t Executor::queued() const {
  std::lock_guard l(mu_);
  return q_.size();
}

void Executor::Shutdown() {
  {
    std::lock_guard l(mu_);
    if (stop_ && threads_.empty()) return;
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Executor::Loop() {
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock l(mu_);
      ++idle_;
      cv_.wait(l, [this] { return stop_ || !q_.empty(); });
      --idle_;
      if (q_.empty()) return;  // stopping and drained
      fn = std::move(q_.front());
      q_.pop_front();
    }
    fn();
  }
}

Scheduler::Scheduler() {
  thread_ = std::thread([this] { Loop(); });
  pthread_setname_np(thread_.native_handle(), "stele-sched");
}

Scheduler::~Scheduler() { Shutdown(); }

void Scheduler::RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
  {
    std::lock_guard l(mu_);
    if (stop_) return;
    tasks_.emplace(Clock::now() + delay, Task{std::move(fn), std::chrono::milliseconds(0)});
  }
  cv_.notify_one();
}

void Scheduler::RunEvery(std::chrono::milliseconds initial, std::chrono::milliseconds period,
                         std::function<void()> fn) {
  {
    std::lock_guard l(mu_);
    if (stop_) return;
    tasks_.emplace(Clock::now() + initial, Task{std::move(fn), period});
  }
  cv_.notify_one();
}

void Scheduler::Shutdown() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
    tasks_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void Scheduler::Loop() {
  std::unique_lock l(mu_);
  while (!stop_) {
    if (tasks_.empty()) {
      cv_.wait(l);
      continue;
    }
    auto first = tasks_.begin();
    if (first->first > Clock::now()) {
      // A copy: wait_until reads the deadline again after waking, and while it waits (unlocked)
      // Shutdown may clear tasks_, freeing the node (a use-after-free ASan caught).
      const Clock::time_point when = first->first;
      cv_.wait_until(l, when);
      continue;
    }
    Task t = std::move(first->second);
    tasks_.erase(first);
    l.unlock();
    t.fn();
    l.lock();
    if (!stop_ && t.period.count() > 0) tasks_.emplace(Clock::now() + t.period, std::move(t));
  }
}

}  // namespace stele::client
