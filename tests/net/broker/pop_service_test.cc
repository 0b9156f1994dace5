// PopService on a running broker: pop/ack, redelivery after the invisible time with a new handle,
// invisible-time changes, the DLQ, FIFO, long polling, filters, and receipt-handle validation.
#include <atomic>
#include <thread>

#include "net/broker/pop_state.h"
#include "pop_test_util.h"

namespace stele::broker {
namespace {

TEST_F(PopTest, PopThenAckAdvancesTheCommittedOffset) {
  CreateTopic("TopicA", 1);
  for (int i = 0; i < 3; ++i) Send("TopicA", 0, fmt::format("m{}", i));
  auto got = Pop(Req());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Body((*got)[i]), fmt::format("m{}", i));
    EXPECT_EQ((*got)[i].delivery_attempt, 1);
    EXPECT_GT((*got)[i].invisible_until_ms, 0);
  }
  EXPECT_NE((*got)[0].receipt_handle, (*got)[1].receipt_handle);
  EXPECT_EQ(broker_->pop().InFlight("G1", "TopicA"), 3);
  // In flight: a second pop finds nothing.
  auto again = Pop(Req());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());

  // Acking the second leaves the committed offset at the first (still in flight).
  ASSERT_TRUE(broker_->pop().Ack("G1", "TopicA", (*got)[1].receipt_handle).ok());
  EXPECT_EQ(broker_->offsets().Query("G1", "TopicA", 0), 0);
  ASSERT_TRUE(broker_->pop().Ack("G1", "TopicA", (*got)[0].receipt_handle).ok());
  EXPECT_EQ(broker_->offsets().Query("G1", "TopicA", 0), 2);
  ASSERT_TRUE(broker_->pop().Ack("G1", "TopicA", (*got)[2].receipt_handle).ok());
  EXPECT_EQ(broker_->offsets().Query("G1", "TopicA", 0), 3);
  EXPECT_EQ(broker_->pop().InFlight("G1", "TopicA"), 0);
  // Acked twice: no longer in flight.
  EXPECT_TRUE(absl::IsNotFound(broker_->pop().Ack("G1", "TopicA", (*got)[0].receipt_handle)));
  // Another group consumes the same messages independently.
  PopRequest other = Req();
  other.group = "G2";
  auto g2 = Pop(other);
  ASSERT_TRUE(g2.ok());
  EXPECT_EQ(g2->size(), 3u);
}

TEST_F(PopTest, PopsFromEveryQueueAndHonoursMaxMessages) {
  CreateTopic("TopicA", 4);
  for (int q = 0; q < 4; ++q) Send("TopicA", q, fmt::format("q{}", q));
  auto two = Pop(Req("TopicA", 2));
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
  auto rest = Pop(Req("TopicA", 32));
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 2u);
  PopRequest one = Req();
  one.group = "G2";
  one.queue_id = 3;
  auto q3 = Pop(one);
  ASSERT_TRUE(q3.ok());
  ASSERT_EQ(q3->size(), 1u);
  EXPECT_EQ(Body((*q3)[0]), "q3");
}

TEST_F(PopTest, UnackedMessageComesBackWithANewHandle) {
  CreateTopic("TopicA", 1);
  Send("TopicA", 0, "again");
  auto first = Pop(Req("TopicA", 32, 300));
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  // Long polling: the pop is answered when the invisible time ends, well before its deadline.
  const auto t0 = Clock::now();
  auto second = Pop(Req("TopicA", 32, 300), milliseconds(10000));
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(Body((*second)[0]), "again");
  EXPECT_EQ((*second)[0].delivery_attempt, 2);
  EXPECT_NE((*second)[0].receipt_handle, (*first)[0].receipt_handle);
  EXPECT_TRUE(
      absl::IsFailedPrecondition(broker_->pop().Ack("G1", "TopicA", (*first)[0].receipt_handle)));
  EXPECT_TRUE(broker_->pop().Ack("G1", "TopicA", (*second)[0].receipt_handle).ok());
  EXPECT_EQ(broker_->pop().InFlight("G1", "TopicA"), 0);
}

