// mqadmin: RocketMQ's admin tool, the subcommands a user needs first (same names and flags):
//
//   mqadmin clusterList    -n ns
//   mqadmin topicList      -n ns
//   mqadmin topicRoute     -n ns -t topic
//   mqadmin updateTopic    -n ns (-c cluster | -b broker) -t topic [-r 8] [-w 8] [-p 6]
//   mqadmin deleteTopic    -n ns (-c cluster | -b broker) -t topic
//   mqadmin sendMessage    -n ns -t topic -p body [-c tags] [-k keys] [-i queueId]
//   mqadmin consumeMessage -n ns -t topic [-i queueId] [-o offset] [-c count]
//   mqadmin queryMsgById   -n ns -i offsetMsgId
//   mqadmin queryMsgByKey  -n ns -t topic -k key
//   mqadmin brokerStatus   -n ns -b brokerAddr
//
// -n defaults to $NAMESRV_ADDR, then 127.0.0.1:9876; several name servers: "a:9876;b:9876".
// Every request goes through the client library (stele::client::AdminClient, and Producer for
// sendMessage): this tool has no wire code of its own.
//
// Exit code 0 on success, 1 on a failed request (the server's code and remark are printed),
// 2 on a usage error.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "net/broker/state/json_file.h"
#include "stele/client/admin.h"
#include "stele/client/producer.h"

