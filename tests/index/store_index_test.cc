// The consuming side of the Store: consume queues, statuses, tag filters, waiting, time search,
// key and message-id lookups, and their consistency across clean and unclean restarts.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "io/fault_fs.h"
#include "stele/store.h"
#include "testutil.h"

namespace stele {
namespace {

using testing::Backend;
using testing::Body;
using testing::SmallOptions;
using testing::TempDir;

class StoreIndexTest : public ::testing::TestWithParam<Backend> {
 protected:
  std::shared_ptr<FileSystem> fs_ = testing::MakeBackend(GetParam());
  TempDir dir_;
  std::string root_ = dir_.path() + "/store";

  StoreOptions Options(FlushDiskType flush = FlushDiskType::kSyncFlush) {
    return SmallOptions(root_, fs_, flush);
  }
  std::unique_ptr<Store> OpenStore(StoreOptions o) {
    auto s = Store::Open(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::unique_ptr<Store> OpenStore() { return OpenStore(Options()); }
};

std::string BodyOf(const RecordRef& r) { return std::string(r.msg.body); }

TEST_P(StoreIndexTest, AppendedMessagesAreReadableByQueueOffset) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<AppendResult> acks;
  for (int i = 0; i < 300; ++i) {
    std::string body = Body(7, i, 50 + i % 200);
    auto r = store->Append(Message{.topic = "T", .queue_id = i % 2, .body = body});
    ASSERT_TRUE(r.ok()) << r.status();
    acks.push_back(*r);
  }
  // Append returning does not mean dispatched: wait for the last one without polling.
  ASSERT_TRUE(store->WaitForMessages("T", 1, 149, std::chrono::seconds(10)));
  ASSERT_TRUE(store->WaitForMessages("T", 0, 149, std::chrono::seconds(10)));
  EXPECT_EQ(store->MaxQueueOffset("T", 0), 150);
  EXPECT_EQ(store->MinQueueOffset("T", 0), 0);
  for (int q = 0; q < 2; ++q) {
    int64_t next = 0;
    int seen = 0;
    while (true) {
      auto g = store->Get("T", q, next, GetOptions{.max_messages = 7});
      ASSERT_TRUE(g.ok());
      if (g->status == GetMessageStatus::kOffsetOverflowOne) break;
      ASSERT_EQ(g->status, GetMessageStatus::kFound) << GetMessageStatusName(g->status);
      ASSERT_LE(g->messages.size(), 7u);
      for (const RecordRef& r : g->messages) {
        const int i = seen * 2 + q;
        EXPECT_EQ(r.msg.queue_offset, seen);
        EXPECT_EQ(r.offset, acks[i].wrote_offset);
        EXPECT_EQ(BodyOf(r), Body(7, i, 50 + i % 200));
        ++seen;
      }
      EXPECT_EQ(g->next_begin_offset, seen);
      next = g->next_begin_offset;
    }
    EXPECT_EQ(seen, 150);
  }
}

TEST_P(StoreIndexTest, StatusesFollowRocketMQ) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto none = store->Get("Nope", 0, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->status, GetMessageStatus::kNoMatchedLogicQueue);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store->Append(Message{.topic = "S", .queue_id = 0, .body = "x"}).ok());
  }
  ASSERT_TRUE(store->WaitForMessages("S", 0, 4, std::chrono::seconds(10)));
  auto one = store->Get("S", 0, 5);
  EXPECT_EQ(one->status, GetMessageStatus::kOffsetOverflowOne);
  EXPECT_EQ(one->next_begin_offset, 5);
  EXPECT_EQ(one->max_offset, 5);
  auto badly = store->Get("S", 0, 9);
  EXPECT_EQ(badly->status, GetMessageStatus::kOffsetOverflowBadly);
  EXPECT_EQ(badly->next_begin_offset, 5);  // RocketMQ 5 corrects to max
  auto found = store->Get("S", 0, 3);
  EXPECT_EQ(found->status, GetMessageStatus::kFound);
  EXPECT_EQ(found->messages.size(), 2u);
  EXPECT_EQ(found->next_begin_offset, 5);
  EXPECT_FALSE(store->Get("S", 0, 0, GetOptions{.max_messages = 0}).ok());
  // max_bytes: at least one message, then stop before exceeding.
  auto small = store->Get("S", 0, 0, GetOptions{.max_bytes = 1});
  EXPECT_EQ(small->messages.size(), 1u);
  EXPECT_EQ(small->next_begin_offset, 1);
}

