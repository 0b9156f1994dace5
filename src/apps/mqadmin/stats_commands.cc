// Statistics commands: topicStatus, consumerProgress, consumerConnection, producerConnection.
// Column layouts are Java mqadmin's printf formats, so scripts that cut columns keep working.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "mqadmin/command.h"
#include "mqadmin/stats_format.h"

namespace stele::mqadmin {
namespace {

constexpr std::string_view kRetryPrefix = "%RETRY%";

int TopicStatus(client::AdminClient& admin, const Args& a) {
  const client::TopicStats stats = OrFail(admin.GetTopicStats(Require(a, 't', "topic")));
  std::printf("%-32s  %-4s  %-20s  %-20s    %s\n", "#Broker Name", "#QID", "#Min Offset",
              "#Max Offset", "#Last Updated");
  for (const auto& [q, s] : stats.offsets) {
    const std::string updated =
        s.last_update_timestamp > 0 ? HumanTimeMillis(s.last_update_timestamp) : "";
    std::printf("%-32s  %-4d  %-20lld  %-20lld    %s\n", q.broker_name.c_str(), q.queue_id,
                static_cast<long long>(s.min_offset), static_cast<long long>(s.max_offset),
                updated.c_str());
  }
  return 0;
}

int GroupProgress(client::AdminClient& admin, const std::string& group, const std::string& topic) {
  const client::ConsumeStats stats = OrFail(admin.GetConsumeStats(group, topic));
  if (stats.offsets.empty()) {
    Fail(fmt::format(
        "consumer group {}: Not found the consumer group consume stats, because return offset "
        "table is empty, maybe the consumer not consume any message",
        group));
  }
  std::printf("%-64s  %-32s  %-4s  %-20s  %-20s  %-20s %-20s%s\n", "#Topic", "#Broker Name", "#QID",
              "#Broker Offset", "#Consumer Offset", "#Diff", "#Inflight", "#LastTime");
  long long diff_total = 0;
  for (const auto& [q, o] : stats.offsets) {
    const long long diff = o.broker_offset - o.consumer_offset;
    diff_total += diff;
    // Stele's brokers report no pull offset apart from the committed one: nothing in flight.
    const long long inflight = 0;
    const std::string last = o.last_timestamp == 0 ? "N/A" : HumanTimeSeconds(o.last_timestamp);
    std::printf("%-64s  %-32s  %-4d  %-20lld  %-20lld  %-20lld %-20lld %s\n", q.topic.c_str(),
                q.broker_name.c_str(), q.queue_id, static_cast<long long>(o.broker_offset),
                static_cast<long long>(o.consumer_offset), diff, inflight, last.c_str());
  }
  std::printf("\n");
  std::printf("Consume TPS: %.2f\n", stats.consume_tps);
  std::printf("Consume Diff Total: %lld\n", diff_total);
  std::printf("Consume Inflight Total: %d\n", 0);
  return 0;
}

// Without -g: one line per group that has a retry topic, as Java lists them.
int AllGroupsProgress(client::AdminClient& admin) {
  std::printf("%-64s  %-6s  %-24s %-5s  %-14s  %-7s  %s\n", "#Group", "#Count", "#Version", "#Type",
              "#Model", "#TPS", "#Diff Total");
  for (const std::string& topic : OrFail(admin.TopicList())) {
    if (topic.rfind(kRetryPrefix, 0) != 0) continue;
    const std::string group = topic.substr(kRetryPrefix.size());
    auto stats = admin.GetConsumeStats(group);
    auto conn = admin.ConsumerConnectionList(group);
    const int count = conn.ok() ? static_cast<int>(conn->connections.size()) : 0;
    std::string version = "OFFLINE";
    std::string type;
    std::string model;
    if (count > 0) {
      int32_t min_version = conn->connections.front().version;
      for (const auto& c : conn->connections) min_version = std::min(min_version, c.version);
      version = VersionDesc(min_version);
      type = conn->consume_type == "CONSUME_ACTIVELY" ? "PULL" : "PUSH";
      if (conn->consume_type == "CONSUME_PASSIVELY") model = conn->message_model;
    }
    std::printf("%-64s  %-6d  %-24s %-5s  %-14s  %-7d  %lld\n", group.c_str(), count,
                version.c_str(), type.c_str(), model.c_str(),
                stats.ok() ? static_cast<int>(stats->consume_tps) : 0,
                stats.ok() ? static_cast<long long>(stats->TotalDiff()) : 0LL);
  }
  return 0;
}

int ConsumerProgress(client::AdminClient& admin, const Args& a) {
  if (!a.Has('g')) return AllGroupsProgress(admin);
  return GroupProgress(admin, a.Get('g'), a.Get('t'));
}

int ConsumerConnection(client::AdminClient& admin, const Args& a) {
  const client::ConsumerConnection cc =
      OrFail(admin.ConsumerConnectionList(Require(a, 'g', "consumerGroup")));
  int i = 1;
  for (const auto& c : cc.connections) {
    std::printf("%03d  %-32s %-22s %-8s %s\n", i++, c.client_id.c_str(), c.client_addr.c_str(),
                c.language.c_str(), VersionDesc(c.version).c_str());
  }
  std::printf("\nBelow is subscription:\n");
  i = 1;
  for (const auto& [topic, expr] : cc.subscriptions) {
    std::printf("%03d  Topic: %-40s SubExpression: %s\n", i++, topic.c_str(), expr.c_str());
  }
  std::printf("\n");
  std::printf("ConsumeType: %s\n", cc.consume_type.c_str());
  std::printf("MessageModel: %s\n", cc.message_model.c_str());
  std::printf("ConsumeFromWhere: %s\n", cc.consume_from_where.c_str());
  return 0;
}

int ProducerConnection(client::AdminClient& admin, const Args& a) {
  const auto conns = OrFail(
      admin.ProducerConnectionList(Require(a, 'g', "producerGroup"), Require(a, 't', "topic")));
  int i = 1;
  for (const auto& c : conns) {
    std::printf("%04d  %-32s %-22s %-8s %s\n", i++, c.client_id.c_str(), c.client_addr.c_str(),
                c.language.c_str(), VersionDesc(c.version).c_str());
  }
  return 0;
}

STELE_MQADMIN_COMMAND(Command{
    .name = "topicStatus",
    .summary = "Examine topic Status info",
    .options = {{'t', "topic", "arg", true, "topic name"}},
    .run = TopicStatus,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "consumerProgress",
    .summary = "Query consumers's progress, speed",
    .options = {{'g', "groupName", "arg", false,
                 "consumer group name (without it: one line per group)"},
                {'t', "topicName", "arg", false, "only this topic of the group"}},
    .run = ConsumerProgress,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "consumerConnection",
    .summary = "Query consumer's socket connection, client version and subscription",
    .options = {{'g', "consumerGroup", "arg", true, "consumer group name"}},
    .run = ConsumerConnection,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "producerConnection",
    .summary = "Query producer's socket connection and client version",
    .options = {{'g', "producerGroup", "arg", true, "producer group name"},
                {'t', "topic", "arg", true, "topic name"}},
    .run = ProducerConnection,
});

}  // namespace
}  // namespace stele::mqadmin
