// Admin statistics: GET_TOPIC_STATS_INFO 202, GET_CONSUME_STATS 208,
// GET_CONSUMER_CONNECTION_LIST 203, GET_PRODUCER_CONNECTION_LIST 204,
// QUERY_TOPIC_CONSUME_BY_WHO 300, QUERY_TOPICS_BY_CONSUMER 343. Read-only: nothing here changes
// broker state. Bodies are Java's (TopicStatsTable, ConsumeStats, ConsumerConnection,
// ProducerConnection, GroupList, TopicList) so that Java's mqadmin and rocketmq-dashboard read
// them; remarks on errors are Java's too, since operators grep for them.
#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/processor_util.h"
#include "net/broker/queue_table_json.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

using nlohmann::json;
using namespace remoting::response;

void ReplyBody(const Reply& reply, std::string body) {
  RemotingCommand resp;
  resp.code = kSuccess;
  resp.body = std::move(body);
  reply(std::move(resp));
}

// A topic named in a header: user topics and the group-owned %RETRY%/%DLQ% ones.
absl::StatusOr<std::string> TopicField(const RemotingCommand& req, std::string_view key) {
  STELE_ASSIGN_OR_RETURN(std::string topic, req.RequireString(key));
  const bool internal = IsRetryTopic(topic) || IsDlqTopic(topic);
  STELE_RETURN_IF_ERROR(internal ? ValidateInternalTopic(topic) : ValidateTopic(topic));
  return topic;
}

absl::StatusOr<std::string> GroupField(const RemotingCommand& req, std::string_view key) {
  STELE_ASSIGN_OR_RETURN(std::string group, req.RequireString(key));
  STELE_RETURN_IF_ERROR(ValidateGroup(group));
  return group;
}

// Java's Connection: the client's heartbeat identity and the peer address of its channel (empty
// for gRPC clients, which have no remoting channel).
json ConnectionJson(BrokerController& b, const ClientChannel& c) {
  remoting::ChannelPtr ch = b.server().FindChannel(c.channel_id);
  return json{{"clientId", c.client_id},
              {"clientAddr", ch != nullptr ? ch->remote_address() : std::string()},
              {"language", c.meta.language},
              {"version", c.meta.version}};
}

json SubscriptionJson(const SubscriptionData& s) {
  return json{{"classFilterMode", s.class_filter_mode},
              {"codeSet", s.code_set},
              {"expressionType", s.expression_type},
              {"subString", s.sub_string},
              {"subVersion", s.sub_version},
              {"tagsSet", s.tags_set},
              {"topic", s.topic}};
}

void HandleTopicStats(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const std::string topic, TopicField(req, "topic"), reply);
  auto t = b.topics().Find(topic);
  if (t == nullptr) {
    reply(kTopicNotExist, fmt::format("topic[{}] not exist", topic));
    return;
  }
  Store& s = b.store();
  QueueTableWriter table;
  const int32_t queues = std::max(t->read_queue_nums, t->write_queue_nums);
  for (int32_t q = 0; q < queues; ++q) {
    const int64_t max = s.MaxQueueOffset(topic, q);
    int64_t last = 0;
    if (max > 0) {
      auto ts = s.QueueOffsetStoreTime(topic, q, max - 1);
      if (ts.ok()) last = *ts;
    }
    table.Add(topic, b.config().broker_name, q,
              json{{"lastUpdateTimestamp", last},
                   {"maxOffset", max},
                   {"minOffset", s.MinQueueOffset(topic, q)}});
  }
  ReplyBody(reply, fmt::format("{{\"offsetTable\":{}}}", table.Object()));
}

