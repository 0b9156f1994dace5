// The C API: reads, lookups, waits and consumer offsets (see include/stele/c.h).
#include <chrono>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "handles.h"
#include "stele/c.h"

using stele::capi::Fail;
using stele::capi::FailStatus;
using stele::capi::Guard;
using stele::capi::StoreCall;

namespace {

constexpr int32_t kMaxGetMessages = 1024;
constexpr int64_t kMaxWaitMs = 3600 * 1000;

int NeedTopic(const char* topic, int32_t queue_id) {
  if (topic == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "topic is NULL");
  if (queue_id < 0) return Fail(STELE_E_INVALID_ARGUMENT, "queue_id is negative");
  return STELE_OK;
}

void ClearResult(stele_get_result* out) {
  std::memset(out, 0, sizeof *out);
  out->status = STELE_GET_NO_MATCHED_LOGIC_QUEUE;
}

// Consumer offsets, loaded on first use. Caller holds state.offsets_mu.
int Offsets(stele::capi::StoreState& state, stele::broker::ConsumerOffsetManager** out) {
  if (state.offsets == nullptr) {
    stele::broker::BrokerConfig config;
    config.store_path_root_dir = state.store->options().store_path_root_dir;
    auto m = std::make_unique<stele::broker::ConsumerOffsetManager>(
        config, state.store->options().file_system);
    if (absl::Status st = m->Load(); !st.ok()) return FailStatus(st, false);
    state.offsets = std::move(m);
  }
  *out = state.offsets.get();
  return STELE_OK;
}

}  // namespace

