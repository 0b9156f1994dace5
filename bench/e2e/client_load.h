// The load of stele_e2e_bench through the project's C++ client library (include/stele/client/),
// used as an application uses it: the broker is found through the name server (LoadParams::
// namesrv), each producer worker is one stele::client::Producer, and one PushConsumer reads the
// topic's backlog. Next to the raw wire client's figures from the same broker, they give what the
// client library costs (throughput, latency, and its CPU per message as a ratio of the broker's).
#pragma once

#include <sys/types.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "e2e_common.h"
#include "load.h"
#include "stele/client/producer.h"

namespace stele::e2e {

// Starts p.workers producers (group e2e_bench_producer, the client's default options otherwise)
// and has each fetch the topic's route, so that the window measures sends, not start-up. The
// topic must be routed by the name server already. Sets *route_queues to the number of queues
// the producers rotate over.
absl::StatusOr<std::vector<std::unique_ptr<client::Producer>>> StartProducers(const LoadParams& p,
                                                                              int* route_queues);

// One producer worker on RunWindowedWorker (the same window, pacing and latency accounting as
// the RemotingClient and embedded workers): p.window == 1 calls Send, a larger window keeps
// p.window SendAsync calls in flight. The producer chooses the queue (its own round robin over
// the route's queues); the worker's queue rotation is not used. Messages carry WAIT=true, as a
// Java producer's do; the client adds a unique UNIQ_KEY to each.
void ClientSendWorker(const LoadParams& p, client::Producer& producer, int worker, Tally* out);

// What ClientConsume measured.
struct ConsumeRun {
  Tally tally;   // ok / payload_bytes: messages consumed; calls: listener calls; no latencies
  Window win;    // measure_from = just before Start(); end = the backlog's last message counted
  CpuUse cpu;    // over the window (start-up included, Shutdown not)
  Fields extra;  // backlog, group, threads, time to the first message
};
// One PushConsumer (clustering, CONSUME_FROM_FIRST_OFFSET, a group name new to the broker,
// consume_threads listener threads or the client's default when 0, pulls of p.pull_batch)
// counts messages until it has seen the topic's backlog when it started (the sum over the
// route's queues of max - min offset, asked with AdminClient) or `seconds` have passed. CPU of
// this process and of `peer` (when > 0) is sampled over the same window.
absl::StatusOr<ConsumeRun> ClientConsume(const LoadParams& p, double seconds, int consume_threads,
                                         pid_t peer);

}  // namespace stele::e2e
