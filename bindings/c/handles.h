// Internals of the C API: the objects behind the opaque handles, the handle registry, and the
// per-thread last error. Not installed.
//
// Registry: every live stele_store / stele_result is in a global table, and each call looks its
// handle up there before touching it, so a stale or garbage pointer is refused without being
// dereferenced. A store call holds a shared_ptr to the store state and a shared lock on `life`
// for its duration; stele_close takes `life` exclusively, so it waits for calls in progress and
// the engine is never closed under a running call (Store::Close must not race with other calls).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "net/broker/state/consumer_offset_manager.h"
#include "stele/c.h"
#include "stele/store.h"

namespace stele::capi {

struct StoreState {
  std::unique_ptr<Store> store;
  std::shared_mutex life;  // shared: a call in progress; exclusive: closing
  bool closed = false;     // guarded by life

  // Consumer offsets, created on first use (guarded by offsets_mu).
  std::mutex offsets_mu;
  std::unique_ptr<broker::ConsumerOffsetManager> offsets;

  // stele_put_async callbacks not yet run; stele_close waits for them to reach zero.
  std::mutex async_mu;
  std::condition_variable async_cv;
  int64_t async_pending = 0;  // guarded by async_mu
};

// What a stele_result owns: the pinned records and the C views of them.
struct ResultState {
  std::vector<RecordRef> records;
  std::vector<std::string> msg_ids;
  std::vector<stele_message> views;
};

const char* LastError();
// Error reporting: sets this thread's last error and returns the code.
int Fail(int code, std::string message);
// Maps an engine status to a code (put statuses to STELE_E_<PutMessageStatus>) and records it.
int FailStatus(const absl::Status& st, bool is_put);

// Runs one C API call body, turning any exception (std::bad_alloc from the engine's containers)
// into a code: nothing is thrown across the boundary.
template <typename F>
int Guard(F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return Fail(STELE_E_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return Fail(STELE_E_INTERNAL, e.what());
  } catch (...) {
    return Fail(STELE_E_INTERNAL, "unknown exception");
  }
}

// A store call in progress: holds the state alive and `life` shared. ok() is false (and `code` the
// error already recorded) for a bad handle or a closed store.
class StoreCall {
 public:
  explicit StoreCall(stele_store* handle);
  bool ok() const { return code_ == STELE_OK; }
  int code() const { return code_; }
  StoreState& state() { return *state_; }
  Store& store() { return *state_->store; }

 private:
  std::shared_ptr<StoreState> state_;
  std::shared_lock<std::shared_mutex> lock_;
  int code_ = STELE_OK;
};

// Registry operations.
stele_store* RegisterStore(std::shared_ptr<StoreState> s);
std::shared_ptr<StoreState> FindStore(stele_store* h);
std::shared_ptr<StoreState> UnregisterStore(stele_store* h);
stele_result* RegisterResult(std::unique_ptr<ResultState> r);
std::unique_ptr<ResultState> UnregisterResult(stele_result* h);

// Closes the engine (waiting for calls in progress and async callbacks); idempotent.
int CloseState(StoreState& s);

// Fills a stele_get_result from records (taking ownership of them).
void FillResult(std::vector<RecordRef> records, stele_get_result* out);

}  // namespace stele::capi
