#include "net/broker/timer_service.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <stdexcept>
#include <utility>
#include <vector>

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

std::string RootOf(const BrokerConfig& c) {
  return c.store_path_root_dir.empty() ? c.store.store_path_root_dir : c.store_path_root_dir;
}

int64_t WheelSlots(const BrokerConfig& c) {
  // Two maximum delays: timers parked while delivery lags up to one max delay still fit.
  return 2 * c.timer_max_delay_sec * 1000 / c.timer_precision_ms + 2;
}

int64_t JsonInt(const nlohmann::json& doc, const char* key) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_number_integer()) {
    throw std::invalid_argument(fmt::format("{} is missing or not an integer", key));
  }
  return it->get<int64_t>();
}

}  // namespace

TimerService::TimerService(Store& store, MessageWriter& writer, const BrokerConfig& config,
                           std::shared_ptr<FileSystem> fs, Clock clock, int64_t segment_entries)
    : store_(store),
      writer_(writer),
      config_(config),
      fs_(fs ? std::move(fs) : NewPosixFileSystem()),
      clock_(clock ? std::move(clock) : Clock(NowMs)),
      segment_entries_(segment_entries),
      root_(RootOf(config)),
      file_(fs_, root_ + "/config/timerCheckpoint.json") {}

TimerService::~TimerService() { Stop(); }

absl::Status TimerService::Load() {
  TimerStore::State st;
  int64_t enqueue_offset = 0;
  bool have = false;
  absl::Status s = file_.Load([&](const nlohmann::json& doc) -> absl::Status {
    if (!doc.is_object()) return absl::InvalidArgumentError("not a JSON object");
    try {
      TimerStore::State loaded;
      enqueue_offset = JsonInt(doc, "enqueueOffset");
      loaded.log_end = JsonInt(doc, "logEnd");
      loaded.dequeue_ms = JsonInt(doc, "dequeueMs");
      loaded.precision_ms = JsonInt(doc, "precisionMs");
      loaded.slots = JsonInt(doc, "slots");
      loaded.rebuild = !doc.value("clean", false);
      if (auto it = doc.find("segments"); it != doc.end() && it->is_object()) {
        for (const auto& [key, value] : it->items()) {
          int64_t start = 0;
          if (!ParseInt64(key, &start) || !value.is_number_integer()) {
            return absl::InvalidArgumentError(fmt::format("bad segments entry '{}'", key));
          }
          loaded.segment_max[start] = value.get<int64_t>();
        }
      }
      if (enqueue_offset < 0 || loaded.log_end < 0 || loaded.log_end % TimerStore::kEntryBytes) {
        return absl::InvalidArgumentError("negative offset or misaligned logEnd");
      }
      st = std::move(loaded);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(e.what());
    }
    have = true;
    return absl::OkStatus();
  });
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  const int64_t p = config_.timer_precision_ms;
  if (!have) {  // first run (or the files were removed): rescan the whole parked queue
    st = TimerStore::State{};
    st.rebuild = true;
    st.dequeue_ms = (clock_() + p - 1) / p * p;
  }
  TimerStore::Options opt;
  opt.precision_ms = p;
  opt.slots = WheelSlots(config_);
  if (segment_entries_ > 0) opt.segment_entries = segment_entries_;
  STELE_ASSIGN_OR_RETURN(timer_, TimerStore::Open(fs_, root_ + "/timer", opt, st));
  enqueue_offset_ = enqueue_offset;
  dequeue_ms_ = st.dequeue_ms / p * p;
  // Past the queue's end: parked messages lost with the machine (ASYNC_FLUSH); rescan from there.
  const int64_t end = store_.NextQueueOffset(kTimerTopic, 0);
  if (enqueue_offset_ > end) {
    log::Warn("timer: checkpoint offset {} is past the parked queue's end {}", enqueue_offset_,
              end);
    enqueue_offset_ = end;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    loaded_ = true;
  }
  // From here until a clean Stop the wheel may run ahead of the checkpoint.
  STELE_RETURN_IF_ERROR(Checkpoint(false));
  log::Info("timer: {} slots of {} ms, parked offset {}, next slot {}, timer log {}..{}", opt.slots,
            p, enqueue_offset_, dequeue_ms_, timer_->log_start(), timer_->log_end());
  return absl::OkStatus();
}

void TimerService::Start() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!loaded_) return;
  }
  thread_.Start([this] { last_checkpoint_ms_ = SteadyMs(); }, [this] { return RunOnce(); });
}

void TimerService::Stop() {
  thread_.Stop();
  bool loaded = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    loaded = loaded_;
    if (stopped_) return;
    stopped_ = true;
  }
  if (!loaded) return;
  if (absl::Status s = Checkpoint(true); !s.ok()) {
    log::Error("timer: the checkpoint at stop failed: {}", std::string(s.message()));
  }
}

void TimerService::Notify() { thread_.Wake(); }

