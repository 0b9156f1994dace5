// Lite pull consumer: the application asks for messages with Poll() instead of registering a
// listener. With auto_commit off, CommitSync() stores how far it got: after a restart the group
// goes on from there (messages polled after the last commit come again: at least once).
//
//   client_lite_pull_consumer [-n 127.0.0.1:9876] [-t ExampleTopic] [-c 10] [-s 30]
// Exits after -c messages or -s seconds.
#include <chrono>
#include <cstdio>

#include "args.h"
#include "stele/client/lite_pull_consumer.h"

using stele::client::MessageExt;

int main(int argc, char** argv) {
  const example::Args args =
      example::Parse(argc, argv, {.topic = "ExampleTopic", .group = "ExampleLitePullGroup"});
  stele::client::LitePullConsumer consumer({
      .group = args.group,
      .namesrv_addr = args.namesrv,
      .consume_from_where = stele::client::ConsumeFromWhere::kFirstOffset,
      .auto_commit = false,  // commit explicitly below
  });
  // The group shares the topic's queues among its consumers. (Or, after Start():
  // consumer.Assign(*consumer.FetchMessageQueues(topic)) to read chosen queues, no rebalancing.)
  if (auto s = consumer.Subscribe(args.topic, "*"); !s.ok()) {
    std::fprintf(stderr, "subscribe: %s\n", s.ToString().c_str());
    return 1;
  }
  if (auto s = consumer.Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", s.ToString().c_str());
    return 1;
  }
  const auto deadline = std::chrono::steady_clock::now() + args.timeout;
  int received = 0;
  while (received < args.count && std::chrono::steady_clock::now() < deadline) {
    // Blocks up to a second; returns at most pull_batch_size messages.
    for (const MessageExt& m : consumer.Poll(std::chrono::seconds(1))) {
      std::printf("%s offset %lld: %s\n", m.queue().ToString().c_str(),
                  static_cast<long long>(m.queue_offset), m.body.c_str());
      ++received;
    }
    // Done with everything polled so far: store the positions on the broker.
    if (auto s = consumer.CommitSync(); !s.ok()) {
      std::fprintf(stderr, "commit: %s\n", s.ToString().c_str());
    }
  }
  consumer.Shutdown();
  std::printf("received %d message(s)\n", received);
  return received >= args.count ? 0 : 1;
}
