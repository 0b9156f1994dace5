// The broker's Prometheus endpoint (metricsExporterType=PROM): RocketMQ 5.x metric names and
// labels (BrokerMetricsConstant, DefaultStoreMetricsConstant, RemotingMetricsConstant), plus the
// process_* metrics Prometheus client libraries export and a few Stele ones (stele_*).
//
// Like the gRPC endpoint, it is started by mqbroker after the broker and stopped before it; a
// test can run one on port 0 against an in-process broker.
//
// Thread safety: RenderMetrics reads only thread-safe broker accessors; the exporter's HTTP thread
// calls it once per scrape.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "net/broker/metrics/http_server.h"

namespace stele::broker {
class BrokerController;
}

namespace stele::broker::metrics {

// The whole exposition text (format 0.0.4) for one scrape.
std::string RenderMetrics(BrokerController& b);

class Exporter {
 public:
  // `b` must outlive the exporter.
  Exporter(BrokerController& b, std::string host, uint16_t port);
  absl::Status Start();
  void Stop();
  uint16_t port() const { return server_.port(); }

 private:
  std::string host_;
  HttpServer server_;
};

}  // namespace stele::broker::metrics
