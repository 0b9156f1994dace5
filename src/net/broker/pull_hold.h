// PullHoldService: RocketMQ's long polling. A pull that finds no new message is held here until a
// message arrives in its queue (the store's arrival listener calls Notify) or its suspend timeout
// passes; then the pull runs once more and answers, whatever it finds. Clients re-pull at once
// after an empty answer, so without holding they would spin.
//
// Threading: one thread runs the retries; Notify only records the arrival and wakes it, so the
// engine's dispatcher never waits on network work. A pull held just as its message arrives is
// checked against the queue's max offset after it is registered, so no arrival is missed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "stele/store.h"

namespace stele::broker {

class PullHoldService {
 public:
  using Retry = std::function<void()>;
  explicit PullHoldService(const Store& store);
  ~PullHoldService();

  void Start();
  // Runs every held pull once (they answer "no new message") and stops the thread.
  void Stop();

  // Holds a pull of (topic, queue_id) that wants `offset`, until a message at `offset` exists or
  // `deadline_ms` (steady clock) passes; then `retry` runs on the service's thread.
  void Hold(std::string_view topic, int32_t queue_id, int64_t offset, int64_t deadline_ms,
            Retry retry);
  void Notify(std::string_view topic, int32_t queue_id, int64_t max_offset);

  size_t held() const;
  static int64_t NowMs();

 private:
  struct Held {
    int64_t offset;
    int64_t deadline_ms;
    Retry retry;
  };
  void Run();
  static std::string Key(std::string_view topic, int32_t queue_id);

  const Store& store_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, std::vector<Held>> held_;
  size_t count_ = 0;
  std::vector<std::pair<std::string, int64_t>> arrivals_;
  bool stop_ = false;
  bool wake_ = false;  // a new deadline may be the nearest
  std::thread thread_;
};

}  // namespace stele::broker
