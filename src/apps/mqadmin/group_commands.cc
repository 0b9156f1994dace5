// Subscription-group commands: updateSubGroup, deleteSubGroup (Java UpdateSubGroupSubCommand,
// DeleteSubscriptionGroupCommand: same options, same success lines).
#include <cstdio>
#include <string>

#include "fmt/format.h"
#include "mqadmin/command.h"

namespace stele::mqadmin {
namespace {

std::string B(bool v) { return v ? "true" : "false"; }

// Java's SubscriptionGroupConfig.toString(), the second line updateSubGroup prints.
std::string Describe(const client::SubscriptionGroupConfig& g) {
  return fmt::format(
      "SubscriptionGroupConfig [groupName={}, consumeEnable={}, consumeFromMinEnable={}, "
      "consumeBroadcastEnable={}, consumeMessageOrderly={}, retryQueueNums={}, retryMaxTimes={}, "
      "brokerId={}, whichBrokerWhenConsumeSlowly={}, notifyConsumerIdsChangedEnable={}]",
      g.group_name, B(g.consume_enable), B(g.consume_from_min_enable),
      B(g.consume_broadcast_enable), B(g.consume_message_orderly), g.retry_queue_nums,
      g.retry_max_times, g.broker_id, g.which_broker_when_consume_slowly,
      B(g.notify_consumer_ids_changed_enable));
}

int UpdateSubGroup(client::AdminClient& admin, const Args& a) {
  client::SubscriptionGroupConfig g;
  g.group_name = Require(a, 'g', "groupName");
  // Java's command starts from these two as false (the broker's own defaults are true).
  g.consume_broadcast_enable = BoolArg(a, 'd', false);
  g.consume_from_min_enable = BoolArg(a, 'm', false);
  g.consume_enable = BoolArg(a, 's', g.consume_enable);
  g.consume_message_orderly = BoolArg(a, 'o', g.consume_message_orderly);
  g.notify_consumer_ids_changed_enable = BoolArg(a, 'a', g.notify_consumer_ids_changed_enable);
  g.retry_queue_nums = static_cast<int32_t>(IntArg(a, 'q', g.retry_queue_nums));
  g.retry_max_times = static_cast<int32_t>(IntArg(a, 'r', g.retry_max_times));
  g.broker_id = IntArg(a, 'i', g.broker_id);
  g.which_broker_when_consume_slowly = IntArg(a, 'w', g.which_broker_when_consume_slowly);
  if (g.retry_queue_nums < 0 || g.retry_max_times < -1) {
    UsageError("-q and -r must not be negative (-r -1: no retry)");
  }
  for (const std::string& addr : TargetBrokers(admin, a)) {
    OrFail(admin.CreateOrUpdateSubscriptionGroup(addr, g));
    std::printf("create subscription group to %s success.\n", addr.c_str());
  }
  std::printf("%s\n", Describe(g).c_str());
  return 0;
}

int DeleteSubGroup(client::AdminClient& admin, const Args& a) {
  const std::string group = Require(a, 'g', "groupName");
  const bool remove_offset = BoolArg(a, 'r', false);
  if (a.Has('b')) {
    OrFail(admin.DeleteSubscriptionGroup(a.Get('b'), group, remove_offset));
    std::printf("delete subscription group [%s] from broker [%s] success.\n", group.c_str(),
                a.Get('b').c_str());
    return 0;
  }
  const std::string cluster = a.Get('c');
  for (const std::string& addr : TargetBrokers(admin, a)) {
    OrFail(admin.DeleteSubscriptionGroup(addr, group, remove_offset));
    std::printf("delete subscription group [%s] from broker [%s] in cluster [%s] success.\n",
                group.c_str(), addr.c_str(), cluster.c_str());
  }
  return 0;
}

STELE_MQADMIN_COMMAND(Command{
    .name = "updateSubGroup",
    .summary = "Update or create subscription group",
    .options = {kBrokerAddrOpt,
                {'c', "clusterName", "arg", false, "create the group on every master of it"},
                {'g', "groupName", "arg", true, "consumer group name"},
                {'s', "consumeEnable", "arg", false, "consume enable (true|false, default true)"},
                {'m', "consumeFromMinEnable", "arg", false,
                 "consume from min offset enable (default false)"},
                {'d', "consumeBroadcastEnable", "arg", false,
                 "broadcast consumption enable (default false)"},
                {'o', "consumeMessageOrderly", "arg", false, "orderly consumption (default false)"},
                {'q', "retryQueueNums", "arg", false, "retry queue nums (default 1)"},
                {'r', "retryMaxTimes", "arg", false, "retry max times (default 16)"},
                {'i', "brokerId", "arg", false, "consumer from which broker id (default 0)"},
                {'w', "whichBrokerWhenConsumeSlowly", "arg", false,
                 "which broker id when consume slowly (default 1)"},
                {'a', "notifyConsumerIdsChanged", "arg", false,
                 "notify consumers when the group's membership changes (default true)"}},
    .run = UpdateSubGroup,
    .usage_note = "one of -b or -c is required",
    .one_of = "bc",
});

STELE_MQADMIN_COMMAND(Command{
    .name = "deleteSubGroup",
    .summary = "Delete subscription group from broker",
    .options = {kBrokerAddrOpt,
                {'c', "clusterName", "arg", false, "delete the group from every master of it"},
                {'g', "groupName", "arg", true, "consumer group name"},
                {'r', "removeOffset", "arg", false,
                 "also remove the group's consume offsets (true|false, default false)"}},
    .run = DeleteSubGroup,
    .usage_note = "one of -b or -c is required",
    .one_of = "bc",
});

}  // namespace
}  // namespace stele::mqadmin
