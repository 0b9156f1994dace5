// Two small thread owners the client runs everything on, so that its thread count is fixed no
// matter how many queues or messages there are: an Executor (N threads draining one FIFO) and a
// Scheduler (one thread running delayed and periodic tasks, which must be short and not block).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace stele::client {

class Executor {
 public:
  explicit Executor(int threads, std::string name);
  ~Executor();  // Shutdown()
  // Tasks submitted after Shutdown() are dropped.
  void Submit(std::function<void()> fn);
  // Submit of each, in order, under one lock, waking no more threads than there are tasks (a
  // pull's messages are handed over with a few wake-ups instead of one per message).
  void SubmitAll(std::vector<std::function<void()>> fns);
  // Runs what is queued, then joins the threads. Idempotent; not from one of its own threads.
  void Shutdown();
  size_t queued() const;

 private:
  void Loop();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  bool stop_ = false;
  int idle_ = 0;  // threads waiting for a task
  std::vector<std::thread> threads_;
};

class Scheduler {
 public:
  Scheduler();
  ~Scheduler();  // Shutdown()
  void RunAfter(std::chrono::milliseconds delay, std::function<void()> fn);
  void RunEvery(std::chrono::milliseconds initial, std::chrono::milliseconds period,
                std::function<void()> fn);
  // Drops pending tasks and joins the thread. Idempotent.
  void Shutdown();

 private:
  using Clock = std::chrono::steady_clock;
  struct Task {
    std::function<void()> fn;
    std::chrono::milliseconds period{0};  // 0 = once
  };
  void Loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, Task> tasks_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace stele::client
