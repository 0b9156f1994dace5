#include "net/broker/broker_controller.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/crc32.h"
#include "common/logging.h"
#include "common/status.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "net/broker/delay_service.h"
#include "net/broker/message_writer.h"
#include "net/broker/pop_service.h"
#include "net/broker/pop_state.h"
#include "net/broker/pull_hold.h"
#include "net/broker/state/names.h"
#include "net/broker/timer_service.h"
#include "net/broker/transaction_service.h"
#include "net/remoting/codes.h"

namespace stele::broker {

using remoting::RemotingCommand;

namespace {
constexpr std::chrono::milliseconds kNamesrvTimeout{3000};
constexpr int64_t kClientExpiryMs = 120000;
}  // namespace

BrokerController::BrokerController(BrokerConfig config)
    : config_(std::move(config)),
      rt_broker_permission_(config_.broker_permission),
      rt_reject_transaction_message_(config_.reject_transaction_message),
      rt_long_polling_enable_(config_.long_polling_enable),
      rt_short_polling_time_mills_(config_.short_polling_time_mills),
      rt_max_inflight_sends_(config_.max_inflight_sends) {}

absl::Status BrokerController::UpdateRuntimeConfig(
    const std::vector<std::pair<std::string, std::string>>& kv) {
  if (!config_.update_config_allowed) {
    return absl::PermissionDeniedError(
        "updating the broker config over the network is disabled "
        "(updateConfigAllowed=false in broker.conf)");
  }
  std::vector<std::string> refused;
  for (const auto& [k, v] : kv) {
    if (std::find(kRuntimeConfigKeys.begin(), kRuntimeConfigKeys.end(), k) ==
        kRuntimeConfigKeys.end()) {
      refused.push_back(ShortForMessage(k));
    }
  }
  if (!refused.empty()) {
    return absl::PermissionDeniedError(
        fmt::format("not changeable at run time: {} (the changeable keys: {})",
                    fmt::join(refused, ", "), fmt::join(kRuntimeConfigKeys, ", ")));
  }
  if (kv.empty()) return absl::InvalidArgumentError("no key to update");
  std::lock_guard l(rt_mu_);
  // Parsed by a scratch copy with the keys' usual checks, so that a bad value anywhere leaves
  // everything unchanged; config_ itself is never written (io threads read it without a lock).
  BrokerConfig next = config_;
  for (const auto& [k, v] : kv) {
    STELE_RETURN_IF_ERROR(next.Set(k, v, "UPDATE_BROKER_CONFIG"));
  }
  const int old_perm = broker_permission();
  for (const auto& [k, v] : kv) {
    log::Warn("broker config {} changed at run time to {}", k, ShortForMessage(v));
    if (k == "brokerPermission") {
      rt_broker_permission_.store(next.broker_permission, std::memory_order_relaxed);
    } else if (k == "rejectTransactionMessage") {
      rt_reject_transaction_message_.store(next.reject_transaction_message,
                                           std::memory_order_relaxed);
    } else if (k == "longPollingEnable") {
      rt_long_polling_enable_.store(next.long_polling_enable, std::memory_order_relaxed);
    } else if (k == "shortPollingTimeMills") {
      rt_short_polling_time_mills_.store(next.short_polling_time_mills, std::memory_order_relaxed);
    } else if (k == "maxInflightSends") {
      rt_max_inflight_sends_.store(next.max_inflight_sends, std::memory_order_relaxed);
      if (writer_ != nullptr) writer_->set_max_inflight(next.max_inflight_sends);
    }
  }
  if (broker_permission() != old_perm) {
    // The name servers take a group's perms only from a registration whose DataVersion changed.
    perm_epoch_.fetch_add(1, std::memory_order_relaxed);
    RegisterSoon();
  }
  return absl::OkStatus();
}

std::vector<std::pair<std::string, std::string>> BrokerController::EffectiveConfig() const {
  auto list = config_.List();
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  for (auto& [k, v] : list) {
    if (k == "brokerPermission") {
      v = std::to_string(broker_permission());
    } else if (k == "rejectTransactionMessage") {
      v = b(reject_transaction_message());
    } else if (k == "longPollingEnable") {
      v = b(long_polling_enable());
    } else if (k == "shortPollingTimeMills") {
      v = std::to_string(short_polling_time_mills());
    } else if (k == "maxInflightSends") {
      v = std::to_string(rt_max_inflight_sends_.load(std::memory_order_relaxed));
    }
  }
  return list;
}

absl::StatusOr<std::unique_ptr<BrokerController>> BrokerController::Create(BrokerConfig config) {
  std::unique_ptr<BrokerController> b(new BrokerController(std::move(config)));
  const BrokerConfig& c = b->config_;
  b->broker_addr_ = fmt::format("{}:{}", c.broker_ip1, c.listen_port);
  b->stats_ = std::make_unique<metrics::BrokerStats>();
  STELE_ASSIGN_OR_RETURN(b->store_, Store::Open(c.store));
  b->topics_ = std::make_unique<TopicConfigManager>(c);
  STELE_RETURN_IF_ERROR(b->topics_->Load());
  b->groups_ = std::make_unique<SubscriptionGroupManager>(c);
  STELE_RETURN_IF_ERROR(b->groups_->Load());
  b->offsets_ = std::make_unique<ConsumerOffsetManager>(c);
  STELE_RETURN_IF_ERROR(b->offsets_->Load());
  b->writer_ = std::make_unique<MessageWriter>(
      *b->store_, c.max_inflight_sends, c.message_delay_level_ms,
      TimerPolicy{.enable = c.timer_wheel_enable,
                  .precision_ms = c.timer_precision_ms,
                  .max_delay_ms = c.timer_max_delay_sec * 1000},
      IdempotencePolicy{.enable = c.idempotent_publish_enable,
                        .window_ms = c.idempotent_publish_window_sec * 1000,
                        .max_entries = static_cast<size_t>(c.idempotent_publish_max_entries),
                        .restore_max_bytes = c.idempotent_publish_restore_max_bytes});
  if (c.idempotent_publish_enable) {
    const int64_t t0 = NowMs();
    const int64_t n = b->writer_->RebuildPublishWindow();
    log::Info("idempotent publish: {} records of the last {} s restored in {} ms", n,
              c.idempotent_publish_window_sec, NowMs() - t0);
  }
  b->pull_hold_ = std::make_unique<PullHoldService>(*b->store_);
  b->delay_ = std::make_unique<DelayService>(*b->store_, *b->writer_, c);
  STELE_RETURN_IF_ERROR(b->delay_->Load());
  // Loaded even with timerWheelEnable=false: timers parked before the switch still go out.
  b->timer_ = std::make_unique<TimerService>(*b->store_, *b->writer_, c);
  STELE_RETURN_IF_ERROR(b->timer_->Load());
  b->transactions_ = std::make_unique<TransactionService>(*b);
  STELE_ASSIGN_OR_RETURN(b->pop_, PopService::Create(*b));

  remoting::ServerOptions so;
  so.bind_address = c.bind_address;
  so.port = static_cast<uint16_t>(c.listen_port);
  so.io_threads = 2;
  so.name = "mqbroker";
  so.on_reply = [stats = b->stats_.get()](int32_t req, int32_t resp, std::chrono::microseconds us) {
    stats->OnRpc(req, resp, us.count());
  };
  b->server_ = std::make_unique<remoting::RemotingServer>(so);
  b->namesrv_client_ = std::make_unique<remoting::RemotingClient>(
      remoting::ClientOptions{.io_threads = 1, .name = "namesrv-client"});
  RegisterSendProcessor(*b);
  RegisterPullProcessor(*b);
  RegisterClientProcessor(*b);
  RegisterOffsetProcessor(*b);
  RegisterAdminProcessor(*b);
  RegisterQueryProcessor(*b);
  RegisterSendBackProcessor(*b);
  RegisterTransactionProcessor(*b);
  RegisterLockProcessor(*b);
  RegisterStatsProcessor(*b);
  RegisterResetOffsetProcessor(*b);
  BrokerController* self = b.get();
  b->server_->OnChannelClosed([self](const remoting::ChannelPtr& ch) {
    for (const std::string& g : self->consumers_.DropChannel(ch->id())) {
      self->NotifyConsumerIdsChanged(g);
    }
    self->producers_.DropChannel(ch->id());
  });
  return b;
}

BrokerController::~BrokerController() { Shutdown(); }

uint16_t BrokerController::port() const { return server_->port(); }

absl::Status BrokerController::Start() {
  store_->SetArrivalListener([this](std::string_view topic, int32_t qid, int64_t max) {
    pull_hold_->Notify(topic, qid, max);
    if (topic == kScheduleTopic) delay_->Notify(qid + 1);
    if (topic == kTimerTopic) timer_->Notify();
    pop_->NotifyArrival(topic, qid);
  });
  pull_hold_->Start();
  delay_->Start();
  timer_->Start();
  transactions_->Start();
  STELE_RETURN_IF_ERROR(pop_->Start());
  STELE_RETURN_IF_ERROR(server_->Start());
  if (config_.listen_port == 0) broker_addr_ = fmt::format("{}:{}", config_.broker_ip1, port());
  server_->RunEvery(std::chrono::milliseconds(config_.flush_consumer_offset_interval_ms), [this] {
    if (absl::Status s = offsets_->Persist(); !s.ok()) {
      log::Error("persisting consumer offsets failed: {}", std::string(s.message()));
    }
  });
  server_->RunEvery(std::chrono::seconds(10), [this] { Housekeeping(); });
  server_->RunEvery(std::chrono::seconds(1), [this] { stats_->Sample(); });
  started_ = true;
  reg_thread_ = std::thread([this] { RegisterLoop(); });
  const StoreOptions& so = config_.store;
  const RecoveryReport& rr = store_->recovery_report();
  log::Info(
      "broker started: name={} cluster={} id={} version=\"{}\" addr={} listen={}:{} grpcPort={} "
      "store={} flushDiskType={} mappedFileSizeCommitLog={} commitLogWriteMode={} "
      "maxInflightSends={} namesrv=\"{}\" recovery_s={:.3f} commitLogMinOffset={} "
      "commitLogMaxOffset={}",
      config_.broker_name, config_.broker_cluster_name, config_.broker_id, kBrokerVersionDesc,
      broker_addr_, config_.bind_address, port(), config_.grpc_server_port,
      config_.store_path_root_dir,
      so.flush_disk_type == FlushDiskType::kSyncFlush ? "SYNC_FLUSH" : "ASYNC_FLUSH",
      so.mapped_file_size_commit_log, so.write_mode == WriteMode::kMmap ? "mmap" : "write",
      config_.max_inflight_sends, config_.namesrv_addr, rr.seconds, store_->MinOffset(),
      store_->MaxOffset());
  return absl::OkStatus();
}

void BrokerController::Shutdown() {
  if (shut_down_.exchange(true)) return;
  if (started_) {
    {
      std::lock_guard<std::mutex> l(reg_mu_);
      reg_stop_ = true;
    }
    reg_cv_.notify_all();
    if (reg_thread_.joinable()) reg_thread_.join();
    UnregisterAll();
  }
  if (store_) store_->SetArrivalListener(nullptr);
  if (pull_hold_) pull_hold_->Stop();
  if (server_) server_->Stop();
  if (namesrv_client_) namesrv_client_->Shutdown();
  if (delay_) delay_->Stop();
  if (timer_) timer_->Stop();
  if (pop_) pop_->Stop();  // answers its waiters; state is in the store and its snapshot
  if (transactions_) transactions_->Stop();  // commits its progress to offsets_, persisted next
  if (offsets_) {
    if (absl::Status s = offsets_->Persist(); !s.ok()) {
      log::Error("persisting consumer offsets at shutdown failed: {}", std::string(s.message()));
    }
  }
  if (store_) {
    if (absl::Status s = store_->Close(); !s.ok()) {
      log::Error("closing the store failed: {}", std::string(s.message()));
    }
  }
}

void BrokerController::Housekeeping() {
  const int64_t now = NowMs();
  for (const std::string& g : consumers_.ScanExpired(now, kClientExpiryMs)) {
    NotifyConsumerIdsChanged(g);
  }
  producers_.ScanExpired(now, kClientExpiryMs);
}

void BrokerController::NotifyConsumerIdsChanged(const std::string& group) {
  for (uint64_t id : consumers_.Channels(group)) {
    if (auto ch = server_->FindChannel(id)) {
      RemotingCommand req = RemotingCommand::Request(remoting::request::kNotifyConsumerIdsChanged);
      req.Set("consumerGroup", group);
      ch->InvokeOneway(std::move(req));
    }
  }
}

absl::StatusOr<TopicConfig> BrokerController::TopicForSend(const std::string& topic,
                                                           int queue_nums) {
  // Written by the broker alone: a client's record there would be replayed as pop state.
  if (topic == kPopStateTopic) {
    return absl::PermissionDeniedError(fmt::format("topic {} is reserved", kPopStateTopic));
  }
  if (auto t = topics_->Get(topic)) return *t;
  STELE_ASSIGN_OR_RETURN(TopicConfig t, topics_->AutoCreateForSend(topic, queue_nums));
  log::Info("auto-created topic {} with {} queues", topic, t.write_queue_nums);
  RegisterSoon();
  return t;
}

void BrokerController::RegisterSoon() {
  {
    std::lock_guard<std::mutex> l(reg_mu_);
    reg_requested_ = true;
  }
  reg_cv_.notify_all();
}

void BrokerController::RegisterLoop() {
  std::unique_lock<std::mutex> l(reg_mu_);
  while (!reg_stop_) {
    reg_requested_ = false;
    l.unlock();
    if (absl::Status s = RegisterAll(); !s.ok()) {
      log::Warn("registering with the name server failed: {}", std::string(s.message()));
    }
    l.lock();
    reg_cv_.wait_for(l, std::chrono::milliseconds(config_.register_name_server_period_ms),
                     [&] { return reg_stop_ || reg_requested_; });
  }
}

absl::Status BrokerController::RegisterAll() {
  nlohmann::json body = {
      {"topicConfigSerializeWrapper", topics_->ToRegisterJson(broker_permission())},
      {"filterServerList", nlohmann::json::array()}};
  // A brokerPermission changed at run time changes every topic's registered perm without
  // touching the topic table: count it into the DataVersion the name servers compare.
  if (int64_t epoch = perm_epoch_.load(std::memory_order_relaxed); epoch != 0) {
    auto& counter = body["topicConfigSerializeWrapper"]["dataVersion"]["counter"];
    if (counter.is_number_integer()) counter = counter.get<int64_t>() + epoch;
  }
  const std::string bytes = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  absl::Status first;
  for (const std::string& addr : config_.NamesrvAddrList()) {
    RemotingCommand req = RemotingCommand::Request(remoting::request::kRegisterBroker);
    req.Set("brokerName", config_.broker_name);
    req.Set("brokerAddr", broker_addr_);
    req.Set("clusterName", config_.broker_cluster_name);
    req.Set("haServerAddr", fmt::format("{}:{}", config_.broker_ip1, port() + 1));
    req.Set("brokerId", config_.broker_id);
    req.Set("compressed", "false");
    req.Set("bodyCrc32", static_cast<int64_t>(MaskedCrc32(bytes)));
    req.body = bytes;
    auto resp = namesrv_client_->InvokeSync(addr, std::move(req), kNamesrvTimeout);
    absl::Status s = resp.status();
    if (s.ok() && resp->code != remoting::response::kSuccess) {
      s = absl::UnavailableError(fmt::format("name server {} answered {}: {}", addr, resp->code,
                                             resp->remark.value_or("")));
    } else if (!s.ok()) {
      s = absl::UnavailableError(fmt::format("name server {}: {}", addr, std::string(s.message())));
    }
    if (first.ok()) first = s;
  }
  return first;
}

void BrokerController::UnregisterAll() {
  for (const std::string& addr : config_.NamesrvAddrList()) {
    RemotingCommand req = RemotingCommand::Request(remoting::request::kUnregisterBroker);
    req.Set("brokerName", config_.broker_name);
    req.Set("brokerAddr", broker_addr_);
    req.Set("clusterName", config_.broker_cluster_name);
    req.Set("brokerId", config_.broker_id);
    auto resp = namesrv_client_->InvokeSync(addr, std::move(req), kNamesrvTimeout);
    if (!resp.ok()) {
      log::Warn("unregistering from name server {} failed: {}", addr,
                std::string(resp.status().message()));
    }
  }
}

}  // namespace stele::broker
