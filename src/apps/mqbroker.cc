// mqbroker: a RocketMQ broker on the Stele engine.
//
//   mqbroker [-c broker.conf] [-n "host:port;host:port"] [--logLevel LEVEL] [-p]
//
// -c reads RocketMQ's broker.conf keys; -n (or NAMESRV_ADDR) overrides namesrvAddr; --logLevel
// overrides logLevel (DEBUG, INFO, WARN, ERROR); -p prints the effective configuration and exits.
// With metricsExporterType=PROM (the default) a Prometheus endpoint serves /metrics on
// metricsPromExporterHost:metricsPromExporterPort (5557). SIGINT/SIGTERM stop it cleanly:
// unregister from the name servers, stop serving, persist offsets, flush and checkpoint the store.
// With grpcServerPort (default 8081; 0 disables) the broker also serves RocketMQ 5.x gRPC clients
// on that port.
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/logging.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/metrics/exporter.h"
#include "net/broker/state/json_file.h"
#include "net/grpc/grpc_endpoint.h"

namespace {

int Usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: mqbroker [-c broker.conf] [-n 'host:port;host:port'] [--logLevel LEVEL] "
               "[-p]\n"
               "  -c  config file with RocketMQ broker.conf keys (see README)\n"
               "  -n  name server address list (overrides namesrvAddr)\n"
               "  --logLevel  DEBUG, INFO, WARN or ERROR (overrides logLevel)\n"
               "  -p  print the effective configuration and exit\n");
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace stele;
  std::string conf_path, namesrv, log_level;
  bool print = false;
  int opt;
  static const option kLong[] = {{"logLevel", required_argument, nullptr, 'L'},
                                 {nullptr, 0, nullptr, 0}};
  while ((opt = getopt_long(argc, argv, "c:n:phm", kLong, nullptr)) != -1) {
    switch (opt) {
      case 'L':
        log_level = optarg;
        break;
      case 'c':
        conf_path = optarg;
        break;
      case 'n':
        namesrv = optarg;
        break;
      case 'p':
        print = true;
        break;
      case 'm':
        print = true;
        break;
      case 'h':
        return Usage(0);
      default:
        return Usage(2);
    }
  }
  if (optind < argc) return Usage(2);
  if (namesrv.empty()) {
    if (const char* env = std::getenv("NAMESRV_ADDR")) namesrv = env;
  }
  std::string text;
  if (!conf_path.empty()) {
    auto fs = NewPosixFileSystem();
    auto read = broker::ReadFileToString(*fs, conf_path, 1 << 20);
    if (!read.ok()) {
      std::fprintf(stderr, "mqbroker: cannot read config %s: %s\n", conf_path.c_str(),
                   std::string(read.status().message()).c_str());
      return 1;
    }
    text = *read;
  }
  // -n wins over the file, as in RocketMQ.
  if (!namesrv.empty()) text += fmt::format("\nnamesrvAddr={}\n", namesrv);
  if (!log_level.empty()) text += fmt::format("\nlogLevel={}\n", log_level);
  auto config = broker::BrokerConfigFromText(text, conf_path.empty() ? "flags" : conf_path);
  if (!config.ok()) {
    std::fprintf(stderr, "mqbroker: bad configuration: %s\n",
                 std::string(config.status().message()).c_str());
    return 1;
  }
  log::SetMinLevel(config->log_level == "DEBUG"   ? log::Level::kDebug
                   : config->log_level == "WARN"  ? log::Level::kWarn
                   : config->log_level == "ERROR" ? log::Level::kError
                                                  : log::Level::kInfo);
  for (const auto& w : config->warnings) log::Warn("config: {}", w);
  if (print) {
    for (const auto& [k, v] : config->List()) std::printf("%s=%s\n", k.c_str(), v.c_str());
    return 0;
  }

  // Block the stop signals before any thread starts, so only sigwait below receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Requests allocate and free frame-sized buffers all the time; without this glibc hands the
  // top of the heap back to the kernel and faults it in again (measured: ~18% of broker CPU on
  // the pull path, bench/e2e).
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  // Setting any threshold turns off glibc's dynamic mmap threshold, which would otherwise rise to
  // the size of freed big blocks. Left at its 128 KiB start, every large frame, body and record
  // copy was a fresh mmap, page-faulted in and munmapped (with a TLB shootdown) per message:
  // 1 MiB sends ran at 17 msg/s with 4 senders, 317 msg/s with this (bench/e2e, --size=1048576).
  // Frames are at most 16 MiB, so 32 MiB (glibc's own upper bound) keeps them all on the heap.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);

  const std::string names = config->namesrv_addr;
  auto broker = broker::BrokerController::Create(std::move(*config));
  if (!broker.ok()) {
    std::fprintf(stderr, "mqbroker: cannot start: %s\n",
                 std::string(broker.status().message()).c_str());
    return 1;
  }
  if (absl::Status s = (*broker)->Start(); !s.ok()) {
    std::fprintf(stderr, "mqbroker: cannot start: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  // The gRPC endpoint starts after the broker (it serves from the broker's store and topics) and
  // stops before it.
  std::unique_ptr<rpc::GrpcEndpoint> grpc;
  if (const int port = (*broker)->config().grpc_server_port; port != 0) {
    grpc = std::make_unique<rpc::GrpcEndpoint>(
        **broker, rpc::GrpcOptions{.bind_address = (*broker)->config().bind_address});
    if (absl::Status s = grpc->Start(port); !s.ok()) {
      std::fprintf(stderr, "mqbroker: cannot start: %s\n", std::string(s.message()).c_str());
      (*broker)->Shutdown();
      return 1;
    }
  }
  // The Prometheus endpoint. Stele turns it on by default, so a port already taken only costs a
  // log line then; when metricsExporterType=PROM was asked for explicitly it must work.
  std::unique_ptr<broker::metrics::Exporter> metrics;
  if (const broker::BrokerConfig& c = (*broker)->config(); c.MetricsEnabled()) {
    metrics = std::make_unique<broker::metrics::Exporter>(
        **broker, c.MetricsHost(), static_cast<uint16_t>(c.metrics_prom_exporter_port));
    if (absl::Status s = metrics->Start(); !s.ok()) {
      if (c.explicitly_set.contains("metricsExporterType")) {
        std::fprintf(stderr, "mqbroker: cannot start: %s\n", std::string(s.message()).c_str());
        if (grpc) grpc->Stop();
        (*broker)->Shutdown();
        return 1;
      }
      log::Error(
          "{}; continuing without metrics (set metricsPromExporterPort, or "
          "metricsExporterType=DISABLE)",
          std::string(s.message()));
      metrics.reset();
    }
  }
  log::Info("The broker[{}, {}] boot success. serializeType=JSON and name server is {}",
            (*broker)->config().broker_name, (*broker)->broker_addr(),
            names.empty() ? "(none)" : names);
  int sig = 0;
  sigwait(&stop, &sig);
  log::Info("signal {}: shutting down", sig);
  if (metrics) metrics->Stop();
  if (grpc) grpc->Stop();
  (*broker)->Shutdown();
  log::Info("broker stopped cleanly");
  return 0;
}
