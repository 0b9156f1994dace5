// Push consumer: the client pulls in the background and calls the listener; returning SUCCESS
// commits, RECONSUME_LATER has the broker deliver the message again later.
//
//   client_push_consumer [-n 127.0.0.1:9876] [-t ExampleTopic] [-c 10] [-s 30]
// Exits after -c messages or -s seconds.
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "args.h"
#include "stele/client/push_consumer.h"

using stele::client::ConsumeContext;
using stele::client::ConsumeStatus;
using stele::client::MessageExt;

int main(int argc, char** argv) {
  const example::Args args =
      example::Parse(argc, argv, {.topic = "ExampleTopic", .group = "ExamplePushGroup"});
  stele::client::PushConsumer consumer({
      .group = args.group,
      .namesrv_addr = args.namesrv,
      // A group that has no offset yet starts at the queues' beginning.
      .consume_from_where = stele::client::ConsumeFromWhere::kFirstOffset,
  });
  if (auto s = consumer.Subscribe(args.topic, "*"); !s.ok()) {
    std::fprintf(stderr, "subscribe: %s\n", s.ToString().c_str());
    return 1;
  }
  std::mutex mu;
  std::condition_variable cv;
  int received = 0;
  // Runs on the consumer's threads, several at once (for different queues).
  consumer.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext& ctx) {
    std::lock_guard l(mu);
    for (const MessageExt& m : msgs) {
      std::printf("%s offset %lld: %s\n", ctx.queue.ToString().c_str(),
                  static_cast<long long>(m.queue_offset), m.body.c_str());
      ++received;
    }
    cv.notify_all();
    return ConsumeStatus::kSuccess;
  });
  if (auto s = consumer.Start(); !s.ok()) {
    std::fprintf(stderr, "start: %s\n", s.ToString().c_str());
    return 1;
  }
  bool done;
  {
    std::unique_lock l(mu);
    done = cv.wait_for(l, args.timeout, [&] { return received >= args.count; });
  }
  consumer.Shutdown();  // waits for running listeners, commits offsets
  std::printf("received %d message(s)%s\n", received, done ? "" : " before the timeout");
  return done ? 0 : 1;
}
