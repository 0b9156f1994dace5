// mqnamesrv: the Stele name server, started like RocketMQ's (bin/mqnamesrv).
//
//   mqnamesrv [-c namesrv.conf] [-p] [-h] [--<key>=<value> | --<key> <value>]...
//
// -c reads a Java .properties file with RocketMQ's NamesrvConfig keys (listenPort, kvConfigPath,
// ...); --<key> overrides one key after the file (Stele extra, e.g. --listenPort 9877 or
// --bindAddress 127.0.0.1); -p prints the effective configuration and exits.
//
// Runs until SIGINT or SIGTERM, then stops cleanly and exits 0. Exits 1 with a message on a bad
// configuration or when it cannot listen (e.g. the port is in use), 2 on a bad command line.
#include <signal.h>

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "fmt/format.h"
#include "net/broker/state/namesrv_config.h"
#include "net/namesrv/namesrv_controller.h"

namespace {

constexpr char kUsage[] =
    "usage: mqnamesrv [-c namesrv.conf] [-p] [-h] [--<key>=<value> | --<key> <value>]...\n"
    "  -c <file>   read NamesrvConfig keys (Java properties) from <file>\n"
    "  -p          print the effective configuration and exit\n"
    "  -h          show this help and exit\n"
    "  --<key> <value>, --<key>=<value>\n"
    "              override one configuration key, e.g. --listenPort 9877 --bindAddress "
    "127.0.0.1\n";

struct Args {
  std::optional<std::string> config_file;
  bool print_config = false;
  bool help = false;
  std::vector<std::pair<std::string, std::string>> overrides;
};

// Returns an error message for a bad command line.
std::optional<std::string> ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto next = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (a == "-h" || a == "--help") {
      args->help = true;
    } else if (a == "-p" || a == "--printConfigItem") {
      args->print_config = true;
    } else if (a == "-c" || a == "--configFile") {
      auto v = next();
      if (!v) return fmt::format("{} needs a file name", a);
      args->config_file = *v;
    } else if (a.size() > 2 && a.substr(0, 2) == "--") {
      std::string_view kv = a.substr(2);
      size_t eq = kv.find('=');
      if (eq != std::string_view::npos) {
        args->overrides.emplace_back(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
      } else {
        auto v = next();
        if (!v) return fmt::format("{} needs a value", a);
        args->overrides.emplace_back(std::string(kv), *v);
      }
    } else {
      return fmt::format("unknown argument '{}'", a);
    }
  }
  return std::nullopt;
}

absl::StatusOr<stele::broker::NamesrvConfig> LoadConfig(const Args& args) {
  auto cfg = args.config_file ? stele::broker::LoadNamesrvConfig(*args.config_file)
                              : stele::broker::NamesrvConfigFromText("", "defaults");
  if (!cfg.ok() || args.overrides.empty()) return cfg;
  for (const auto& [key, value] : args.overrides) {
    absl::Status s = cfg->Set(key, value, "command line");
    if (!s.ok()) return s;
  }
  cfg->warnings.clear();  // Finalize repeats the file's checks; keep one copy of each warning
  absl::Status s = cfg->Finalize();
  if (!s.ok()) return s;
  return cfg;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals before any thread exists, so every thread inherits the mask and the
  // signals stay pending until sigwait below takes them: no work happens in a signal handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a peer that hung up must not kill the server

  Args args;
  if (auto err = ParseArgs(argc, argv, &args)) {
    std::fprintf(stderr, "mqnamesrv: %s\n%s", err->c_str(), kUsage);
    return 2;
  }
  if (args.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  auto cfg = LoadConfig(args);
  if (!cfg.ok()) {
    std::fprintf(stderr, "mqnamesrv: bad configuration: %s\n",
                 std::string(cfg.status().message()).c_str());
    return 1;
  }
  if (args.print_config) {
    for (const auto& [key, value] : cfg->List()) std::printf("%s=%s\n", key.c_str(), value.c_str());
    return 0;
  }
  for (const std::string& w : cfg->warnings) stele::log::Warn("mqnamesrv: {}", w);

  stele::namesrv::NamesrvOptions opts;
  opts.bind_address = cfg->bind_address;
  opts.listen_port = static_cast<uint16_t>(cfg->listen_port);
  opts.kv_config_path = cfg->kv_config_path;
  opts.scan_not_active_broker_interval =
      std::chrono::milliseconds(cfg->scan_not_active_broker_interval_ms);
  opts.routes.default_heartbeat_timeout_ms = cfg->broker_channel_expired_time_ms;
  opts.order_message_enable = cfg->order_message_enable;
  opts.config = cfg->List();
  stele::namesrv::NamesrvController controller(std::move(opts));
  if (absl::Status s = controller.Start(); !s.ok()) {
    std::fprintf(stderr, "mqnamesrv: cannot start: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  stele::log::Info("mqnamesrv listening on {}:{}", cfg->bind_address, controller.port());

  int sig = 0;
  sigwait(&stop_signals, &sig);
  stele::log::Info("mqnamesrv: {} received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  controller.Stop();
  stele::log::Info("mqnamesrv stopped");
  return 0;
}
