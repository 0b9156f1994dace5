#include "client/client_instance.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>

#include "client/queue_table.h"
#include "client/wire.h"
#include "common/logging.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/remoting/codes.h"
#include "nlohmann/json.hpp"

namespace stele::client {

using remoting::RemotingCommand;
namespace code = remoting::request;
namespace rc = remoting::response;
using nlohmann::json;

namespace {

std::atomic<int> g_instance_counter{0};

json ToJson(const broker::SubscriptionData& s) {
  return json{{"topic", s.topic},
              {"subString", s.sub_string},
              {"classFilterMode", false},
              {"tagsSet", s.tags_set},
              {"codeSet", s.code_set},
              {"subVersion", s.sub_version},
              {"expressionType", s.expression_type}};
}

}  // namespace

std::string EncodeHeartbeat(const broker::HeartbeatData& hb) {
  json producers = json::array();
  for (const auto& p : hb.producers) producers.push_back({{"groupName", p.group_name}});
  json consumers = json::array();
  for (const auto& c : hb.consumers) {
    json subs = json::array();
    for (const auto& s : c.subscriptions) subs.push_back(ToJson(s));
    consumers.push_back({{"groupName", c.group_name},
                         {"consumeType", broker::ConsumeTypeName(c.consume_type)},
                         {"messageModel", broker::MessageModelName(c.message_model)},
                         {"consumeFromWhere", c.consume_from_where},
                         {"unitMode", false},
                         {"subscriptionDataSet", std::move(subs)}});
  }
  return json{{"clientID", hb.client_id},
              {"producerDataSet", std::move(producers)},
              {"consumerDataSet", std::move(consumers)}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<RemotingCommand> ExpectSuccess(absl::StatusOr<RemotingCommand> resp,
                                              std::string_view context) {
  if (!resp.ok()) {
    return absl::Status(resp.status().code(),
                        fmt::format("{}: {}", context, std::string(resp.status().message())));
  }
  if (resp->code != rc::kSuccess) {
    return ResponseError(resp->code, resp->remark.value_or(""), context);
  }
  return resp;
}

absl::StatusOr<std::shared_ptr<ClientInstance>> ClientInstance::Create(ClientConfig config) {
  std::vector<std::string> ns;
  std::string_view rest = config.namesrv_addr;
  while (!rest.empty()) {
    const size_t semi = rest.find(';');
    std::string_view a = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    while (!a.empty() && std::isspace(static_cast<unsigned char>(a.front()))) a.remove_prefix(1);
    while (!a.empty() && std::isspace(static_cast<unsigned char>(a.back()))) a.remove_suffix(1);
    if (a.empty()) continue;
    if (a.find(':') == std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("name server address '{}' is not host:port", a));
    }
    ns.emplace_back(a);
  }
  if (ns.empty()) {
    return absl::InvalidArgumentError("no name server address (namesrv_addr is empty)");
  }
  std::shared_ptr<ClientInstance> c(new ClientInstance(std::move(config)));
  c->namesrvs_ = std::move(ns);
  return c;
}

ClientInstance::ClientInstance(ClientConfig config)
    : config_(std::move(config)),
      backoff_(config_.reconnect_backoff_initial, config_.reconnect_backoff_max) {
  const int n = g_instance_counter.fetch_add(1);
  std::string instance =
      config_.instance_name.empty() ? fmt::format("{}#{}", getpid(), n) : config_.instance_name;
  client_id_ = fmt::format("{}@{}", LocalIp(), instance);
  remoting_ = std::make_unique<remoting::RemotingClient>(remoting::ClientOptions{
      .io_threads = 1, .connect_timeout = config_.timeout, .name = "client"});
  callbacks_ = std::make_unique<Executor>(config_.callback_threads, "stele-cb");
  scheduler_ = std::make_unique<Scheduler>();

  // Requests brokers send to clients. Handlers run on the io thread: hand off at once.
  remoting_->Register(code::kNotifyConsumerIdsChanged,
                      [this](const remoting::ChannelPtr&, RemotingCommand req, remoting::Reply) {
                        const std::string* g = req.Field("consumerGroup");
                        if (g == nullptr) return;
                        callbacks_->Submit([this, group = *g] {
                          std::lock_guard l(*member_calls_);
                          for (ClientMember* m : Members()) m->OnConsumerIdsChanged(group);
                        });
                      });
  remoting_->Register(
      code::kResetConsumerClientOffset,
      [this](const remoting::ChannelPtr& ch, RemotingCommand req, remoting::Reply) {
        const std::string* g = req.Field("group");
        const std::string* t = req.Field("topic");
        if (g == nullptr || t == nullptr) return;
        auto table = ParseQueueTable(req.body, "RESET_CONSUMER_CLIENT_OFFSET");
        if (!table.ok()) {
          log::Warn("offset reset from {} ignored: {}", ch->remote_address(),
                    table.status().ToString());
          return;
        }
        std::map<MessageQueue, int64_t> offsets;
        for (const auto& [q, v] : *table) {
          if (q.topic == *t && v.is_number_integer()) offsets[q] = v.get<int64_t>();
        }
        callbacks_->Submit([this, group = *g, topic = *t, offsets = std::move(offsets)] {
          std::lock_guard l(*member_calls_);
          for (ClientMember* m : Members()) m->OnResetOffset(group, topic, offsets);
        });
      });
  remoting_->Register(code::kCheckTransactionState,
                      [this](const remoting::ChannelPtr& ch, RemotingCommand req, remoting::Reply) {
                        callbacks_->Submit([this, ch, req = std::move(req)] {
                          std::lock_guard l(*member_calls_);
                          for (ClientMember* m : Members()) m->OnCheckTransaction(ch, req);
                        });
                      });
  remoting_->Register(code::kGetConsumerRunningInfo,
                      [](const remoting::ChannelPtr&, RemotingCommand, remoting::Reply reply) {
                        reply(rc::kSystemError,
                              "consumer running info is not supported by "
                              "the Stele C++ client");
                      });
  remoting_->Register(code::kConsumeMessageDirectly,
                      [](const remoting::ChannelPtr&, RemotingCommand, remoting::Reply reply) {
                        reply(rc::kRequestCodeNotSupported,
                              "CONSUME_MESSAGE_DIRECTLY is not supported by the Stele C++ client");
                      });
}

ClientInstance::~ClientInstance() { Shutdown(); }

void ClientInstance::Start() {
  {
    std::lock_guard l(mu_);
    if (started_ || shut_down_) return;
    started_ = true;
  }
  scheduler_->RunEvery(config_.poll_name_server_interval, config_.poll_name_server_interval,
                       [this] { callbacks_->Submit([this] { RefreshRoutes(); }); });
  scheduler_->RunEvery(config_.heartbeat_interval, config_.heartbeat_interval,
                       [this] { callbacks_->Submit([this] { SendHeartbeatToAllBrokers(); }); });
}

void ClientInstance::Shutdown() {
  {
    std::lock_guard l(mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  scheduler_->Shutdown();
  callbacks_->Shutdown();
  remoting_->Shutdown();
}

void ClientInstance::AddMember(ClientMember* m) {
  std::lock_guard l(mu_);
  members_.push_back(m);
}

void ClientInstance::RemoveMember(ClientMember* m) {
  {
    std::lock_guard l(mu_);
    members_.erase(std::remove(members_.begin(), members_.end(), m), members_.end());
  }
  // Wait out a callback that is using it.
  std::lock_guard wait(*member_calls_);
}

std::vector<ClientMember*> ClientInstance::Members() const {
  std::lock_guard l(mu_);
  return members_;
}

absl::StatusOr<RemotingCommand> ClientInstance::CallNamesrv(RemotingCommand req) {
  size_t start;
  {
    std::lock_guard l(mu_);
    start = namesrv_index_;
  }
  absl::Status last;
  for (size_t i = 0; i < namesrvs_.size(); ++i) {
    const size_t idx = (start + i) % namesrvs_.size();
    absl::StatusOr<RemotingCommand> r = absl::UnknownError("");
    if (absl::Status s = Connect(namesrvs_[idx]); s.ok()) {
      r = remoting_->InvokeSync(namesrvs_[idx], req, config_.timeout);
    } else {
      r = std::move(s);
    }
    if (r.ok()) {
      std::lock_guard l(mu_);
      namesrv_index_ = idx;  // stick with the one that answers
      return r;
    }
    last = absl::Status(r.status().code(), fmt::format("name server {}: {}", namesrvs_[idx],
                                                       std::string(r.status().message())));
  }
  return last;
}

absl::StatusOr<TopicRoute> ClientInstance::FetchRoute(const std::string& topic) {
  RemotingCommand req = RemotingCommand::Request(code::kGetRouteinfoByTopic);
  req.Set("topic", topic);
  STELE_ASSIGN_OR_RETURN(
      RemotingCommand resp,
      ExpectSuccess(CallNamesrv(std::move(req)), fmt::format("route of topic {}", topic)));
  STELE_ASSIGN_OR_RETURN(TopicRoute route, ParseTopicRoute(resp.body));
  std::lock_guard l(mu_);
  routes_[topic] = route;
  return route;
}

absl::StatusOr<TopicRoute> ClientInstance::Route(const std::string& topic) {
  if (auto r = CachedRoute(topic)) return *std::move(r);
  return FetchRoute(topic);
}

std::optional<TopicRoute> ClientInstance::CachedRoute(const std::string& topic) const {
  std::lock_guard l(mu_);
  auto it = routes_.find(topic);
  if (it == routes_.end()) return std::nullopt;
  return it->second;
}

std::string ClientInstance::BrokerAddr(const std::string& broker_name) const {
  std::lock_guard l(mu_);
  for (const auto& [topic, r] : routes_) {
    std::string a = r.MasterAddr(broker_name);
    if (!a.empty()) return a;
  }
  return {};
}

std::vector<std::string> ClientInstance::BrokerAddrs() const {
  std::vector<std::string> out;
  std::lock_guard l(mu_);
  for (const auto& [topic, r] : routes_) {
    for (const BrokerData& b : r.brokers) {
      auto it = b.addrs.find(0);
      if (it != b.addrs.end() && std::find(out.begin(), out.end(), it->second) == out.end()) {
        out.push_back(it->second);
      }
    }
  }
  return out;
}

absl::Status ClientInstance::Connect(const std::string& addr) {
  STELE_RETURN_IF_ERROR(backoff_.Admit(addr, ReconnectBackoff::Clock::now()));
  absl::StatusOr<remoting::ChannelPtr> ch = remoting_->GetChannel(addr);
  if (!ch.ok()) {
    backoff_.Failed(addr, ReconnectBackoff::Clock::now());
    log::Debug("client {}: {} (next try in {} ms)", client_id_, ch.status().ToString(),
               backoff_.Delay(addr).count());
    return ch.status();
  }
  backoff_.Succeeded(addr);
  return absl::OkStatus();
}

absl::StatusOr<RemotingCommand> ClientInstance::Call(const std::string& addr, RemotingCommand req,
                                                     std::chrono::milliseconds timeout) {
  STELE_RETURN_IF_ERROR(Connect(addr));
  return remoting_->InvokeSync(addr, std::move(req),
                               timeout.count() > 0 ? timeout : config_.timeout);
}

void ClientInstance::CallAsync(const std::string& addr, RemotingCommand req,
                               std::chrono::milliseconds timeout, remoting::ResponseCallback done) {
  Executor* ex = callbacks_.get();
  if (absl::Status s = Connect(addr); !s.ok()) {
    ex->Submit([done = std::move(done), s = std::move(s)]() mutable { done(std::move(s)); });
    return;
  }
  remoting_->Invoke(
      addr, std::move(req), timeout.count() > 0 ? timeout : config_.timeout,
      [ex, done = std::move(done)](absl::StatusOr<RemotingCommand> r) mutable {
        ex->Submit([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
      });
}

absl::Status ClientInstance::Oneway(const std::string& addr, RemotingCommand req) {
  STELE_RETURN_IF_ERROR(Connect(addr));
  remoting_->InvokeOneway(addr, std::move(req));
  return absl::OkStatus();
}

void ClientInstance::RefreshRoutes() {
  std::vector<std::string> topics;
  for (ClientMember* m : Members()) {
    for (std::string& t : m->RouteTopics()) topics.push_back(std::move(t));
  }
  std::sort(topics.begin(), topics.end());
  topics.erase(std::unique(topics.begin(), topics.end()), topics.end());
  for (const std::string& t : topics) {
    auto r = FetchRoute(t);
    if (!r.ok()) {
      if (!absl::IsNotFound(r.status())) {
        log::Warn("route refresh of {} failed: {}", t, r.status().ToString());
      }
      continue;
    }
    std::lock_guard l(*member_calls_);
    for (ClientMember* m : Members()) m->OnRouteUpdated(t, *r);
  }
}

void ClientInstance::SendHeartbeatToAllBrokers() {
  broker::HeartbeatData hb;
  hb.client_id = client_id_;
  for (ClientMember* m : Members()) m->FillHeartbeat(&hb);
  if (hb.producers.empty() && hb.consumers.empty()) return;
  const std::string body = EncodeHeartbeat(hb);
  for (const std::string& addr : BrokerAddrs()) {
    RemotingCommand req = RemotingCommand::Request(code::kHeartBeat);
    req.body = body;
    CallAsync(addr, std::move(req), config_.timeout, [addr](absl::StatusOr<RemotingCommand> r) {
      if (!r.ok() || r->code != rc::kSuccess) {
        log::Warn("heartbeat to {} failed: {}", addr,
                  r.ok() ? r->remark.value_or("") : r.status().ToString());
      }
    });
  }
}

}  // namespace stele::client
