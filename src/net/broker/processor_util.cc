#include "net/broker/processor_util.h"

namespace stele::broker {

using namespace remoting::response;

int32_t PutFailureCode(const absl::Status& s) {
  if (absl::IsResourceExhausted(s)) return kSystemBusy;
  switch (PutStatusOf(s)) {
    case PutMessageStatus::kPutOk:
      return kSuccess;
    case PutMessageStatus::kFlushDiskTimeout:
      return kFlushDiskTimeout;
    case PutMessageStatus::kServiceNotAvailable:
      return kServiceNotAvailable;
    case PutMessageStatus::kMessageIllegal:
    case PutMessageStatus::kPropertiesSizeExceeded:
      return kMessageIllegal;
    case PutMessageStatus::kOsPageCacheBusy:
      return kSystemBusy;
    case PutMessageStatus::kCreateMappedFileFailed:
    case PutMessageStatus::kUnknownError:
      return kSystemError;
  }
  return kSystemError;
}

HostAddress PeerHost(const remoting::Channel& ch) {
  auto h = HostAddress::Parse(ch.remote_address());
  return h.ok() ? *h : HostAddress{};
}

}  // namespace stele::broker