TEST_F(PopTest, ChangeInvisibleDurationExtendsAndReissuesTheHandle) {
  CreateTopic("TopicA", 1);
  Send("TopicA", 0, "slow");
  auto got = Pop(Req("TopicA", 32, 300));
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  auto handle = broker_->pop().ChangeInvisibleDuration("G1", "TopicA", (*got)[0].receipt_handle,
                                                       milliseconds(60000));
  ASSERT_TRUE(handle.ok()) << handle.status();
  EXPECT_NE(*handle, (*got)[0].receipt_handle);
  // Without the change it would be visible again after 300 ms.
  const auto t0 = Clock::now();
  auto none = Pop(Req("TopicA", 32, 300), milliseconds(1000));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_GE(Clock::now() - t0, milliseconds(1000));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(broker_->pop().Ack("G1", "TopicA", (*got)[0].receipt_handle)));
  // Shortened: it comes back.
  auto h2 = broker_->pop().ChangeInvisibleDuration("G1", "TopicA", *handle, milliseconds(50));
  ASSERT_TRUE(h2.ok());
  auto back = Pop(Req(), milliseconds(10000));
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].delivery_attempt, 2);
  EXPECT_TRUE(absl::IsInvalidArgument(
      broker_->pop()
          .ChangeInvisibleDuration("G1", "TopicA", (*back)[0].receipt_handle, milliseconds(-1))
          .status()));
  // 0: visible at once (a negative acknowledgement).
  ASSERT_TRUE(
      broker_->pop()
          .ChangeInvisibleDuration("G1", "TopicA", (*back)[0].receipt_handle, milliseconds(0))
          .ok());
  auto third = Pop(Req());
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(third->size(), 1u);
  EXPECT_EQ((*third)[0].delivery_attempt, 3);
}

