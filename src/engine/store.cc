#include "stele/store.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/commit_log.h"
#include "index/cleaner.h"
#include "index/dispatcher.h"
#include "index/index_file.h"
#include "index/java_hash.h"
#include "index/queue_store.h"

namespace stele {
namespace {

// Entries read from a consume queue per step while filling a Get.
constexpr size_t kScanChunk = 256;

bool HasToken(std::string_view list, std::string_view key) {
  while (!list.empty()) {
    size_t sp = list.find(' ');
    if (list.substr(0, sp) == key) return true;
    if (sp == std::string_view::npos) break;
    list.remove_prefix(sp + 1);
  }
  return false;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string_view GetMessageStatusName(GetMessageStatus s) {
  switch (s) {
    case GetMessageStatus::kFound:
      return "FOUND";
    case GetMessageStatus::kNoMatchedMessage:
      return "NO_MATCHED_MESSAGE";
    case GetMessageStatus::kMessageWasRemoving:
      return "MESSAGE_WAS_REMOVING";
    case GetMessageStatus::kOffsetFoundNull:
      return "OFFSET_FOUND_NULL";
    case GetMessageStatus::kOffsetOverflowBadly:
      return "OFFSET_OVERFLOW_BADLY";
    case GetMessageStatus::kOffsetOverflowOne:
      return "OFFSET_OVERFLOW_ONE";
    case GetMessageStatus::kOffsetTooSmall:
      return "OFFSET_TOO_SMALL";
    case GetMessageStatus::kNoMatchedLogicQueue:
      return "NO_MATCHED_LOGIC_QUEUE";
    case GetMessageStatus::kNoMessageInQueue:
      return "NO_MESSAGE_IN_QUEUE";
  }
  return "UNKNOWN";
}

// What the store builds from its commit log (src/index), owned by the facade.
struct IndexLayer {
  std::unique_ptr<index::QueueStore> queues;
  std::unique_ptr<index::IndexService> idx;
  std::unique_ptr<index::Dispatcher> dispatcher;
  std::unique_ptr<index::Cleaner> cleaner;
};

Store::Store() = default;
Store::~Store() { (void)Close(); }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(StoreOptions options) {
  auto log = CommitLog::Open(std::move(options));
  if (!log.ok()) return log.status();
  std::unique_ptr<Store> s(new Store());
  s->log_ = std::move(*log);
  if (absl::Status st = s->OpenIndexLayer(); !st.ok()) {
    (void)s->Close();
    return st;
  }
  return s;
}

absl::Status Store::OpenIndexLayer() {
  const StoreOptions& o = log_->options();
  FileSystem* fs = log_->file_system();
  const std::string& root = o.store_path_root_dir;
  idx_ = std::make_unique<IndexLayer>();
  const int64_t cq_file = static_cast<int64_t>((o.mapped_file_size_consume_queue + 19) / 20 * 20);
  idx_->queues = std::make_unique<index::QueueStore>(fs, root + "/consumequeue", cq_file);
  STELE_RETURN_IF_ERROR(idx_->queues->Load());
  if (o.message_index_enable) {
    std::function<int64_t()> clock = o.clock_ms ? o.clock_ms : [] { return NowMs(); };
    idx_->idx = std::make_unique<index::IndexService>(
        fs, root + "/index",
        index::IndexConfig{.max_hash_slot_num = o.max_hash_slot_num,
                           .max_index_num = o.max_index_num},
        clock);
    STELE_RETURN_IF_ERROR(idx_->idx->Load());
  }
  // Everything before the checkpoint's dispatch offset is durably in the queues and the index;
  // what follows is dispatched again (after dropping any queue entries for it).
  const int64_t min = log_->MinOffset(), end = log_->MaxOffset();
  int64_t from = log_->RecoveredDispatchOffset();
  from = std::clamp<int64_t>(from < 0 ? min : from, min, end);
  STELE_ASSIGN_OR_RETURN(int64_t dropped, idx_->queues->TruncateFrom(from));
  if (idx_->idx && !log_->report().clean_shutdown) {
    // A power loss can leave index pages written after the last index Sync on disk in any mix,
    // hiding durable entries: rebuild what may be damaged before re-indexing from `from`.
    STELE_RETURN_IF_ERROR(idx_->idx->RepairAfterCrash(from).status());
  }
  if (dropped > 0 || from < end) {
    log::Info(
        "recovery: dropped {} consume-queue entries at or after offset {}; re-dispatching {} "
        "bytes of commit log",
        dropped, from, end - from);
  }
  idx_->dispatcher = std::make_unique<index::Dispatcher>(
      log_.get(), idx_->queues.get(), idx_->idx.get(), o.flush_interval_consume_queue_ms);
  STELE_RETURN_IF_ERROR(idx_->dispatcher->CatchUp(from));
  STELE_RETURN_IF_ERROR(idx_->queues->DeleteBelow(min).status());
  if (dropped > 0 || from < end) {
    STELE_RETURN_IF_ERROR(idx_->dispatcher->FlushNow());  // the rebuilt part becomes durable
  } else {
    log_->SetDispatchDurable(from);
  }
  index::Dispatcher* d = idx_->dispatcher.get();
  log_->SetVisibleHook([d] { d->OnVisible(); });
  d->Start();
  idx_->cleaner = std::make_unique<index::Cleaner>(log_.get(), idx_->queues.get(), idx_->idx.get(),
                                                   fs, log_->dir(), o);
  idx_->cleaner->Start();
  return absl::OkStatus();
}

absl::Status Store::Close() {
  absl::Status st;
  if (idx_ != nullptr) {
    if (idx_->cleaner) idx_->cleaner->Stop();
    if (idx_->dispatcher) {
      // Whatever is staged must be visible before the dispatcher's last pass.
      (void)log_->Flush();
      st = idx_->dispatcher->Stop();
      log_->SetVisibleHook(nullptr);
    }
  }
  absl::Status lst = log_->Close();
  if (st.ok()) st = lst;
  if (idx_ != nullptr && idx_->idx) idx_->idx->Close();
  return st;
}

absl::Status Store::CheckWritable() const {
  if (idx_ && idx_->cleaner && idx_->cleaner->disk_full()) {
    return PutError(PutMessageStatus::kServiceNotAvailable, absl::StatusCode::kUnavailable,
                    "disk above diskSpaceWarningLevelRatio; appends resume once retention frees "
                    "space");
  }
  return absl::OkStatus();
}

absl::StatusOr<AppendResult> Store::Append(const Message& m) {
  STELE_RETURN_IF_ERROR(CheckWritable());
  return log_->Append(m);
}
absl::StatusOr<std::vector<AppendResult>> Store::AppendBatch(std::span<const Message> msgs) {
  STELE_RETURN_IF_ERROR(CheckWritable());
  return log_->AppendBatch(msgs);
}
void Store::AppendAsync(const Message& m, AppendCallback done) {
  if (absl::Status st = CheckWritable(); !st.ok()) {
    done(st);
    return;
  }
  log_->AppendAsync(m, std::move(done));
}
absl::StatusOr<RecordRef> Store::Read(int64_t offset) const { return log_->Read(offset); }
absl::StatusOr<std::string> Store::ReadBytes(int64_t offset, int32_t size) const {
  return log_->ReadBytes(offset, size);
}
absl::Status Store::Flush() { return log_->Flush(); }
int64_t Store::MinOffset() const { return log_->MinOffset(); }
int64_t Store::MaxOffset() const { return log_->MaxOffset(); }
int64_t Store::FlushedOffset() const { return log_->FlushedOffset(); }
int64_t Store::NextQueueOffset(std::string_view topic, int32_t queue_id) const {
  return log_->NextQueueOffset(topic, queue_id);
}
const RecoveryReport& Store::recovery_report() const { return log_->report(); }
FlushStats Store::flush_stats() const { return log_->flush_stats(); }
const StoreOptions& Store::options() const { return log_->options(); }

absl::StatusOr<GetResult> Store::Get(std::string_view topic, int32_t queue_id, int64_t queue_offset,
                                     const GetOptions& opts) const {
  if (opts.max_messages <= 0 || opts.max_bytes <= 0) {
    return absl::InvalidArgumentError("max_messages and max_bytes must be positive");
  }
  GetResult r;
  auto cq = idx_->queues->Find(topic, queue_id);
  if (cq == nullptr) {
    r.status = GetMessageStatus::kNoMatchedLogicQueue;
    return r;
  }
  const int64_t max = cq->MaxOffset();
  const int64_t min = std::min(cq->MinOffset(), max);
  r.min_offset = min;
  r.max_offset = max;
  if (max == 0) {
    r.status = GetMessageStatus::kNoMessageInQueue;
    return r;
  }
  if (queue_offset < min) {
    r.status = GetMessageStatus::kOffsetTooSmall;
    r.next_begin_offset = min;
    return r;
  }
  if (queue_offset == max) {
    r.status = GetMessageStatus::kOffsetOverflowOne;
    r.next_begin_offset = queue_offset;
    return r;
  }
  if (queue_offset > max) {
    r.status = GetMessageStatus::kOffsetOverflowBadly;
    // RocketMQ 5's correction (4.x restarted at 0 when min was 0, replaying a whole queue).
    r.next_begin_offset = max;
    return r;
  }
  // Tag filter: hash codes for the consume-queue pass, strings for the record check.
  bool filter = !opts.tags.empty();
  std::vector<int64_t> codes;
  for (const std::string& t : opts.tags) {
    if (t == "*") filter = false;
    codes.push_back(index::TagsCode(t));
  }
  r.status = GetMessageStatus::kNoMatchedMessage;
  bool removing = false, null_found = false;
  const int64_t log_min = log_->MinOffset();
  const int64_t scan_limit = std::max<int64_t>(16000, int64_t{opts.max_messages} * 20);
  int64_t q = queue_offset;
  index::CqEntry buf[kScanChunk];
  bool done = false;
  while (!done && q < max && q - queue_offset < scan_limit) {
    const size_t n = cq->Read(q, kScanChunk, buf);
    if (n == 0) {
      null_found = true;
      break;
    }
    for (size_t i = 0; i < n; ++i) {
      const index::CqEntry& e = buf[i];
      if (e.is_blank()) {
        ++q;
        continue;
      }
      if (!e.is_valid()) {  // a hole (only a damaged queue has one)
        null_found = true;
        ++q;
        continue;
      }
      if (e.phy_offset < log_min) {
        removing = true;
        ++q;
        continue;
      }
      if (!r.messages.empty() && r.total_bytes + e.size > opts.max_bytes) {
        done = true;
        break;
      }
      if (filter && std::find(codes.begin(), codes.end(), e.tags_code) == codes.end()) {
        ++q;
        continue;
      }
      auto rec = log_->Read(e.phy_offset, /*verify_crc=*/false);
      if (!rec.ok()) {
        (absl::IsOutOfRange(rec.status()) ? removing : null_found) = true;
        ++q;
        continue;
      }
      if (filter) {
        const std::string_view tag = rec->msg.Property(kPropertyTags).value_or("");
        if (std::find(opts.tags.begin(), opts.tags.end(), tag) == opts.tags.end()) {
          ++q;
          continue;
        }
      }
      if (opts.record_filter && !opts.record_filter(rec->msg)) {
        ++q;
        continue;
      }
      r.total_bytes += rec->msg.total_size;
      r.messages.push_back(std::move(*rec));
      ++q;
      if (static_cast<int32_t>(r.messages.size()) >= opts.max_messages) {
        done = true;
        break;
      }
    }
  }
  r.next_begin_offset = q;
  if (!r.messages.empty()) {
    r.status = GetMessageStatus::kFound;
  } else if (removing) {
    r.status = GetMessageStatus::kMessageWasRemoving;
  } else if (null_found) {
    r.status = GetMessageStatus::kOffsetFoundNull;
  }
  return r;
}

int64_t Store::MinQueueOffset(std::string_view topic, int32_t queue_id) const {
  auto cq = idx_->queues->Find(topic, queue_id);
  return cq ? std::min(cq->MinOffset(), cq->MaxOffset()) : 0;
}

int64_t Store::MaxQueueOffset(std::string_view topic, int32_t queue_id) const {
  auto cq = idx_->queues->Find(topic, queue_id);
  return cq ? cq->MaxOffset() : 0;
}

absl::StatusOr<int64_t> Store::QueueOffsetStoreTime(std::string_view topic, int32_t queue_id,
                                                    int64_t queue_offset) const {
  auto cq = idx_->queues->Find(topic, queue_id);
  if (cq == nullptr) return absl::NotFoundError("no such queue");
  auto e = cq->Get(queue_offset);
  if (!e || !e->is_message()) {
    return absl::NotFoundError("no message at that queue offset");
  }
  STELE_ASSIGN_OR_RETURN(RecordRef rec, log_->Read(e->phy_offset, /*verify_crc=*/false));
  return rec.msg.store_timestamp;
}

absl::StatusOr<int64_t> Store::SearchQueueOffset(std::string_view topic, int32_t queue_id,
                                                 int64_t timestamp_ms) const {
  auto cq = idx_->queues->Find(topic, queue_id);
  if (cq == nullptr) return absl::NotFoundError("no such queue");
  int64_t lo = std::min(cq->MinOffset(), cq->MaxOffset()), hi = cq->MaxOffset();
  // Store timestamps never decrease along a queue, so the predicate "stored at or after the
  // target" is monotonic; unreadable (deleted) entries count as older.
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    bool at_or_after = false;
    if (auto e = cq->Get(mid); e && e->is_message()) {
      auto rec = log_->Read(e->phy_offset, /*verify_crc=*/false);
      at_or_after = rec.ok() && rec->msg.store_timestamp >= timestamp_ms;
    }
    if (at_or_after) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

bool Store::WaitForMessages(std::string_view topic, int32_t queue_id, int64_t queue_offset,
                            std::chrono::milliseconds timeout) const {
  return idx_->dispatcher->WaitFor(topic, queue_id, queue_offset,
                                   std::chrono::steady_clock::now() + timeout);
}

void Store::SetArrivalListener(ArrivalListener listener) {
  idx_->dispatcher->SetListener(std::move(listener));
}

std::vector<QueueInfo> Store::ListQueues() const {
  std::vector<QueueInfo> out;
  for (const auto& q : idx_->queues->All()) {
    const int64_t max = q->MaxOffset();
    out.push_back(QueueInfo{.topic = q->topic(),
                            .queue_id = q->queue_id(),
                            .min_offset = std::min(q->MinOffset(), max),
                            .max_offset = max});
  }
  std::sort(out.begin(), out.end(), [](const QueueInfo& a, const QueueInfo& b) {
    return std::tie(a.topic, a.queue_id) < std::tie(b.topic, b.queue_id);
  });
  return out;
}

int64_t Store::DispatchedOffset() const { return idx_->dispatcher->dispatched(); }

absl::StatusOr<std::vector<RecordRef>> Store::QueryByKey(std::string_view topic,
                                                         std::string_view key, int max,
                                                         int64_t begin_ms, int64_t end_ms) const {
  if (idx_->idx == nullptr) {
    return absl::FailedPreconditionError("the hash index is off (messageIndexEnable=false)");
  }
  if (max <= 0) return absl::InvalidArgumentError("max must be positive");
  max = std::min(max, log_->options().max_msgs_num_batch);
  std::vector<RecordRef> out;
  for (int64_t off : idx_->idx->Query(topic, key, static_cast<size_t>(max), begin_ms, end_ms)) {
    auto rec = log_->Read(off, /*verify_crc=*/false);
    if (!rec.ok()) continue;  // deleted by retention, or past a crash-truncated end
    // The index stores hashes: check the key on the record itself.
    const MessageView& m = rec->msg;
    if (m.topic != topic) continue;
    if (m.Property(kPropertyUniqKey).value_or("") != key &&
        !HasToken(m.Property(kPropertyKeys).value_or(""), key)) {
      continue;
    }
    if (m.store_timestamp < begin_ms || m.store_timestamp > end_ms) continue;
    out.push_back(std::move(*rec));
  }
  return out;
}

absl::StatusOr<RecordRef> Store::LookupMessageId(std::string_view id) const {
  // Address (4 or 16 bytes), port (4), commit-log offset (8), in upper-case hex.
  if (id.size() != 32 && id.size() != 56) {
    return absl::InvalidArgumentError(
        fmt::format("'{}' is not an offset message id (32 or 56 hex digits)", id));
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < id.size(); ++i) {
    const int v = HexValue(id[i]);
    if (v < 0) return absl::InvalidArgumentError(fmt::format("'{}' is not hexadecimal", id));
    if (i >= id.size() - 16) offset = offset << 4 | static_cast<uint64_t>(v);
  }
  if (offset > static_cast<uint64_t>(INT64_MAX)) return absl::NotFoundError("offset out of range");
  auto rec = log_->Read(static_cast<int64_t>(offset));
  if (!rec.ok() || rec->offset != static_cast<int64_t>(offset)) {
    return absl::NotFoundError(
        fmt::format("no message {} (commit-log offset {}): {}", id, offset,
                    rec.ok() ? "no record starts there" : std::string(rec.status().message())));
  }
  return rec;
}

absl::StatusOr<CleanReport> Store::CleanExpiredFiles(bool manual) {
  return idx_->cleaner->RunOnce(manual);
}

}  // namespace stele