TimerService::Stats TimerService::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

void TimerService::Publish() {
  std::lock_guard<std::mutex> l(mu_);
  stats_ = Stats{.enqueue_offset = enqueue_offset_,
                 .dequeue_ms = dequeue_ms_,
                 .log_end = timer_->log_end(),
                 .delivered = delivered_,
                 .relinked = relinked_,
                 .skipped = skipped_,
                 .cancelled = cancelled_};
}

absl::Status TimerService::Checkpoint(bool clean) {
  // Order matters: the delivered copies and the parked messages first, then the timer files, and
  // only then the checkpoint that counts on them.
  STELE_RETURN_IF_ERROR(store_.Flush());
  STELE_RETURN_IF_ERROR(timer_->Sync());
  nlohmann::json segments = nlohmann::json::object();
  for (const auto& [start, max] : timer_->segment_max()) segments[fmt::format("{}", start)] = max;
  STELE_RETURN_IF_ERROR(file_.Store(nlohmann::json{{"enqueueOffset", enqueue_offset_},
                                                   {"logEnd", timer_->log_end()},
                                                   {"dequeueMs", dequeue_ms_},
                                                   {"precisionMs", timer_->precision_ms()},
                                                   {"slots", timer_->slots()},
                                                   {"clean", clean},
                                                   {"segments", std::move(segments)}}));
  dirty_ = false;
  Publish();
  return timer_->DeleteDelivered(dequeue_ms_);
}

int64_t TimerService::RunOnce() {
  int64_t wait_ms = std::min(Enqueue(), Dequeue());
  MaybeCheckpoint(&wait_ms);
  Publish();
  return wait_ms;
}

void TimerService::MaybeCheckpoint(int64_t* wait_ms) {
  if (!dirty_) return;
  const int64_t since = SteadyMs() - last_checkpoint_ms_;
  if (since < kCheckpointIntervalMs) {
    *wait_ms = std::min(*wait_ms, kCheckpointIntervalMs - since);
    return;
  }
  last_checkpoint_ms_ = SteadyMs();
  if (absl::Status s = Checkpoint(false); !s.ok()) {
    log::Error("timer: checkpoint failed: {}", std::string(s.message()));
  }
}

int64_t TimerService::Place(int64_t deliver_ms) const {
  // The slot being delivered takes no new entries once its walk has begun: they would sit
  // before the walk's cursor and be missed.
  const int64_t first = cursor_ == kNotStarted ? dequeue_ms_ : dequeue_ms_ + timer_->precision_ms();
  return std::clamp(timer_->SlotFor(deliver_ms), first, timer_->LastSlot(dequeue_ms_));
}

int64_t TimerService::Enqueue() {
  for (int round = 0; round < kPassBatches && !thread_.stopping(); ++round) {
    GetOptions opts;
    opts.max_messages = kBatch;
    auto got = store_.Get(kTimerTopic, 0, enqueue_offset_, opts);
    if (!got.ok()) {
      log::Error("timer: reading the parked queue failed: {}", std::string(got.status().message()));
      return kErrorRetryMs;
    }
    if (got->status != GetMessageStatus::kFound) {
      if (got->next_begin_offset > enqueue_offset_) {  // deleted or unreadable entries
        log::Warn("timer: parked offsets {}..{} could not be read ({}); skipped", enqueue_offset_,
                  got->next_begin_offset - 1, GetMessageStatusName(got->status));
        enqueue_offset_ = got->next_begin_offset;
        dirty_ = true;
        continue;
      }
      return kIdleWaitMs;
    }
    for (const RecordRef& rec : got->messages) {
      int64_t due = clock_();
      auto out = FindProperty(rec.msg.properties, kPropTimerOutMs);
      if (!out || !ParseInt64(*out, &due)) {
        log::Error("timer: parked record at commit-log offset {} has no TIMER_OUT_MS; due now",
                   rec.offset);
      }
      auto pos = timer_->Add(Place(due), due, rec.offset, static_cast<int32_t>(rec.bytes.size()));
      if (!pos.ok()) {
        log::Error("timer: writing the timer log failed: {}", std::string(pos.status().message()));
        return kErrorRetryMs;
      }
      enqueue_offset_ = rec.msg.queue_offset + 1;
      dirty_ = true;
    }
    enqueue_offset_ = std::max(enqueue_offset_, got->next_begin_offset);
    if (static_cast<int>(got->messages.size()) < kBatch) return kIdleWaitMs;
  }
  return 0;
}

