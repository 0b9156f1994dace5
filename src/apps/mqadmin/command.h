// The mqadmin command registry and the helpers every subcommand shares.
//
// A subcommand is a `Command` registered from its own .cc file with STELE_MQADMIN_COMMAND; main.cc
// parses the options it declares (short and long names as in RocketMQ's mqadmin, so operators'
// scripts keep working), prints `--help` from them, then calls `run`. Requests go through the
// client library (stele::client::AdminClient, Producer): mqadmin has no wire code of its own.
//
// Exit codes: 0 success, 1 a failed request (the server's code and remark are printed on stderr),
// 2 a usage error.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stele/client/admin.h"

namespace stele::mqadmin {

inline constexpr std::chrono::milliseconds kTimeout{5000};

struct Option {
  char short_name;
  const char* long_name;
  const char* arg;  // the argument's name in --help; nullptr for a flag without argument
  bool required;
  const char* help;
};

// Parsed options by short name; a flag without argument holds "true".
struct Args {
  std::string ns;  // -n, else $NAMESRV_ADDR, else 127.0.0.1:9876
  std::map<char, std::string> opt;
  std::string Get(char c, std::string dflt = {}) const {
    auto it = opt.find(c);
    return it == opt.end() ? dflt : it->second;
  }
  bool Has(char c) const { return opt.count(c) != 0; }
};

struct Command {
  const char* name;
  const char* summary;  // one line, for the command list
  // -n (name server) and -h (help) are added to every command; list the others.
  std::vector<Option> options;
  int (*run)(client::AdminClient&, const Args&);
  // Printed under the synopsis by --help: e.g. "one of -b or -c is required".
  const char* usage_note = nullptr;
  // Short names of alternative options of which at least one is required (e.g. "bc"); checked
  // after parsing, before the admin client starts (exit 2 with usage_note).
  const char* one_of = nullptr;
};

// Options several commands share, with RocketMQ's long names.
inline constexpr Option kBrokerAddrOpt{'b', "brokerAddr", "arg", false,
                                       "broker address, e.g. 127.0.0.1:10911"};
inline constexpr Option kClusterOpt{'c', "clusterName", "arg", false,
                                    "cluster name (every broker of the cluster)"};

std::map<std::string, Command>& Registry();

struct Registrar {
  explicit Registrar(Command c);
};

#define STELE_MQADMIN_CONCAT2(a, b) a##b
#define STELE_MQADMIN_CONCAT(a, b) STELE_MQADMIN_CONCAT2(a, b)
// Registers a command at static-initialization time (mqadmin is one executable, so every object
// file's registrar runs).
#define STELE_MQADMIN_COMMAND(...) \
  static const ::stele::mqadmin::Registrar STELE_MQADMIN_CONCAT(mqadmin_reg_, __LINE__)(__VA_ARGS__)

// Prints "mqadmin: <msg>" on stderr and exits 1 without running destructors (the clients' io
// threads may still be running).
[[noreturn]] void Fail(const std::string& msg);
// Exits 2 with the message and a pointer to --help.
[[noreturn]] void UsageError(const std::string& msg);

template <typename T>
T OrFail(absl::StatusOr<T> v) {
  if (!v.ok()) Fail(std::string(v.status().message()));
  return *std::move(v);
}
void OrFail(const absl::Status& s);

std::string Require(const Args& a, char c, const char* what);
int64_t IntArg(const Args& a, char c, int64_t dflt);
// "true" or "false" (exit 2 on anything else).
bool BoolArg(const Args& a, char c, bool dflt);

// A topic route, or exit 1 with Java's line for a topic the name server does not know.
client::TopicRoute RouteOrFail(client::AdminClient& admin, const std::string& topic);

// One message the way queryMsgById/consumeMessage print it.
void PrintMessage(const client::MessageExt& m);

// -b broker address, else every master of -c cluster.
std::vector<std::string> TargetBrokers(client::AdminClient& admin, const Args& a);

// The broker groups of a cluster (exit 1 for an unknown cluster), in name order.
struct BrokerGroup {
  std::string name;
  std::map<int64_t, std::string> addrs;  // by broker id, 0 = master
};
std::vector<BrokerGroup> ClusterGroups(client::AdminClient& admin, const std::string& cluster);

}  // namespace stele::mqadmin
