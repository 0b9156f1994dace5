// The load stele_e2e_bench generates: producer workers that send through the lean wire client,
// through the project's RemotingClient, or append through the embedded Store, and consumer
// workers that pull from the broker or Get from the embedded Store. (The same load through the
// C++ client library, stele::client, is in client_load.h.)
//
// A producer worker is one connection (or, embedded, one thread) keeping up to `window` messages
// in flight: window 1 is RocketMQ's benchmark Producer (a thread doing synchronous sends). With a
// target rate the workers follow an open-loop schedule (rate / workers each, phases staggered):
// a send is issued at its scheduled time, or at once when the worker is behind, and its latency
// is also measured from the scheduled time (sched_lat_us), so a stalled broker cannot hide its
// stall by delaying the sends that would have measured it (coordinated omission).
// Messages go to queues 0..queues-1 round-robin, starting at the worker's index.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "e2e_common.h"
#include "net/remoting/command.h"
#include "stele/store.h"

namespace stele::e2e {

struct LoadParams {
  std::string broker;   // "host:port"
  std::string namesrv;  // "host:port": --client=stele finds the broker through it
  std::string topic;
  int queues = 8;
  // Producers: spread the messages over this many topics ("<topic>-0" .. "<topic>-<n-1>"; 1 =
  // just `topic`), each with `queues` queues. A worker sends to its share of them (topic t goes to
  // worker t % workers, or every worker has one topic when there are fewer topics than workers).
  int topics = 1;
  std::string_view body;  // the message body (Body(size)); outlives the run
  std::string cluster;    // embedded: the CLUSTER property the broker would add
  int workers = 8;
  int window = 1;
  double rate = 0;  // messages per second over all workers; 0 = as fast as the windows allow
  remoting::SerializeType type = remoting::SerializeType::kJson;
  int pull_batch = 32;  // consumers: maxMsgNums per pull
  Window win;
};

// Completion of one producer operation: `fail` empty for success; `record_bytes` as stored, 0
// when unknown.
using Done = std::function<void(std::string fail, uint64_t record_bytes)>;
// Starts operation `seq` for queue `queue`; calls done exactly once (possibly inline, possibly on
// another thread).
using Issue = std::function<void(int queue, uint64_t seq, Done done)>;
// The worker loop of every producer but the raw one: keeps up to p.window operations in flight,
// paced when the run has a rate; queues rotate from the worker's index. Returns once every
// operation issued before p.win.end has completed.
void RunWindowedWorker(const LoadParams& p, int worker, const Issue& issue, Tally* out);

// The topics worker `worker` sends to (see LoadParams::topics).
std::vector<std::string> WorkerTopics(const LoadParams& p, int worker);

// Producers. Each fills `out` with what completed inside the window.
void RawSendWorker(const LoadParams& p, int worker, Tally* out);
void RemotingSendWorker(const LoadParams& p, int worker, Tally* out);
// Window 1: Store::Append from this thread; larger windows: Store::AppendAsync.
void EmbeddedAppendWorker(const LoadParams& p, Store& store, int worker, Tally* out);

// Consumers: read each of `queues` from queue offset 0 to its end (or until p.win.end), in
// batches of p.pull_batch. Everything read counts (no warm-up); lat_us = time per pull / Get.
void RawPullWorker(const LoadParams& p, const std::vector<int>& queues, Tally* out);
void EmbeddedGetWorker(const LoadParams& p, const Store& store, const std::vector<int>& queues,
                       Tally* out);

}  // namespace stele::e2e
