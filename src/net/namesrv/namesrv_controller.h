// The name server (Java NamesrvController): a remoting server on port 9876 that answers brokers
// (registration, heartbeats) and clients (routes), plus the periodic scan that expires brokers
// that went silent.
//
// Lifecycle: construct, Start() (loads the KV config, binds, starts the io threads and the
// 5 s expiry scan), Stop() (closes every connection, joins the threads; idempotent, also done by
// the destructor). Not restartable.
//
// Thread safety: Start/Stop from one thread. routes()/kv_config() are thread-safe objects that may
// be used at any time, e.g. by tests and by an embedding program.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "net/namesrv/kv_config_manager.h"
#include "net/namesrv/processor.h"
#include "net/namesrv/route_info_manager.h"
#include "net/remoting/transport.h"
#include "stele/file_system.h"

namespace stele::namesrv {

struct NamesrvOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t listen_port = 9876;  // 0 = any free port (see port())
  int io_threads = 2;
  std::string kv_config_path;      // RocketMQ's kvConfig.json; empty = KV config in memory only
  std::shared_ptr<FileSystem> fs;  // for the KV file; null = POSIX
  std::chrono::milliseconds scan_not_active_broker_interval{5000};
  RouteOptions routes;
  bool order_message_enable = false;
  bool return_order_topic_config_to_broker = true;
  std::function<int64_t()> clock;  // ms since the epoch; null = the wall clock
  // What GET_NAMESRV_CONFIG answers (mqnamesrv passes its NamesrvConfig::List()); empty = the
  // keys these options stand for, with their values.
  std::vector<std::pair<std::string, std::string>> config;
};

class NamesrvController {
 public:
  explicit NamesrvController(NamesrvOptions options);
  ~NamesrvController();
  NamesrvController(const NamesrvController&) = delete;
  NamesrvController& operator=(const NamesrvController&) = delete;

  // Fails with the KV file's problem (DataLoss) or the bind error (address in the message).
  absl::Status Start();
  void Stop();
  // The bound port (useful with listen_port 0); valid after a successful Start().
  uint16_t port() const;

  RouteInfoManager& routes() { return routes_; }
  KvConfigManager& kv_config() { return kv_; }

 private:
  void RegisterHandlers();
  void ScanNotActiveBrokers();

  const NamesrvOptions options_;
  RouteInfoManager routes_;
  KvConfigManager kv_;
  NamesrvContext ctx_;
  // Connections brokers registered over, so that an expired broker's connection can be closed
  // (a broker that stopped heartbeating but kept its socket would otherwise look half-alive).
  std::mutex channels_mu_;
  std::map<uint64_t, std::weak_ptr<remoting::Channel>> broker_channels_;  // by channel id
  // Last member: destroyed (and stopped) first, so no handler or timer outlives what it uses.
  std::unique_ptr<remoting::RemotingServer> server_;
};

}  // namespace stele::namesrv
