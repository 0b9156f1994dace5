// GrpcEndpoint's lifecycle and the session RPCs: QueryRoute, Heartbeat, Telemetry,
// NotifyClientTermination.
#include "net/grpc/grpc_endpoint.h"

#include <grpcpp/grpcpp.h>

#include <deque>
#include <mutex>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/clock.h"
#include "common/logging.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/state/names.h"
#include "net/broker/transaction_service.h"
#include "net/grpc/grpc_service.h"

namespace stele::rpc {

GrpcEndpoint::GrpcEndpoint(broker::BrokerController& broker, GrpcOptions options)
    : broker_(broker), options_(std::move(options)) {}

GrpcEndpoint::~GrpcEndpoint() { Stop(); }

absl::Status GrpcEndpoint::Start(int port) {
  if (server_ != nullptr) return absl::FailedPreconditionError("gRPC endpoint already started");
  if (port < 0 || port > 65535) return absl::InvalidArgumentError("gRPC port out of range");
  service_ = std::make_unique<MessagingServiceImpl>(broker_, options_);
  grpc::ServerBuilder builder;
  int bound = 0;
  const std::string addr = options_.bind_address.find(':') != std::string::npos
                               ? fmt::format("[{}]:{}", options_.bind_address, port)
                               : fmt::format("{}:{}", options_.bind_address, port);
  builder.AddListeningPort(addr, grpc::InsecureServerCredentials(), &bound);
  builder.RegisterService(service_.get());
  // Messages up to the store's limit plus room for properties and batching.
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<uint64_t>(INT32_MAX, 4ull * broker_.config().store.max_message_size + (1 << 20))));
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || bound == 0) {
    server_.reset();
    service_.reset();
    return absl::UnavailableError(fmt::format("gRPC endpoint cannot listen on {}", addr));
  }
  port_ = bound;
  service_->set_port(bound);
  broker_.transactions().SetCheckHook(
      [svc = service_.get()](const MessageView& copy) { return svc->RecoverOrphan(copy); });
  log::Info("gRPC endpoint (apache.rocketmq.v2.MessagingService) listening on {}:{}",
            options_.bind_address, bound);
  return absl::OkStatus();
}

void GrpcEndpoint::Stop(int grace_ms) {
  if (server_ == nullptr) return;
  broker_.transactions().SetCheckHook(nullptr);
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(grace_ms));
  server_->Wait();
  server_.reset();
  service_.reset();
}

absl::StatusOr<std::string> MessagingServiceImpl::ClientId(const grpc::CallbackServerContext& ctx) {
  const auto& md = ctx.client_metadata();
  auto it = md.find("x-mq-client-id");
  if (it == md.end() || it->second.empty()) {
    return Error(v2::CLIENT_ID_REQUIRED, "the x-mq-client-id metadata header is required");
  }
  if (it->second.size() > 512) return Error(v2::BAD_REQUEST, "x-mq-client-id is too long");
  return std::string(it->second.data(), it->second.size());
}

std::string MessagingServiceImpl::PeerAddress(const grpc::CallbackServerContext& ctx) {
  std::string p = ctx.peer();
  for (std::string_view prefix : {"ipv4:", "ipv6:"}) {
    if (p.starts_with(prefix)) return p.substr(prefix.size());
  }
  return p;
}

absl::Status MessagingServiceImpl::RememberSettings(const std::string& client_id,
                                                    const v2::Settings& s) {
  std::lock_guard<std::mutex> l(mu_);
  if (clients_.size() >= options_.max_clients && !clients_.contains(client_id)) {
    return Error(v2::TOO_MANY_REQUESTS,
                 fmt::format("more than {} clients are connected", options_.max_clients));
  }
  clients_[client_id] = s;
  return absl::OkStatus();
}

std::optional<v2::Settings> MessagingServiceImpl::FindSettings(const std::string& client_id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = clients_.find(client_id);
  if (it == clients_.end()) return std::nullopt;
  return it->second;
}

