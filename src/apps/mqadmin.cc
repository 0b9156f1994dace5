// mqadmin: RocketMQ's admin tool, the subcommands a user needs first (same names and flags):
//
//   mqadmin clusterList    -n ns
//   mqadmin topicList      -n ns
//   mqadmin topicRoute     -n ns -t topic
//   mqadmin updateTopic    -n ns (-c cluster | -b broker) -t topic [-r 8] [-w 8] [-p 6]
//   mqadmin deleteTopic    -n ns -c cluster -t topic
//   mqadmin sendMessage    -n ns -t topic -p body [-c tags] [-k keys] [-i queueId]
//   mqadmin consumeMessage -n ns -t topic [-i queueId] [-o offset] [-c count]
//   mqadmin queryMsgById   -n ns -i offsetMsgId
//   mqadmin queryMsgByKey  -n ns -t topic -k key
//   mqadmin brokerStatus   -n ns -b brokerAddr
//
// Exit code 0 on success, 1 on a failed request (the server's code and remark are printed).
#include <unistd.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/bytes.h"
#include "common/clock.h"
#include "engine/record.h"
#include "fmt/format.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"

namespace {

using nlohmann::json;
using stele::remoting::RemotingClient;
using stele::remoting::RemotingCommand;
namespace code = stele::remoting::request;
namespace rc = stele::remoting::response;
constexpr std::chrono::milliseconds kTimeout{5000};

struct Args {
  std::map<char, std::string> opt;
  std::string Get(char c, std::string dflt = {}) const {
    auto it = opt.find(c);
    return it == opt.end() ? dflt : it->second;
  }
  bool Has(char c) const { return opt.count(c) != 0; }
};

[[noreturn]] void Fail(const std::string& msg) {
  std::fprintf(stderr, "mqadmin: %s\n", msg.c_str());
  std::exit(1);
}

RemotingCommand Call(RemotingClient& c, const std::string& addr, RemotingCommand req,
                     bool allow_not_found = false) {
  auto r = c.InvokeSync(addr, std::move(req), kTimeout);
  if (!r.ok()) Fail(fmt::format("{}: {}", addr, std::string(r.status().message())));
  if (r->code != rc::kSuccess && !(allow_not_found && r->code != rc::kSystemError)) {
    Fail(fmt::format("{} answered code {}: {}", addr, r->code, r->remark.value_or("")));
  }
  return std::move(*r);
}

json ParseBody(const RemotingCommand& r) {
  json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) Fail("response body is not JSON");
  return j;
}

std::string Require(const Args& a, char c, const char* what) {
  if (!a.Has(c)) Fail(fmt::format("-{} <{}> is required", c, what));
  return a.Get(c);
}

json Route(RemotingClient& c, const std::string& ns, const std::string& topic,
           bool allow_missing = false) {
  RemotingCommand req = RemotingCommand::Request(code::kGetRouteinfoByTopic);
  req.Set("topic", topic);
  RemotingCommand r = Call(c, ns, std::move(req), allow_missing);
  if (r.code != rc::kSuccess) return nullptr;
  return ParseBody(r);
}

json ClusterInfo(RemotingClient& c, const std::string& ns) {
  return ParseBody(Call(c, ns, RemotingCommand::Request(code::kGetBrokerClusterInfo)));
}

// Master addresses of a cluster's brokers.
std::vector<std::string> ClusterMasters(RemotingClient& c, const std::string& ns,
                                        const std::string& cluster) {
  json info = ClusterInfo(c, ns);
  std::vector<std::string> out;
  const json clusters = info.value("clusterAddrTable", json::object());
  const json names = clusters.value(cluster, json::array());
  for (const auto& name : names) {
    const json& bd = info["brokerAddrTable"][name.get<std::string>()];
    if (bd.contains("brokerAddrs") && bd["brokerAddrs"].contains("0")) {
      out.push_back(bd["brokerAddrs"]["0"].get<std::string>());
    }
  }
  if (out.empty()) Fail(fmt::format("cluster {} has no master broker", cluster));
  return out;
}

std::string MasterOf(const json& route, const std::string& broker_name) {
  for (const auto& bd : route["brokerDatas"]) {
    if (bd.value("brokerName", "") == broker_name && bd["brokerAddrs"].contains("0")) {
      return bd["brokerAddrs"]["0"].get<std::string>();
    }
  }
  Fail(fmt::format("broker {} has no master in the route", broker_name));
}

void PrintRecords(std::string_view body) {
  while (!body.empty()) {
    stele::MessageView m;
    std::string why;
    if (stele::engine::DecodeRecord(body.data(), body.size(), false, &m, &why) !=
        stele::engine::DecodeResult::kOk) {
      Fail(fmt::format("cannot decode a returned message: {}", why));
    }
    std::string tags(m.Property("TAGS").value_or(""));
    std::string keys(m.Property("KEYS").value_or(""));
    std::printf("MSGID: %s QUEUE: %d OFFSET: %lld TAGS: [%s] KEYS: [%s] BODY: %.*s\n",
                m.OffsetMsgId().c_str(), m.queue_id, static_cast<long long>(m.queue_offset),
                tags.c_str(), keys.c_str(), static_cast<int>(m.body.size()), m.body.data());
    body.remove_prefix(m.total_size);
  }
}