// Per queue of each topic: the queue's end (brokerOffset), the group's committed offset, and the
// store time of the last message it consumed. A topic the group has offsets for but no longer
// subscribes to (while it subscribes to others) is left out, as in Java. Stele does not count
// per-group pulls, so pullOffset is the committed offset and consumeTps is 0.
void HandleConsumeStats(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const std::string group, GroupField(req, "consumerGroup"), reply);
  std::vector<std::string> topics;
  const std::string* only = req.Field("topic");
  if (only != nullptr && !only->empty()) {
    STELE_FIELD_OR_REPLY(std::string t, TopicField(req, "topic"), reply);
    topics.push_back(std::move(t));
  } else {
    for (auto& [t, offsets] : b.offsets().QueryAll(group)) topics.push_back(t);
  }
  const auto online = b.consumers().FindGroup(group);
  Store& s = b.store();
  QueueTableWriter table;
  for (const std::string& topic : topics) {
    auto t = b.topics().Find(topic);
    if (t == nullptr) continue;
    if (online && !online->subscriptions.empty() && !online->subscriptions.contains(topic)) {
      continue;
    }
    for (int32_t q = 0; q < t->read_queue_nums; ++q) {
      const int64_t consumer = b.offsets().Query(group, topic, q).value_or(0);
      int64_t last = 0;
      if (consumer > 0) {
        auto ts = s.QueueOffsetStoreTime(topic, q, consumer - 1);
        if (ts.ok()) last = *ts;
      }
      table.Add(topic, b.config().broker_name, q,
                json{{"brokerOffset", s.MaxQueueOffset(topic, q)},
                     {"consumerOffset", consumer},
                     {"lastTimestamp", last},
                     {"pullOffset", consumer}});
    }
  }
  ReplyBody(reply, fmt::format("{{\"consumeTps\":0.0,\"offsetTable\":{}}}", table.Object()));
}

void HandleConsumerConnections(BrokerController& b, const ChannelPtr&, RemotingCommand req,
                               Reply reply) {
  STELE_FIELD_OR_REPLY(const std::string group, GroupField(req, "consumerGroup"), reply);
  const auto g = b.consumers().FindGroup(group);
  if (!g || g->clients.empty()) {
    reply(kConsumerNotOnline, fmt::format("the consumer group[{}] not online", group));
    return;
  }
  json connections = json::array();
  for (const ClientChannel& c : g->clients) connections.push_back(ConnectionJson(b, c));
  json subs = json::object();
  for (const auto& [topic, sub] : g->subscriptions) subs[topic] = SubscriptionJson(sub);
  ReplyBody(reply, QueueTableWriter::Dump(json{{"connectionSet", connections},
                                               {"consumeFromWhere", g->consume_from_where},
                                               {"consumeType", ConsumeTypeName(g->consume_type)},
                                               {"messageModel", MessageModelName(g->message_model)},
                                               {"subscriptionTable", subs}}));
}

void HandleProducerConnections(BrokerController& b, const ChannelPtr&, RemotingCommand req,
                               Reply reply) {
  STELE_FIELD_OR_REPLY(const std::string group, GroupField(req, "producerGroup"), reply);
  const std::vector<ClientChannel> clients = b.producers().Clients(group);
  if (clients.empty()) {
    reply(kSystemError, fmt::format("the producer group[{}] not exist", group));
    return;
  }
  json connections = json::array();
  for (const ClientChannel& c : clients) connections.push_back(ConnectionJson(b, c));
  ReplyBody(reply, QueueTableWriter::Dump(json{{"connectionSet", connections}}));
}

// Groups online for the topic plus groups with offsets on it (offline ones included), sorted.
void HandleConsumeByWho(BrokerController& b, const ChannelPtr&, RemotingCommand req, Reply reply) {
  STELE_FIELD_OR_REPLY(const std::string topic, TopicField(req, "topic"), reply);
  std::set<std::string> groups;
  for (std::string& g : b.consumers().GroupsOfTopic(topic)) groups.insert(std::move(g));
  for (std::string& g : b.offsets().GroupsOfTopic(topic)) groups.insert(std::move(g));
  ReplyBody(reply, QueueTableWriter::Dump(json{{"groupList", groups}}));
}

void HandleTopicsByConsumer(BrokerController& b, const ChannelPtr&, RemotingCommand req,
                            Reply reply) {
  STELE_FIELD_OR_REPLY(const std::string group, GroupField(req, "group"), reply);
  json topics = json::array();
  for (auto& [t, offsets] : b.offsets().QueryAll(group)) topics.push_back(t);
  ReplyBody(reply,
            QueueTableWriter::Dump(json{{"brokerAddr", b.broker_addr()}, {"topicList", topics}}));
}

}  // namespace

void RegisterStatsProcessor(BrokerController& b) {
  using namespace remoting::request;
  auto& s = b.server();
  s.Register(kGetTopicStatsInfo, Bind(b, HandleTopicStats));
  s.Register(kGetConsumeStats, Bind(b, HandleConsumeStats));
  s.Register(kGetConsumerConnectionList, Bind(b, HandleConsumerConnections));
  s.Register(kGetProducerConnectionList, Bind(b, HandleProducerConnections));
  s.Register(kQueryTopicConsumeByWho, Bind(b, HandleConsumeByWho));
  s.Register(kQueryTopicsByConsumer, Bind(b, HandleTopicsByConsumer));
}

}  // namespace stele::broker
