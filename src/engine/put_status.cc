// RocketMQ's put statuses, carried on absl::Status as a payload.
#include <fmt/format.h>

#include "absl/strings/cord.h"
#include "stele/store.h"

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

}  // namespace stele
