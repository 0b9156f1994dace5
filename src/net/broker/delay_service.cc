#include "net/broker/delay_service.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <utility>

#include <nlohmann/json.hpp>
#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/broker/parked.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool ParseInt64(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

struct DelayService::Item {
  int64_t queue_offset = 0;
  bool needs_put = false;  // false: already delivered, or skipped as undeliverable
  OutgoingMessage msg;
  absl::Status result;
};

DelayService::DelayService(Store& store, MessageWriter& writer, const BrokerConfig& config,
                           std::shared_ptr<FileSystem> fs)
    : store_(store),
      writer_(writer),
      file_(std::move(fs), (config.store_path_root_dir.empty() ? config.store.store_path_root_dir
                                                               : config.store_path_root_dir) +
                               "/config/delayOffset.json"),
      delivered_ahead_(static_cast<size_t>(writer.max_delay_level()) + 1),
      last_warn_ms_(delivered_ahead_.size(), INT64_MIN / 2) {}

DelayService::~DelayService() { Stop(); }

absl::Status DelayService::Load() {
  std::lock_guard<std::mutex> pl(persist_mu_);
  absl::Status s = file_.Load([this](const nlohmann::json& doc) -> absl::Status {
    if (!doc.is_object()) return absl::InvalidArgumentError("not a JSON object");
    std::map<int, int64_t> loaded;
    auto it = doc.find("offsetTable");
    if (it != doc.end() && !it->is_null()) {
      if (!it->is_object()) return absl::InvalidArgumentError("offsetTable is not an object");
      for (const auto& [key, value] : it->items()) {
        int64_t level = 0;
        if (!ParseInt64(key, &level) || level < 1 || level > 1000) {
          return absl::InvalidArgumentError(
              fmt::format("offsetTable key '{}' is not a level", key));
        }
        if (!value.is_number_integer() || value.get<int64_t>() < 0) {
          return absl::InvalidArgumentError(
              fmt::format("offsetTable[{}] is not an offset: {}", key, value.dump()));
        }
        loaded[static_cast<int>(level)] = value.get<int64_t>();
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    offsets_ = std::move(loaded);
    return absl::OkStatus();
  });
  if (absl::IsNotFound(s)) return absl::OkStatus();
  return s;
}

void DelayService::Start() {
  // An offset past its queue's end means parked messages were lost (a machine crash under
  // ASYNC_FLUSH after the offsets were written). Pull it back now, before anything new is parked
  // at the offsets that follow, or those messages would be skipped.
  auto prepare = [this] {
    for (int level = 1; level <= writer_.max_delay_level(); ++level) {
      const int64_t end = store_.NextQueueOffset(kScheduleTopic, level - 1);
      if (const int64_t offset = Offset(level); offset > end) {
        log::Warn(
            "delay level {}: offset {} is past the schedule queue's end {}; parked messages "
            "were lost in a crash",
            level, offset, end);
        SetOffset(level, end);
      }
    }
    last_persist_ms_ = SteadyMs();
  };
  thread_.Start(prepare, [this] { return RunOnce(); });
}

void DelayService::Stop() {
  // Never started = nothing changed; and a file Load() refused must stay for the operator.
  if (!thread_.Stop()) return;
  if (absl::Status s = Persist(); !s.ok()) {
    log::Error("persisting {} at stop failed: {}", file_.path(), std::string(s.message()));
  }
}

absl::Status DelayService::Persist() {
  std::lock_guard<std::mutex> pl(persist_mu_);
  nlohmann::json table = nlohmann::json::object();
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [level, offset] : offsets_) table[fmt::format("{}", level)] = offset;
    dirty_ = false;
  }
  absl::Status s = file_.Store(nlohmann::json{{"offsetTable", std::move(table)}});
  if (!s.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    dirty_ = true;
  }
  return s;
}

int64_t DelayService::Offset(int level) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = offsets_.find(level);
  return it == offsets_.end() ? 0 : it->second;
}

void DelayService::Notify(int level) {
  if (level < 1 || level > writer_.max_delay_level()) return;
  thread_.Wake();
}

void DelayService::SetOffset(int level, int64_t offset) {
  {
    std::lock_guard<std::mutex> l(mu_);
    int64_t& cur = offsets_[level];
    if (cur == offset) return;
    cur = offset;
    dirty_ = true;
  }
  std::set<int64_t>& ahead = delivered_ahead_[static_cast<size_t>(level)];
  ahead.erase(ahead.begin(), ahead.lower_bound(offset));
}

int64_t DelayService::RunOnce() {
  int64_t wait_ms = kIdleWaitMs;
  for (int level = 1; level <= writer_.max_delay_level() && !thread_.stopping(); ++level) {
    wait_ms = std::min(wait_ms, DeliverDue(level));
  }
  MaybePersist(&wait_ms);
  return wait_ms;
}

void DelayService::MaybePersist(int64_t* wait_ms) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!dirty_) return;
  }
  const int64_t since = SteadyMs() - last_persist_ms_;
  if (since < kPersistIntervalMs) {
    *wait_ms = std::min(*wait_ms, kPersistIntervalMs - since);
    return;
  }
  last_persist_ms_ = SteadyMs();
  if (absl::Status s = Persist(); !s.ok()) {
    log::Error("persisting {} failed: {}", file_.path(), std::string(s.message()));
  }
}