TEST_P(StoreIndexTest, TagFilterUsesHashThenTheTagString) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  // "Aa" and "BB" have the same Java hash code: the record check must separate them.
  const char* tags[] = {"Aa", "BB", "TagC", "", "Aa"};
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store
                    ->Append(Message{
                        .topic = "F", .queue_id = 0, .body = std::to_string(i), .tags = tags[i]})
                    .ok());
  }
  ASSERT_TRUE(store->WaitForMessages("F", 0, 4, std::chrono::seconds(10)));
  auto aa = store->Get("F", 0, 0, GetOptions{.tags = {"Aa"}});
  ASSERT_EQ(aa->status, GetMessageStatus::kFound);
  ASSERT_EQ(aa->messages.size(), 2u);
  EXPECT_EQ(BodyOf(aa->messages[0]), "0");
  EXPECT_EQ(BodyOf(aa->messages[1]), "4");
  EXPECT_EQ(aa->next_begin_offset, 5);
  auto two = store->Get("F", 0, 0, GetOptions{.tags = {"BB", "TagC"}});
  ASSERT_EQ(two->messages.size(), 2u);
  EXPECT_EQ(BodyOf(two->messages[0]), "1");
  EXPECT_EQ(BodyOf(two->messages[1]), "2");
  auto all = store->Get("F", 0, 0, GetOptions{.tags = {"*"}});
  EXPECT_EQ(all->messages.size(), 5u);
  auto miss = store->Get("F", 0, 0, GetOptions{.tags = {"Zz"}});
  EXPECT_EQ(miss->status, GetMessageStatus::kNoMatchedMessage);
  EXPECT_EQ(miss->next_begin_offset, 5);  // the filtered entries are consumed
}

TEST_P(StoreIndexTest, WaitAndListenerAreWokenByNewMessages) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::pair<std::string, int32_t>, int64_t> seen;
  store->SetArrivalListener([&](std::string_view t, int32_t q, int64_t max) {
    std::lock_guard<std::mutex> l(mu);
    auto& v = seen[{std::string(t), q}];
    EXPECT_GE(max, v);  // never goes backwards
    v = max;
    cv.notify_all();
  });
  EXPECT_FALSE(store->WaitForMessages("W", 0, 0, std::chrono::milliseconds(20)));
  std::atomic<bool> woke{false};
  std::thread waiter([&] { woke = store->WaitForMessages("W", 0, 9, std::chrono::seconds(30)); });
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->Append(Message{.topic = "W", .queue_id = 0, .body = "b"}).ok());
  }
  waiter.join();
  EXPECT_TRUE(woke);
  EXPECT_EQ(store->MaxQueueOffset("W", 0), 10);
  // The listener is told too (it may run just after the waiter saw the new max).
  std::unique_lock<std::mutex> l(mu);
  EXPECT_TRUE(cv.wait_for(l, std::chrono::seconds(30), [&] { return seen[{"W", 0}] == 10; }));
}