void MessagingServiceImpl::ForgetClient(const std::string& client_id) {
  std::set<std::string> groups;
  {
    std::lock_guard<std::mutex> l(mu_);
    clients_.erase(client_id);
    if (auto it = members_.find(client_id); it != members_.end()) {
      groups = std::move(it->second.groups);
      members_.erase(it);
    }
  }
  for (const std::string& g : groups) {
    if (b_.consumers().Unregister(g, client_id)) b_.NotifyConsumerIdsChanged(g);
  }
}

namespace {

// A gRPC subscription as the ConsumerManager records a heartbeat's.
broker::SubscriptionData ToSubscriptionData(const v2::SubscriptionEntry& e, int64_t version) {
  broker::SubscriptionData d;
  d.topic = FullName(e.topic());
  d.sub_version = version;
  d.expression_type = e.expression().type() == v2::SQL ? "SQL92" : "TAG";
  d.sub_string = e.expression().expression().empty() ? "*" : e.expression().expression();
  if (d.expression_type == "TAG" && d.sub_string != "*") {
    for (absl::string_view t : absl::StrSplit(d.sub_string, "||")) {
      t = absl::StripAsciiWhitespace(t);
      if (!t.empty()) d.tags_set.emplace_back(t);
    }
  }
  return d;
}

}  // namespace

void MessagingServiceImpl::RegisterConsumer(const std::string& client_id,
                                            const std::string& group) {
  const int64_t now = NowMs();
  broker::ConsumerData d;
  d.group_name = group;
  d.consume_type = broker::ConsumeType::kPop;
  d.consume_from_where = "CONSUME_FROM_LAST_OFFSET";
  uint64_t channel = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto c = clients_.find(client_id);
    if (c != clients_.end() && c->second.has_subscription()) {
      for (const v2::SubscriptionEntry& e : c->second.subscription().subscriptions()) {
        if (d.subscriptions.size() >= broker::kMaxSubscriptionsPerGroup) break;
        d.subscriptions.push_back(ToSubscriptionData(e, now));
      }
    } else if (auto g = b_.consumers().FindGroup(group)) {
      // No settings (yet): keep what the group subscribes to.
      for (const auto& [topic, sub] : g->subscriptions) d.subscriptions.push_back(sub);
    }
    // Bounded like the settings table: a client id past it is not listed (it still consumes).
    if (members_.size() >= options_.max_clients && !members_.contains(client_id)) return;
    Member& m = members_[client_id];
    if (m.channel_id == 0) m.channel_id = (uint64_t{1} << 63) | ++next_channel_;
    m.groups.insert(group);
    channel = m.channel_id;
  }
  auto r = b_.consumers().Register(d, client_id, channel, now);
  if (!r.ok()) {
    log::Warn("gRPC consumer {} of {} not registered: {}", client_id, group,
              broker::StatusMessage(r.status()));
    return;
  }
  if (r->membership_changed) b_.NotifyConsumerIdsChanged(group);
}

v2::Settings MessagingServiceImpl::ServerSettings(const v2::Settings& client) const {
  v2::Settings s = client;  // RocketMQ echoes the client's settings, completed with its own
  v2::RetryPolicy* rp = s.mutable_backoff_policy();
  if (client.client_type() == v2::PRODUCER) {
    rp->set_max_attempts(3);
    v2::ExponentialBackoff* e = rp->mutable_exponential_backoff();
    SetMillis(e->mutable_initial(), 10);
    SetMillis(e->mutable_max(), 1000);
    e->set_multiplier(2);
    s.mutable_publishing()->set_max_body_size(
        static_cast<int32_t>(b_.config().store.max_message_size));
    s.mutable_publishing()->set_validate_message_type(true);
  } else {
    int retries = 16;
    bool orderly = false;  // the group's consumeMessageOrderly makes the subscription FIFO
    if (client.has_subscription() && client.subscription().has_group()) {
      if (auto g = b_.groups().Find(FullName(client.subscription().group()))) {
        retries = g->retry_max_times;
        orderly = g->consume_message_orderly;
      }
    }
    rp->set_max_attempts(retries + 1);
    v2::ExponentialBackoff* e = rp->mutable_exponential_backoff();
    SetMillis(e->mutable_initial(), 1000);
    SetMillis(e->mutable_max(), 7200 * 1000);
    e->set_multiplier(2);
    v2::Subscription* sub = s.mutable_subscription();
    sub->set_fifo(orderly || sub->fifo());
    sub->set_receive_batch_size(32);
    SetMillis(sub->mutable_long_polling_timeout(), 20000);
  }
  return s;
}

