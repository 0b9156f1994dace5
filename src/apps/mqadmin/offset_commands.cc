// Offset commands: resetOffsetByTime, skipAccumulatedMessage. Both send
// INVOKE_BROKER_TO_RESET_OFFSET to the masters of the topic's route; the broker moves the group's
// offsets and tells its online consumers (see src/net/broker/reset_offset_processor.cc).
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "fmt/format.h"
#include "mqadmin/command.h"
#include "mqadmin/stats_format.h"

namespace stele::mqadmin {
namespace {

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// -f takes true|false (Java parses it with Boolean.parseBoolean: anything but "true" is false);
// the default is true.
bool ForceArg(const Args& a) {
  if (!a.Has('f')) return true;
  std::string v = a.Get('f');
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return v == "true";
}

void PrintOffsetTable(const std::map<client::MessageQueue, int64_t>& table) {
  std::printf("%-40s  %-40s  %-40s\n", "#brokerName", "#queueId", "#offset");
  for (const auto& [q, offset] : table) {
    std::printf("%-40s  %-40d  %-40lld\n", q.broker_name.c_str(), q.queue_id,
                static_cast<long long>(offset));
  }
}

int ResetOffsetByTime(client::AdminClient& admin, const Args& a) {
  const std::string group = Require(a, 'g', "group");
  const std::string topic = Require(a, 't', "topic");
  const std::string when = Require(a, 's', "timestamp");
  auto ts = ParseTimeArg(when, NowMillis());
  if (!ts.ok()) UsageError(std::string(ts.status().message()));
  const bool force = ForceArg(a);
  if (a.Has('b') && a.Has('q')) {
    const std::string broker = a.Get('b');
    const int64_t queue = IntArg(a, 'q', -1);
    if (queue < 0 || queue > INT32_MAX) UsageError("-q expects a queue id >= 0");
    std::printf(
        "start reset consumer offset by specified, group[%s], topic[%s], queueId[%lld], "
        "broker[%s], timestamp(string)[%s], timestamp(long)[%lld]\n",
        group.c_str(), topic.c_str(), static_cast<long long>(queue), broker.c_str(), when.c_str(),
        static_cast<long long>(*ts));
    const int64_t offset = OrFail(admin.ResetQueueOffset(
        broker, group, topic, static_cast<int32_t>(queue), IntArg(a, 'o', -1), *ts));
    std::printf("reset consumer offset to %lld\n", static_cast<long long>(offset));
    return 0;
  }
  if (a.Has('b') || a.Has('q') || a.Has('o')) UsageError("-b, -q (and -o) go together");
  const auto table = OrFail(admin.ResetOffsetByTime(group, topic, *ts, force));
  std::printf(
      "start reset consumer offset by specified, group[%s], topic[%s], force[%s], "
      "timestamp(string)[%s], timestamp(long)[%lld]\n",
      group.c_str(), topic.c_str(), force ? "true" : "false", when.c_str(),
      static_cast<long long>(*ts));
  PrintOffsetTable(table);
  return 0;
}

int SkipAccumulatedMessage(client::AdminClient& admin, const Args& a) {
  const std::string group = Require(a, 'g', "group");
  const std::string topic = Require(a, 't', "topic");
  PrintOffsetTable(OrFail(admin.ResetOffsetByTime(group, topic, -1, ForceArg(a))));
  return 0;
}

constexpr Option kGroup{'g', "group", "arg", true, "consumer group name"};
constexpr Option kTopic{'t', "topic", "arg", true, "topic name"};
constexpr Option kForce{'f', "force", "arg", false,
                        "true|false: move offsets forward too (default true); false only moves "
                        "them back"};
constexpr Option kCluster{'c', "cluster", "arg", false,
                          "accepted for compatibility; the topic's route decides the brokers"};

STELE_MQADMIN_COMMAND(Command{
    .name = "resetOffsetByTime",
    .summary = "Reset consumer offset by timestamp(without client restart).",
    .options = {kGroup,
                kTopic,
                {'s', "timestamp", "arg", true,
                 "set the timestamp[now|currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]"},
                kForce,
                kCluster,
                {'b', "broker", "arg", false, "broker address, with -q: reset one queue"},
                {'q', "queue", "arg", false, "queue id, with -b"},
                {'o', "offset", "arg", false, "with -b and -q: the exact offset to set"}},
    .run = ResetOffsetByTime,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "skipAccumulatedMessage",
    .summary = "Skip all messages that are accumulated (not consumed) currently",
    .options = {kGroup, kTopic, kCluster, kForce},
    .run = SkipAccumulatedMessage,
});

}  // namespace
}  // namespace stele::mqadmin
