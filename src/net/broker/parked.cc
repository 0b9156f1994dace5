#include "net/broker/parked.h"

#include <charconv>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "fmt/format.h"
#include "net/broker/state/broker_config.h"
#include "net/broker/state/names.h"

namespace stele::broker {

absl::StatusOr<OutgoingMessage> Unpark(const MessageView& v, std::string_view parked_topic) {
  OutgoingMessage m = OutgoingMessage::FromStored(v);
  auto topic = m.properties.Get(kPropRealTopic);
  auto qid_text = m.properties.Get(kPropRealQueueId);
  if (!topic || !qid_text) {
    return absl::InvalidArgumentError("it has no REAL_TOPIC or REAL_QID property");
  }
  m.topic = std::string(*topic);
  if (absl::Status s = ValidateInternalTopic(m.topic); !s.ok()) return s;
  if (m.topic == parked_topic) {
    return absl::InvalidArgumentError(
        fmt::format("its REAL_TOPIC is the parking topic {} itself", parked_topic));
  }
  int64_t qid = -1;
  auto [p, ec] = std::from_chars(qid_text->data(), qid_text->data() + qid_text->size(), qid);
  if (ec != std::errc() || p != qid_text->data() + qid_text->size() || qid < 0 ||
      qid >= kMaxQueueNums) {
    return absl::InvalidArgumentError(
        fmt::format("REAL_QID '{}' is not a queue id", ShortForMessage(*qid_text)));
  }
  m.queue_id = static_cast<int32_t>(qid);
  return m;
}

bool IsPermanentPutFailure(const absl::Status& s) {
  const PutMessageStatus p = PutStatusOf(s);
  return p == PutMessageStatus::kMessageIllegal || p == PutMessageStatus::kPropertiesSizeExceeded;
}

std::vector<absl::Status> PutAllAndWait(MessageWriter& writer, std::vector<OutgoingMessage> msgs) {
  struct Gather {
    std::mutex mu;
    std::condition_variable cv;
    size_t remaining = 0;
    std::vector<absl::Status> results;
  };
  auto g = std::make_shared<Gather>();
  g->results.resize(msgs.size());
  g->remaining = msgs.size();
  for (size_t i = 0; i < msgs.size(); ++i) {
    // Each put's callback may run before Put returns, or on an engine thread.
    writer.Put(std::move(msgs[i]), [g, i](absl::StatusOr<AppendResult> r) {
      std::lock_guard<std::mutex> l(g->mu);
      g->results[i] = r.status();
      if (--g->remaining == 0) g->cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> l(g->mu);
  g->cv.wait(l, [&] { return g->remaining == 0; });
  return std::move(g->results);
}

}  // namespace stele::broker