int SendMessage(RemotingClient& c, const std::string& ns, const Args& a) {
  const std::string topic = Require(a, 't', "topic");
  json route = Route(c, ns, topic, /*allow_missing=*/true);
  // A new topic: like RocketMQ's producer, send to a broker that may create it (TBW102's route).
  if (route.is_null()) route = Route(c, ns, "TBW102");
  if (route["queueDatas"].empty()) Fail("topic has no queues");
  const json& qd = route["queueDatas"][0];
  const std::string addr = MasterOf(route, qd["brokerName"].get<std::string>());
  std::string props;
  if (a.Has('c')) stele::AppendProperty(&props, "TAGS", a.Get('c'));
  if (a.Has('k')) stele::AppendProperty(&props, "KEYS", a.Get('k'));
  RemotingCommand req = RemotingCommand::Request(code::kSendMessageV2);
  req.Set("a", "mqadmin_producer");
  req.Set("b", topic);
  req.Set("c", "TBW102");
  req.Set("d", int64_t{4});
  req.Set("e", std::stoll(a.Get('i', "0")));
  req.Set("f", int64_t{0});
  req.Set("g", stele::NowMs());
  req.Set("h", int64_t{0});
  req.Set("i", props);
  req.Set("j", int64_t{0});
  req.Set("k", "false");
  req.body = a.Get('p');
  RemotingCommand r = Call(c, addr, std::move(req));
  std::printf("%-20s %-4s %-12s %s\n", "#Broker Name", "#QID", "#Send Result", "#MsgId");
  std::printf("%-20s %-4s %-12s %s\n", qd["brokerName"].get<std::string>().c_str(),
              r.Field("queueId") ? r.Field("queueId")->c_str() : "?", "SEND_OK",
              r.Field("msgId") ? r.Field("msgId")->c_str() : "?");
  return 0;
}

int ConsumeMessage(RemotingClient& c, const std::string& ns, const Args& a) {
  const std::string topic = Require(a, 't', "topic");
  json route = Route(c, ns, topic);
  int64_t left = std::stoll(a.Get('c', "1000000"));
  for (const auto& qd : route["queueDatas"]) {
    const std::string addr = MasterOf(route, qd["brokerName"].get<std::string>());
    for (int q = 0; q < qd.value("readQueueNums", 0) && left > 0; ++q) {
      if (a.Has('i') && std::stoi(a.Get('i')) != q) continue;
      int64_t offset = std::stoll(a.Get('o', "0"));
      while (left > 0) {
        RemotingCommand req = RemotingCommand::Request(code::kPullMessage);
        req.Set("consumerGroup", "mqadmin_consumer");
        req.Set("topic", topic);
        req.Set("queueId", int64_t{q});
        req.Set("queueOffset", offset);
        req.Set("maxMsgNums", std::min<int64_t>(32, left));
        req.Set("sysFlag", int64_t{4});  // subscription in the request, no suspend
        req.Set("commitOffset", int64_t{0});
        req.Set("suspendTimeoutMillis", int64_t{0});
        req.Set("subscription", "*");
        req.Set("subVersion", int64_t{0});
        RemotingCommand r = Call(c, addr, std::move(req), /*allow_not_found=*/true);
        const std::string* next = r.Field("nextBeginOffset");
        if (r.code == rc::kSuccess) {
          PrintRecords(r.body);
          for (std::string_view b = r.body; !b.empty(); --left) {
            b.remove_prefix(stele::LoadBe32(b.data()));
          }
        } else if (r.code != rc::kPullRetryImmediately || next == nullptr) {
          break;  // nothing more in this queue
        }
        if (next == nullptr || std::stoll(*next) == offset) break;
        offset = std::stoll(*next);
      }
    }
  }
  return 0;
}

int QueryById(RemotingClient& c, const Args& a) {
  const std::string id = Require(a, 'i', "offsetMsgId");
  if (id.size() != 32) Fail("expected a 32-character offset message id (IPv4 store host)");
  auto hex = [&](size_t pos, size_t n) { return std::stoull(id.substr(pos, n), nullptr, 16); };
  const std::string addr =
      fmt::format("{}.{}.{}.{}:{}", hex(0, 2), hex(2, 2), hex(4, 2), hex(6, 2), hex(8, 8));
  RemotingCommand req = RemotingCommand::Request(code::kViewMessageById);
  req.Set("offset", static_cast<int64_t>(hex(16, 16)));
  PrintRecords(Call(c, addr, std::move(req)).body);
  return 0;
}

