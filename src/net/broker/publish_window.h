// PublishWindow: the memory behind idempotent publish (Stele, beyond RocketMQ).
//
// A producer that retries a send (a timeout, a lost reply, a broker restart) resends the same
// message with the same UNIQ_KEY. The window remembers, for each (topic, UNIQ_KEY) stored by a
// producer send in the last `window_ms`, where it went (msgId, queue id, queue and commit-log
// offsets), so that the retry is answered with the original result and nothing is stored twice.
//
// Key: the topic the producer sent to (before any redirect to the schedule, timer or half topic)
// and UNIQ_KEY. The producer group is not part of it: the stored record does not carry it, and
// UNIQ_KEY already names the producing client (its IP, pid, start time and a counter).
//
// States of a key: unknown -> pending (a send is storing it; later duplicates wait for its
// outcome) -> done (stored; duplicates get the record until it expires). A failed store forgets
// the key, and its waiters get the same failure (the client retries again).
//
// Bounds: at most `max_entries` done keys (the oldest is evicted first, so under very high rates
// the effective window is shorter than window_ms); pending keys are bounded by the writer's
// maxInflightSends. An entry costs about 350 bytes.
//
// Durability: the window holds no file of its own. At start-up the broker refills it from the
// commit log's tail (RebuildPublishWindow in message_writer.h), whose records carry everything
// needed, so it survives a clean restart and kill -9 alike for every send acknowledged before.
//
// Thread safety: all methods may be called from any thread; waiters run on the completing
// thread, outside the lock.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "stele/store.h"

namespace stele::broker {

// Where a producer's message went.
struct PublishRecord {
  AppendResult result;
  int32_t queue_id = 0;
};

class PublishWindow {
 public:
  using Waiter = std::function<void(absl::StatusOr<PublishRecord>)>;
  enum class Claim {
    kFirst,      // the caller must store the message, then call Complete(key, ...)
    kDuplicate,  // already stored within the window: *out holds the original
    kWaiting,    // a send of the same key is in flight: `waiter` runs with its outcome
  };

  // `clock` gives epoch ms (null = the system clock).
  PublishWindow(int64_t window_ms, size_t max_entries, std::function<int64_t()> clock = {});

  // The window key of a producer's message, or "" when it has none (no UNIQ_KEY).
  static std::string Key(std::string_view topic, std::string_view uniq_key);

  Claim Begin(const std::string& key, Waiter waiter, PublishRecord* out);
  // Ends a kFirst claim: a record makes the key done (timed from now), an error forgets it.
  void Complete(const std::string& key, absl::StatusOr<PublishRecord> r);
  // Start-up refill, in commit-log order: remembers `key` as stored at `store_ms` unless it is
  // already known (the first record of a key is the producer's, later ones are its deliveries).
  void Restore(const std::string& key, const PublishRecord& r, int64_t store_ms);

  int64_t window_ms() const { return window_ms_; }
  size_t size() const;  // done + pending keys

 private:
  struct Entry {
    bool pending = true;
    uint64_t seq = 0;     // matches its age_ element while done
    int64_t time_ms = 0;  // when it was stored
    PublishRecord record;
    std::vector<Waiter> waiters;
  };
  int64_t Now() const;
  // Drops done entries older than the window, then the oldest past max_entries_. Needs mu_.
  void TrimLocked(int64_t now);
  void AddDoneLocked(Entry& e, const std::string& key, int64_t time_ms);

  const int64_t window_ms_;
  const size_t max_entries_;
  const std::function<int64_t()> clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  // Done keys, oldest first, with the seq and time they were done under (a stale element, whose
  // key was claimed again since, is skipped when popped).
  struct Aged {
    uint64_t seq;
    int64_t time_ms;
    std::string key;
  };
  std::deque<Aged> age_;
  size_t done_ = 0;
  uint64_t next_seq_ = 1;
};

}  // namespace stele::broker
