#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "fmt/format.h"
#include "mqadmin/command.h"

namespace stele::mqadmin {

std::map<std::string, Command>& Registry() {
  static auto* commands = new std::map<std::string, Command>();
  return *commands;
}

Registrar::Registrar(Command c) {
  const std::string name = c.name;
  Registry().emplace(name, std::move(c));
}

void Fail(const std::string& msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "mqadmin: %s\n", msg.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

void UsageError(const std::string& msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "mqadmin: %s (see mqadmin <subcommand> --help)\n", msg.c_str());
  std::fflush(stderr);
  std::_Exit(2);
}

void OrFail(const absl::Status& s) {
  if (!s.ok()) Fail(std::string(s.message()));
}

std::string Require(const Args& a, char c, const char* what) {
  if (!a.Has(c)) UsageError(fmt::format("-{} <{}> is required", c, what));
  return a.Get(c);
}

int64_t IntArg(const Args& a, char c, int64_t dflt) {
  if (!a.Has(c)) return dflt;
  const std::string s = a.Get(c);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    UsageError(fmt::format("-{} expects an integer, got '{}'", c, s));
  }
  return v;
}

bool BoolArg(const Args& a, char c, bool dflt) {
  if (!a.Has(c)) return dflt;
  const std::string s = a.Get(c);
  if (s == "true") return true;
  if (s == "false") return false;
  UsageError(fmt::format("-{} expects true or false, got '{}'", c, s));
}

client::TopicRoute RouteOrFail(client::AdminClient& admin, const std::string& topic) {
  absl::StatusOr<client::TopicRoute> r = admin.Route(topic);
  if (absl::IsNotFound(r.status())) {
    Fail(fmt::format("No topic route info in name server for the topic: {}", topic));
  }
  return OrFail(std::move(r));
}

void PrintMessage(const client::MessageExt& m) {
  std::printf(
      "MSGID: %s QUEUE: %d OFFSET: %lld TAGS: [%s] KEYS: [%s] BODY: ", m.offset_msg_id.c_str(),
      m.queue_id, static_cast<long long>(m.queue_offset), m.tags.c_str(), m.keys.c_str());
  std::fwrite(m.body.data(), 1, m.body.size(), stdout);
  std::fputc('\n', stdout);
}

std::vector<std::string> TargetBrokers(client::AdminClient& admin, const Args& a) {
  if (a.Has('b')) return {a.Get('b')};
  return OrFail(admin.ClusterMasters(Require(a, 'c', "clusterName")));
}

}  // namespace stele::mqadmin

namespace stele::mqadmin {

std::vector<BrokerGroup> ClusterGroups(client::AdminClient& admin, const std::string& cluster) {
  const client::BrokerClusterInfo info = OrFail(admin.ClusterInfo());
  auto names = info.clusters.find(cluster);
  if (names == info.clusters.end()) {
    Fail(fmt::format("cluster {} is unknown to the name server", cluster));
  }
  std::vector<BrokerGroup> out;
  for (const std::string& name : names->second) {
    auto b = info.brokers.find(name);
    if (b != info.brokers.end()) out.push_back({name, b->second.addrs});
  }
  std::sort(out.begin(), out.end(),
            [](const BrokerGroup& x, const BrokerGroup& y) { return x.name < y.name; });
  return out;
}

}  // namespace stele::mqadmin
