#include "net/broker/metrics/http_server.h"

#include <asio.hpp>
#include <atomic>
#include <string_view>
#include <thread>

#include "common/logging.h"
#include "fmt/format.h"

namespace stele::broker::metrics {
namespace {

using asio::ip::tcp;

struct Response {
  int status = 200;
  std::string_view reason = "OK";
  std::string body;
  std::string_view content_type = "text/plain; charset=utf-8";
  bool head_only = false;
  bool allow_header = false;
};

// Decides the answer to one request head (everything before the blank line).
Response Answer(std::string_view head, const HttpServer::Render& render) {
  const size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp1 == 0 ||
      !line.substr(sp2 + 1).starts_with("HTTP/1.")) {
    return {400, "Bad Request", "bad request line\n"};
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (const size_t q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (method != "GET" && method != "HEAD") {
    Response r{405, "Method Not Allowed", "only GET and HEAD are served\n"};
    r.allow_header = true;
    return r;
  }
  if (target != "/metrics") return {404, "Not Found", "not found; the metrics are at /metrics\n"};
  Response r{200, "OK", render()};
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.head_only = method == "HEAD";
  return r;
}

std::string Serialize(const Response& r) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n",
      r.status, r.reason, r.content_type, r.body.size(),
      r.allow_header ? "Allow: GET, HEAD\r\n" : "");
  if (!r.head_only) out.append(r.body);
  return out;
}

}  // namespace

struct HttpServer::Impl {
  Impl(std::string addr, uint16_t p, Render r)
      : bind_address(std::move(addr)), port(p), render(std::move(r)), acceptor(io) {}

  // Connections hold a plain pointer: they live in io's handlers, and io is destroyed before the
  // members above it (see the member order below).

  class Conn : public std::enable_shared_from_this<Conn> {
   public:
    Conn(Impl* owner, tcp::socket s)
        : owner_(owner), sock_(std::move(s)), timer_(sock_.get_executor()) {}
    ~Conn() { owner_->open.fetch_sub(1); }

    void Start() {
      timer_.expires_after(kRequestTimeout);
      timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
        if (!ec) self->Close();
      });
      Read();
    }

   private:
    void Read() {
      buf_.resize(len_ + 1024);
      sock_.async_read_some(asio::buffer(buf_.data() + len_, buf_.size() - len_),
                            [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                              if (ec) {
                                self->Close();
                                return;
                              }
                              self->len_ += n;
                              self->OnData();
                            });
    }

    void OnData() {
      const std::string_view have(buf_.data(), len_);
      const size_t end = have.find("\r\n\r\n");
      if (end == std::string_view::npos) {
        if (len_ >= kMaxRequestBytes) {
          Write(Response{431, "Request Header Fields Too Large", "request head too large\n"});
          return;
        }
        Read();
        return;
      }
      if (end > kMaxRequestBytes) {
        Write(Response{431, "Request Header Fields Too Large", "request head too large\n"});
        return;
      }
      Response r;
      try {
        r = Answer(have.substr(0, end), owner_->render);
      } catch (const std::exception& e) {  // a bug in render must not take the broker down
        log::Error("metrics: rendering failed: {}", e.what());
        r = Response{500, "Internal Server Error", "internal error\n"};
      }
      Write(std::move(r));
    }

    void Write(const Response& r) {
      out_ = Serialize(r);
      owner_->requests.fetch_add(1);
      asio::async_write(
          sock_, asio::buffer(out_),
          [self = shared_from_this()](const asio::error_code&, size_t) { self->Close(); });
    }

    void Close() {
      asio::error_code ec;
      timer_.cancel();
      sock_.shutdown(tcp::socket::shutdown_both, ec);
      sock_.close(ec);
    }

    Impl* owner_;
    tcp::socket sock_;
    asio::steady_timer timer_;
    std::string buf_;
    size_t len_ = 0;
    std::string out_;
  };

  void Accept() {
    acceptor.async_accept([self = this](const asio::error_code& ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || self->stopping.load()) return;
      if (!ec) {
        if (self->open.load() >= kMaxConnections) {
          asio::error_code e;
          s.close(e);
        } else {
          self->open.fetch_add(1);
          std::make_shared<Conn>(self, std::move(s))->Start();
        }
      }
      self->Accept();
    });
  }

  const std::string bind_address;
  uint16_t port;
  const Render render;
  std::atomic<bool> started{false}, stopping{false};
  std::atomic<size_t> open{0};
  std::atomic<uint64_t> requests{0};
  // Destroyed first (reverse order): the io_context's pending handlers, and with them the
  // connections, go while everything above is still alive.
  asio::io_context io;
  tcp::acceptor acceptor;
  std::thread thread;
};

HttpServer::HttpServer(std::string bind_address, uint16_t port, Render render)
    : impl_(std::make_unique<Impl>(std::move(bind_address), port, std::move(render))) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start() {
  asio::error_code ec;
  const auto addr = asio::ip::make_address(impl_->bind_address, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        fmt::format("metricsPromExporterHost '{}' is not an IP address: {}", impl_->bind_address,
                    ec.message()));
  }
  const tcp::endpoint ep(addr, impl_->port);
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(fmt::format("metrics: cannot listen on {}:{}: {}",
                                              impl_->bind_address, impl_->port, ec.message()));
  }
  impl_->port = acc.local_endpoint().port();
  impl_->Accept();
  impl_->started = true;
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (!impl_->started.exchange(false)) return;
  impl_->stopping = true;
  asio::post(impl_->io, [impl = impl_.get()] {
    asio::error_code e;
    impl->acceptor.close(e);
  });
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  asio::error_code e;
  impl_->acceptor.close(e);
}

uint16_t HttpServer::port() const { return impl_->port; }

uint64_t HttpServer::requests() const { return impl_->requests.load(); }

}  // namespace stele::broker::metrics
