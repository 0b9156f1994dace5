// Checks shared by the crash and power-loss tests after a store reopens over a log cut short:
// each record the log kept is readable through its consume queue and the hash index, the queues
// agree with the log, and a message appended after recovery is dispatched to its queue.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stele/store.h"

namespace stele::testing {

// What the checks after the recoveries found.
struct Tally {
  int64_t lost = 0;          // records that must survive, missing from the log, queue or index
  int64_t inconsistent = 0;  // records that need not survive, kept by the log but not its queue /
                             // index
  int64_t problems = 0;      // queue holes, wrong max offsets, failed appends after recovery
  int64_t checked = 0;       // record checks done after recoveries (if the test counts them)
  // The longest WaitForMessages for a message appended after recovery (not asserted: a loaded
  // machine can delay any thread, but a dispatcher stall shows here).
  std::chrono::steady_clock::duration slowest_wait{};
};

// Reports one cycle's failures: the first few in full, the rest only counted (a broken recovery
// can fail thousands of records).
class Reporter {
 public:
  explicit Reporter(std::string where) : where_(std::move(where)) {}
  ~Reporter();
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  // Counts one failure in `*counter` and reports `what`.
  void Fail(int64_t* counter, const std::string& what);
  const std::string& where() const { return where_; }

 private:
  static constexpr int kShown = 10;
  std::string where_;
  int count_ = 0;
};

// How failure messages name a queue: by its number alone when the store has one topic (the crash
// test: "queue 2"), otherwise as topic/id (the power-loss test: "t0/1").
enum class QueueNaming { kNumber, kTopicSlashId };

// The queues a test's store may have, and how its messages name them.
struct QueueLayout {
  std::vector<std::pair<std::string, int32_t>> queues;  // (topic, queue id)
  QueueNaming naming = QueueNaming::kTopicSlashId;
};

// A record the log holds, and where its queue and the index should have it.
struct PlacedRecord {
  int64_t offset = 0;  // commit-log offset
  std::string_view topic;
  int32_t queue_id = 0;
  int64_t queue_offset = 0;
  std::string_view body;
  std::string_view key;  // its single, unique key
};

// Empty if `r` is the record Get returns at its queue offset and the only one QueryByKey returns
// for its key; otherwise what is wrong.
std::string QueueOrIndexProblem(const Store& s, const PlacedRecord& r, QueueNaming naming);

// Checks each queue against the log: the store has no queue outside `layout`; each queue's max
// offset is the next queue offset the log assigns, and every offset in [min, max) holds a record
// of that queue and offset inside the log (no holes, no stale entry) that `known` (if set) accepts.
void CheckQueues(const Store& s, const QueueLayout& layout,
                 const std::function<bool(const RecordRef&)>& known, Reporter& rep, Tally* tally);

// Waits (up to 5 s) for `r`, appended after recovery, to be dispatched, and checks that it is then
// readable through its queue and the index.
void CheckDispatched(const Store& s, const PlacedRecord& r, QueueNaming naming, Reporter& rep,
                     Tally* tally);

}  // namespace stele::testing
