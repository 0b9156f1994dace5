#include "stele/store.h"

#include <fmt/format.h>

#include "absl/strings/cord.h"
#include "engine/commit_log.h"

namespace stele {
namespace {

constexpr absl::string_view kPutStatusPayload = "stele.put_status";

}  // namespace

std::string_view PutMessageStatusName(PutMessageStatus s) {
  switch (s) {
    case PutMessageStatus::kPutOk:
      return "PUT_OK";
    case PutMessageStatus::kFlushDiskTimeout:
      return "FLUSH_DISK_TIMEOUT";
    case PutMessageStatus::kServiceNotAvailable:
      return "SERVICE_NOT_AVAILABLE";
    case PutMessageStatus::kCreateMappedFileFailed:
      return "CREATE_MAPPED_FILE_FAILED";
    case PutMessageStatus::kMessageIllegal:
      return "MESSAGE_ILLEGAL";
    case PutMessageStatus::kPropertiesSizeExceeded:
      return "PROPERTIES_SIZE_EXCEEDED";
    case PutMessageStatus::kOsPageCacheBusy:
      return "OS_PAGE_CACHE_BUSY";
    case PutMessageStatus::kUnknownError:
      return "UNKNOWN_ERROR";
  }
  return "UNKNOWN_ERROR";
}

absl::Status PutError(PutMessageStatus put, absl::StatusCode code, std::string_view msg) {
  absl::Status s(code, fmt::format("{}: {}", PutMessageStatusName(put), msg));
  s.SetPayload(kPutStatusPayload, absl::Cord(std::to_string(static_cast<int>(put))));
  return s;
}

PutMessageStatus PutStatusOf(const absl::Status& s) {
  if (s.ok()) return PutMessageStatus::kPutOk;
  if (auto p = s.GetPayload(kPutStatusPayload)) {
    int v = std::stoi(std::string(*p));
    if (v >= 0 && v <= static_cast<int>(PutMessageStatus::kUnknownError)) {
      return static_cast<PutMessageStatus>(v);
    }
  }
  if (s.code() == absl::StatusCode::kInvalidArgument) return PutMessageStatus::kMessageIllegal;
  if (s.code() == absl::StatusCode::kUnavailable) return PutMessageStatus::kServiceNotAvailable;
  return PutMessageStatus::kUnknownError;
}

Store::Store() = default;
Store::~Store() {
  if (log_) (void)log_->Close();
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(StoreOptions options) {
  auto log = CommitLog::Open(std::move(options));
  if (!log.ok()) return log.status();
  std::unique_ptr<Store> s(new Store());
  s->log_ = std::move(*log);
  return s;
}

absl::Status Store::Close() { return log_->Close(); }
absl::StatusOr<AppendResult> Store::Append(const Message& m) { return log_->Append(m); }
absl::StatusOr<std::vector<AppendResult>> Store::AppendBatch(std::span<const Message> msgs) {
  return log_->AppendBatch(msgs);
}
void Store::AppendAsync(const Message& m, AppendCallback done) {
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
const StoreOptions& Store::options() const { return log_->options(); }

}  // namespace stele
