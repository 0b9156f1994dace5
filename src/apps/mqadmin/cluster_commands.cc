// Cluster, broker and name-server commands: clusterList, brokerStatus, getBrokerConfig,
// updateBrokerConfig, getNamesrvConfig, wipeWritePerm, addWritePerm. Layouts follow Java's
// ClusterListSubCommand, BrokerStatusSubCommand, GetBrokerConfigCommand, ... so that scripts
// parsing their output keep working.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "mqadmin/command.h"

namespace stele::mqadmin {
namespace {

using Table = std::map<std::string, std::string>;

const std::string* Find(const Table& t, const char* key) {
  auto it = t.find(key);
  return it == t.end() ? nullptr : &it->second;
}

std::string Or(const Table& t, const char* key, const char* dflt = "-") {
  const std::string* v = Find(t, key);
  return v != nullptr ? *v : dflt;
}

// The first number of a value such as putTps's "12.50 11.00 10.20" (Java reads the first one).
bool FirstNumber(const Table& t, const char* key, double* out) {
  const std::string* v = Find(t, key);
  if (v == nullptr) return false;
  char* end = nullptr;
  *out = std::strtod(v->c_str(), &end);
  return end != v->c_str();
}

// One clusterList row's statistics from GET_BROKER_RUNTIME_INFO; a key the broker does not send
// (or a broker that did not answer) shows as '-'.
struct RowStats {
  std::string version = "-", in = "-", out = "-", timer = "-", pc_wait = "-", hour = "-",
              space = "-", activated = "-";
};

RowStats StatsOf(const Table& t) {
  RowStats r;
  r.version = Or(t, "brokerVersionDesc");
  double v = 0;
  if (FirstNumber(t, "putTps", &v)) {
    r.in = fmt::format("{:9.2f}({},{}ms)", v, Or(t, "sendThreadPoolQueueSize"),
                       Or(t, "sendThreadPoolQueueHeadWaitTimeMills"));
  }
  if (FirstNumber(t, "getTransferedTps", &v)) {
    r.out = fmt::format("{:9.2f}({},{}ms|{},{}ms)", v, Or(t, "pullThreadPoolQueueSize"),
                        Or(t, "pullThreadPoolQueueHeadWaitTimeMills"),
                        Or(t, "litePullThreadPoolQueueSize"),
                        Or(t, "litePullThreadPoolQueueHeadWaitTimeMills"));
  }
  double congest = 0, enq = 0, deq = 0;
  if (Find(t, "timerReadBehind") != nullptr && FirstNumber(t, "timerCongestNum", &congest) &&
      FirstNumber(t, "timerEnqueueTps", &enq) && FirstNumber(t, "timerDequeueTps", &deq)) {
    r.timer = fmt::format("{}-{}({:.1f}w, {:.1f}, {:.1f})", Or(t, "timerReadBehind"),
                          Or(t, "timerOffsetBehind"), congest / 100000.0, enq, deq);
  }
  r.pc_wait = Or(t, "pageCacheLockTimeMills");
  if (FirstNumber(t, "earliestMessageTimeStamp", &v) && v > 0) {
    const double now = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
    r.hour = fmt::format("{:.2f}", (now - v) / 3600000.0);
  }
  if (FirstNumber(t, "commitLogDiskRatio", &v)) r.space = fmt::format("{:.4f}", v);
  r.activated = Or(t, "brokerActive");
  return r;
}

// A counter difference for clusterList -m, '-' when the broker does not report both keys.
std::string Diff(const Table& t, const char* later, const char* earlier) {
  double x = 0, y = 0;
  if (!FirstNumber(t, later, &x) || !FirstNumber(t, earlier, &y)) return "-";
  return fmt::format("{}", static_cast<int64_t>(x - y));
}

// Java's printClusterMoreStats: messages in and out yesterday and today, per broker.
int ClusterMoreStats(client::AdminClient& admin, const client::BrokerClusterInfo& info,
                     const std::string& only) {
  std::printf("%-16s  %-32s %14s %14s %14s %14s\n", "#Cluster Name", "#Broker Name", "#InTotalYest",
              "#OutTotalYest", "#InTotalToday", "#OutTotalToday");
  for (const auto& [cluster, names] : info.clusters) {
    if (!only.empty() && cluster != only) continue;
    for (const std::string& name : names) {
      auto b = info.brokers.find(name);
      if (b == info.brokers.end()) continue;
      for (const auto& [id, addr] : b->second.addrs) {
        absl::StatusOr<Table> r = admin.BrokerRuntimeInfo(addr);
        const Table t = r.ok() ? *r : Table{};
        std::printf("%-16s  %-32s %14s %14s %14s %14s\n", cluster.c_str(), name.c_str(),
                    Diff(t, "msgPutTotalTodayMorning", "msgPutTotalYesterdayMorning").c_str(),
                    Diff(t, "msgGetTotalTodayMorning", "msgGetTotalYesterdayMorning").c_str(),
                    Diff(t, "msgPutTotalTodayNow", "msgPutTotalTodayMorning").c_str(),
                    Diff(t, "msgGetTotalTodayNow", "msgGetTotalTodayMorning").c_str());
      }
    }
  }
  return 0;
}

int ClusterList(client::AdminClient& admin, const Args& a) {
  const client::BrokerClusterInfo info = OrFail(admin.ClusterInfo());
  const std::string only = a.Get('c');
  if (!only.empty() && info.clusters.count(only) == 0) {
    Fail(fmt::format("cluster {} is unknown to the name server", only));
  }
  if (a.Has('m')) return ClusterMoreStats(admin, info, only);
  constexpr const char* kHeader =
      "{:<22}  {:<22}  {:<4}  {:<22} {:<16}  {:>16}  {:>30}  {:<22}  {:<11}  {:<12}  {:<8}  "
      "{:<10}\n";
  std::fputs(fmt::format(fmt::runtime(kHeader), "#Cluster Name", "#Broker Name", "#BID", "#Addr",
                         "#Version", "#InTPS(LOAD)", "#OutTPS(LOAD)", "#Timer(Progress)",
                         "#PCWait(ms)", "#Hour", "#SPACE", "#ACTIVATED")
                 .c_str(),
             stdout);
  for (const auto& [cluster, names] : info.clusters) {
    if (!only.empty() && cluster != only) continue;
    for (const std::string& name : names) {
      auto b = info.brokers.find(name);
      if (b == info.brokers.end()) continue;
      for (const auto& [id, addr] : b->second.addrs) {
        // A broker that does not answer still gets its row: the name server lists it.
        absl::StatusOr<Table> t = admin.BrokerRuntimeInfo(addr);
        const RowStats r = t.ok() ? StatsOf(*t) : RowStats{};
        constexpr const char* kRow =
            "{:<22}  {:<22}  {:<4}  {:<22} {:<16}  {:>16}  {:>30}  {:<22}  {:>11}  {:<12}  "
            "{:<8}  {:>10}\n";
        std::fputs(fmt::format(fmt::runtime(kRow), cluster, name, id, addr, r.version, r.in, r.out,
                               r.timer, r.pc_wait, r.hour, r.space, r.activated)
                       .c_str(),
                   stdout);
      }
    }
  }
  return 0;
}

int BrokerStatus(client::AdminClient& admin, const Args& a) {
  if (a.Has('b')) {
    for (const auto& [k, v] : OrFail(admin.BrokerRuntimeInfo(a.Get('b')))) {
      std::printf("%-32s: %s\n", k.c_str(), v.c_str());
    }
    return 0;
  }
  // Every broker of the cluster (masters and slaves), each line prefixed with its address.
  int rc = 0;
  for (const BrokerGroup& g : ClusterGroups(admin, a.Get('c'))) {
    for (const auto& [id, addr] : g.addrs) {
      absl::StatusOr<Table> t = admin.BrokerRuntimeInfo(addr);
      if (!t.ok()) {
        std::fprintf(stderr, "mqadmin: %s\n", std::string(t.status().message()).c_str());
        rc = 1;
        continue;
      }
      for (const auto& [k, v] : *t) {
        std::printf("%-24s %-32s: %s\n", addr.c_str(), k.c_str(), v.c_str());
      }
    }
  }
  return rc;
}

void PrintBrokerConfig(client::AdminClient& admin, const std::string& header,
                       const std::string& addr) {
  const Table config = OrFail(admin.BrokerConfig(addr));
  std::fputs(header.c_str(), stdout);
  for (const auto& [k, v] : config) std::printf("%-50s=  %s\n", k.c_str(), v.c_str());
  std::printf("\n");
}

int GetBrokerConfig(client::AdminClient& admin, const Args& a) {
  if (a.Has('b')) {
    PrintBrokerConfig(admin, fmt::format("============{}============\n", a.Get('b')), a.Get('b'));
    return 0;
  }
  for (const BrokerGroup& g : ClusterGroups(admin, a.Get('c'))) {
    auto master = g.addrs.find(0);
    if (master == g.addrs.end()) {
      std::printf("============%s: NO MASTER============\n\n", g.name.c_str());
      continue;
    }
    PrintBrokerConfig(admin, fmt::format("============Master: {}============\n", master->second),
                      master->second);
    for (const auto& [id, addr] : g.addrs) {
      if (id == 0) continue;
      PrintBrokerConfig(admin,
                        fmt::format("============My Master: {}=====Slave: {}============\n",
                                    master->second, addr),
                        addr);
    }
  }
  return 0;
}

int UpdateBrokerConfig(client::AdminClient& admin, const Args& a) {
  const Table kv = {{a.Get('k'), a.Get('v')}};
  for (const std::string& addr : TargetBrokers(admin, a)) {
    OrFail(admin.UpdateBrokerConfig(addr, kv));
    std::printf("update broker config success, %s\n", addr.c_str());
  }
  return 0;
}

int GetNamesrvConfig(client::AdminClient& admin, const Args&) {
  for (const std::string& ns : admin.NamesrvAddrs()) {
    const Table config = OrFail(admin.NamesrvConfig(ns));
    std::printf("============%s============\n", ns.c_str());
    for (const auto& [k, v] : config) std::printf("%-50s=  %s\n", k.c_str(), v.c_str());
  }
  return 0;
}

// Java goes on to the next name server after a failure; so do we, and exit 1 at the end.
int WritePerm(client::AdminClient& admin, const Args& a, bool wipe) {
  const std::string broker = a.Get('b');
  const char* what = wipe ? "wipe" : "add";
  int rc = 0;
  for (const std::string& ns : admin.NamesrvAddrs()) {
    absl::StatusOr<int> n =
        wipe ? admin.WipeWritePermOfBroker(ns, broker) : admin.AddWritePermOfBroker(ns, broker);
    if (n.ok()) {
      std::printf("%s write perm of broker[%s] in name server[%s] OK, %d\n", what, broker.c_str(),
                  ns.c_str(), *n);
    } else {
      std::printf("%s write perm of broker[%s] in name server[%s] Failed\n", what, broker.c_str(),
                  ns.c_str());
      std::fprintf(stderr, "mqadmin: %s\n", std::string(n.status().message()).c_str());
      rc = 1;
    }
  }
  return rc;
}

int WipeWritePerm(client::AdminClient& admin, const Args& a) { return WritePerm(admin, a, true); }
int AddWritePerm(client::AdminClient& admin, const Args& a) { return WritePerm(admin, a, false); }

STELE_MQADMIN_COMMAND(Command{
    .name = "clusterList",
    .summary = "List cluster infos",
    .options = {{'c', "clusterName", "arg", false, "only this cluster"},
                {'m', "moreStats", nullptr, false,
                 "messages in and out yesterday and today instead of the rates"}},
    .run = ClusterList,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "brokerStatus",
    .summary = "Fetch broker runtime status data",
    .options = {kBrokerAddrOpt, kClusterOpt},
    .run = BrokerStatus,
    .usage_note = "one of -b or -c is required",
    .one_of = "bc",
});

STELE_MQADMIN_COMMAND(Command{
    .name = "getBrokerConfig",
    .summary = "Get broker config by cluster or special broker",
    .options = {kBrokerAddrOpt, kClusterOpt},
    .run = GetBrokerConfig,
    .usage_note = "one of -b or -c is required",
    .one_of = "bc",
});

STELE_MQADMIN_COMMAND(Command{
    .name = "updateBrokerConfig",
    .summary = "Update broker's config",
    .options = {kBrokerAddrOpt,
                {'c', "clusterName", "arg", false, "cluster name (every master of the cluster)"},
                {'k', "key", "arg", true,
                 "config key (a Stele broker changes only brokerPermission, "
                 "rejectTransactionMessage, longPollingEnable, shortPollingTimeMills, "
                 "maxInflightSends, and only with updateConfigAllowed=true)"},
                {'v', "value", "arg", true, "config value"}},
    .run = UpdateBrokerConfig,
    .usage_note = "one of -b or -c is required",
    .one_of = "bc",
});

STELE_MQADMIN_COMMAND(Command{
    .name = "getNamesrvConfig",
    .summary = "Get configs of name server",
    .options = {},
    .run = GetNamesrvConfig,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "wipeWritePerm",
    .summary = "Wipe write perm of broker in all name server you defined in the -n param",
    .options = {{'b', "brokerName", "arg", true, "broker name"}},
    .run = WipeWritePerm,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "addWritePerm",
    .summary = "Add write perm of broker in all name server you defined in the -n param",
    .options = {{'b', "brokerName", "arg", true, "broker name"}},
    .run = AddWritePerm,
});

}  // namespace
}  // namespace stele::mqadmin
