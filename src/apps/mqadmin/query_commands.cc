// Message lookups: queryMsgByUniqueKey, queryMsgByOffset, printMsg.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "mqadmin/command.h"
#include "mqadmin/stats_format.h"

namespace stele::mqadmin {
namespace {

using client::MessageExt;
using client::MessageQueue;
using Status = client::PulledMessages::Status;

int QueryMsgByUniqueKey(client::AdminClient& admin, const Args& a) {
  const std::string id = Require(a, 'i', "msgId");
  const std::string topic = Require(a, 't', "topic");
  client::QueryMessageOptions opt;
  opt.unique_key = true;
  const std::vector<MessageExt> found = OrFail(admin.QueryMessageByKey(topic, id, opt));
  if (found.empty()) Fail(fmt::format("no message with unique key {} in topic {}", id, topic));
  // Java prints the first match unless -a (a retried message is stored again under its key).
  const size_t n = a.Has('a') ? found.size() : 1;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) std::printf("\n");
    PrintMessageDetail(found[i]);
  }
  return 0;
}

int QueryMsgByOffset(client::AdminClient& admin, const Args& a) {
  const MessageQueue q{Require(a, 't', "topic"), Require(a, 'b', "brokerName"),
                       static_cast<int32_t>(IntArg(a, 'i', 0))};
  const int64_t offset = IntArg(a, 'o', 0);
  const client::PulledMessages r = OrFail(admin.Pull(q, offset, 1));
  if (r.status != Status::kFound || r.messages.empty()) {
    Fail(fmt::format("no message at offset {} of {} (the queue holds [{}, {}))", offset,
                     q.ToString(), r.min_offset, r.max_offset));
  }
  PrintMessageDetail(r.messages.front());
  return 0;
}

// A tag expression as subscriptions take it: "*" or "a || b".
bool TagMatches(const std::string& expr, const std::string& tags) {
  if (expr.empty() || expr == "*") return true;
  size_t start = 0;
  while (start <= expr.size()) {
    size_t end = expr.find("||", start);
    if (end == std::string::npos) end = expr.size();
    std::string t = expr.substr(start, end - start);
    t.erase(0, t.find_first_not_of(' '));
    t.erase(t.find_last_not_of(' ') + 1);
    if (!t.empty() && t == tags) return true;
    start = end + 2;
  }
  return false;
}

int PrintMsg(client::AdminClient& admin, const Args& a) {
  const std::string topic = Require(a, 't', "topic");
  const std::string charset = a.Get('c', "UTF-8");
  std::string lower = charset;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "utf-8" && lower != "utf8") {
    UsageError(
        fmt::format("-c {}: only UTF-8 is supported (bodies are printed as stored)", charset));
  }
  const std::string expr = a.Get('s', "*");
  const bool print_body = a.Get('d', "true") != "false";
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const auto time_arg = [&](char c) {
    auto t = ParseTimeArg(a.Get(c), now);
    if (!t.ok()) UsageError(std::string(t.status().message()));
    return *t;
  };
  const client::TopicRoute route = OrFail(admin.Route(topic));
  for (const client::QueueData& qd : route.queues) {
    for (int32_t id = 0; id < qd.read_queue_nums; ++id) {
      const MessageQueue q{topic, qd.broker_name, id};
      int64_t min = OrFail(admin.MinOffset(q));
      int64_t max = OrFail(admin.MaxOffset(q));
      if (a.Has('b')) min = OrFail(admin.SearchOffset(q, time_arg('b')));
      if (a.Has('e')) max = OrFail(admin.SearchOffset(q, time_arg('e')));
      const std::string mq = fmt::format("MessageQueue [topic={}, brokerName={}, queueId={}]",
                                         topic, qd.broker_name, id);
      std::printf("minOffset=%lld, maxOffset=%lld, %s\n", static_cast<long long>(min),
                  static_cast<long long>(max), mq.c_str());
      for (int64_t offset = min; offset < max;) {
        const int n = static_cast<int>(std::min<int64_t>(32, max - offset));
        const client::PulledMessages r = OrFail(admin.Pull(q, offset, n, "mqadmin_printmsg"));
        if (r.status == Status::kNoNewMsg || r.status == Status::kOffsetIllegal) {
          std::printf("%s print msg finished. status=%s, offset=%lld\n", mq.c_str(),
                      r.status == Status::kNoNewMsg ? "NO_NEW_MSG" : "OFFSET_ILLEGAL",
                      static_cast<long long>(offset));
          break;
        }
        for (const MessageExt& m : r.messages) {
          if (m.queue_offset >= max || !TagMatches(expr, m.tags)) continue;
          std::printf(
              "MSGID: %s MessageExt [brokerName=%s, queueId=%d, queueOffset=%lld, "
              "storeTimestamp=%lld, bornHost=%s, storeHost=%s, msgId=%s, commitLogOffset=%lld, "
              "reconsumeTimes=%d, topic=%s, tags=%s, keys=%s] BODY: ",
              m.msg_id.c_str(), qd.broker_name.c_str(), m.queue_id,
              static_cast<long long>(m.queue_offset), static_cast<long long>(m.store_timestamp),
              m.born_host.c_str(), m.store_host.c_str(), m.offset_msg_id.c_str(),
              static_cast<long long>(m.commit_log_offset), m.reconsume_times, m.topic.c_str(),
              m.tags.c_str(), m.keys.c_str());
          if (print_body) {
            std::fwrite(m.body.data(), 1, m.body.size(), stdout);
          } else {
            std::fputs("NOT PRINT BODY", stdout);
          }
          std::fputc('\n', stdout);
        }
        if (r.next_begin_offset <= offset) break;  // no progress: stop rather than spin
        offset = r.next_begin_offset;
      }
    }
  }
  return 0;
}

constexpr Option kTopic{'t', "topic", "arg", true, "topic name"};

STELE_MQADMIN_COMMAND(Command{
    .name = "queryMsgByUniqueKey",
    .summary = "Query Message by Unique key",
    .options = {{'i', "msgId", "arg", true, "message id (the producer's unique key)"},
                kTopic,
                {'a', "showAll", nullptr, false, "print every message stored under the key"}},
    .run = QueryMsgByUniqueKey,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "queryMsgByOffset",
    .summary = "Query Message by offset",
    .options = {kTopic,
                {'b', "brokerName", "arg", true, "broker name"},
                {'i', "queueId", "arg", true, "queue id"},
                {'o', "offset", "arg", true, "queue offset"}},
    .run = QueryMsgByOffset,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "printMsg",
    .summary = "Print Message Detail",
    .options = {kTopic,
                {'c', "charsetName", "arg", false, "CharsetName(eg: UTF-8) (only UTF-8)"},
                {'s', "subExpression", "arg", false, "Subscribe Expression(eg: TagA || TagB)"},
                {'b', "beginTimestamp", "arg", false,
                 "Begin timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]"},
                {'e', "endTimestamp", "arg", false,
                 "End timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]"},
                {'d', "printBody", "arg", false, "print body (true|false, default true)"}},
    .run = PrintMsg,
});

}  // namespace
}  // namespace stele::mqadmin
