#include "recovery_checks.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace stele::testing {
namespace {

// The queue as CheckQueues' messages name it after "queue ": "2" or "t0/1".
std::string QueueName(QueueNaming naming, std::string_view topic, int32_t queue_id) {
  return naming == QueueNaming::kNumber ? fmt::format("{}", queue_id)
                                        : fmt::format("{}/{}", topic, queue_id);
}

// A queue position as Get's messages name it: "queue 2, offset 5" or "t0/1 offset 5".
std::string GetPosition(QueueNaming naming, const PlacedRecord& r) {
  return naming == QueueNaming::kNumber
             ? fmt::format("queue {}, offset {}", r.queue_id, r.queue_offset)
             : fmt::format("{}/{} offset {}", r.topic, r.queue_id, r.queue_offset);
}

// A queue position as the dispatch check names it: "queue 2 offset 5" or "t0/1 offset 5".
std::string Position(QueueNaming naming, const PlacedRecord& r) {
  return naming == QueueNaming::kNumber
             ? fmt::format("queue {} offset {}", r.queue_id, r.queue_offset)
             : fmt::format("{}/{} offset {}", r.topic, r.queue_id, r.queue_offset);
}

}  // namespace

Reporter::~Reporter() {
  if (count_ > kShown) {
    ADD_FAILURE() << where_ << ": " << count_ - kShown << " more failures not shown";
  }
}

void Reporter::Fail(int64_t* counter, const std::string& what) {
  ++*counter;
  if (++count_ <= kShown) ADD_FAILURE() << where_ << ": " << what;
}

std::string QueueOrIndexProblem(const Store& s, const PlacedRecord& r, QueueNaming naming) {
  auto got = s.Get(r.topic, r.queue_id, r.queue_offset, GetOptions{.max_messages = 1});
  if (!got.ok()) return "Get failed: " + got.status().ToString();
  if (got->status != GetMessageStatus::kFound || got->messages.size() != 1) {
    return fmt::format("Get({}) = {} with {} messages (queue [{}, {}))", GetPosition(naming, r),
                       GetMessageStatusName(got->status), got->messages.size(), got->min_offset,
                       got->max_offset);
  }
  const RecordRef& m = got->messages[0];
  if (m.offset != r.offset || m.msg.queue_offset != r.queue_offset || m.msg.body != r.body) {
    return fmt::format("Get({}) returned the record at {} (queue offset {}, {} body bytes)",
                       GetPosition(naming, r), m.offset, m.msg.queue_offset, m.msg.body.size());
  }
  auto hits = s.QueryByKey(r.topic, r.key, 4);
  if (!hits.ok()) return "QueryByKey failed: " + hits.status().ToString();
  if (hits->size() != 1 || (*hits)[0].offset != r.offset) {
    std::string at;
    for (const RecordRef& h : *hits) at += fmt::format(" {}", h.offset);
    return fmt::format("QueryByKey({}) returned {} records (at:{})", r.key, hits->size(), at);
  }
  return "";
}

void CheckQueues(const Store& s, const QueueLayout& layout,
                 const std::function<bool(const RecordRef&)>& known, Reporter& rep, Tally* tally) {
  for (const QueueInfo& qi : s.ListQueues()) {
    const std::pair<std::string, int32_t> id(qi.topic, qi.queue_id);
    if (std::find(layout.queues.begin(), layout.queues.end(), id) == layout.queues.end()) {
      rep.Fail(&tally->problems, fmt::format("unexpected queue {}/{}", qi.topic, qi.queue_id));
    }
  }
  for (const auto& [topic, q] : layout.queues) {
    const std::string name = QueueName(layout.naming, topic, q);
    const int64_t min = s.MinQueueOffset(topic, q), max = s.MaxQueueOffset(topic, q);
    if (max != s.NextQueueOffset(topic, q)) {
      rep.Fail(&tally->problems,
               fmt::format("queue {} max offset {} but the log's next queue offset is {}", name,
                           max, s.NextQueueOffset(topic, q)));
    }
    for (int64_t qo = min; qo < max; ++qo) {
      auto got = s.Get(topic, q, qo, GetOptions{.max_messages = 1});
      std::string why;
      if (!got.ok()) {
        why = got.status().ToString();
      } else if (got->messages.empty()) {
        why = GetMessageStatusName(got->status);
      } else if (const RecordRef& m = got->messages[0];
                 got->status != GetMessageStatus::kFound || got->messages.size() != 1 ||
                 got->next_begin_offset != qo + 1 || m.msg.topic != topic || m.msg.queue_id != q ||
                 m.msg.queue_offset != qo || m.next_offset > s.MaxOffset() ||
                 (known && !known(m))) {
        why = fmt::format("the entry leads to the record at {} ({}/{} queue offset {})", m.offset,
                          m.msg.topic, m.msg.queue_id, m.msg.queue_offset);
      }
      if (!why.empty()) {
        rep.Fail(&tally->problems, fmt::format("queue {} offset {} in [{}, {}) is not readable: {}",
                                               name, qo, min, max, why));
      }
    }
  }
}

void CheckDispatched(const Store& s, const PlacedRecord& r, QueueNaming naming, Reporter& rep,
                     Tally* tally) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool arrived =
      s.WaitForMessages(r.topic, r.queue_id, r.queue_offset, std::chrono::seconds(5));
  tally->slowest_wait = std::max(tally->slowest_wait, std::chrono::steady_clock::now() - t0);
  if (!arrived) {
    rep.Fail(&tally->problems,
             fmt::format("{} not dispatched within 5 s of its append", Position(naming, r)));
  } else if (std::string p = QueueOrIndexProblem(s, r, naming); !p.empty()) {
    rep.Fail(&tally->problems,
             fmt::format("message appended after recovery at {}: {}", r.offset, p));
  }
}

}  // namespace stele::testing