int QueryByKey(RemotingClient& c, const std::string& ns, const Args& a) {
  const std::string topic = Require(a, 't', "topic");
  json route = Route(c, ns, topic);
  for (const auto& bd : route["brokerDatas"]) {
    RemotingCommand req = RemotingCommand::Request(code::kQueryMessage);
    req.Set("topic", topic);
    req.Set("key", Require(a, 'k', "key"));
    req.Set("maxNum", int64_t{64});
    req.Set("beginTimestamp", int64_t{0});
    req.Set("endTimestamp", INT64_MAX);
    RemotingCommand r = Call(c, bd["brokerAddrs"]["0"].get<std::string>(), std::move(req), true);
    if (r.code == rc::kSuccess) PrintRecords(r.body);
  }
  return 0;
}

}  // namespace

int Run(int argc, char** argv);

int main(int argc, char** argv) {
  // A reply of an unexpected shape is reported, not a crash.
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    Fail(fmt::format("unexpected response: {}", e.what()));
  }
}

int Run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: mqadmin <subcommand> -n nameserver ... (see the source header "
                 "or README for the list)\n");
    return 2;
  }
  const std::string cmd = argv[1];
  Args a;
  int opt;
  optind = 2;
  while ((opt = getopt(argc, argv, "n:t:c:b:r:w:p:k:i:o:")) != -1) {
    if (opt == '?') return 2;
    a.opt[static_cast<char>(opt)] = optarg;
  }
  std::string ns = a.Get('n');
  if (ns.empty()) {
    const char* env = std::getenv("NAMESRV_ADDR");
    ns = env != nullptr ? env : "127.0.0.1:9876";
  }
  ns = ns.substr(0, ns.find(';'));
  RemotingClient c;
  if (cmd == "clusterList") {
    json info = ClusterInfo(c, ns);
    std::printf("%-20s %-20s %-4s %s\n", "#Cluster Name", "#Broker Name", "#BID", "#Addr");
    const json clusters = info.value("clusterAddrTable", json::object());
    for (const auto& [cluster, names] : clusters.items()) {
      for (const auto& name : names) {
        for (const auto& [id, addr] :
             info["brokerAddrTable"][name.get<std::string>()]["brokerAddrs"].items()) {
          std::printf("%-20s %-20s %-4s %s\n", cluster.c_str(), name.get<std::string>().c_str(),
                      id.c_str(), addr.get<std::string>().c_str());
        }
      }
    }
  } else if (cmd == "topicList") {
    json j = ParseBody(Call(c, ns, RemotingCommand::Request(code::kGetAllTopicListFromNameserver)));
    const json topics = j.value("topicList", json::array());
    for (const auto& t : topics) std::printf("%s\n", t.get<std::string>().c_str());
  } else if (cmd == "topicRoute") {
    std::printf("%s\n", Route(c, ns, Require(a, 't', "topic")).dump(2).c_str());
  } else if (cmd == "updateTopic" || cmd == "deleteTopic") {
    const std::string topic = Require(a, 't', "topic");
    std::vector<std::string> brokers = a.Has('b')
                                           ? std::vector<std::string>{a.Get('b')}
                                           : ClusterMasters(c, ns, Require(a, 'c', "cluster"));
    for (const auto& addr : brokers) {
      RemotingCommand req = RemotingCommand::Request(
          cmd == "updateTopic" ? code::kUpdateAndCreateTopic : code::kDeleteTopicInBroker);
      req.Set("topic", topic);
      if (cmd == "updateTopic") {
        req.Set("defaultTopic", "TBW102");
        req.Set("readQueueNums", a.Get('r', "8"));
        req.Set("writeQueueNums", a.Get('w', "8"));
        req.Set("perm", a.Get('p', "6"));
        req.Set("topicFilterType", "SINGLE_TAG");
        req.Set("topicSysFlag", "0");
        req.Set("order", "false");
      }
      Call(c, addr, std::move(req));
      std::printf("%s %s on %s\n", cmd == "updateTopic" ? "create topic" : "delete topic",
                  topic.c_str(), addr.c_str());
    }
    if (cmd == "deleteTopic") {
      RemotingCommand req = RemotingCommand::Request(code::kDeleteTopicInNamesrv);
      req.Set("topic", topic);
      Call(c, ns, std::move(req));
    }
  } else if (cmd == "sendMessage") {
    return SendMessage(c, ns, a);
  } else if (cmd == "consumeMessage") {
    return ConsumeMessage(c, ns, a);
  } else if (cmd == "queryMsgById") {
    return QueryById(c, a);
  } else if (cmd == "queryMsgByKey") {
    return QueryByKey(c, ns, a);
  } else if (cmd == "brokerStatus") {
    json j = ParseBody(Call(c, Require(a, 'b', "brokerAddr"),
                            RemotingCommand::Request(code::kGetBrokerRuntimeInfo)));
    const json table = j.value("table", json::object());
    for (const auto& [k, v] : table.items()) {
      std::printf("%-28s: %s\n", k.c_str(),
                  v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
    }
  } else {
    std::fprintf(stderr, "mqadmin: unknown subcommand %s\n", cmd.c_str());
    return 2;
  }
  return 0;
}
