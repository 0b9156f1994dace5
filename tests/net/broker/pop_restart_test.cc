// PopService durability: after a restart (clean, with the snapshot lost, or from an older snapshot
// as after a crash) un-acked messages come back once their invisible time ends, acked ones are
// never delivered again, and old receipt handles still name their deliveries.
#include <algorithm>
#include <filesystem>

#include "net/broker/pop_state.h"
#include "pop_test_util.h"

namespace stele::broker {
namespace {

class PopRestartTest : public PopTest {
 protected:
  std::string SnapshotPath() const { return dir_.path() + "/config/popState.json"; }

  // Pops m0..m3 invisible for 1 s, acks m0 and m2; returns the four deliveries.
  std::vector<PoppedMessage> PopFourAckTwo() {
    CreateTopic("TopicA", 1);
    for (int i = 0; i < 4; ++i) Send("TopicA", 0, fmt::format("m{}", i));
    auto got = PopN(Req("TopicA", 32, 1000), 4);
    EXPECT_TRUE(broker_->pop().Ack("G1", "TopicA", got[0].receipt_handle).ok());
    EXPECT_TRUE(broker_->pop().Ack("G1", "TopicA", got[2].receipt_handle).ok());
    return got;
  }

  // After the restart: m1 and m3 (only) come back with attempt 2; then nothing is left.
  void ExpectUnackedComeBack(const std::vector<PoppedMessage>& before) {
    EXPECT_EQ(broker_->pop().InFlight("G1", "TopicA"), 2);
    // The old handle of an un-acked delivery is still valid after the restart.
    auto h = broker_->pop().ChangeInvisibleDuration("G1", "TopicA", before[3].receipt_handle,
                                                    milliseconds(10));
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_TRUE(absl::IsNotFound(broker_->pop().Ack("G1", "TopicA", before[0].receipt_handle)));
    auto again = PopN(Req("TopicA", 32, 30000), 2);
    ASSERT_EQ(again.size(), 2u);
    std::sort(again.begin(), again.end(), [](const auto& a, const auto& b) {
      return a.record.msg.queue_offset < b.record.msg.queue_offset;
    });
    EXPECT_EQ(Body(again[0]), "m1");
    EXPECT_EQ(Body(again[1]), "m3");
    for (const PoppedMessage& m : again) {
      EXPECT_EQ(m.delivery_attempt, 2);
      EXPECT_TRUE(broker_->pop().Ack("G1", "TopicA", m.receipt_handle).ok());
    }
    auto none = Pop(Req(), milliseconds(300));
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
    EXPECT_EQ(broker_->offsets().Query("G1", "TopicA", 0), 4);
    // A new message after all that is delivered once, as attempt 1.
    Send("TopicA", 0, "m4");
    auto m4 = PopN(Req(), 1);
    EXPECT_EQ(Body(m4[0]), "m4");
    EXPECT_EQ(m4[0].delivery_attempt, 1);
  }
};

TEST_F(PopRestartTest, CleanRestartKeepsUnackedAndForgetsAcked) {
  const auto before = PopFourAckTwo();
  Restart();
  ExpectUnackedComeBack(before);
}

TEST_F(PopRestartTest, JournalAloneRebuildsTheState) {
  const auto before = PopFourAckTwo();
  broker_->Shutdown();
  broker_.reset();
  ASSERT_TRUE(std::filesystem::remove(SnapshotPath()));
  std::filesystem::remove(SnapshotPath() + ".bak");
  StartBroker();
  ExpectUnackedComeBack(before);
}

// As after a kill -9: the last snapshot predates the pops and acks, which only the journal has.
TEST_F(PopRestartTest, OlderSnapshotPlusJournalTail) {
  CreateTopic("TopicA", 1);
  broker_->Shutdown();  // writes a snapshot covering nothing yet
  broker_.reset();
  const std::string old_snapshot = dir_.path() + "/popState.old";
  std::filesystem::copy_file(SnapshotPath(), old_snapshot);
  StartBroker();
  const auto before = PopFourAckTwo();
  broker_->Shutdown();
  broker_.reset();
  std::filesystem::copy_file(old_snapshot, SnapshotPath(),
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove(SnapshotPath() + ".bak");
  StartBroker();
  ExpectUnackedComeBack(before);
}

TEST_F(PopRestartTest, PopStateTopicIsNotAUserTopic) {
  CreateTopic("TopicA", 1);
  Send("TopicA", 0, "m");
  PopN(Req(), 1);
  EXPECT_EQ(broker_->topics().Find(kPopStateTopic), nullptr);
  EXPECT_TRUE(broker_->store().WaitForMessages(kPopStateTopic, 0, 0, std::chrono::seconds(20)));
  // Clients may not write it (a record there would be replayed as pop state).
  EXPECT_TRUE(
      absl::IsPermissionDenied(broker_->TopicForSend(std::string(kPopStateTopic), 4).status()));
  EXPECT_EQ(broker_->topics().Find(kPopStateTopic), nullptr);
  const std::string reg = broker_->topics().ToRegisterJson().dump();
  EXPECT_EQ(reg.find(kPopStateTopic), std::string::npos);
}

}  // namespace
}  // namespace stele::broker