TEST_F(PopTest, MaxDeliveryAttemptsSendsToTheDlq) {
  CreateTopic("TopicA", 1);
  const AppendResult sent = Send("TopicA", 0, "poison");
  PopRequest req = Req("TopicA", 32, 200);
  req.max_delivery_attempts = 2;
  ASSERT_EQ(PopN(req, 1)[0].delivery_attempt, 1);
  ASSERT_EQ(PopN(req, 1)[0].delivery_attempt, 2);
  // The third delivery would exceed the budget: the message goes to %DLQ%G1 and is acked.
  auto none = Pop(req, milliseconds(600));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(broker_->store().WaitForMessages("%DLQ%G1", 0, 0, std::chrono::seconds(20)));
  auto dlq = broker_->store().Get("%DLQ%G1", 0, 0);
  ASSERT_TRUE(dlq.ok());
  ASSERT_EQ(dlq->messages.size(), 1u);
  EXPECT_EQ(dlq->messages[0].msg.body, "poison");
  EXPECT_EQ(dlq->messages[0].msg.Property("ORIGIN_MESSAGE_ID"), sent.msg_id);
  EXPECT_NE(broker_->topics().Find("%DLQ%G1"), nullptr);
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (broker_->pop().InFlight("G1", "TopicA") != 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(broker_->pop().InFlight("G1", "TopicA"), 0);
  EXPECT_EQ(broker_->offsets().Query("G1", "TopicA", 0), 1);
}

TEST_F(PopTest, ForwardToDeadLetterStoresAndAcks) {
  CreateTopic("TopicA", 1);
  Send("TopicA", 0, "bad");
  auto got = PopN(Req(), 1);
  ASSERT_TRUE(broker_->pop().ForwardToDeadLetter("G1", "TopicA", got[0].receipt_handle).ok());
  EXPECT_EQ(broker_->pop().InFlight("G1", "TopicA"), 0);
  ASSERT_TRUE(broker_->store().WaitForMessages("%DLQ%G1", 0, 0, std::chrono::seconds(20)));
  EXPECT_TRUE(
      absl::IsNotFound(broker_->pop().ForwardToDeadLetter("G1", "TopicA", got[0].receipt_handle)));
}

TEST_F(PopTest, FifoBlocksTheQueueUntilTheEarlierMessageIsAcked) {
  CreateTopic("TopicA", 1);
  for (int i = 0; i < 3; ++i) Send("TopicA", 0, fmt::format("m{}", i));
  PopRequest req = Req("TopicA", 1);
  req.fifo = true;
  auto m0 = PopN(req, 1);
  EXPECT_EQ(Body(m0[0]), "m0");
  auto blocked = Pop(req, milliseconds(300));
  ASSERT_TRUE(blocked.ok());
  EXPECT_TRUE(blocked->empty());
  // A waiting FIFO pop is answered by the ack that unblocks the queue.
  auto p = std::async(std::launch::async, [&] { return Pop(req, milliseconds(10000)); });
  ASSERT_TRUE(broker_->pop().Ack("G1", "TopicA", m0[0].receipt_handle).ok());
  auto m1 = p.get();
  ASSERT_TRUE(m1.ok());
  ASSERT_EQ(m1->size(), 1u);
  EXPECT_EQ(Body((*m1)[0]), "m1");
  // Not FIFO: the same group takes m2 although m1 is in flight.
  req.fifo = false;
  auto m2 = PopN(req, 1);
  EXPECT_EQ(Body(m2[0]), "m2");
}

TEST_F(PopTest, FifoRedeliversTheBlockingMessageFirst) {
  CreateTopic("TopicA", 1);
  for (int i = 0; i < 2; ++i) Send("TopicA", 0, fmt::format("m{}", i));
  PopRequest req = Req("TopicA", 1, 200);
  req.fifo = true;
  EXPECT_EQ(Body(PopN(req, 1)[0]), "m0");
  auto again = PopN(req, 1);
  EXPECT_EQ(Body(again[0]), "m0");
  EXPECT_EQ(again[0].delivery_attempt, 2);
}

TEST_F(PopTest, LongPollWakesOnANewMessageAndEndsAtTheDeadline) {
  CreateTopic("TopicA", 2);
  auto t0 = Clock::now();
  auto empty = Pop(Req(), milliseconds(300));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_GE(Clock::now() - t0, milliseconds(300));

  t0 = Clock::now();
  auto p = std::async(std::launch::async, [&] { return Pop(Req(), milliseconds(15000)); });
  std::this_thread::sleep_for(milliseconds(100));  // lets the pop start waiting (either way works)
  Send("TopicA", 1, "late");
  auto got = p.get();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(Body((*got)[0]), "late");
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
}

TEST_F(PopTest, StopAnswersWaitingPops) {
  CreateTopic("TopicA", 1);
  auto p = std::make_shared<std::promise<absl::StatusOr<std::vector<PoppedMessage>>>>();
  broker_->pop().PopAsync(Req(), Clock::now() + std::chrono::seconds(60),
                          [p](auto r) { p->set_value(std::move(r)); });
  broker_->Shutdown();
  auto f = p->get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = f.get();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST_F(PopTest, WaitingPopsAreBounded) {
  CreateTopic("TopicA", 1);
  std::atomic<int> answered{0};
  std::atomic<int> empty{0};
  for (int i = 0; i < 10000; ++i) {
    broker_->pop().PopAsync(Req(), Clock::now() + std::chrono::seconds(60), [&](auto r) {
      if (r.ok() && r->empty()) ++empty;
      ++answered;
    });
  }
  EXPECT_EQ(answered.load(), 0);
  const auto t0 = Clock::now();
  EXPECT_TRUE(absl::IsResourceExhausted(Pop(Req(), std::chrono::seconds(60)).status()));
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
  Send("TopicA", 0, "m");  // answers exactly one of them
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (answered.load() == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(answered.load(), 1);
  EXPECT_EQ(broker_->pop().InFlight("G1", "TopicA"), 1);
  broker_->Shutdown();  // answers the rest, empty
  EXPECT_EQ(answered.load(), 10000);
  EXPECT_EQ(empty.load(), 9999);
}

TEST_F(PopTest, TagFilterAndBadRequests) {
  CreateTopic("TopicA", 1);
  Send("TopicA", 0, "a", "tagA");
  Send("TopicA", 0, "b", "tagB");
  Send("TopicA", 0, "c", "tagC");
  PopRequest req = Req();
  req.filter_expression = "tagA || tagC";
  auto got = Pop(req);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(Body((*got)[0]), "a");
  EXPECT_EQ(Body((*got)[1]), "c");

  auto status = [&](PopRequest r) { return Pop(std::move(r)).status(); };
  req = Req();
  req.filter_type = "SQL92";
  req.filter_expression = "a > 1";
  EXPECT_TRUE(absl::IsInvalidArgument(status(req)));
  EXPECT_TRUE(absl::IsNotFound(status(Req("NoSuchTopic"))));
  EXPECT_TRUE(absl::IsInvalidArgument(status(Req(std::string(kPopStateTopic)))));
  EXPECT_TRUE(absl::IsInvalidArgument(status(Req("SCHEDULE_TOPIC_XXXX"))));
  EXPECT_TRUE(absl::IsInvalidArgument(status(Req("bad/topic"))));
  req = Req();
  req.queue_id = 1;  // the topic has one queue
  EXPECT_TRUE(absl::IsInvalidArgument(status(req)));
  req = Req();
  req.max_messages = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(status(req)));
  req = Req();
  req.group = "";
  EXPECT_TRUE(absl::IsInvalidArgument(status(req)));
}

TEST_F(PopTest, MalformedReceiptHandlesAreRejected) {
  CreateTopic("TopicA", 1);
  CreateTopic("TopicB", 1);
  Send("TopicA", 0, "m");
  const std::string good = PopN(Req(), 1)[0].receipt_handle;
  std::string flipped = good;
  flipped[2] = flipped[2] == '0' ? '1' : '0';
  const ReceiptHandle h = *DecodeHandle(good);
  ReceiptHandle other = h;
  other.queue_offset = 7;  // well-formed, never delivered
  const std::string cases[] = {
      "",
      "x",
      "1.0.0.1.1.G1.TopicA",           // no checksum
      "1.0.0.1.1.G1.TopicA.00000000",  // wrong checksum
      flipped,
      good + "0",
      good.substr(0, good.size() - 1),
      std::string(5000, '1'),
      std::string("\0\xff\x01", 3),
      EncodeHandle({{"G1", "TopicA", 0}, -1, 1, 1}),  // negative offset
      EncodeHandle({{"G 1", "TopicA", 0}, 0, 1, 1}),  // bad group name
      EncodeHandle({{"G1", "Topic.A", 0}, 0, 1, 1}),  // extra field
  };
  for (const std::string& c : cases) {
    EXPECT_TRUE(absl::IsInvalidArgument(broker_->pop().Ack("G1", "TopicA", c))) << c;
    EXPECT_TRUE(absl::IsInvalidArgument(
        broker_->pop().ChangeInvisibleDuration("G1", "TopicA", c, milliseconds(100)).status()))
        << c;
    EXPECT_TRUE(absl::IsInvalidArgument(broker_->pop().ForwardToDeadLetter("G1", "TopicA", c)))
        << c;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(broker_->pop().Ack("G2", "TopicA", good)));
  EXPECT_TRUE(absl::IsInvalidArgument(broker_->pop().Ack("G1", "TopicB", good)));
  EXPECT_TRUE(absl::IsNotFound(broker_->pop().Ack("G1", "TopicA", EncodeHandle(other))));
  EXPECT_TRUE(broker_->pop().Ack("G1", "TopicA", good).ok());
}

TEST(PopStateTest, JournalLinesRoundTripAndRejectGarbage) {
  PopTable t;
  const PopKey k{"G1", "%RETRY%G1", 3};
  ASSERT_TRUE(t.ApplyBody(QueueLine(k, 5) + DeliverLine(k, 7, {100, 2, 999, 4096}) +
                          DeliverLine(k, 8, {101, 1, 999, 5000}) + AckLine(k, 8) +
                          ChangeLine(k, 7, 102, 1234))
                  .ok());
  const PopQueue& q = t.queues().at(k);
  EXPECT_EQ(q.pop_offset, 9);
  ASSERT_EQ(q.in_flight.size(), 1u);
  EXPECT_EQ(q.in_flight.at(7).gen, 102);
  EXPECT_EQ(q.in_flight.at(7).attempt, 2);
  EXPECT_EQ(q.in_flight.at(7).until_ms, 1234);
  EXPECT_EQ(q.in_flight.at(7).phys, 4096);
  EXPECT_EQ(t.max_gen(), 102);
  EXPECT_EQ(q.Committed(), 7);

  PopTable copy;
  auto off = copy.FromJson(t.ToJson(42));
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(*off, 42);
  EXPECT_EQ(copy.queues().at(k).in_flight.at(7).gen, 102);
  EXPECT_EQ(copy.max_gen(), 102);

  for (const char* bad : {"Z G1 T 0 1", "Q G1 T 0", "Q G1 T -1 5", "D G1 T 0 1 2 0 4 5",
                          "Q G1 T 0 +5", "Q G/1 T 0 5", "A G1 T 0 1 2", "Q G1 T 0 5 "}) {
    EXPECT_TRUE(absl::IsInvalidArgument(t.ApplyBody(bad))) << bad;
  }
  EXPECT_FALSE(copy.FromJson(nlohmann::json::parse(R"({"journalOffset":1})")).ok());
}

TEST(PopStateTest, TagExpressions) {
  EXPECT_TRUE(ParseTagExpression("*").empty());
  EXPECT_TRUE(ParseTagExpression("").empty());
  EXPECT_EQ(ParseTagExpression(" a || b ||"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(ParseTagExpression("a || *").empty());
}

}  // namespace
}  // namespace stele::broker
