// The exposition writer and the stats it reads: escaping, cumulative histograms, number format,
// and BrokerStats' rates and day totals with an injected clock.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "net/broker/metrics/broker_stats.h"
#include "net/broker/metrics/code_names.h"
#include "net/broker/metrics/prom_text.h"

namespace stele::broker::metrics {
namespace {

TEST(PromTextTest, WritesFamiliesWithEscapedLabelsAndHelp) {
  PromText w;
  w.Family("rocketmq_messages_in_total", MetricType::kCounter, "Total\nnumber \\ of messages");
  w.Sample({{"topic", "a\"b\\c\nd"}, {"is_system", "false"}}, int64_t{42});
  w.Family("process_open_fds", MetricType::kGauge, "fds");
  w.Sample({}, 7.0);
  w.Sample({}, 0.25);
  EXPECT_EQ(w.text(),
            "# HELP rocketmq_messages_in_total Total\\nnumber \\\\ of messages\n"
            "# TYPE rocketmq_messages_in_total counter\n"
            "rocketmq_messages_in_total{topic=\"a\\\"b\\\\c\\nd\",is_system=\"false\"} 42\n"
            "# HELP process_open_fds fds\n"
            "# TYPE process_open_fds gauge\n"
            "process_open_fds 7\n"
            "process_open_fds 0.25\n");
}

TEST(PromTextTest, HistogramBucketsAreCumulativeAndEndWithInf) {
  PromText w;
  w.Family("rocketmq_rpc_latency", MetricType::kHistogram, "latency");
  const std::array<double, 2> bounds = {1, 3.5};
  const std::array<uint64_t, 3> counts = {2, 0, 5};
  w.Histogram({{"request_code", "send_message"}}, bounds, counts, 123.5);
  EXPECT_EQ(w.text(),
            "# HELP rocketmq_rpc_latency latency\n"
            "# TYPE rocketmq_rpc_latency histogram\n"
            "rocketmq_rpc_latency_bucket{request_code=\"send_message\",le=\"1\"} 2\n"
            "rocketmq_rpc_latency_bucket{request_code=\"send_message\",le=\"3.5\"} 2\n"
            "rocketmq_rpc_latency_bucket{request_code=\"send_message\",le=\"+Inf\"} 7\n"
            "rocketmq_rpc_latency_sum{request_code=\"send_message\"} 123.5\n"
            "rocketmq_rpc_latency_count{request_code=\"send_message\"} 7\n");
}

TEST(PromTextTest, NamesAndValues) {
  EXPECT_TRUE(PromText::ValidName("rocketmq_storage_size"));
  EXPECT_TRUE(PromText::ValidName("a:b_c9"));
  EXPECT_FALSE(PromText::ValidName("9abc"));
  EXPECT_FALSE(PromText::ValidName("a-b"));
  EXPECT_FALSE(PromText::ValidName(""));
  EXPECT_EQ(PromText::FormatValue(1e20), "1e+20");
  EXPECT_EQ(PromText::FormatValue(-3), "-3");
  EXPECT_EQ(PromText::FormatValue(1.0 / 0.0), "+Inf");
}

TEST(BrokerStatsTest, HistogramBucketsByInclusiveUpperBound) {
  Histogram h(kMessageSizeBounds);
  for (int64_t v : {0, 1024, 1025, 4096, 5 << 20}) h.Observe(v);
  const auto c = h.Counts();
  ASSERT_EQ(c.size(), kMessageSizeBounds.size() + 1);
  EXPECT_EQ(c[0], 2u);  // 0 and 1024
  EXPECT_EQ(c[1], 2u);  // 1025 and 4096
  EXPECT_EQ(c.back(), 1u);
  EXPECT_EQ(h.sum(), 0 + 1024 + 1025 + 4096 + (5 << 20));
}

TEST(BrokerStatsTest, RatesOverTheWindowAndDayTotals) {
  int64_t now = 1700000000000;  // any instant; days are local-time days
  BrokerStats s([&] { return now; });
  EXPECT_EQ(s.Tps(BrokerStats::Rate::kPut), "0.0 0.0 0.0");
  for (int sec = 1; sec <= 20; ++sec) {
    for (int i = 0; i < 5; ++i) s.OnMessageIn("T", MessageType::kNormal, 10);
    now += 1000;
    s.Sample();
  }
  // 5 messages a second throughout: every window says 5.
  EXPECT_EQ(s.Tps(BrokerStats::Rate::kPut), "5.0 5.0 5.0");
  EXPECT_DOUBLE_EQ(s.TpsOver(BrokerStats::Rate::kPut, 10), 5.0);
  s.OnMessagesOut("T", "G", 0, 4, 400, 4);
  s.OnGetMiss();
  now += 2000;
  s.Sample();
  EXPECT_DOUBLE_EQ(s.TpsOver(BrokerStats::Rate::kGetTransferred, 1), 2.0);
  EXPECT_DOUBLE_EQ(s.TpsOver(BrokerStats::Rate::kGetTotal, 1), 1.0);
  EXPECT_EQ(s.put_times_total(), 100u);
  EXPECT_EQ(s.put_size_total(), 1000u);

  // The first sample after midnight moves today's morning totals to yesterday's.
  EXPECT_EQ(s.day_totals().put_today_morning, 0u);
  now += 86400 * 1000;
  s.Sample();
  EXPECT_EQ(s.day_totals().put_today_morning, 100u);
  EXPECT_EQ(s.day_totals().get_today_morning, 4u);
  EXPECT_EQ(s.day_totals().put_yesterday_morning, 0u);
  s.OnMessageIn("T", MessageType::kNormal, 10);
  now += 86400 * 1000;
  s.Sample();
  EXPECT_EQ(s.day_totals().put_yesterday_morning, 100u);
  EXPECT_EQ(s.day_totals().put_today_morning, 101u);
}

TEST(BrokerStatsTest, ClassifiesMessagesAsRocketMqDoes) {
  auto props = [](std::string k, std::string v) { return k + '\x01' + v + '\x02'; };
  EXPECT_EQ(ClassifyMessage(""), MessageType::kNormal);
  EXPECT_EQ(ClassifyMessage(props("TRAN_MSG", "true")), MessageType::kTransaction);
  EXPECT_EQ(ClassifyMessage(props("TRAN_MSG", "false")), MessageType::kNormal);
  EXPECT_EQ(ClassifyMessage(props("KEYS", "k") + props("__SHARDINGKEY", "s")), MessageType::kFifo);
  EXPECT_EQ(ClassifyMessage(props("DELAY", "3")), MessageType::kDelay);
  EXPECT_EQ(ClassifyMessage(props("TIMER_DELIVER_MS", "1")), MessageType::kDelay);
}

TEST(BrokerStatsTest, KeysAndTablesStayBounded) {
  EXPECT_EQ(SplitKey(JoinKey({"a", "", "c"})), (std::vector<std::string_view>{"a", "", "c"}));
  StatTable<CounterStat> t;
  for (size_t i = 0; i < StatTable<CounterStat>::kMaxKeys + 10; ++i) {
    t.Get(std::to_string(i)).value.fetch_add(1);
  }
  size_t keys = 0;
  uint64_t other = 0;
  t.ForEach([&](std::string_view k, const CounterStat& v) {
    ++keys;
    if (k == StatTable<CounterStat>::kOverflowKey) other = v.value.load();
  });
  EXPECT_EQ(keys, StatTable<CounterStat>::kMaxKeys + 1);
  EXPECT_EQ(other, 10u);
}

TEST(CodeNamesTest, LowerCaseJavaNamesOrTheNumber) {
  EXPECT_EQ(RequestCodeName(10), "send_message");
  EXPECT_EQ(RequestCodeName(310), "send_message_v2");
  EXPECT_EQ(ResponseCodeName(0), "success");
  EXPECT_EQ(ResponseCodeName(19), "pull_not_found");
  EXPECT_EQ(RequestCodeName(77777), "77777");
}

}  // namespace
}  // namespace stele::broker::metrics
