// Ordered messages: the producer sends each order's steps with SendOrderly (same sharding key,
// same queue), and an orderly listener gets every queue's messages one call at a time, in queue
// order, so each order's steps arrive as they were sent.
//
//   client_orderly_consumer [-n 127.0.0.1:9876] [-t ExampleOrderTopic] [-c 10] [-s 30]
// Sends -c orders of three steps each, then consumes until all arrived or -s seconds passed.
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include "args.h"
#include "stele/client/producer.h"
#include "stele/client/push_consumer.h"

using stele::client::ConsumeContext;
using stele::client::Message;
using stele::client::MessageExt;
using stele::client::OrderlyStatus;

int main(int argc, char** argv) {
  const example::Args args =
      example::Parse(argc, argv, {.topic = "ExampleOrderTopic", .group = "ExampleOrderlyGroup"});
  const char* const kSteps[] = {"created", "paid", "shipped"};

  // A new group starts at the queues' beginning; a rerun goes on where the last one committed.
  stele::client::PushConsumer consumer({
      .group = args.group,
      .namesrv_addr = args.namesrv,
      .consume_from_where = stele::client::ConsumeFromWhere::kFirstOffset,
  });
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, int> next_step;  // order -> index of the step expected next
  int received = 0;
  int out_of_order = 0;
  // One call at a time per queue (while this consumer holds the queue's broker lock).
  consumer.RegisterOrderlyListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
    std::lock_guard l(mu);
    for (const MessageExt& m : msgs) {
      int& expected = next_step[m.keys];
      if (m.tags != kSteps[expected % 3]) ++out_of_order;
      ++expected;
      ++received;
      std::printf("%s %s (queue %d offset %lld)\n", m.keys.c_str(), m.tags.c_str(), m.queue_id,
                  static_cast<long long>(m.queue_offset));
    }
    cv.notify_all();
    return OrderlyStatus::kSuccess;  // kSuspendCurrentQueueAMoment retries the same messages
  });
  if (auto s = consumer.Subscribe(args.topic, "*"); !s.ok()) {
    std::fprintf(stderr, "subscribe: %s\n", s.ToString().c_str());
    return 1;
  }
  if (auto s = consumer.Start(); !s.ok()) {
    std::fprintf(stderr, "start consumer: %s\n", s.ToString().c_str());
    return 1;
  }

  stele::client::Producer producer(
      {.group = args.group + "_Producer", .namesrv_addr = args.namesrv});
  if (auto s = producer.Start(); !s.ok()) {
    std::fprintf(stderr, "start producer: %s\n", s.ToString().c_str());
    return 1;
  }
  for (const char* step : kSteps) {
    for (int order = 0; order < args.count; ++order) {
      const std::string key = "order-" + std::to_string(order);
      auto r = producer.SendOrderly(
          {.topic = args.topic, .body = key + " " + step, .tags = step, .keys = key}, key);
      if (!r.ok()) {
        std::fprintf(stderr, "send: %s\n", r.status().ToString().c_str());
        return 1;
      }
    }
  }
  producer.Shutdown();

  bool done;
  {
    std::unique_lock l(mu);
    done = cv.wait_for(l, args.timeout, [&] { return received >= 3 * args.count; });
  }
  consumer.Shutdown();
  std::printf("received %d of %d step(s), %d out of order\n", received, 3 * args.count,
              out_of_order);
  return done && out_of_order == 0 ? 0 : 1;
}
