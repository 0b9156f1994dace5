// Message commands: sendMessage, consumeMessage, queryMsgById, queryMsgByKey.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "mqadmin/command.h"
#include "stele/client/producer.h"

namespace stele::mqadmin {
namespace {

using client::MessageExt;
using client::MessageQueue;

int SendMessage(client::AdminClient&, const Args& a) {
  client::Message m;
  m.topic = Require(a, 't', "topic");
  m.body = a.Get('p');
  m.tags = a.Get('c');
  m.keys = a.Get('k');
  client::Producer producer(
      {.group = "mqadmin_producer", .namesrv_addr = a.ns, .send_timeout = kTimeout});
  OrFail(producer.Start());
  absl::StatusOr<client::SendResult> r;
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
  const client::SendResult sent = OrFail(std::move(r));
  std::printf("%-20s %-4s %-12s %s\n", "#Broker Name", "#QID", "#Send Result", "#MsgId");
  std::printf("%-20s %-4d %-12s %s\n", sent.queue.broker_name.c_str(), sent.queue.queue_id,
              std::string(client::SendStatusName(sent.status)).c_str(), sent.offset_msg_id.c_str());
  return 0;
}

// Reads each readable queue (or only -i) from -o on, printing up to -c messages in all.
int ConsumeMessage(client::AdminClient& admin, const Args& a) {
  using Status = client::PulledMessages::Status;
  const std::string topic = Require(a, 't', "topic");
  const client::TopicRoute route = OrFail(admin.Route(topic));
  int64_t left = IntArg(a, 'c', 1000000);
  const int64_t only_queue = IntArg(a, 'i', -1);
  const int64_t start = IntArg(a, 'o', 0);
  for (const client::QueueData& qd : route.queues) {
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

int QueryMsgById(client::AdminClient& admin, const Args& a) {
  PrintMessage(OrFail(admin.ViewMessage(Require(a, 'i', "msgId"))));
  return 0;
}

int QueryMsgByKey(client::AdminClient& admin, const Args& a) {
  const std::string topic = Require(a, 't', "topic");
  const std::string key = Require(a, 'k', "msgKey");
  for (const MessageExt& m : OrFail(admin.QueryMessageByKey(topic, key))) PrintMessage(m);
  return 0;
}

constexpr Option kTopic{'t', "topic", "arg", true, "topic name"};

STELE_MQADMIN_COMMAND(Command{
    .name = "sendMessage",
    .summary = "Send a message",
    .options = {kTopic,
                {'p', "body", "arg", true, "UTF-8 string format of the message body"},
                {'k', "keys", "arg", false, "message keys"},
                {'c', "tags", "arg", false, "message tags"},
                {'i', "qid", "arg", false, "send to this queue id"}},
    .run = SendMessage,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "consumeMessage",
    .summary = "Consume message",
    .options = {kTopic,
                {'i', "queueId", "arg", false, "only this queue id"},
                {'o', "offset", "arg", false, "queue offset to start from (default 0)"},
                {'c', "MessageNumber", "arg", false, "number of messages to print at most"}},
    .run = ConsumeMessage,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "queryMsgById",
    .summary = "Query Message by Id",
    .options = {{'i', "msgId", "arg", true, "the offset message id (offsetMsgId)"}},
    .run = QueryMsgById,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "queryMsgByKey",
    .summary = "Query Message by Key",
    .options = {kTopic, {'k', "msgKey", "arg", true, "message key"}},
    .run = QueryMsgByKey,
});

}  // namespace
}  // namespace stele::mqadmin