void MessagingServiceImpl::FillBroker(const v2::Endpoints* dialled, v2::Broker* out) const {
  out->set_name(b_.config().broker_name);
  out->set_id(0);
  if (dialled != nullptr && dialled->addresses_size() > 0) {
    *out->mutable_endpoints() = *dialled;
    return;
  }
  v2::Endpoints* e = out->mutable_endpoints();
  e->set_scheme(v2::IPv4);
  v2::Address* a = e->add_addresses();
  a->set_host(b_.config().broker_ip1);
  a->set_port(port_);
}

namespace {

bool IsConsumer(v2::ClientType t) {
  return t == v2::PUSH_CONSUMER || t == v2::SIMPLE_CONSUMER || t == v2::PULL_CONSUMER ||
         t == v2::LITE_PUSH_CONSUMER || t == v2::LITE_SIMPLE_CONSUMER;
}

// The message types a topic accepts: its "message.type" attribute (RocketMQ's TopicMessageType),
// all of them when it has none (Stele topics are MIXED unless configured).
std::vector<v2::MessageType> AcceptedTypes(const broker::TopicConfig& t) {
  auto it = t.attributes.find("message.type");
  if (it == t.attributes.end()) it = t.attributes.find("+message.type");
  if (it != t.attributes.end()) {
    if (it->second == "NORMAL") return {v2::NORMAL};
    if (it->second == "FIFO") return {v2::FIFO};
    if (it->second == "DELAY") return {v2::DELAY};
    if (it->second == "TRANSACTION") return {v2::TRANSACTION};
  }
  return {v2::NORMAL, v2::FIFO, v2::DELAY, v2::TRANSACTION};
}

v2::Permission ToPermission(int perm) {
  const bool r = broker::IsReadable(perm), w = broker::IsWriteable(perm);
  return r && w ? v2::READ_WRITE : r ? v2::READ : w ? v2::WRITE : v2::NONE;
}

}  // namespace