TEST_P(StoreIndexTest, SearchQueueOffsetByStoreTime) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<int64_t> ts;
  for (int i = 0; i < 200; ++i) {
    auto r = store->Append(Message{.topic = "Time", .queue_id = 0, .body = "b"});
    ASSERT_TRUE(r.ok());
    ts.push_back(r->store_timestamp);
  }
  ASSERT_TRUE(store->WaitForMessages("Time", 0, 199, std::chrono::seconds(10)));
  for (int i : {0, 1, 57, 120, 199}) {
    auto off = store->SearchQueueOffset("Time", 0, ts[i]);
    ASSERT_TRUE(off.ok());
    // The first message stored at or after ts[i].
    int expect = i;
    while (expect > 0 && ts[expect - 1] >= ts[i]) --expect;
    EXPECT_EQ(*off, expect) << i;
    auto t = store->QueueOffsetStoreTime("Time", 0, *off);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, ts[expect]);
  }
  EXPECT_EQ(*store->SearchQueueOffset("Time", 0, ts.back() + 1), 200);
  EXPECT_EQ(*store->SearchQueueOffset("Time", 0, 0), 0);
  EXPECT_FALSE(store->SearchQueueOffset("Nope", 0, 0).ok());
}

TEST_P(StoreIndexTest, QueryByKeyAndUniqKeyAndMessageId) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<AppendResult> acks;
  for (int i = 0; i < 400; ++i) {
    std::string keys = fmt::format("order-{} user-{}", i, i % 7);
    std::string props;
    AppendProperty(&props, kPropertyUniqKey, fmt::format("UNIQ{:08d}", i));
    auto r = store->Append(Message{.topic = i % 2 ? "Odd" : "Even",
                                   .queue_id = 0,
                                   .body = std::to_string(i),
                                   .properties = props,
                                   .keys = keys});
    ASSERT_TRUE(r.ok());
    acks.push_back(*r);
  }
  ASSERT_TRUE(store->WaitForMessages("Odd", 0, 199, std::chrono::seconds(10)));
  ASSERT_TRUE(store->WaitForMessages("Even", 0, 199, std::chrono::seconds(10)));
  auto one = store->QueryByKey("Even", "order-42", 10);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(BodyOf((*one)[0]), "42");
  EXPECT_TRUE(store->QueryByKey("Odd", "order-42", 10)->empty());     // other topic
  EXPECT_TRUE(store->QueryByKey("Even", "order-9999", 10)->empty());  // never used
  // user-3 appears in both topics; in Odd: i = 3, 17, 31, ... newest first.
  auto many = store->QueryByKey("Odd", "user-3", 1000);
  ASSERT_TRUE(many.ok());
  std::vector<int> expect;
  for (int i = 399; i >= 0; --i) {
    if (i % 2 == 1 && i % 7 == 3) expect.push_back(i);
  }
  std::vector<int> got;
  for (const RecordRef& r : *many) got.push_back(std::stoi(BodyOf(r)));
  expect.resize(std::min<size_t>(expect.size(), 64));  // maxMsgsNumBatch
  EXPECT_EQ(got, expect);
  auto uniq = store->QueryByKey("Odd", "UNIQ00000123", 4);
  ASSERT_EQ(uniq->size(), 1u);
  EXPECT_EQ((*uniq)[0].offset, acks[123].wrote_offset);
  // Time window that excludes everything.
  EXPECT_TRUE(store->QueryByKey("Even", "order-42", 10, 0, 1000)->empty());
  // Offset message ids go straight to the log.
  auto byid = store->LookupMessageId(acks[77].msg_id);
  ASSERT_TRUE(byid.ok()) << byid.status();
  EXPECT_EQ(BodyOf(*byid), "77");
  EXPECT_EQ(store->LookupMessageId("zz").status().code(), absl::StatusCode::kInvalidArgument);
  std::string bad = acks[77].msg_id;
  bad.back() = bad.back() == '1' ? '2' : '1';  // an offset inside a record
  EXPECT_EQ(store->LookupMessageId(bad).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(StoreIndexTest, CleanRestartRebuildsNothingAndKeepsEverything) {
  {
    auto store = OpenStore();
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(store
                      ->Append(Message{.topic = fmt::format("T{}", i % 3),
                                       .queue_id = i % 4,
                                       .body = Body(3, i, 300),
                                       .keys = fmt::format("k{}", i)})
                      .ok());
    }
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->recovery_report().clean_shutdown);
  EXPECT_EQ(store->DispatchedOffset(), store->MaxOffset());
  int64_t total = 0;
  for (const QueueInfo& q : store->ListQueues()) {
    EXPECT_EQ(q.max_offset, store->NextQueueOffset(q.topic, q.queue_id));
    total += q.max_offset - q.min_offset;
  }
  EXPECT_EQ(total, 500);
  auto k = store->QueryByKey("T1", "k301", 4);
  ASSERT_EQ(k->size(), 1u);
  EXPECT_EQ(BodyOf((*k)[0]), Body(3, 301, 300));
}

