// The handle registry, last-error storage and status mapping of the C API (see handles.h).
#include "handles.h"

#include <chrono>
#include <unordered_map>
#include <utility>

struct stele_store {
  int unused;  // a distinct address per handle; never read
};
struct stele_result {
  int unused;
};

namespace stele::capi {
namespace {

thread_local std::string last_error;

struct Registry {
  std::shared_mutex mu;
  std::unordered_map<stele_store*, std::shared_ptr<StoreState>> stores;
  std::unordered_map<stele_result*, std::unique_ptr<ResultState>> results;
};
Registry& registry() {
  static Registry* r = new Registry;  // never destroyed: handles may outlive static destruction
  return *r;
}

int PutCode(PutMessageStatus p) {
  switch (p) {
    case PutMessageStatus::kServiceNotAvailable:
      return STELE_E_SERVICE_NOT_AVAILABLE;
    case PutMessageStatus::kCreateMappedFileFailed:
      return STELE_E_CREATE_MAPPED_FILE_FAILED;
    case PutMessageStatus::kMessageIllegal:
      return STELE_E_MESSAGE_ILLEGAL;
    case PutMessageStatus::kPropertiesSizeExceeded:
      return STELE_E_PROPERTIES_SIZE_EXCEEDED;
    case PutMessageStatus::kOsPageCacheBusy:
      return STELE_E_OS_PAGE_CACHE_BUSY;
    default:
      return STELE_E_UNKNOWN_ERROR;
  }
}

}  // namespace

const char* LastError() { return last_error.c_str(); }

int Fail(int code, std::string message) {
  last_error = std::move(message);
  return code;
}

int FailStatus(const absl::Status& st, bool is_put) {
  if (st.ok()) return STELE_OK;
  int code;
  if (is_put) {
    code = PutCode(PutStatusOf(st));
  } else {
    switch (st.code()) {
      case absl::StatusCode::kInvalidArgument:
        code = STELE_E_INVALID_ARGUMENT;
        break;
      case absl::StatusCode::kNotFound:
        code = STELE_E_NOT_FOUND;
        break;
      case absl::StatusCode::kOutOfRange:
        code = STELE_E_OUT_OF_RANGE;
        break;
      case absl::StatusCode::kDataLoss:
        code = STELE_E_DATA_LOSS;
        break;
      case absl::StatusCode::kFailedPrecondition:
      case absl::StatusCode::kAlreadyExists:
        code = STELE_E_FAILED_PRECONDITION;
        break;
      case absl::StatusCode::kUnavailable:
        code = STELE_E_SERVICE_NOT_AVAILABLE;
        break;
      case absl::StatusCode::kInternal:
      case absl::StatusCode::kUnknown:
        code = STELE_E_IO;
        break;
      default:
        code = STELE_E_INTERNAL;
    }
  }
  // Put errors already start with RocketMQ's status name; others get the absl code's name. (Not
  // Status::ToString: that appends internal payloads.)
  if (is_put) return Fail(code, std::string(st.message()));
  return Fail(code, absl::StatusCodeToString(st.code()) + ": " + std::string(st.message()));
}

StoreCall::StoreCall(stele_store* handle) {
  state_ = FindStore(handle);
  if (state_ == nullptr) {
    code_ = Fail(STELE_E_BAD_HANDLE, "not a live stele_store handle");
    return;
  }
  lock_ = std::shared_lock(state_->life);
  if (state_->closed) code_ = Fail(STELE_E_CLOSED, "the store is closed");
}

stele_store* RegisterStore(std::shared_ptr<StoreState> s) {
  auto* h = new stele_store{};
  std::unique_lock lock(registry().mu);
  registry().stores.emplace(h, std::move(s));
  return h;
}

std::shared_ptr<StoreState> FindStore(stele_store* h) {
  if (h == nullptr) return nullptr;
  std::shared_lock lock(registry().mu);
  auto it = registry().stores.find(h);
  return it == registry().stores.end() ? nullptr : it->second;
}

std::shared_ptr<StoreState> UnregisterStore(stele_store* h) {
  if (h == nullptr) return nullptr;
  std::shared_ptr<StoreState> s;
  {
    std::unique_lock lock(registry().mu);
    auto it = registry().stores.find(h);
    if (it == registry().stores.end()) return nullptr;
    s = std::move(it->second);
    registry().stores.erase(it);
  }
  delete h;
  return s;
}

stele_result* RegisterResult(std::unique_ptr<ResultState> r) {
  auto* h = new stele_result{};
  std::unique_lock lock(registry().mu);
  registry().results.emplace(h, std::move(r));
  return h;
}

std::unique_ptr<ResultState> UnregisterResult(stele_result* h) {
  if (h == nullptr) return nullptr;
  std::unique_ptr<ResultState> r;
  {
    std::unique_lock lock(registry().mu);
    auto it = registry().results.find(h);
    if (it == registry().results.end()) return nullptr;
    r = std::move(it->second);
    registry().results.erase(it);
  }
  delete h;
  return r;
}

int CloseState(StoreState& s) {
  std::unique_lock life(s.life);
  if (s.closed) return STELE_OK;
  s.closed = true;
  absl::Status st = s.store->Close();
  {
    // Every AppendAsync callback runs or is destroyed by the time Close returns; the wrapper's
    // destructor accounts for the destroyed ones (store_api.cc), so this wait ends.
    std::unique_lock lock(s.async_mu);
    s.async_cv.wait(lock, [&] { return s.async_pending == 0; });
  }
  std::lock_guard olock(s.offsets_mu);
  if (s.offsets != nullptr) {
    absl::Status pst = s.offsets->Persist();
    if (st.ok()) st = pst;
  }
  return FailStatus(st, false);
}

void FillResult(std::vector<RecordRef> records, stele_get_result* out) {
  out->count = records.size();
  out->messages = nullptr;
  out->handle = nullptr;
  if (records.empty()) return;
  auto r = std::make_unique<ResultState>();
  r->records = std::move(records);
  r->msg_ids.reserve(r->records.size());
  r->views.resize(r->records.size());
  for (size_t i = 0; i < r->records.size(); ++i) {
    const MessageView& m = r->records[i].msg;
    r->msg_ids.push_back(m.OffsetMsgId());
    stele_message& v = r->views[i];
    v.topic = m.topic.data();
    v.topic_len = m.topic.size();
    v.body = m.body.data();
    v.body_len = m.body.size();
    auto tags = m.Property(kPropertyTags);
    v.tags = tags ? tags->data() : nullptr;
    v.tags_len = tags ? tags->size() : 0;
    auto keys = m.Property(kPropertyKeys);
    v.keys = keys ? keys->data() : nullptr;
    v.keys_len = keys ? keys->size() : 0;
    v.properties = m.properties.data();
    v.properties_len = m.properties.size();
    v.queue_id = m.queue_id;
    v.flag = m.flag;
    v.sys_flag = m.sys_flag;
    v.reconsume_times = m.reconsume_times;
    v.queue_offset = m.queue_offset;
    v.commit_log_offset = m.physical_offset;
    v.born_timestamp = m.born_timestamp;
    v.store_timestamp = m.store_timestamp;
    v.msg_id = r->msg_ids[i].c_str();
  }
  out->messages = r->views.data();
  out->handle = RegisterResult(std::move(r));
}

}  // namespace stele::capi