int64_t DelayService::DeliverDue(int level) {
  const int32_t qid = level - 1;
  const int64_t offset = Offset(level);
  GetOptions opts;
  opts.max_messages = kBatch;
  auto got = store_.Get(kScheduleTopic, qid, offset, opts);
  if (!got.ok()) {
    log::Error("delay level {}: reading the schedule queue failed: {}", level,
               std::string(got.status().message()));
    return kErrorRetryMs;
  }
  if (got->status == GetMessageStatus::kOffsetTooSmall) {
    log::Warn("delay level {}: messages at offsets {}..{} were deleted before delivery", level,
              offset, got->next_begin_offset - 1);
    SetOffset(level, got->next_begin_offset);
    return 0;
  }
  if (got->status != GetMessageStatus::kFound) {
    // (An offset past the queue's end was pulled back by Start; here it is at most a dispatch
    // ahead of the consume queue, and the message will show up.)
    if (got->next_begin_offset > offset) {  // skipped blank, unreadable or removed entries
      if (got->status != GetMessageStatus::kNoMatchedMessage) {
        log::Warn("delay level {}: schedule offsets {}..{} could not be read ({}); skipped", level,
                  offset, got->next_begin_offset - 1, GetMessageStatusName(got->status));
      }
      SetOffset(level, got->next_begin_offset);
      return 0;
    }
    const bool idle = got->status == GetMessageStatus::kOffsetOverflowOne ||
                      got->status == GetMessageStatus::kNoMessageInQueue ||
                      got->status == GetMessageStatus::kNoMatchedLogicQueue ||
                      got->status == GetMessageStatus::kOffsetOverflowBadly;
    return idle ? kIdleWaitMs : kErrorRetryMs;
  }

  const int64_t now = NowMs();
  const int64_t delay = writer_.delay_ms(level);
  const std::set<int64_t>& ahead = delivered_ahead_[static_cast<size_t>(level)];
  std::vector<Item> items;
  items.reserve(got->messages.size());
  int64_t not_due_in = -1;  // >= 0: stopped at a message due in this many ms
  for (const RecordRef& rec : got->messages) {
    Item item;
    item.queue_offset = rec.msg.queue_offset;
    if (ahead.contains(item.queue_offset)) {
      items.push_back(std::move(item));
      continue;
    }
    int64_t due = rec.msg.store_timestamp + delay;
    if (due > now + delay) due = now;  // stored "in the future": the clock stepped back
    if (due > now) {
      not_due_in = due - now;
      break;
    }
    auto m = Unpark(rec.msg, kScheduleTopic);
    if (m.ok()) m->properties.Remove(kPropDelayLevel);  // or it would be parked again
    if (!m.ok()) {
      log::Error("delay level {}: skipping the record at commit-log offset {}: {}", level,
                 rec.offset, std::string(m.status().message()));
    } else {
      item.needs_put = true;
      item.msg = std::move(*m);
    }
    items.push_back(std::move(item));
  }
  PutAll(items);

  int64_t next = offset;
  int64_t retry_in = -1;  // >= 0: a put failed and is retried then
  for (const Item& item : items) {
    absl::Status s = item.result;
    if (!s.ok() && IsPermanentPutFailure(s)) {
      log::Error("delay level {}: skipping the message at schedule offset {}: {}", level,
                 item.queue_offset, std::string(s.message()));
      s = absl::OkStatus();
    }
    if (!s.ok()) {
      int64_t& last_warn = last_warn_ms_[static_cast<size_t>(level)];
      if (retry_in < 0 && SteadyMs() - last_warn >= kWarnIntervalMs) {
        last_warn = SteadyMs();
        log::Warn(
            "delay level {}: delivering the message at schedule offset {} failed, will "
            "retry: {}",
            level, item.queue_offset, std::string(s.message()));
      }
      retry_in = std::max(retry_in, absl::IsResourceExhausted(s) ? kBusyRetryMs : kErrorRetryMs);
    } else if (retry_in < 0) {
      next = item.queue_offset + 1;
    } else if (item.needs_put) {
      delivered_ahead_[static_cast<size_t>(level)].insert(item.queue_offset);
    }
  }
  const bool whole_batch = retry_in < 0 && not_due_in < 0;
  if (whole_batch) next = std::max(next, got->next_begin_offset);
  SetOffset(level, next);
  if (retry_in >= 0) return retry_in;
  if (not_due_in >= 0) return not_due_in;
  return next >= got->max_offset ? kIdleWaitMs : 0;
}

void DelayService::PutAll(std::vector<Item>& items) {
  std::vector<OutgoingMessage> msgs;
  std::vector<size_t> index;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].needs_put) continue;
    msgs.push_back(std::move(items[i].msg));
    index.push_back(i);
  }
  if (msgs.empty()) return;
  std::vector<absl::Status> results = PutAllAndWait(writer_, std::move(msgs));
  for (size_t k = 0; k < index.size(); ++k) items[index[k]].result = std::move(results[k]);
}

}  // namespace stele::broker