TEST_P(StoreIndexTest, IndexCanBeTurnedOff) {
  StoreOptions o = Options();
  o.message_index_enable = false;
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append(Message{.topic = "T", .body = "b", .keys = "k"}).ok());
  EXPECT_EQ(store->QueryByKey("T", "k", 1).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store->WaitForMessages("T", 0, 0, std::chrono::seconds(10)));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreIndexTest,
                         ::testing::Values(Backend::kMemory, Backend::kPosix),
                         [](const auto& info) { return testing::BackendName(info.param); });

// An unclean stop (no final checkpoint, no flush of the queues) with the queues ahead of, behind
// and equal to the checkpoint: after reopening, queues and index agree with the recovered log.
TEST(StoreIndexRecovery, UncleanStopRebuildsQueuesFromTheCheckpoint) {
  TempDir dir;
  auto mem = NewMemFileSystem();
  auto fault = std::make_shared<io::FaultInjectionFS>(mem, 11);
  StoreOptions o = SmallOptions(dir.path() + "/s", fault, FlushDiskType::kSyncFlush);
  o.flush_interval_consume_queue_ms = 1000000;  // queues never flushed on their own
  o.checkpoint_interval_ms = 1000000;
  std::vector<AppendResult> acks;
  for (int cycle = 0; cycle < 4; ++cycle) {
    auto store = Store::Open(o);
    ASSERT_TRUE(store.ok()) << store.status();
    // Everything acknowledged so far is in its queue and the index.
    for (size_t i = 0; i < acks.size(); ++i) {
      const std::string topic = fmt::format("T{}", i % 2);
      auto g = (*store)->Get(topic, 0, acks[i].queue_offset, GetOptions{.max_messages = 1});
      ASSERT_EQ(g->status, GetMessageStatus::kFound) << "cycle " << cycle << " i " << i;
      EXPECT_EQ(g->messages[0].offset, acks[i].wrote_offset);
      auto k = (*store)->QueryByKey(topic, fmt::format("key{}", i), 4);
      ASSERT_EQ(k->size(), 1u) << "cycle " << cycle << " i " << i;
      EXPECT_EQ((*k)[0].offset, acks[i].wrote_offset);
    }
    for (int t = 0; t < 2; ++t) {
      const std::string topic = fmt::format("T{}", t);
      EXPECT_EQ((*store)->MaxQueueOffset(topic, 0), (*store)->NextQueueOffset(topic, 0));
    }
    for (int j = 0; j < 150; ++j) {
      const size_t i = acks.size();
      std::string keys = fmt::format("key{}", i);
      auto r = (*store)->Append(Message{.topic = fmt::format("T{}", i % 2),
                                        .queue_id = 0,
                                        .body = Body(5, i, 200),
                                        .keys = keys});
      ASSERT_TRUE(r.ok());
      acks.push_back(*r);
    }
    // Crash: the process dies (page cache survives: no PowerLoss here).
    fault->Deactivate();
    store->reset();
    fault->Activate();
  }
}

}  // namespace
}  // namespace stele
