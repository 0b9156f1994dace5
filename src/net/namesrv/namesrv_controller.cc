#include "net/namesrv/namesrv_controller.h"

#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "net/remoting/codes.h"

namespace stele::namesrv {

using remoting::ChannelPtr;
using remoting::RemotingCommand;
using remoting::Reply;

NamesrvController::NamesrvController(NamesrvOptions options)
    : options_(std::move(options)),
      routes_(options_.routes),
      kv_(options_.fs, options_.kv_config_path) {
  ctx_.routes = &routes_;
  ctx_.kv = &kv_;
  ctx_.now_ms = options_.clock ? options_.clock : std::function<int64_t()>(&NowMs);
  ctx_.order_message_enable = options_.order_message_enable;
  ctx_.return_order_topic_config_to_broker = options_.return_order_topic_config_to_broker;
  ctx_.config = options_.config;
  if (ctx_.config.empty()) {
    auto b = [](bool v) { return std::string(v ? "true" : "false"); };
    ctx_.config = {
        {"listenPort", std::to_string(options_.listen_port)},
        {"bindAddress", options_.bind_address},
        {"kvConfigPath", options_.kv_config_path},
        {"scanNotActiveBrokerInterval",
         std::to_string(options_.scan_not_active_broker_interval.count())},
        {"brokerChannelExpiredTime", std::to_string(options_.routes.default_heartbeat_timeout_ms)},
        {"orderMessageEnable", b(options_.order_message_enable)},
        {"returnOrderTopicConfigToBroker", b(options_.return_order_topic_config_to_broker)},
    };
  }
  server_ = std::make_unique<remoting::RemotingServer>(
      remoting::ServerOptions{.bind_address = options_.bind_address,
                              .port = options_.listen_port,
                              .io_threads = options_.io_threads,
                              .name = "namesrv"});
  RegisterHandlers();
}

NamesrvController::~NamesrvController() { Stop(); }

void NamesrvController::RegisterHandlers() {
  for (auto& [code, handler] : BuildHandlerTable(ctx_)) {
    server_->Register(code, [this, code = code, h = std::move(handler)](
                                const ChannelPtr& ch, RemotingCommand req, Reply reply) {
      if (code == remoting::request::kRegisterBroker) {
        std::lock_guard lock(channels_mu_);
        broker_channels_[ch->id()] = ch;
      }
      reply(Dispatch(h, req, ch->id()));
    });
  }
  server_->OnChannelClosed([this](const ChannelPtr& ch) {
    {
      std::lock_guard lock(channels_mu_);
      if (broker_channels_.erase(ch->id()) == 0) return;  // not a broker's connection
    }
    routes_.OnChannelDestroy(ch->id());
  });
}

absl::Status NamesrvController::Start() {
  STELE_RETURN_IF_ERROR(kv_.Load());
  STELE_RETURN_IF_ERROR(server_->Start());
  server_->RunEvery(options_.scan_not_active_broker_interval, [this] { ScanNotActiveBrokers(); });
  return absl::OkStatus();
}

void NamesrvController::Stop() { server_->Stop(); }

uint16_t NamesrvController::port() const { return server_->port(); }

void NamesrvController::ScanNotActiveBrokers() {
  for (const ExpiredBroker& e : routes_.ScanNotActiveBroker(ctx_.now_ms())) {
    ChannelPtr ch;
    {
      std::lock_guard lock(channels_mu_);
      auto it = broker_channels_.find(e.channel_id);
      if (it == broker_channels_.end()) continue;
      ch = it->second.lock();
      broker_channels_.erase(it);
    }
    if (ch) ch->Close();
  }
}

}  // namespace stele::namesrv
