// Many appenders at once, in both flush modes and on every backend: every acknowledged record is
// in the log exactly once, offsets are contiguous, queue offsets are a gap-free sequence.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "stele/store.h"
#include "testutil.h"

namespace stele {
namespace {

using testing::Backend;
using testing::Body;

struct Ack {
  AppendResult r;
  int thread;
  int i;
  size_t size;
};

class ConcurrencyTest
    : public ::testing::TestWithParam<std::tuple<Backend, FlushDiskType, WriteMode>> {};

TEST_P(ConcurrencyTest, EveryAckedRecordExactlyOnce) {
  auto [backend, mode, write_mode] = GetParam();
  testing::TempDir dir;
  auto opts = testing::SmallOptions(dir.path() + "/s", testing::MakeBackend(backend), mode);
  opts.write_mode = write_mode;
  auto store = Store::Open(opts);
  ASSERT_TRUE(store.ok()) << store.status();
  constexpr int kThreads = 8;
  const int per_thread = mode == FlushDiskType::kSyncFlush ? 400 : 1500;
  std::mutex mu;
  std::vector<Ack> acks;
  std::atomic<int> failures{0};
  std::string first_failure;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        size_t size = 16 + (t * 7919 + i * 104729) % 4000;
        std::string body = Body(t, i, size);
        std::string topic = fmt::format("T{}", t % 3);
        auto r = (*store)->Append(Message{.topic = topic, .queue_id = i % 2, .body = body});
        if (!r.ok() || r->status != PutMessageStatus::kPutOk) {
          std::lock_guard<std::mutex> l(mu);
          if (failures++ == 0) {
            first_failure =
                r.ok() ? std::string(PutMessageStatusName(r->status)) : r.status().ToString();
          }
          continue;
        }
        std::lock_guard<std::mutex> l(mu);
        acks.push_back(Ack{*r, t, i, size});
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0) << "first failure: " << first_failure;
  ASSERT_EQ(acks.size(), static_cast<size_t>(kThreads * per_thread));
  ASSERT_TRUE((*store)->Close().ok());

  // Reopen and check: walking the log sees exactly the acked records.
  auto again = Store::Open(opts);
  ASSERT_TRUE(again.ok()) << again.status();
  std::map<int64_t, const Ack*> by_offset;
  for (const Ack& a : acks) ASSERT_TRUE(by_offset.emplace(a.r.wrote_offset, &a).second);
  std::map<std::pair<std::string, int>, int64_t> next_qo;
  int64_t off = (*again)->MinOffset();
  size_t seen = 0;
  while (off < (*again)->MaxOffset()) {
    auto rec = (*again)->Read(off);
    ASSERT_TRUE(rec.ok()) << rec.status();
    auto it = by_offset.find(rec->offset);
    ASSERT_NE(it, by_offset.end()) << "record at " << rec->offset << " was never acknowledged";
    const Ack& a = *it->second;
    EXPECT_EQ(rec->msg.body, Body(a.thread, a.i, a.size));
    auto key = std::make_pair(std::string(rec->msg.topic), rec->msg.queue_id);
    EXPECT_EQ(rec->msg.queue_offset, next_qo[key]) << key.first << "/" << key.second;
    EXPECT_EQ(rec->msg.queue_offset, a.r.queue_offset);
    next_qo[key] = rec->msg.queue_offset + 1;
    ++seen;
    off = rec->next_offset;
  }
  EXPECT_EQ(seen, acks.size());
  for (const auto& [key, next] : next_qo) {
    EXPECT_EQ((*again)->NextQueueOffset(key.first, key.second), next);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Matrix, ConcurrencyTest,
    ::testing::Combine(::testing::Values(Backend::kMemory, Backend::kPosix, Backend::kUring),
                       ::testing::Values(FlushDiskType::kSyncFlush, FlushDiskType::kAsyncFlush),
                       ::testing::Values(WriteMode::kMmap, WriteMode::kWrite)),
    [](const auto& info) {
      return testing::BackendName(std::get<0>(info.param)) +
             (std::get<1>(info.param) == FlushDiskType::kSyncFlush ? "Sync" : "Async") +
             (std::get<2>(info.param) == WriteMode::kMmap ? "Mmap" : "Write");
    });

}  // namespace
}  // namespace stele
