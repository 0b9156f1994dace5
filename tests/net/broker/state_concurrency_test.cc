// The broker's in-memory state hammered from several threads at once, as the remoting io threads,
// the housekeeping timer and the name-server registration thread do in a running broker. Small
// enough to run under ThreadSanitizer in a second, which is what it is for: every reader and writer
// of the consumer/producer registries and of the versioned topic table overlaps here.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "net/broker/state/client_manager.h"
#include "net/broker/state/topic_config_manager.h"
#include "testutil.h"

namespace stele::broker {
namespace {

constexpr int kWriters = 3;
constexpr int kRounds = 200;

ConsumerData Consumer(const std::string& group, int round) {
  ConsumerData c;
  c.group_name = group;
  c.subscriptions.push_back(SubscriptionData{.topic = "T", .sub_version = round});
  // Every other round subscribes to a second topic too, so subscriptions change under readers.
  if (round % 2 == 0) c.subscriptions.push_back(SubscriptionData{.topic = "U"});
  return c;
}

TEST(BrokerStateConcurrencyTest, ClientRegistriesUnderConcurrentHeartbeatsAndReads) {
  ConsumerManager consumers;
  ProducerManager producers;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      const std::string client = fmt::format("10.0.0.{}@1", w);
      const uint64_t channel = 100 + w;
      for (int i = 0; i < kRounds; ++i) {
        ASSERT_TRUE(consumers.Register(Consumer("G", i), client, channel, i).ok());
        ASSERT_TRUE(producers.Register("P", client, channel, i).ok());
        if (i % 50 == 49) {  // a reconnect: the old channel closes, the client heartbeats again
          consumers.DropChannel(channel);
          producers.DropChannel(channel);
        }
      }
      // Leave with a final heartbeat on the channel, so the end state is known.
      ASSERT_TRUE(consumers.Register(Consumer("G", kRounds), client, channel, kRounds).ok());
      ASSERT_TRUE(producers.Register("P", client, channel, kRounds).ok());
    });
  }
  threads.emplace_back([&] {  // the housekeeping timer, with a horizon that expires nobody
    while (!stop) {
      consumers.ScanExpired(0, 1'000'000);
      producers.ScanExpired(0, 1'000'000);
      std::this_thread::yield();
    }
  });
  threads.emplace_back([&] {  // pulls and admin reads
    while (!stop) {
      (void)consumers.ConsumerIds("G");
      (void)consumers.Channels("G");
      (void)consumers.FindSubscription("G", "T");
      (void)consumers.FindGroup("G");
      (void)consumers.GroupsOfTopic("U");
      (void)consumers.Groups();
      (void)producers.FindChannelOfGroup("P");
      (void)producers.Clients("P");
      std::this_thread::yield();
    }
  });
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  stop = true;
  for (size_t i = kWriters; i < threads.size(); ++i) threads[i].join();

  EXPECT_EQ(consumers.ConsumerIds("G"),
            (std::vector<std::string>{"10.0.0.0@1", "10.0.0.1@1", "10.0.0.2@1"}));
  EXPECT_EQ(producers.Clients("P").size(), 3u);
  auto sub = consumers.FindSubscription("G", "T");
  ASSERT_TRUE(sub.has_value());
  EXPECT_EQ(sub->sub_version, kRounds);
  EXPECT_TRUE(consumers.FindSubscription("G", "U").has_value());  // kRounds is even
}

TEST(BrokerStateConcurrencyTest, TopicTableUnderConcurrentCreatesReadsAndPersists) {
  testing::TempDir tmp;
  BrokerConfig config;
  config.store_path_root_dir = tmp.path();
  TopicConfigManager topics(config);
  ASSERT_TRUE(topics.Load().ok());
  constexpr int kTopicsPerWriter = 10;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kTopicsPerWriter; ++i) {
        const std::string name = fmt::format("Topic_{}_{}", w, i);
        if (i % 2 == 0) {
          ASSERT_TRUE(topics.AutoCreateForSend(name, 4).ok());  // the send path
        } else {
          ASSERT_TRUE(topics.CreateOrUpdate(TopicConfig{.topic_name = name}).ok());  // admin
        }
        ASSERT_TRUE(topics.CreateRetryTopic(fmt::format("G_{}", w)).ok());
      }
    });
  }
  threads.emplace_back([&] {  // senders, pullers and the registration thread
    while (!stop) {
      (void)topics.Find("Topic_0_0");
      (void)topics.Get("Topic_1_1");
      (void)topics.All();
      (void)topics.ToRegisterJson();
      std::this_thread::yield();
    }
  });
  threads.emplace_back([&] {
    while (!stop) ASSERT_TRUE(topics.Persist().ok());
  });
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  stop = true;
  for (size_t i = kWriters; i < threads.size(); ++i) threads[i].join();

  TopicConfigManager reloaded(config);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.data_version(), topics.data_version());
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kTopicsPerWriter; ++i) {
      EXPECT_TRUE(reloaded.Find(fmt::format("Topic_{}_{}", w, i)) != nullptr) << w << " " << i;
    }
    EXPECT_TRUE(reloaded.Find(fmt::format("%RETRY%G_{}", w)) != nullptr);
  }
}

}  // namespace
}  // namespace stele::broker
