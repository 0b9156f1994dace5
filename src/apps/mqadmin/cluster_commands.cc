// Cluster-level commands: clusterList, brokerStatus.
#include <cstdio>
#include <string>

#include "mqadmin/command.h"

namespace stele::mqadmin {
namespace {

int ClusterList(client::AdminClient& admin, const Args&) {
  const client::BrokerClusterInfo info = OrFail(admin.ClusterInfo());
  std::printf("%-20s %-20s %-4s %s\n", "#Cluster Name", "#Broker Name", "#BID", "#Addr");
  for (const auto& [cluster, names] : info.clusters) {
    for (const std::string& name : names) {
      auto b = info.brokers.find(name);
      if (b == info.brokers.end()) continue;
      for (const auto& [id, addr] : b->second.addrs) {
        std::printf("%-20s %-20s %-4s %s\n", cluster.c_str(), name.c_str(),
                    std::to_string(id).c_str(), addr.c_str());
      }
    }
  }
  return 0;
}

int BrokerStatus(client::AdminClient& admin, const Args& a) {
  for (const auto& [k, v] : OrFail(admin.BrokerRuntimeInfo(Require(a, 'b', "brokerAddr")))) {
    std::printf("%-28s: %s\n", k.c_str(), v.c_str());
  }
  return 0;
}

STELE_MQADMIN_COMMAND(Command{
    .name = "clusterList",
    .summary = "List cluster infos",
    .options = {},
    .run = ClusterList,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "brokerStatus",
    .summary = "Fetch broker runtime status data",
    .options = {{'b', "brokerAddr", "arg", true, "broker address, e.g. 127.0.0.1:10911"}},
    .run = BrokerStatus,
});

}  // namespace
}  // namespace stele::mqadmin