extern "C" {

int stele_get(stele_store* s, const char* topic, int32_t queue_id, int64_t queue_offset,
              int32_t max_messages, const char* tags, stele_get_result* out) {
  return Guard([&]() -> int {
    if (out == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "out is NULL");
    ClearResult(out);
    StoreCall call(s);
    if (!call.ok()) return call.code();
    if (int rc = NeedTopic(topic, queue_id); rc != STELE_OK) return rc;
    if (max_messages < 1 || max_messages > kMaxGetMessages) {
      return Fail(STELE_E_INVALID_ARGUMENT, "max_messages must be within 1..1024");
    }
    stele::GetOptions opts{.max_messages = max_messages};
    if (tags != nullptr) {
      for (absl::string_view t : absl::StrSplit(tags, "||")) {
        t = absl::StripAsciiWhitespace(t);
        if (!t.empty()) opts.tags.emplace_back(t.data(), t.size());
      }
    }
    auto r = call.store().Get(topic, queue_id, queue_offset, opts);
    if (!r.ok()) return FailStatus(r.status(), false);
    out->status = static_cast<int>(r->status);
    out->next_begin_offset = r->next_begin_offset;
    out->min_offset = r->min_offset;
    out->max_offset = r->max_offset;
    stele::capi::FillResult(std::move(r->messages), out);
    return STELE_OK;
  });
}

int stele_result_free(stele_result* r) {
  return Guard([&]() -> int {
    if (stele::capi::UnregisterResult(r) == nullptr) {
      return Fail(STELE_E_BAD_HANDLE, "not a live stele_result handle");
    }
    return STELE_OK;
  });
}

int stele_message_property(const stele_message* m, const char* name, const char** value,
                           size_t* len) {
  return Guard([&]() -> int {
    if (m == nullptr || name == nullptr || value == nullptr || len == nullptr) {
      return Fail(STELE_E_INVALID_ARGUMENT, "m, name, value and len must not be NULL");
    }
    if (m->properties == nullptr && m->properties_len != 0) {
      return Fail(STELE_E_INVALID_ARGUMENT, "m.properties is NULL");
    }
    auto v = stele::FindProperty(std::string_view(m->properties, m->properties_len), name);
    if (!v) return Fail(STELE_E_NOT_FOUND, std::string("no property ") + name);
    *value = v->data();
    *len = v->size();
    return STELE_OK;
  });
}

int stele_query_key(stele_store* s, const char* topic, const char* key, int32_t max,
                    int64_t begin_ms, int64_t end_ms, stele_get_result* out) {
  return Guard([&]() -> int {
    if (out == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "out is NULL");
    ClearResult(out);
    StoreCall call(s);
    if (!call.ok()) return call.code();
    if (topic == nullptr || key == nullptr) {
      return Fail(STELE_E_INVALID_ARGUMENT, "topic or key is NULL");
    }
    if (max < 1) return Fail(STELE_E_INVALID_ARGUMENT, "max must be positive");
    auto r = call.store().QueryByKey(topic, key, max, begin_ms, end_ms);
    if (absl::IsNotFound(r.status())) r = std::vector<stele::RecordRef>{};
    if (!r.ok()) return FailStatus(r.status(), false);
    out->status = r->empty() ? STELE_GET_NO_MATCHED_MESSAGE : STELE_GET_FOUND;
    stele::capi::FillResult(std::move(*r), out);
    return STELE_OK;
  });
}

int stele_query_msg_id(stele_store* s, const char* msg_id, stele_get_result* out) {
  return Guard([&]() -> int {
    if (out == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "out is NULL");
    ClearResult(out);
    StoreCall call(s);
    if (!call.ok()) return call.code();
    if (msg_id == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "msg_id is NULL");
    auto r = call.store().LookupMessageId(msg_id);
    if (!r.ok()) {
      // A malformed id names no message either.
      if (absl::IsInvalidArgument(r.status()) || absl::IsOutOfRange(r.status())) {
        return Fail(STELE_E_NOT_FOUND, r.status().ToString());
      }
      return FailStatus(r.status(), false);
    }
    out->status = STELE_GET_FOUND;
    std::vector<stele::RecordRef> one;
    one.push_back(std::move(*r));
    stele::capi::FillResult(std::move(one), out);
    return STELE_OK;
  });
}

int stele_search_offset(stele_store* s, const char* topic, int32_t queue_id, int64_t timestamp_ms,
                        int64_t* out) {
  return Guard([&]() -> int {
    StoreCall call(s);
    if (!call.ok()) return call.code();
    if (int rc = NeedTopic(topic, queue_id); rc != STELE_OK) return rc;
    if (out == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "out is NULL");
    auto r = call.store().SearchQueueOffset(topic, queue_id, timestamp_ms);
    if (!r.ok()) return FailStatus(r.status(), false);
    *out = *r;
    return STELE_OK;
  });
}

int stele_min_offset(stele_store* s, const char* topic, int32_t queue_id, int64_t* out) {
  return Guard([&]() -> int {
    StoreCall call(s);
    if (!call.ok()) return call.code();
    if (int rc = NeedTopic(topic, queue_id); rc != STELE_OK) return rc;
    if (out == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "out is NULL");
    *out = call.store().MinQueueOffset(topic, queue_id);
    return STELE_OK;
  });
}

int stele_max_offset(stele_store* s, const char* topic, int32_t queue_id, int64_t* out) {
  return Guard([&]() -> int {
    StoreCall call(s);
    if (!call.ok()) return call.code();
    if (int rc = NeedTopic(topic, queue_id); rc != STELE_OK) return rc;
    if (out == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "out is NULL");
    *out = call.store().MaxQueueOffset(topic, queue_id);
    return STELE_OK;
  });
}

int stele_next_queue_offset(stele_store* s, const char* topic, int32_t queue_id, int64_t* out) {
  return Guard([&]() -> int {
    StoreCall call(s);
    if (!call.ok()) return call.code();
    if (int rc = NeedTopic(topic, queue_id); rc != STELE_OK) return rc;
    if (out == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "out is NULL");
    *out = call.store().NextQueueOffset(topic, queue_id);
    return STELE_OK;
  });
}

int stele_wait(stele_store* s, const char* topic, int32_t queue_id, int64_t queue_offset,
               int64_t timeout_ms, int* ready) {
  return Guard([&]() -> int {
    StoreCall call(s);
    if (!call.ok()) return call.code();
    if (int rc = NeedTopic(topic, queue_id); rc != STELE_OK) return rc;
    if (ready == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "ready is NULL");
    if (timeout_ms < 0 || timeout_ms > kMaxWaitMs) {
      return Fail(STELE_E_INVALID_ARGUMENT, "timeout_ms must be within 0..3600000");
    }
    *ready = call.store().WaitForMessages(topic, queue_id, queue_offset,
                                          std::chrono::milliseconds(timeout_ms))
                 ? 1
                 : 0;
    return STELE_OK;
  });
}

int stele_offset_commit(stele_store* s, const char* group, const char* topic, int32_t queue_id,
                        int64_t offset) {
  return Guard([&]() -> int {
    StoreCall call(s);
    if (!call.ok()) return call.code();
    if (group == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "group is NULL");
    if (int rc = NeedTopic(topic, queue_id); rc != STELE_OK) return rc;
    if (offset < 0) return Fail(STELE_E_INVALID_ARGUMENT, "offset is negative");
    std::lock_guard lock(call.state().offsets_mu);
    stele::broker::ConsumerOffsetManager* m = nullptr;
    if (int rc = Offsets(call.state(), &m); rc != STELE_OK) return rc;
    return FailStatus(m->Commit(group, topic, queue_id, offset), false);
  });
}

int stele_offset_query(stele_store* s, const char* group, const char* topic, int32_t queue_id,
                       int64_t* out) {
  return Guard([&]() -> int {
    StoreCall call(s);
    if (!call.ok()) return call.code();
    if (group == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "group is NULL");
    if (int rc = NeedTopic(topic, queue_id); rc != STELE_OK) return rc;
    if (out == nullptr) return Fail(STELE_E_INVALID_ARGUMENT, "out is NULL");
    std::lock_guard lock(call.state().offsets_mu);
    stele::broker::ConsumerOffsetManager* m = nullptr;
    if (int rc = Offsets(call.state(), &m); rc != STELE_OK) return rc;
    auto v = m->Query(group, topic, queue_id);
    if (!v) return Fail(STELE_E_NOT_FOUND, std::string("no offset committed by ") + group);
    *out = *v;
    return STELE_OK;
  });
}

int stele_offsets_persist(stele_store* s) {
  return Guard([&]() -> int {
    StoreCall call(s);
    if (!call.ok()) return call.code();
    std::lock_guard lock(call.state().offsets_mu);
    stele::broker::ConsumerOffsetManager* m = nullptr;
    if (int rc = Offsets(call.state(), &m); rc != STELE_OK) return rc;
    return FailStatus(m->Persist(), false);
  });
}

}  // extern "C"
