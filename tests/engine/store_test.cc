// The Store facade end to end, on every backend: append, read back, reopen, roll, limits.
#include "stele/store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "io/fault_fs.h"
#include "testutil.h"

namespace stele {
namespace {

using testing::Backend;
using testing::Body;
using testing::SmallOptions;
using testing::TempDir;

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  std::shared_ptr<FileSystem> fs_ = testing::MakeBackend(GetParam());
  TempDir dir_;
  std::string root_ = dir_.path() + "/store";

  std::unique_ptr<Store> OpenStore(FlushDiskType flush = FlushDiskType::kSyncFlush) {
    auto s = Store::Open(SmallOptions(root_, fs_, flush));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
};

TEST_P(StoreTest, AppendReadBackAndReopen) {
  std::vector<AppendResult> acks;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    EXPECT_FALSE(store->recovery_report().clean_shutdown);  // first open: no checkpoint yet
    for (int i = 0; i < 100; ++i) {
      std::string body = Body(1, i, 100 + i * 37);
      Message m{
          .topic = "TopicA", .queue_id = i % 3, .body = body, .tags = "TagA", .keys = "k1 k2"};
      auto r = store->Append(m);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->status, PutMessageStatus::kPutOk);
      EXPECT_EQ(r->queue_offset, i / 3);
      acks.push_back(*r);
    }
    EXPECT_GE(store->FlushedOffset(), acks.back().wrote_offset + acks.back().wrote_bytes);
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->recovery_report().clean_shutdown);
  EXPECT_EQ(store->recovery_report().bytes_scanned, 0u);
  for (int i = 0; i < 100; ++i) {
    auto rec = store->Read(acks[i].wrote_offset);
    ASSERT_TRUE(rec.ok()) << rec.status();
    EXPECT_EQ(rec->msg.body, Body(1, i, 100 + i * 37));
    EXPECT_EQ(rec->msg.topic, "TopicA");
    EXPECT_EQ(rec->msg.queue_id, i % 3);
    EXPECT_EQ(rec->msg.queue_offset, i / 3);
    EXPECT_EQ(rec->msg.Property("TAGS"), "TagA");
    EXPECT_EQ(rec->msg.Property("KEYS"), "k1 k2");
    EXPECT_EQ(rec->msg.OffsetMsgId(), acks[i].msg_id);
  }
  EXPECT_EQ(store->NextQueueOffset("TopicA", 0), 34);
  EXPECT_EQ(store->NextQueueOffset("TopicA", 2), 33);
  auto r = store->Append(Message{.topic = "TopicA", .queue_id = 0, .body = "after reopen"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->queue_offset, 34);
}

TEST_P(StoreTest, RollsSegmentsWithBlankRecords) {
  auto store = OpenStore(FlushDiskType::kAsyncFlush);
  ASSERT_NE(store, nullptr);
  const uint64_t seg = store->options().mapped_file_size_commit_log;
  std::vector<AppendResult> acks;
  for (int i = 0; i < 300; ++i) {
    std::string body = Body(2, i, 3000 + (i * 7919) % 20000);
    auto r = store->Append(Message{.topic = "roll", .queue_id = 0, .body = body});
    ASSERT_TRUE(r.ok()) << r.status();
    // A record never spans two segments.
    EXPECT_EQ(r->wrote_offset / seg, (r->wrote_offset + r->wrote_bytes - 1) / seg);
    acks.push_back(*r);
  }
  EXPECT_GT(acks.back().wrote_offset, static_cast<int64_t>(5 * seg));
  // Walking with Read/next_offset visits every record once, skipping blank fillers.
  int64_t off = store->MinOffset();
  for (int i = 0; i < 300; ++i) {
    auto rec = store->Read(off);
    ASSERT_TRUE(rec.ok()) << rec.status() << " at " << off;
    EXPECT_EQ(rec->offset, acks[i].wrote_offset);
    EXPECT_EQ(rec->msg.queue_offset, i);
    off = rec->next_offset;
  }
  EXPECT_TRUE(absl::IsNotFound(store->Read(off).status()));
}

TEST_P(StoreTest, RefusesBadInputWithoutWriting) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  int64_t before = store->MaxOffset();
  std::string big(64 * 1024 + 1, 'x');
  auto r = store->Append(Message{.topic = "T", .body = big});
  EXPECT_EQ(PutStatusOf(r.status()), PutMessageStatus::kMessageIllegal) << r.status();
  r = store->Append(Message{.topic = "../etc", .body = "x"});
  EXPECT_EQ(PutStatusOf(r.status()), PutMessageStatus::kMessageIllegal) << r.status();
  r = store->Append(Message{.topic = "", .body = "x"});
  EXPECT_EQ(PutStatusOf(r.status()), PutMessageStatus::kMessageIllegal);
  r = store->Append(Message{.topic = std::string(128, 'a'), .body = "x"});
  EXPECT_EQ(PutStatusOf(r.status()), PutMessageStatus::kMessageIllegal);
  std::string props(40000, 'p');
  r = store->Append(Message{.topic = "T", .body = "x", .properties = props});
  EXPECT_EQ(PutStatusOf(r.status()), PutMessageStatus::kPropertiesSizeExceeded);
  EXPECT_EQ(store->MaxOffset(), before);
  // A %RETRY% topic may be up to 255 bytes and switches to the v2 record (2-byte topic length).
  std::string retry = "%RETRY%" + std::string(200, 'g');
  r = store->Append(Message{.topic = retry, .body = "x"});
  ASSERT_TRUE(r.ok()) << r.status();
  auto rec = store->Read(r->wrote_offset);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->msg.magic, 0xDAA320ABu);
  EXPECT_EQ(rec->msg.topic, retry);
}