namespace {

using stele::client::AdminClient;
using stele::client::MessageExt;
using stele::client::MessageQueue;
constexpr std::chrono::milliseconds kTimeout{5000};

struct Args {
  std::string ns;
  std::map<char, std::string> opt;
  std::string Get(char c, std::string dflt = {}) const {
    auto it = opt.find(c);
    return it == opt.end() ? dflt : it->second;
  }
  bool Has(char c) const { return opt.count(c) != 0; }
};

// Exits without running destructors: the clients' io threads may still be running.
[[noreturn]] void Fail(const std::string& msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "mqadmin: %s\n", msg.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

// The value, or exit 1 with the status's message (for a server's answer: its code and remark).
template <typename T>
T OrFail(absl::StatusOr<T> v) {
  if (!v.ok()) Fail(std::string(v.status().message()));
  return *std::move(v);
}
void OrFail(const absl::Status& s) {
  if (!s.ok()) Fail(std::string(s.message()));
}

std::string Require(const Args& a, char c, const char* what) {
  if (!a.Has(c)) Fail(fmt::format("-{} <{}> is required", c, what));
  return a.Get(c);
}

int64_t IntArg(const Args& a, char c, int64_t dflt) {
  if (!a.Has(c)) return dflt;
  const std::string s = a.Get(c);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    Fail(fmt::format("-{} expects an integer, got '{}'", c, s));
  }
  return v;
}

void PrintMessage(const MessageExt& m) {
  std::printf(
      "MSGID: %s QUEUE: %d OFFSET: %lld TAGS: [%s] KEYS: [%s] BODY: ", m.offset_msg_id.c_str(),
      m.queue_id, static_cast<long long>(m.queue_offset), m.tags.c_str(), m.keys.c_str());
  std::fwrite(m.body.data(), 1, m.body.size(), stdout);
  std::fputc('\n', stdout);
}

// -b broker, else every master of -c cluster.
std::vector<std::string> TargetBrokers(AdminClient& admin, const Args& a) {
  if (a.Has('b')) return {a.Get('b')};
  return OrFail(admin.ClusterMasters(Require(a, 'c', "cluster")));
}

int ClusterList(AdminClient& admin, const Args&) {
  const stele::client::BrokerClusterInfo info = OrFail(admin.ClusterInfo());
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

int TopicList(AdminClient& admin, const Args&) {
  for (const std::string& t : OrFail(admin.TopicList())) std::printf("%s\n", t.c_str());
  return 0;
}

int TopicRoute(AdminClient& admin, const Args& a) {
  const std::string body = OrFail(admin.RouteJson(Require(a, 't', "topic")));
  auto j = stele::broker::ParseLenientJson(body);
  std::printf("%s\n", j.ok() ? j->dump(2).c_str() : body.c_str());
  return 0;
}

int UpdateTopic(AdminClient& admin, const Args& a) {
  stele::client::TopicConfig t;
  t.topic = Require(a, 't', "topic");
  t.read_queue_nums = static_cast<int32_t>(IntArg(a, 'r', 8));
  t.write_queue_nums = static_cast<int32_t>(IntArg(a, 'w', 8));
  t.perm = static_cast<int32_t>(IntArg(a, 'p', 6));
  for (const std::string& addr : TargetBrokers(admin, a)) {
    OrFail(admin.CreateOrUpdateTopic(addr, t));
    std::printf("create topic %s on %s\n", t.topic.c_str(), addr.c_str());
  }
  return 0;
}

int DeleteTopic(AdminClient& admin, const Args& a) {
  const std::string topic = Require(a, 't', "topic");
  for (const std::string& addr : TargetBrokers(admin, a)) {
    OrFail(admin.DeleteTopicInBroker(addr, topic));
    std::printf("delete topic %s on %s\n", topic.c_str(), addr.c_str());
  }
  OrFail(admin.DeleteTopicInNamesrv(topic, a.Has('b') ? "" : a.Get('c')));
  return 0;
}

int SendMessage(AdminClient&, const Args& a) {
  stele::client::Message m;
  m.topic = Require(a, 't', "topic");
  m.body = a.Get('p');
  m.tags = a.Get('c');
  m.keys = a.Get('k');
  stele::client::Producer producer(
      {.group = "mqadmin_producer", .namesrv_addr = a.ns, .send_timeout = kTimeout});
  OrFail(producer.Start());
  absl::StatusOr<stele::client::SendResult> r;
  if (a.Has('i')) {
    // The queue of that id on the topic's first broker (a new topic: the broker that creates it).
    const std::vector<MessageQueue> queues = OrFail(producer.FetchPublishQueues(m.topic));
    MessageQueue q = queues.front();
    q.queue_id = static_cast<int32_t>(IntArg(a, 'i', 0));
    r = producer.Send(m, q);
  } else {
    r = producer.Send(m);
  }
  producer.Shutdown();
  const stele::client::SendResult sent = OrFail(std::move(r));
  std::printf("%-20s %-4s %-12s %s\n", "#Broker Name", "#QID", "#Send Result", "#MsgId");
  std::printf("%-20s %-4d %-12s %s\n", sent.queue.broker_name.c_str(), sent.queue.queue_id,
              std::string(stele::client::SendStatusName(sent.status)).c_str(),
              sent.offset_msg_id.c_str());
  return 0;
}

// Reads each readable queue (or only -i) from -o on, printing up to -c messages in all.
int ConsumeMessage(AdminClient& admin, const Args& a) {
  using Status = stele::client::PulledMessages::Status;
  const std::string topic = Require(a, 't', "topic");
  const stele::client::TopicRoute route = OrFail(admin.Route(topic));
  int64_t left = IntArg(a, 'c', 1000000);
  const int64_t only_queue = IntArg(a, 'i', -1);
  const int64_t start = IntArg(a, 'o', 0);
  for (const stele::client::QueueData& qd : route.queues) {
    for (int32_t q = 0; q < qd.read_queue_nums && left > 0; ++q) {
      if (only_queue >= 0 && only_queue != q) continue;
      const MessageQueue mq{topic, qd.broker_name, q};
      int64_t offset = start;
      while (left > 0) {
        const auto r = OrFail(admin.Pull(mq, offset, static_cast<int>(std::min<int64_t>(32, left)),
                                         "mqadmin_consumer"));
        if (r.status == Status::kFound) {
          for (const MessageExt& m : r.messages) PrintMessage(m);
          left -= static_cast<int64_t>(r.messages.size());
        } else if (r.status != Status::kNoMatchedMsg) {
          break;  // nothing more in this queue
        }
        if (r.next_begin_offset == offset) break;
        offset = r.next_begin_offset;
      }
    }
  }
  return 0;
}

int QueryMsgById(AdminClient& admin, const Args& a) {
  PrintMessage(OrFail(admin.ViewMessage(Require(a, 'i', "offsetMsgId"))));
  return 0;
}

int QueryMsgByKey(AdminClient& admin, const Args& a) {
  const std::string topic = Require(a, 't', "topic");
  const std::string key = Require(a, 'k', "key");
  for (const MessageExt& m : OrFail(admin.QueryMessageByKey(topic, key))) PrintMessage(m);
  return 0;
}

int BrokerStatus(AdminClient& admin, const Args& a) {
  for (const auto& [k, v] : OrFail(admin.BrokerRuntimeInfo(Require(a, 'b', "brokerAddr")))) {
    std::printf("%-28s: %s\n", k.c_str(), v.c_str());
  }
  return 0;
}

using Command = int (*)(AdminClient&, const Args&);
const std::map<std::string, Command>& Commands() {
  static const auto* commands = new std::map<std::string, Command>{
      {"clusterList", ClusterList},       {"topicList", TopicList},
      {"topicRoute", TopicRoute},         {"updateTopic", UpdateTopic},
      {"deleteTopic", DeleteTopic},       {"sendMessage", SendMessage},
      {"consumeMessage", ConsumeMessage}, {"queryMsgById", QueryMsgById},
      {"queryMsgByKey", QueryMsgByKey},   {"brokerStatus", BrokerStatus},
  };
  return *commands;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: mqadmin <subcommand> -n nameserver ... (see the source header "
                 "or README for the list)\n");
    return 2;
  }
  const std::string cmd = argv[1];
  auto command = Commands().find(cmd);
  if (command == Commands().end()) {
    std::fprintf(stderr, "mqadmin: unknown subcommand %s\n", cmd.c_str());
    return 2;
  }
  Args a;
  int opt;
  optind = 2;
  while ((opt = getopt(argc, argv, "n:t:c:b:r:w:p:k:i:o:")) != -1) {
    if (opt == '?') return 2;
    a.opt[static_cast<char>(opt)] = optarg;
  }
  a.ns = a.Get('n');
  if (a.ns.empty()) {
    const char* env = std::getenv("NAMESRV_ADDR");
    a.ns = env != nullptr ? env : "127.0.0.1:9876";
  }
  AdminClient admin({.namesrv_addr = a.ns, .timeout = kTimeout});
  OrFail(admin.Start());
  const int rc = command->second(admin, a);
  admin.Shutdown();
  return rc;
}
