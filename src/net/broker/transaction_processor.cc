// END_TRANSACTION (37): a producer (or its answer to CHECK_TRANSACTION_STATE) ends a transaction.
// Commit stores the half message in its real topic and queue, then writes an op record; rollback
// writes the op record only (see transaction_service.h). RocketMQ's EndTransactionProcessor.
// Java clients send it oneway; a request that wants a reply gets one once the records are stored.
#include "common/logging.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/message_writer.h"
#include "net/broker/processor_util.h"
#include "net/broker/state/names.h"
#include "net/broker/transaction_service.h"

namespace stele::broker {
namespace {

using namespace remoting::response;

struct EndTransactionHeader {
  std::string producer_group;
  int64_t tran_state_table_offset = 0;  // the half's queue offset
  int64_t commit_log_offset = 0;        // the half's commit-log offset
  int64_t commit_or_rollback = 0;
  bool from_transaction_check = false;
};

absl::StatusOr<EndTransactionHeader> ParseHeader(const RemotingCommand& req) {
  EndTransactionHeader h;
  STELE_ASSIGN_OR_RETURN(h.producer_group, req.RequireString("producerGroup"));
  STELE_ASSIGN_OR_RETURN(h.tran_state_table_offset, req.RequireInt("tranStateTableOffset"));
  STELE_ASSIGN_OR_RETURN(h.commit_log_offset, req.RequireInt("commitLogOffset"));
  STELE_ASSIGN_OR_RETURN(h.commit_or_rollback, req.RequireInt("commitOrRollback"));
  STELE_ASSIGN_OR_RETURN(h.from_transaction_check, req.BoolOr("fromTransactionCheck", false));
  return h;
}

void HandleEndTransaction(BrokerController& b, const ChannelPtr& ch, RemotingCommand req,
                          Reply reply) {
  STELE_FIELD_OR_REPLY(const EndTransactionHeader h, ParseHeader(req), reply);
  if (h.from_transaction_check) {
    log::Debug("transactions: check answer {} for half {} from {}", h.commit_or_rollback,
               h.tran_state_table_offset, ch->remote_address());
  }
  if (h.commit_or_rollback == sysflag::kTransactionNotType) {
    reply(kSuccess);  // the producer does not know yet; the half waits for its check
    return;
  }
  const bool commit = h.commit_or_rollback == sysflag::kTransactionCommitType;
  if (!commit && h.commit_or_rollback != sysflag::kTransactionRollbackType) {
    reply(kSystemError, fmt::format("commitOrRollback {} is not 0, 8 or 12", h.commit_or_rollback));
    return;
  }
  EndTransaction(b, h.producer_group, h.commit_log_offset, h.tran_state_table_offset, commit,
                 [reply, commit, stats = &b.stats()](int32_t code, std::string remark) {
                   if (code == kSuccess) stats->OnTransactionEnd(commit);
                   reply(code, std::move(remark));
                 });
}

// Writes the op record for `half`, then reports `code` (or the op's failure).
void PutOp(BrokerController& b, const MessageView& half, int32_t code, const EndCallback& done) {
  auto host = HostAddress::Parse(b.broker_addr());
  b.writer().Put(OpMessage(half, host.ok() ? *host : HostAddress{}),
                 [done, code, offset = half.queue_offset](absl::StatusOr<AppendResult> r) {
                   if (r.ok()) {
                     done(code, "");
                     return;
                   }
                   // A commit was stored all the same; the half will be checked again.
                   log::Warn("transactions: writing the op record for half {} failed: {}", offset,
                             StatusMessage(r.status()));
                   done(PutFailureCode(r.status()), std::string(r.status().message()));
                 });
}

}  // namespace

void EndTransaction(BrokerController& b, std::string_view producer_group, int64_t commit_log_offset,
                    int64_t queue_offset, bool commit, EndCallback done) {
  if (b.config().broker_id != 0) {
    done(kSlaveNotAvailable, "Message store is slave mode, so end transaction is forbidden.");
    return;
  }
  auto rec = b.store().Read(commit_log_offset);
  if (!rec.ok() || rec->offset != commit_log_offset || rec->msg.topic != kTransHalfTopic) {
    done(kSystemError, "Find prepared transaction message failed");
    return;
  }
  const MessageView& half = rec->msg;
  // RocketMQ's checkPrepareMessage.
  if (auto g = half.Property(kPropProducerGroup);
      g && !producer_group.empty() && *g != producer_group) {
    done(kSystemError, "The producer group wrong");
    return;
  }
  if (half.queue_offset != queue_offset) {
    done(kSystemError, "The transaction state table offset wrong");
    return;
  }
  if (!commit) {
    PutOp(b, half, kSuccess, done);
    return;
  }
  auto msg = CommittedMessage(half);
  if (!msg.ok()) {
    done(kSystemError, std::string(msg.status().message()));
    return;
  }
  // `rec` pins the half's bytes until the op record is written.
  b.writer().Put(*std::move(msg), [&b, rec = *rec, done](absl::StatusOr<AppendResult> r) {
    if (!r.ok()) {
      done(PutFailureCode(r.status()), std::string(r.status().message()));
      return;
    }
    // FLUSH_DISK_TIMEOUT is stored too: RocketMQ answers SUCCESS and writes the op record.
    PutOp(b, rec.msg, kSuccess, done);
  });
}

void RegisterTransactionProcessor(BrokerController& b) {
  b.server().Register(remoting::request::kEndTransaction, Bind(b, HandleEndTransaction));
}

}  // namespace stele::broker
