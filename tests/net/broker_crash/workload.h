// The producers and the consumer of the server-level crash tests.
//
// SendWorkload: `threads` producers, each with its own connection, send SEND_MESSAGE_V2 to the
// broker as fast as it answers, whether or not it is up. Message (thread t, number i) has the key
// "s<seed>-t<t>-<i>", a body derived from (seed, t, i) of a seeded size, and goes to topic
// (t + i) % topics, queue i % queues. Like a real producer it resends a message until one attempt
// is acknowledged; an acknowledgement is a SUCCESS reply only (FLUSH_DISK_TIMEOUT, errors, timeouts
// and dropped connections are not), and it records the msgId, queue and queue offset the broker
// returned. So a message may be stored more than once only if some attempt was not acknowledged.
//
// VerifyAll: the consumer. It pulls every queue of every topic from offset 0 to its end and checks
// every acknowledged message is there exactly once under its msgId, with its key, body, queue and
// queue offset; that queue offsets have no holes; and that no message is stored more often than it
// was sent.
//
// Thread safety: Start/Stop/SetAddr and the counters may be called from the test thread while the
// producers run; messages() only after Stop().
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "net/remoting/transport.h"

namespace stele::testing {

// One message of one producer thread, across all its send attempts.
struct SentMessage {
  int thread = 0;
  uint64_t seq = 0;
  uint32_t size = 0;         // body size
  int unacked_attempts = 0;  // attempts without a SUCCESS reply (each may or may not be stored)
  bool acked = false;        // one attempt got SUCCESS; then the fields below are its reply's
  std::string msg_id;
  int32_t queue_id = -1;
  int64_t queue_offset = -1;
};

class SendWorkload {
 public:
  SendWorkload(std::string addr, uint64_t seed, int threads, std::vector<std::string> topics,
               int queues);
  ~SendWorkload();  // Stop()s
  SendWorkload(const SendWorkload&) = delete;
  SendWorkload& operator=(const SendWorkload&) = delete;

  void Start();
  // Asks the producers to stop after their current attempt and joins them.
  void Stop();
  // Where later attempts go (the broker restarted on another port).
  void SetAddr(std::string addr);

  int64_t acked() const { return acked_.load(); }
  int64_t inflight() const { return inflight_.load(); }
  int64_t attempts() const { return attempts_.load(); }
  int64_t transport_failures() const { return transport_failures_.load(); }
  int64_t flush_timeouts() const { return flush_timeouts_.load(); }
  int64_t error_replies() const { return error_replies_.load(); }
  // The highest commit-log offset among acknowledged messages (from their offset msgIds), -1 if
  // none: tells the test how far the log has grown.
  int64_t max_acked_offset() const { return max_acked_offset_.load(); }

  uint64_t seed() const { return seed_; }
  const std::vector<std::string>& topics() const { return topics_; }
  int queues() const { return queues_; }
  std::string Key(int thread, uint64_t seq) const;
  std::string Body(int thread, uint64_t seq, uint32_t size) const;
  int TopicOf(int thread, uint64_t seq) const;
  // Every message of every thread; after Stop().
  std::vector<SentMessage> messages() const;

 private:
  void Run(int thread);
  std::string addr() const;

  const uint64_t seed_;
  const int threads_;
  const std::vector<std::string> topics_;
  const int queues_;
  mutable std::mutex addr_mu_;
  std::string addr_;  // guarded by addr_mu_
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> acked_{0}, inflight_{0}, attempts_{0}, transport_failures_{0},
      flush_timeouts_{0}, error_replies_{0}, max_acked_offset_{-1};
  std::vector<std::vector<SentMessage>> sent_;  // per thread; written only by its thread
  std::vector<std::thread> workers_;
};

// UPDATE_AND_CREATE_TOPIC with `queues` read and write queues.
absl::Status CreateTopic(remoting::RemotingClient& client, const std::string& addr,
                         const std::string& topic, int queues);

struct VerifyReport {
  int64_t acked = 0;                 // acknowledged messages
  int64_t lost = 0;                  // acknowledged, but their msgId is not in the queues
  int64_t wrong = 0;                 // acknowledged msgId present with other key/body/queue/offset
  int64_t stored = 0;                // records read from the queues
  int64_t unacked_kept = 0;          // copies of unacknowledged attempts the broker kept
  int64_t duplicates = 0;            // records beyond the first of a key (allowed, see above)
  int64_t over_stored = 0;           // keys stored more often than they were sent (never allowed)
  int64_t repeated_ids = 0;          // a msgId returned twice by the queues (never allowed)
  int64_t holes = 0;                 // queue offsets skipped or out of order
  int64_t foreign = 0;               // records with a key no producer sent, or a wrong body
  int64_t pull_problems = 0;         // pulls that failed or could not reach the queue's end
  int64_t log_end = 0;               // the end of the last record read, as a commit-log offset
  std::vector<std::string> details;  // the first problems, one line each

  bool ok() const {
    return lost == 0 && wrong == 0 && over_stored == 0 && repeated_ids == 0 && holes == 0 &&
           foreign == 0 && pull_problems == 0;
  }
  std::string Summary() const;
};

// Pulls every queue of the workload's topics from `addr` and checks them against `w` (stopped).
VerifyReport VerifyAll(const SendWorkload& w, remoting::RemotingClient& client,
                       const std::string& addr);

}  // namespace stele::testing