grpc::ServerUnaryReactor* MessagingServiceImpl::QueryRoute(grpc::CallbackServerContext* ctx,
                                                           const v2::QueryRouteRequest* req,
                                                           v2::QueryRouteResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  auto run = [&]() -> absl::Status {
    STELE_RETURN_IF_ERROR(ClientId(*ctx).status());
    STELE_ASSIGN_OR_RETURN(const std::string topic, TopicName(req->topic()));
    auto cfg = b_.topics().Get(topic);
    if (!cfg) {
      return Error(v2::TOPIC_NOT_FOUND,
                   fmt::format("topic '{}' does not exist", broker::ShortForMessage(topic)));
    }
    // RocketMQ's queue layout per broker: read-only ids first, then write-only, then read-write.
    const int perm = cfg->perm & b_.broker_permission();
    const int rw = std::min(cfg->read_queue_nums, cfg->write_queue_nums);
    const std::vector<v2::MessageType> types = AcceptedTypes(*cfg);
    auto add = [&](int id, int p) {
      v2::MessageQueue* q = resp->add_message_queues();
      *q->mutable_topic() = req->topic();
      q->set_id(id);
      q->set_permission(ToPermission(p));
      FillBroker(req->has_endpoints() ? &req->endpoints() : nullptr, q->mutable_broker());
      for (v2::MessageType t : types) q->add_accept_message_types(t);
    };
    int id = 0;
    for (int i = 0; i < cfg->read_queue_nums - rw; ++i) add(id++, perm & broker::kPermRead);
    for (int i = 0; i < cfg->write_queue_nums - rw; ++i) add(id++, perm & broker::kPermWrite);
    for (int i = 0; i < rw; ++i) add(id++, perm);
    return absl::OkStatus();
  };
  absl::Status s = run();
  if (!s.ok()) resp->clear_message_queues();
  *resp->mutable_status() = ToProto(s);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* MessagingServiceImpl::Heartbeat(grpc::CallbackServerContext* ctx,
                                                          const v2::HeartbeatRequest* req,
                                                          v2::HeartbeatResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  auto run = [&]() -> absl::Status {
    STELE_ASSIGN_OR_RETURN(const std::string id, ClientId(*ctx));
    if (req->has_group()) STELE_RETURN_IF_ERROR(GroupName(req->group()).status());
    auto settings = FindSettings(id);
    if (req->client_type() == v2::CLIENT_TYPE_UNSPECIFIED && !settings) {
      return Error(v2::UNRECOGNIZED_CLIENT_TYPE,
                   "no client_type given and no settings received from this client");
    }
    // Consumers stay in the broker's consumer table while they heartbeat.
    const v2::ClientType type = req->client_type() != v2::CLIENT_TYPE_UNSPECIFIED
                                    ? req->client_type()
                                    : settings->client_type();
    if (req->has_group() && IsConsumer(type)) RegisterConsumer(id, FullName(req->group()));
    return absl::OkStatus();
  };
  *resp->mutable_status() = ToProto(run());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* MessagingServiceImpl::NotifyClientTermination(
    grpc::CallbackServerContext* ctx, const v2::NotifyClientTerminationRequest* /*req*/,
    v2::NotifyClientTerminationResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  auto id = ClientId(*ctx);
  if (id.ok()) ForgetClient(*id);
  *resp->mutable_status() = ToProto(id.status());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

// The Telemetry stream: reads commands (answering client Settings with server Settings) while
// writing what is queued (replies, server commands from other threads). It stays open until the
// client ends it or the server shuts down. Registered with the service while open, so Push from
// another thread happens under the service's mutex, which OnDone takes before deleting.
class TelemetryStream final
    : public grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand> {
 public:
  TelemetryStream(MessagingServiceImpl& svc, grpc::CallbackServerContext* ctx) : svc_(svc) {
    auto id = MessagingServiceImpl::ClientId(*ctx);
    if (!id.ok()) {
      // Tell the client why, then end the stream.
      *current_.mutable_status() = ToProto(id.status());
      StartWriteAndFinish(&current_, grpc::WriteOptions(), grpc::Status::OK);
      return;
    }
    client_id_ = *id;
    svc_.AddStream(client_id_, this);
    registered_ = true;
    StartRead(&in_);
  }

  // Queues `cmd` for writing; false once the stream is ending.
  bool Push(v2::TelemetryCommand cmd) {
    std::lock_guard<std::mutex> l(mu_);
    if (finished_ || write_failed_ || queue_.size() >= kMaxQueued) return false;
    queue_.push_back(std::move(cmd));
    if (!writing_) WriteNextLocked();
    return true;
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      bool finish;
      {
        std::lock_guard<std::mutex> l(mu_);
        read_done_ = true;
        finish = ShouldFinishLocked();
      }
      if (finish) Finish(grpc::Status::OK);
      return;
    }
    if (in_.has_settings()) {  // other commands answer server commands: nothing to do
      v2::TelemetryCommand out;
      const v2::Settings& settings = in_.settings();
      absl::Status s = svc_.RememberSettings(client_id_, settings);
      *out.mutable_status() = ToProto(s);
      if (s.ok()) {
        *out.mutable_settings() = svc_.ServerSettings(settings);
        if (IsConsumer(settings.client_type()) && settings.has_subscription() &&
            settings.subscription().has_group() &&
            GroupName(settings.subscription().group()).ok()) {
          svc_.RegisterConsumer(client_id_, FullName(settings.subscription().group()));
        }
      }
      Push(std::move(out));
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    bool finish;
    {
      std::lock_guard<std::mutex> l(mu_);
      writing_ = false;
      if (!ok) {
        write_failed_ = true;
        queue_.clear();
      } else if (!queue_.empty()) {
        WriteNextLocked();
        return;
      }
      finish = ShouldFinishLocked();
    }
    if (finish) Finish(grpc::Status::OK);  // outside mu_: OnDone may follow at once
  }

  void OnDone() override {
    if (registered_) svc_.RemoveStream(client_id_, this);
    delete this;
  }

 private:
  static constexpr size_t kMaxQueued = 1024;

  void WriteNextLocked() {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }
  // True (once) when the client stopped sending and nothing is being written: time to Finish.
  bool ShouldFinishLocked() {
    if (!read_done_ || writing_ || finished_) return false;
    finished_ = true;
    return true;
  }

  MessagingServiceImpl& svc_;
  std::string client_id_;
  bool registered_ = false;
  v2::TelemetryCommand in_;  // read side only
  std::mutex mu_;
  std::deque<v2::TelemetryCommand> queue_;  // guarded by mu_
  v2::TelemetryCommand current_;            // being written
  bool writing_ = false;                    // guarded by mu_
  bool read_done_ = false;                  // guarded by mu_
  bool write_failed_ = false;               // guarded by mu_
  bool finished_ = false;                   // guarded by mu_
};

void MessagingServiceImpl::AddStream(const std::string& client_id, TelemetryStream* s) {
  std::lock_guard<std::mutex> l(mu_);
  streams_[client_id] = s;
}

void MessagingServiceImpl::RemoveStream(const std::string& client_id, TelemetryStream* s) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = streams_.find(client_id);
    if (it == streams_.end() || it->second != s) return;
    streams_.erase(it);
  }
  // Its settings and consumer registrations go with its last stream (a live client reopens one
  // and resends them), so clients that vanish without NotifyClientTermination do not fill the
  // tables.
  ForgetClient(client_id);
}

bool MessagingServiceImpl::RecoverOrphan(const MessageView& copy) {
  const std::string real_topic(copy.Property(broker::kPropRealTopic).value_or(""));
  v2::TelemetryCommand cmd;
  auto* rc = cmd.mutable_recover_orphaned_transaction_command();
  v2::Resource topic;
  // A namespaced topic is stored as "namespace%name".
  if (const size_t pct = real_topic.find('%'); pct != std::string::npos) {
    topic.set_resource_namespace(real_topic.substr(0, pct));
    topic.set_name(real_topic.substr(pct + 1));
  } else {
    topic.set_name(real_topic);
  }
  ToProtoMessage(copy, topic, rc->mutable_message());
  rc->mutable_message()->mutable_system_properties()->set_message_type(v2::TRANSACTION);
  rc->set_transaction_id(fmt::format("{}.{}", copy.physical_offset, copy.queue_offset));
  std::lock_guard<std::mutex> l(mu_);
  // A producer that publishes the topic, else any producer.
  TelemetryStream* any = nullptr;
  for (const auto& [id, stream] : streams_) {
    auto c = clients_.find(id);
    if (c == clients_.end() || c->second.client_type() != v2::PRODUCER) continue;
    for (const v2::Resource& t : c->second.publishing().topics()) {
      if (FullName(t) == real_topic && stream->Push(cmd)) return true;
    }
    if (any == nullptr) any = stream;
  }
  return any != nullptr && any->Push(std::move(cmd));
}

grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand>*
MessagingServiceImpl::Telemetry(grpc::CallbackServerContext* ctx) {
  return new TelemetryStream(*this, ctx);
}

}  // namespace stele::rpc
