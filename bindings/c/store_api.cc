// The C API: versions and names, open/close, and puts (see include/stele/c.h).
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "handles.h"
#include "stele/c.h"

using stele::capi::Fail;
using stele::capi::FailStatus;
using stele::capi::Guard;
using stele::capi::StoreCall;
using stele::capi::StoreState;

namespace {

constexpr size_t kMaxBatch = 4096;

// A stele_msg as a stele::Message; `props` holds the serialized user properties.
int ToMessage(const stele_msg* in, std::string* props, stele::Message* out) {
  if (in == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "msg is NULL");
  if (in->topic == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "msg.topic is NULL");
  if (in->body == nullptr && in->body_len != 0) {
    return Fail(STELE_E_INVALID_ARGUMENT, "msg.body is NULL but body_len is not 0");
  }
  if (in->queue_id < 0) return Fail(STELE_E_INVALID_ARGUMENT, "msg.queue_id is negative");
  props->clear();
  if (in->property_count > 0 && (in->property_names == nullptr || in->property_values == nullptr)) {
    return Fail(STELE_E_INVALID_ARGUMENT, "msg.property_names/values are NULL");
  }
  for (size_t i = 0; i < in->property_count; ++i) {
    const char* k = in->property_names[i];
    const char* v = in->property_values[i];
    if (k == nullptr || v == nullptr || *k == '\0') {
      return Fail(STELE_E_INVALID_ARGUMENT, "a property name or value is NULL or empty name");
    }
    if (std::strpbrk(k, "\x01\x02") != nullptr || std::strpbrk(v, "\x01\x02") != nullptr) {
      return Fail(STELE_E_INVALID_ARGUMENT,
                  std::string("property ") + k + ": names and values may not hold \\x01 or \\x02");
    }
    stele::AppendProperty(props, k, v);
  }
  *out = stele::Message{.topic = in->topic,
                        .queue_id = in->queue_id,
                        .body = std::string_view(static_cast<const char*>(in->body), in->body_len),
                        .properties = *props,
                        .tags = in->tags != nullptr ? in->tags : "",
                        .keys = in->keys != nullptr ? in->keys : ""};
  return STELE_OK;
}

void ToResult(const stele::AppendResult& r, stele_put_result* out) {
  out->put_status =
      r.status == stele::PutMessageStatus::kPutOk ? STELE_PUT_OK : STELE_PUT_FLUSH_DISK_TIMEOUT;
  out->wrote_bytes = r.wrote_bytes;
  out->commit_log_offset = r.wrote_offset;
  out->queue_offset = r.queue_offset;
  out->store_timestamp = r.store_timestamp;
  std::memset(out->msg_id, 0, sizeof out->msg_id);
  std::memcpy(out->msg_id, r.msg_id.data(), std::min(r.msg_id.size(), sizeof out->msg_id - 1));
}

// Runs the user's callback exactly once: with the engine's outcome, or with STELE_E_CLOSED if the
// engine drops the callback unrun. Counts itself in the store's async_pending meanwhile.
class AsyncDone {
 public:
  // `s` outlives this: stele_close (and so stele_free) waits for async_pending to reach zero.
  AsyncDone(StoreState* s, stele_put_callback cb, void* user) : state_(s), cb_(cb), user_(user) {
    std::lock_guard lock(state_->async_mu);
    ++state_->async_pending;
  }
  AsyncDone(const AsyncDone&) = delete;
  AsyncDone& operator=(const AsyncDone&) = delete;
  ~AsyncDone() {
    if (!ran_) cb_(user_, STELE_E_CLOSED, nullptr, "the store closed before the put completed");
    std::lock_guard lock(state_->async_mu);
    if (--state_->async_pending == 0) state_->async_cv.notify_all();
  }
  void Run(const absl::StatusOr<stele::AppendResult>& r) {
    ran_ = true;
    if (r.ok()) {
      stele_put_result out;
      ToResult(*r, &out);
      cb_(user_, STELE_OK, &out, nullptr);
    } else {
      const int code = FailStatus(r.status(), true);
      cb_(user_, code, nullptr, stele::capi::LastError());
    }
  }

 private:
  StoreState* state_;
  stele_put_callback cb_;
  void* user_;
  bool ran_ = false;
};

}  // namespace

