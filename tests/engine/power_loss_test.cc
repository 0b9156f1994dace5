// Simulated power loss with the fault-injecting file system, over many seeds: everything made
// durable survives intact, whatever was not is cleanly cut off, and the store reopens and accepts
// appends. Every failure prints the seed and policy that reproduce it.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>

#include "io/fault_fs.h"
#include "stele/store.h"
#include "testutil.h"

namespace stele {
namespace {

using io::FaultInjectionFS;
using io::LossPolicy;
using testing::Backend;
using testing::Body;

struct Expect {
  std::string topic;
  int32_t queue_id;
  int64_t queue_offset;
  uint64_t seed;
  uint64_t i;
  size_t size;
  bool durable;  // acknowledged durable: must survive
};

struct PowerLossParam {
  Backend backend;
  LossPolicy policy;
  int seeds;
};

class PowerLossTest : public ::testing::TestWithParam<PowerLossParam> {};

// One seeded run: several open/append/power-cut/reopen cycles. Returns acked records lost.
void RunSeed(Backend backend, LossPolicy policy, uint64_t seed, int* lost) {
  SCOPED_TRACE("seed " + std::to_string(seed) + " policy " +
               (policy == LossPolicy::kDropAll ? "drop-all" : "random-pages") + " backend " +
               testing::BackendName(backend));
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  auto fault = std::make_shared<FaultInjectionFS>(testing::MakeBackend(backend), seed);
  std::map<int64_t, Expect> expect;  // by commit-log offset
  uint64_t counter = 0;
  for (int cycle = 0; cycle < 4; ++cycle) {
    const bool sync = rng() % 2 == 0;
    auto opts = testing::SmallOptions(
        dir.path() + "/s", fault, sync ? FlushDiskType::kSyncFlush : FlushDiskType::kAsyncFlush);
    opts.mapped_file_size_commit_log = 64 * 1024;
    opts.max_message_size = 8 * 1024;
    opts.write_buffer_size = 256 * 1024;
    opts.flush_interval_commit_log_ms = 1000000;  // flushes only when the workload asks
    opts.checkpoint_interval_ms = 1 + rng() % 30;
    auto store = Store::Open(opts);
    ASSERT_TRUE(store.ok()) << store.status();

    // After reopening: every durable record is there, byte for byte; every record there was
    // acknowledged at some point (no garbage, no resurrected stale data); queue offsets go on.
    std::map<std::pair<std::string, int32_t>, int64_t> next_qo;
    for (auto it = expect.begin(); it != expect.end();) {
      const Expect& e = it->second;
      auto rec = (*store)->Read(it->first);
      bool present = rec.ok() && rec->offset == it->first && rec->msg.topic == e.topic &&
                     rec->msg.queue_offset == e.queue_offset &&
                     rec->msg.body == Body(e.seed, e.i, e.size);
      if (!present && e.durable) {
        ADD_FAILURE() << "durable record at offset " << it->first
                      << " lost: " << (rec.ok() ? "different content" : rec.status().ToString());
        ++*lost;
      }
      if (!present) {
        it = expect.erase(it);
        continue;
      }
      auto& n = next_qo[{e.topic, e.queue_id}];
      n = std::max(n, e.queue_offset + 1);
      ++it;
    }
    int64_t walked = 0;
    for (int64_t off = (*store)->MinOffset(); off < (*store)->MaxOffset();) {
      auto rec = (*store)->Read(off);
      if (absl::IsNotFound(rec.status())) break;  // the log ends with a segment's BLANK filler
      ASSERT_TRUE(rec.ok()) << "unreadable record at " << off << ": " << rec.status();
      ASSERT_TRUE(expect.count(rec->offset)) << "record at " << rec->offset << " never acked";
      off = rec->next_offset;
      ++walked;
    }
    EXPECT_EQ(walked, static_cast<int64_t>(expect.size()));
    for (const auto& [k, n] : next_qo) EXPECT_EQ((*store)->NextQueueOffset(k.first, k.second), n);

    // Workload.
    const int appends = 20 + static_cast<int>(rng() % 120);
    std::vector<int64_t> unflushed;
    for (int a = 0; a < appends; ++a) {
      Expect e;
      e.topic = fmt::format("t{}", rng() % 3);
      e.queue_id = static_cast<int32_t>(rng() % 2);
      e.seed = seed;
      e.i = counter++;
      e.size = rng() % 4 == 0 ? 2000 + rng() % 6000 : 1 + rng() % 600;
      std::string body = Body(e.seed, e.i, e.size);
      auto r = (*store)->Append(Message{.topic = e.topic, .queue_id = e.queue_id, .body = body});
      ASSERT_TRUE(r.ok()) << r.status();
      e.queue_offset = r->queue_offset;
      e.durable = sync && r->status == PutMessageStatus::kPutOk;
      expect[r->wrote_offset] = e;
      if (!e.durable) unflushed.push_back(r->wrote_offset);
      if (rng() % 40 == 0) {
        ASSERT_TRUE((*store)->Flush().ok());
        for (int64_t o : unflushed) expect[o].durable = true;
        unflushed.clear();
      }
    }
    // Power cut: nothing more reaches the disk, the process state is gone, unsynced data drops.
    fault->Deactivate();
    store->reset();
    ASSERT_TRUE(fault->PowerLoss(policy).ok());
    fault->Activate();
  }
}

TEST_P(PowerLossTest, DurableRecordsSurviveEverySeed) {
  const PowerLossParam& p = GetParam();
  int lost = 0;
  for (int seed = 1; seed <= p.seeds * testing::SoakFactor(); ++seed) {
    RunSeed(p.backend, p.policy, static_cast<uint64_t>(seed), &lost);
    if (HasFatalFailure()) return;
  }
  EXPECT_EQ(lost, 0) << "acknowledged durable records lost";
  std::printf("%d seeds: %d durable records lost\n", p.seeds * testing::SoakFactor(), lost);
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, PowerLossTest,
    ::testing::Values(PowerLossParam{Backend::kMemory, LossPolicy::kDropAll, 150},
                      PowerLossParam{Backend::kMemory, LossPolicy::kRandomPages, 150},
                      PowerLossParam{Backend::kPosix, LossPolicy::kDropAll, 10},
                      PowerLossParam{Backend::kPosix, LossPolicy::kRandomPages, 10},
                      PowerLossParam{Backend::kUring, LossPolicy::kDropAll, 10},
                      PowerLossParam{Backend::kUring, LossPolicy::kRandomPages, 10}),
    [](const auto& info) {
      return testing::BackendName(info.param.backend) +
             (info.param.policy == LossPolicy::kDropAll ? "DropAll" : "RandomPages");
    });

}  // namespace
}  // namespace stele
