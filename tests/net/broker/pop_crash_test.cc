// PopService after a kill -9: a forked child runs a broker, pops four messages and acks two, then
// SIGKILLs itself (no shutdown: no final snapshot, no consumer-offset persist, no store close).
// The parent restarts a broker on the same directory: the two un-acked messages come back when
// their invisible time ends, the acked ones never do. Under SYNC_FLUSH and ASYNC_FLUSH (a process
// crash keeps the page cache, so both must keep every answered change).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include "pop_test_util.h"

namespace stele::broker {
namespace {

std::unique_ptr<BrokerController> StartOn(const std::string& dir, FlushDiskType flush) {
  BrokerConfig c;
  c.store_path_root_dir = dir;
  c.broker_ip1 = "127.0.0.1";
  c.bind_address = "127.0.0.1";
  c.listen_port = 0;
  c.store = testing::SmallOptions(dir, NewPosixFileSystem(), flush);
  if (!c.Finalize().ok()) return nullptr;
  auto b = BrokerController::Create(std::move(c));
  if (!b.ok() || !(*b)->Start().ok()) return nullptr;
  return std::move(*b);
}

absl::StatusOr<std::vector<PoppedMessage>> PopOn(BrokerController& b, PopRequest req,
                                                 milliseconds wait) {
  std::promise<absl::StatusOr<std::vector<PoppedMessage>>> p;
  auto f = p.get_future();
  b.pop().PopAsync(std::move(req), Clock::now() + wait,
                   [&p](auto r) { p.set_value(std::move(r)); });
  return f.get();
}

PopRequest Request(int invisible_ms) {
  PopRequest r;
  r.group = "G1";
  r.topic = "TopicA";
  r.invisible = milliseconds(invisible_ms);
  return r;
}

// The child: returns an exit code (0 never comes back: it kills itself when done).
int Child(const std::string& dir, FlushDiskType flush) {
  auto b = StartOn(dir, flush);
  if (!b) return 2;
  TopicConfig t;
  t.topic_name = "TopicA";
  t.read_queue_nums = t.write_queue_nums = 1;
  if (!b->topics().CreateOrUpdate(t).ok()) return 3;
  for (int i = 0; i < 4; ++i) {
    std::string props;
    AppendProperty(&props, kPropertyTags, "tagA");
    auto r = b->store().Append(Message{
        .topic = "TopicA", .queue_id = 0, .body = fmt::format("m{}", i), .properties = props});
    if (!r.ok()) return 4;
    if (!b->store().WaitForMessages("TopicA", 0, r->queue_offset, std::chrono::seconds(20))) {
      return 5;
    }
  }
  auto got = PopOn(*b, Request(1500), milliseconds(0));
  if (!got.ok() || got->size() != 4) return 6;
  if (!b->pop().Ack("G1", "TopicA", (*got)[0].receipt_handle).ok()) return 7;
  if (!b->pop().Ack("G1", "TopicA", (*got)[2].receipt_handle).ok()) return 8;
  ::kill(::getpid(), SIGKILL);
  return 9;
}

class PopCrashTest : public ::testing::TestWithParam<FlushDiskType> {};

TEST_P(PopCrashTest, UnackedComeBackAndAckedDoNotAfterKill9) {
  testing::TempDir dir;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(Child(dir.path(), GetParam()));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exited with " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);

  auto b = StartOn(dir.path(), GetParam());
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->store().recovery_report().clean_shutdown);
  EXPECT_EQ(b->pop().InFlight("G1", "TopicA"), 2);
  std::vector<PoppedMessage> back;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (back.size() < 2 && Clock::now() < deadline) {
    auto r = PopOn(*b, Request(30000), milliseconds(5000));
    ASSERT_TRUE(r.ok()) << r.status();
    for (auto& m : *r) back.push_back(std::move(m));
  }
  ASSERT_EQ(back.size(), 2u);
  std::sort(back.begin(), back.end(), [](const auto& x, const auto& y) {
    return x.record.msg.queue_offset < y.record.msg.queue_offset;
  });
  EXPECT_EQ(back[0].record.msg.body, "m1");
  EXPECT_EQ(back[1].record.msg.body, "m3");
  for (const auto& m : back) {
    EXPECT_EQ(m.delivery_attempt, 2);
    EXPECT_TRUE(b->pop().Ack("G1", "TopicA", m.receipt_handle).ok());
  }
  auto none = PopOn(*b, Request(30000), milliseconds(300));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(b->offsets().Query("G1", "TopicA", 0), 4);
  b->Shutdown();
}

INSTANTIATE_TEST_SUITE_P(Flush, PopCrashTest,
                         ::testing::Values(FlushDiskType::kSyncFlush, FlushDiskType::kAsyncFlush),
                         [](const auto& info) {
                           return info.param == FlushDiskType::kSyncFlush ? "Sync" : "Async";
                         });

}  // namespace
}  // namespace stele::broker
