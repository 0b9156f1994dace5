// Producer: the four ways to send. Sync waits for the broker's answer, async calls back, oneway
// does not wait at all, and a batch stores several messages of one queue in one request.
//
//   client_producer [-n 127.0.0.1:9876] [-t ExampleTopic] [-c 10]
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "args.h"
#include "stele/client/producer.h"

using stele::client::Message;
using stele::client::SendResult;

int main(int argc, char** argv) {
  const example::Args args =
      example::Parse(argc, argv, {.topic = "ExampleTopic", .group = "ExampleProducerGroup"});
  stele::client::Producer producer({.group = args.group, .namesrv_addr = args.namesrv});
  if (auto s = producer.Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", s.ToString().c_str());
    return 1;
  }
  int failures = 0;

  // 1. Sync: the result says which queue and offset the message was stored at.
  for (int i = 0; i < args.count; ++i) {
    Message m{.topic = args.topic, .body = "sync #" + std::to_string(i), .tags = "TagA"};
    auto r = producer.Send(m);
    if (!r.ok()) {
      std::fprintf(stderr, "send: %s\n", r.status().ToString().c_str());
      ++failures;
      continue;
    }
    std::printf("sync   %s -> %s offset %lld\n", r->msg_id.c_str(), r->queue.ToString().c_str(),
                static_cast<long long>(r->queue_offset));
  }

  // 2. Async: each callback runs exactly once, on the producer's callback threads.
  std::mutex mu;
  std::condition_variable cv;
  int pending = args.count;
  for (int i = 0; i < args.count; ++i) {
    producer.SendAsync(Message{.topic = args.topic, .body = "async #" + std::to_string(i)},
                       [&](absl::StatusOr<SendResult> r) {
                         std::lock_guard l(mu);
                         if (r.ok()) {
                           std::printf("async  %s -> %s\n", r->msg_id.c_str(),
                                       r->queue.ToString().c_str());
                         } else {
                           std::fprintf(stderr, "async: %s\n", r.status().ToString().c_str());
                           ++failures;
                         }
                         if (--pending == 0) cv.notify_all();
                       });
  }
  {
    std::unique_lock l(mu);
    if (!cv.wait_for(l, args.timeout, [&] { return pending == 0; })) {
      std::fprintf(stderr, "async: %d callbacks missing\n", pending);
      ++failures;
    }
  }

  // 3. Oneway: OK only means the request was handed to the connection (logs, metrics).
  for (int i = 0; i < args.count; ++i) {
    Message m{.topic = args.topic, .body = "oneway #" + std::to_string(i)};
    if (auto s = producer.SendOneway(m); !s.ok()) {
      std::fprintf(stderr, "oneway: %s\n", s.ToString().c_str());
      ++failures;
    }
  }

  // 4. Batch: one topic, stored together in one queue.
  std::vector<Message> batch;
  for (int i = 0; i < args.count; ++i) {
    batch.push_back({.topic = args.topic,
                     .body = "batch #" + std::to_string(i),
                     .keys = "k" + std::to_string(i)});
  }
  if (auto r = producer.SendBatch(batch); r.ok()) {
    std::printf("batch  %d messages -> %s from offset %lld\n", args.count,
                r->queue.ToString().c_str(), static_cast<long long>(r->queue_offset));
  } else {
    std::fprintf(stderr, "batch: %s\n", r.status().ToString().c_str());
    ++failures;
  }

  producer.Shutdown();  // waits for pending async callbacks
  return failures == 0 ? 0 : 1;
}