TEST_P(StoreTest, BatchIsContiguousAndOrdered) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<std::string> bodies;
  std::vector<Message> msgs;
  for (int i = 0; i < 50; ++i) bodies.push_back(Body(3, i, 500));
  for (int i = 0; i < 50; ++i)
    msgs.push_back(Message{.topic = "B", .queue_id = 1, .body = bodies[i]});
  auto r = store->AppendBatch(msgs);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 50u);
  for (int i = 1; i < 50; ++i) {
    EXPECT_EQ((*r)[i].wrote_offset, (*r)[i - 1].wrote_offset + (*r)[i - 1].wrote_bytes);
    EXPECT_EQ((*r)[i].queue_offset, i);
  }
  // One bad message refuses the whole batch.
  msgs[10].topic = "bad topic";
  int64_t before = store->MaxOffset();
  EXPECT_FALSE(store->AppendBatch(msgs).ok());
  EXPECT_EQ(store->MaxOffset(), before);
}

TEST_P(StoreTest, AppendAsyncCallsBackInOrder) {
  for (FlushDiskType mode : {FlushDiskType::kSyncFlush, FlushDiskType::kAsyncFlush}) {
    root_ = dir_.path() + (mode == FlushDiskType::kSyncFlush ? "/sync" : "/async");
    auto store = OpenStore(mode);
    ASSERT_NE(store, nullptr);
    std::mutex mu;
    std::condition_variable cv;
    std::vector<int64_t> offsets;
    const int n = 500;
    for (int i = 0; i < n; ++i) {
      std::string body = Body(4, i, 200);
      store->AppendAsync(Message{.topic = "A", .queue_id = 0, .body = body},
                         [&](absl::StatusOr<AppendResult> r) {
                           ASSERT_TRUE(r.ok()) << r.status();
                           std::lock_guard<std::mutex> l(mu);
                           offsets.push_back(r->queue_offset);
                           cv.notify_all();
                         });
    }
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(30), [&] { return offsets.size() == n; }));
    for (int i = 0; i < n; ++i) EXPECT_EQ(offsets[i], i);
    l.unlock();
    ASSERT_TRUE(store->Close().ok());
  }
}

TEST_P(StoreTest, SecondOpenOfSameDirectoryIsRefused) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto second = Store::Open(SmallOptions(root_, fs_));
  EXPECT_FALSE(second.ok());
}

TEST_P(StoreTest, ProcessCrashKeepsEverythingWritten) {
  // Deactivating the fault FS stops every write, as if the process died: the abort marker stays,
  // the last checkpoint is stale, and the page cache (the base FS) keeps what was written.
  auto fault = std::make_shared<io::FaultInjectionFS>(fs_, 7);
  std::vector<AppendResult> acks;
  {
    auto opts = SmallOptions(root_, fault, FlushDiskType::kAsyncFlush);
    opts.checkpoint_interval_ms = 1000000;  // keep the checkpoint at open time
    auto store = Store::Open(opts);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < 400; ++i) {
      std::string body = Body(5, i, 1000);
      auto r = (*store)->Append(Message{.topic = "crash", .queue_id = i % 4, .body = body});
      ASSERT_TRUE(r.ok());
      acks.push_back(*r);
    }
    fault->Deactivate();
  }
  fault->Activate();
  auto store = Store::Open(SmallOptions(root_, fault));
  ASSERT_TRUE(store.ok()) << store.status();
  const RecoveryReport& rep = (*store)->recovery_report();
  EXPECT_FALSE(rep.clean_shutdown);
  EXPECT_EQ(rep.records_scanned, 400u);
  EXPECT_EQ(rep.end_offset, acks.back().wrote_offset + acks.back().wrote_bytes);
  for (int i = 0; i < 400; ++i) {
    auto rec = (*store)->Read(acks[i].wrote_offset);
    ASSERT_TRUE(rec.ok()) << rec.status();
    EXPECT_EQ(rec->msg.body, Body(5, i, 1000));
  }
  EXPECT_EQ((*store)->NextQueueOffset("crash", 3), 100);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(Backend::kMemory, Backend::kPosix, Backend::kUring),
                         [](const auto& info) { return testing::BackendName(info.param); });

}  // namespace
}  // namespace stele
