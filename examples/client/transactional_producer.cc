// Transactional messages: SendInTransaction stores a half message (invisible to consumers), runs
// the listener's local transaction, and commits or rolls back by its answer. UNKNOWN leaves the
// message open: the broker later asks Check() (on the producer's callback threads).
//
//   client_transactional_producer [-n 127.0.0.1:9876] [-t ExampleTxTopic] [-c 10]
#include <cstdio>
#include <memory>
#include <string>

#include "args.h"
#include "stele/client/producer.h"

using stele::client::LocalTransactionState;
using stele::client::Message;
using stele::client::MessageExt;
using stele::client::SendResult;

namespace {

// A toy local transaction: even-numbered orders commit, odd ones roll back. A real listener
// writes to its database here and records the outcome under the transaction id, so that Check
// can answer after a crash.
class OrderTransactions : public stele::client::TransactionListener {
 public:
  LocalTransactionState Execute(const Message& msg, const SendResult& half) override {
    const bool even = std::stoi(msg.keys) % 2 == 0;
    std::printf("half %s (tx %s): %s\n", msg.body.c_str(), half.transaction_id.c_str(),
                even ? "commit" : "rollback");
    return even ? LocalTransactionState::kCommit : LocalTransactionState::kRollback;
  }
  LocalTransactionState Check(const MessageExt& msg) override {
    return std::stoi(msg.keys) % 2 == 0 ? LocalTransactionState::kCommit
                                        : LocalTransactionState::kRollback;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const example::Args args =
      example::Parse(argc, argv, {.topic = "ExampleTxTopic", .group = "ExampleTxProducerGroup"});
  stele::client::Producer producer({.group = args.group, .namesrv_addr = args.namesrv});
  producer.SetTransactionListener(std::make_shared<OrderTransactions>());  // before Start()
  if (auto s = producer.Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", s.ToString().c_str());
    return 1;
  }
  int committed = 0;
  for (int i = 0; i < args.count; ++i) {
    Message m{
        .topic = args.topic, .body = "order #" + std::to_string(i), .keys = std::to_string(i)};
    auto r = producer.SendInTransaction(m);
    if (!r.ok()) {
      std::fprintf(stderr, "send: %s\n", r.status().ToString().c_str());
      return 1;
    }
    if (r->local_state == LocalTransactionState::kCommit) ++committed;
  }
  std::printf("%d committed (visible to consumers), %d rolled back\n", committed,
              args.count - committed);
  producer.Shutdown();
  return 0;
}
