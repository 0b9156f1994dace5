// LOCK_BATCH_MQ (41), UNLOCK_BATCH_MQ (42): queue locks for orderly consumers
// (RebalanceLockManager). Both take their arguments from a JSON body, not from header fields.
#include <chrono>

#include "net/broker/broker_controller.h"
#include "net/broker/processor_util.h"
#include "net/broker/state/rebalance_lock_manager.h"

namespace stele::broker {
namespace {

using namespace remoting::response;

// Lock ages are measured on the monotonic clock: a wall-clock step must neither expire every lock
// at once nor keep a dead client's locks alive.
int64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void HandleLockBatch(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const LockBatchRequest r, ParseLockBatchRequest(req.body), reply);
  const std::vector<MessageQueue> locked =
      b.rebalance_locks().TryLockBatch(r.consumer_group, r.mqs, r.client_id, MonotonicMs());
  RemotingCommand resp;
  resp.code = kSuccess;
  resp.body = EncodeLockBatchResponse(locked);
  reply(std::move(resp));
}

void HandleUnlockBatch(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const LockBatchRequest r, ParseLockBatchRequest(req.body), reply);
  b.rebalance_locks().UnlockBatch(r.consumer_group, r.mqs, r.client_id);
  reply(kSuccess);
}

}  // namespace

void RegisterLockProcessor(BrokerController& b) {
  b.server().Register(remoting::request::kLockBatchMq, Bind(b, HandleLockBatch));
  b.server().Register(remoting::request::kUnlockBatchMq, Bind(b, HandleUnlockBatch));
}

}  // namespace stele::broker
