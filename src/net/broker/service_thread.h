// ServiceThread: the one background thread of a broker service (delay levels, the timer wheel,
// transaction checks), with the start-once / stop-once life cycle they share.
//
// Start() runs `prepare` on the caller's thread, then a thread that calls `pass` repeatedly: a pass
// returns how long to wait before the next (<= 0: run the next at once); Wake() cuts a wait short.
// Stop() sets the stop flag, wakes the thread and joins it; it returns whether the thread had been
// started, so that the service can run its final persist hook once, after the join. A stopped
// ServiceThread never starts again; Start() and Stop() are idempotent.
//
// Thread safety: Start, Stop, Wake and stopping() may be called from any thread; Start and Stop
// must not be called from the pass itself.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace stele::broker {

class ServiceThread {
 public:
  ServiceThread() = default;
  ~ServiceThread() { Stop(); }
  ServiceThread(const ServiceThread&) = delete;
  ServiceThread& operator=(const ServiceThread&) = delete;

  // Starts the thread once: false (and nothing run) if it was started or stopped before.
  // The first pass runs after `first_wait_ms` (or a Wake/Stop, whichever comes first).
  bool Start(const std::function<void()>& prepare, std::function<int64_t()> pass,
             int64_t first_wait_ms = 0);
  // Stops and joins the thread; true if it had been started (by this call's predecessors).
  bool Stop();
  // Makes the thread run its next pass now (or as soon as the current one returns).
  void Wake();
  // True once Stop() has begun: long passes check it to return early.
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }

 private:
  void Loop(int64_t first_wait_ms);

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;  // guarded by mu_
  bool stop_ = false;     // guarded by mu_
  bool wake_ = false;     // guarded by mu_
  std::atomic<bool> stopping_{false};
  std::function<int64_t()> pass_;  // set before the thread starts, then only read by it
  std::thread thread_;
};

}  // namespace stele::broker