extern "C" {

int stele_abi_version(void) { return STELE_ABI_VERSION; }
const char* stele_version(void) { return STELE_VERSION_STRING; }
const char* stele_last_error(void) { return stele::capi::LastError(); }

const char* stele_status_name(int status) {
  switch (status) {
    case STELE_OK:
      return "OK";
    case STELE_E_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case STELE_E_BAD_HANDLE:
      return "BAD_HANDLE";
    case STELE_E_CLOSED:
      return "CLOSED";
    case STELE_E_NOT_FOUND:
      return "NOT_FOUND";
    case STELE_E_OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case STELE_E_DATA_LOSS:
      return "DATA_LOSS";
    case STELE_E_IO:
      return "IO_ERROR";
    case STELE_E_FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case STELE_E_INTERNAL:
      return "INTERNAL";
    case STELE_E_SERVICE_NOT_AVAILABLE:
      return "SERVICE_NOT_AVAILABLE";
    case STELE_E_CREATE_MAPPED_FILE_FAILED:
      return "CREATE_MAPPED_FILE_FAILED";
    case STELE_E_MESSAGE_ILLEGAL:
      return "MESSAGE_ILLEGAL";
    case STELE_E_PROPERTIES_SIZE_EXCEEDED:
      return "PROPERTIES_SIZE_EXCEEDED";
    case STELE_E_OS_PAGE_CACHE_BUSY:
      return "OS_PAGE_CACHE_BUSY";
    case STELE_E_UNKNOWN_ERROR:
      return "UNKNOWN_ERROR";
    default:
      return "UNKNOWN";
  }
}

const char* stele_put_status_name(int put_status) {
  switch (put_status) {
    case STELE_PUT_OK:
      return "PUT_OK";
    case STELE_PUT_FLUSH_DISK_TIMEOUT:
      return "FLUSH_DISK_TIMEOUT";
    default:
      return "UNKNOWN";
  }
}

const char* stele_get_status_name(int get_status) {
  if (get_status < STELE_GET_FOUND || get_status > STELE_GET_NO_MESSAGE_IN_QUEUE) return "UNKNOWN";
  // The enum above mirrors stele::GetMessageStatus one to one.
  return stele::GetMessageStatusName(static_cast<stele::GetMessageStatus>(get_status)).data();
}

int stele_open(const char* const* keys, const char* const* values, size_t n, stele_store** out) {
  return Guard([&]() -> int {
    if (out == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    if (n > 0 && (keys == nullptr || values == nullptr)) {
      return Fail(STELE_E_INVALID_ARGUMENT, "keys or values is NULL");
    }
    stele::StoreOptions opts;
    for (size_t i = 0; i < n; ++i) {
      if (keys[i] == nullptr || values[i] == nullptr) {
        return Fail(STELE_E_INVALID_ARGUMENT, "option " + std::to_string(i) + " is NULL");
      }
      absl::Status st = opts.SetOption(keys[i], values[i]);
      if (absl::IsNotFound(st)) {
        return Fail(STELE_E_INVALID_ARGUMENT, std::string("unknown option ") + keys[i]);
      }
      if (!st.ok()) return Fail(STELE_E_INVALID_ARGUMENT, st.ToString());
    }
    if (opts.store_path_root_dir.empty()) {
      return Fail(STELE_E_INVALID_ARGUMENT, "storePathRootDir must be set");
    }
    auto store = stele::Store::Open(std::move(opts));
    if (!store.ok()) return FailStatus(store.status(), false);
    auto state = std::make_shared<StoreState>();
    state->store = std::move(*store);
    *out = stele::capi::RegisterStore(std::move(state));
    return STELE_OK;
  });
}

int stele_close(stele_store* s) {
  return Guard([&]() -> int {
    auto state = stele::capi::FindStore(s);
    if (state == nullptr) return Fail(STELE_E_BAD_HANDLE, "not a live stele_store handle");
    return stele::capi::CloseState(*state);
  });
}

int stele_free(stele_store* s) {
  return Guard([&]() -> int {
    auto state = stele::capi::UnregisterStore(s);
    if (state == nullptr) return Fail(STELE_E_BAD_HANDLE, "not a live stele_store handle");
    return stele::capi::CloseState(*state);
  });
}

int stele_put(stele_store* s, const stele_msg* msg, stele_put_result* out) {
  return Guard([&]() -> int {
    StoreCall call(s);
    if (!call.ok()) return call.code();
    std::string props;
    stele::Message m;
    if (int rc = ToMessage(msg, &props, &m); rc != STELE_OK) return rc;
    auto r = call.store().Append(m);
    if (!r.ok()) return FailStatus(r.status(), true);
    if (out != nullptr) ToResult(*r, out);
    return STELE_OK;
  });
}

int stele_put_batch(stele_store* s, const stele_msg* msgs, size_t n, stele_put_result* out) {
  return Guard([&]() -> int {
    StoreCall call(s);
    if (!call.ok()) return call.code();
    if (n == 0) return STELE_OK;
    if (msgs == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "msgs is NULL");
    if (n > kMaxBatch) {
      return Fail(STELE_E_INVALID_ARGUMENT, "more than 4096 messages in one batch");
    }
    std::vector<std::string> props(n);
    std::vector<stele::Message> ms(n);
    for (size_t i = 0; i < n; ++i) {
      if (int rc = ToMessage(&msgs[i], &props[i], &ms[i]); rc != STELE_OK) return rc;
    }
    auto r = call.store().AppendBatch(ms);
    if (!r.ok()) return FailStatus(r.status(), true);
    if (out != nullptr) {
      for (size_t i = 0; i < n; ++i) ToResult((*r)[i], &out[i]);
    }
    return STELE_OK;
  });
}

int stele_put_async(stele_store* s, const stele_msg* msg, stele_put_callback done, void* user) {
  return Guard([&]() -> int {
    StoreCall call(s);
    if (!call.ok()) return call.code();
    if (done == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "done is NULL");
    std::string props;
    stele::Message m;
    if (int rc = ToMessage(msg, &props, &m); rc != STELE_OK) return rc;
    auto cb = std::make_shared<AsyncDone>(&call.state(), done, user);
    call.store().AppendAsync(m, [cb](absl::StatusOr<stele::AppendResult> r) { cb->Run(r); });
    return STELE_OK;
  });
}

int stele_flush(stele_store* s) {
  return Guard([&]() -> int {
    StoreCall call(s);
    if (!call.ok()) return call.code();
    return FailStatus(call.store().Flush(), false);
  });
}

}  // extern "C"
