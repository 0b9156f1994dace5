// A tiny HTTP/1.1 server for the Prometheus scrape: GET /metrics answers the text `render`
// returns; any other path is 404, any other method 405 (HEAD is answered like GET, without the
// body). One request per connection (Connection: close), as a scraper needs nothing more.
//
// Limits, so that garbage or a slow peer cannot hurt the broker: a request head larger than
// kMaxRequestBytes gets 431 and is closed, an unparsable request line 400, a peer that sends no
// complete head within kRequestTimeout is dropped, and at most kMaxConnections are open at once
// (later ones are closed on accept).
//
// Threading: one thread of its own (render runs there, so it must be thread-safe with respect to
// the rest of the program). Start/Stop from one thread; Stop joins.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace stele::broker::metrics {

class HttpServer {
 public:
  static constexpr size_t kMaxRequestBytes = 8192;
  static constexpr size_t kMaxConnections = 32;
  static constexpr std::chrono::seconds kRequestTimeout{5};

  using Render = std::function<std::string()>;
  // `port` 0 = any free port (see port()).
  HttpServer(std::string bind_address, uint16_t port, Render render);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the thread; the error names the address when it cannot bind.
  absl::Status Start();
  void Stop();
  uint16_t port() const;
  // Requests answered so far (any status), for tests and logs.
  uint64_t requests() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stele::broker::metrics