int64_t TimerService::Dequeue() {
  int64_t empty = 0;
  for (int round = 0; round < kPassBatches && !thread_.stopping();) {
    const int64_t now = clock_();
    if (dequeue_ms_ > now) return std::min(kIdleWaitMs, dequeue_ms_ - now);
    if (cursor_ == kNotStarted) {
      auto slot = timer_->Slot(dequeue_ms_);
      if (!slot.ok()) {
        log::Error("timer: reading the wheel failed: {}", std::string(slot.status().message()));
        return kErrorRetryMs;
      }
      cursor_ = slot->head;
    }
    if (cursor_ < 0) {  // slot done
      dequeue_ms_ += timer_->precision_ms();
      cursor_ = kNotStarted;
      cancels_.clear();
      // Not worth a checkpoint by itself: walking empty slots again after a crash is harmless,
      // and an idle broker would otherwise sync files every tick.
      // An empty slot costs one read; after a long outage there are many to walk.
      if (++empty >= kPassEmptySlots) return 0;
      continue;
    }
    if (int64_t retry = DeliverBatch(now); retry >= 0) return retry;
    ++round;
  }
  return 0;
}

struct TimerService::Item {
  int64_t pos = 0;
  bool needs_put = false;
  OutgoingMessage msg;
  absl::Status result;
};

int64_t TimerService::DeliverBatch(int64_t now) {
  std::vector<Item> items;
  int64_t next = cursor_;
  while (next >= 0 && static_cast<int>(items.size()) < kBatch) {
    Item item;
    item.pos = next;
    auto e = timer_->Read(next);
    if (!e.ok()) {
      log::Error("timer: slot {}: {}; the rest of the slot is lost", dequeue_ms_,
                 std::string(e.status().message()));
      skipped_++;
      next = -1;
      break;
    }
    next = e->prev;
    if (done_.contains(item.pos)) {
      items.push_back(std::move(item));
      continue;
    }
    if (e->deliver_ms > now) {  // due beyond the wheel when it was linked: link it again
      if (auto pos = timer_->Add(Place(e->deliver_ms), e->deliver_ms, e->commit_offset, e->size);
          !pos.ok()) {
        log::Error("timer: writing the timer log failed: {}", std::string(pos.status().message()));
        return kErrorRetryMs;
      }
      relinked_++;
      dirty_ = true;
      done_.insert(item.pos);
      items.push_back(std::move(item));
      continue;
    }
    auto rec = store_.Read(e->commit_offset);
    absl::StatusOr<OutgoingMessage> m =
        rec.ok() ? (rec->msg.topic == kTimerTopic
                        ? Unpark(rec->msg, kTimerTopic)
                        : absl::StatusOr<OutgoingMessage>(absl::DataLossError(
                              fmt::format("the record there is of topic {}, not parked",
                                          ShortForMessage(rec->msg.topic)))))
                 : absl::StatusOr<OutgoingMessage>(rec.status());
    if (!m.ok()) {
      log::Error("timer: skipping the timer at commit-log offset {}: {}", e->commit_offset,
                 std::string(m.status().message()));
      skipped_++;
    } else if (auto del = m->properties.Get(kPropTimerDelUniqKey)) {
      // RocketMQ 5's cancel: a timer for the same time naming "<topic>+<UNIQ_KEY>"; the marker
      // itself is never delivered.
      cancels_.emplace(*del);
      cancelled_++;
      done_.insert(item.pos);
    } else if (auto uniq = m->properties.Get(kPropertyUniqKey);
               uniq && cancels_.contains(fmt::format("{}+{}", m->topic, *uniq))) {
      cancelled_++;
      done_.insert(item.pos);
    } else {
      m->properties.Set(kPropTimerDequeueMs, fmt::format("{}", now));
      item.needs_put = true;
      item.msg = std::move(*m);
    }
    items.push_back(std::move(item));
  }

  std::vector<OutgoingMessage> msgs;
  std::vector<size_t> index;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].needs_put) continue;
    msgs.push_back(std::move(items[i].msg));
    index.push_back(i);
  }
  std::vector<absl::Status> results = PutAllAndWait(writer_, std::move(msgs));
  int64_t retry_in = -1;
  for (size_t k = 0; k < index.size(); ++k) {
    absl::Status& s = results[k];
    const int64_t pos = items[index[k]].pos;
    if (!s.ok() && IsPermanentPutFailure(s)) {
      log::Error("timer: skipping the timer at log position {}: {}", pos, std::string(s.message()));
      skipped_++;
      s = absl::OkStatus();
    }
    if (s.ok()) {
      delivered_++;
      done_.insert(pos);
      continue;
    }
    if (retry_in < 0 && SteadyMs() - last_warn_ms_ >= kWarnIntervalMs) {
      last_warn_ms_ = SteadyMs();
      log::Warn("timer: delivering slot {} failed, will retry: {}", dequeue_ms_,
                std::string(s.message()));
    }
    retry_in = std::max(retry_in, absl::IsResourceExhausted(s) ? kBusyRetryMs : kErrorRetryMs);
  }
  if (retry_in >= 0) return retry_in;  // the same batch again; done_ skips what went through
  cursor_ = next;
  done_.clear();
  dirty_ = true;
  return -1;
}

}  // namespace stele::broker
