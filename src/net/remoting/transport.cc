#include "net/remoting/transport.h"

#include <asio.hpp>
#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/logging.h"
#include "fmt/format.h"
#include "net/remoting/codec.h"
#include "net/remoting/codes.h"

namespace stele::remoting {
namespace {

using asio::ip::tcp;
using Handlers = std::unordered_map<int32_t, Handler>;

std::string EndpointString(const tcp::endpoint& ep) {
  asio::ip::address a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  }
  if (a.is_v6()) return fmt::format("[{}]:{}", a.to_string(), ep.port());
  return fmt::format("{}:{}", a.to_string(), ep.port());
}

// Splits "host:port" / "[v6]:port".
absl::StatusOr<std::pair<std::string, std::string>> SplitHostPort(const std::string& addr) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == addr.size()) {
    return absl::InvalidArgumentError(fmt::format("address '{}' is not host:port", addr));
  }
  std::string host = addr.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, addr.substr(colon + 1));
}

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxGather = 64;

class ChannelImpl final : public Channel, public std::enable_shared_from_this<ChannelImpl> {
 public:
  using CloseFn = std::function<void(const ChannelPtr&)>;

  // `owner` (the server's or client's state, which owns the io_context) is kept alive while the
  // channel is: a ChannelPtr held elsewhere may outlive the RemotingServer/RemotingClient.
  ChannelImpl(std::shared_ptr<void> owner, tcp::socket sock, uint64_t id,
              std::shared_ptr<const Handlers> handlers, CloseFn on_close, uint64_t max_write_bytes,
              std::string name, std::shared_ptr<const ReplyObserver> observer = nullptr)
      : observer_(std::move(observer)),
        owner_(std::move(owner)),
        sock_(std::move(sock)),
        strand_(asio::make_strand(sock_.get_executor())),
        id_(id),
        handlers_(std::move(handlers)),
        on_close_(std::move(on_close)),
        max_write_bytes_(max_write_bytes),
        name_(std::move(name)) {
    asio::error_code ec;
    remote_ = EndpointString(sock_.remote_endpoint(ec));
    local_ = EndpointString(sock_.local_endpoint(ec));
    sock_.set_option(tcp::no_delay(true), ec);
    rbuf_.resize(kReadChunk);
  }

  void Start() {
    asio::post(strand_, [self = shared_from_this()] { self->DoRead(); });
  }

  uint64_t id() const override { return id_; }
  const std::string& remote_address() const override { return remote_; }
  const std::string& local_address() const override { return local_; }
  bool is_open() const override { return open_.load(std::memory_order_acquire); }

  void Send(RemotingCommand cmd) override {
    if (!is_open()) return;
    asio::post(strand_, [self = shared_from_this(), cmd = std::move(cmd)]() mutable {
      self->Enqueue(EncodeFrame(cmd));
    });
  }

  void Invoke(RemotingCommand req, std::chrono::milliseconds timeout,
              ResponseCallback done) override {
    if (!is_open()) {
      done(absl::UnavailableError(fmt::format("connection to {} is closed", remote_)));
      return;
    }
    req.opaque = next_opaque_.fetch_add(1, std::memory_order_relaxed);
    req.flag &= ~(kFlagResponse | kFlagOneway);
    auto timer = std::make_shared<asio::steady_timer>(strand_, timeout);
    const int32_t opaque = req.opaque;
    {
      // Armed under pending_mu_, because CloseNow and TakePending cancel timers under it: an Asio
      // timer must not see two operations at once (this thread is not on the strand).
      std::lock_guard<std::mutex> l(pending_mu_);
      pending_[opaque] = Pending{std::move(done), timer};
      timer->async_wait([self = shared_from_this(), opaque, timeout](const asio::error_code& ec) {
        if (ec) return;  // cancelled: answered or closed
        if (auto cb = self->TakePending(opaque)) {
          cb(absl::DeadlineExceededError(
              fmt::format("no response from {} within {} ms", self->remote_, timeout.count())));
        }
      });
    }
    Send(std::move(req));
    // A close between the check above and registering is handled: Close fails all pending.
    if (!is_open()) {
      if (auto cb = TakePending(opaque)) cb(absl::UnavailableError("connection closed"));
    }
  }

  void InvokeOneway(RemotingCommand req) override {
    req.opaque = next_opaque_.fetch_add(1, std::memory_order_relaxed);
    req.flag = (req.flag & ~kFlagResponse) | kFlagOneway;
    Send(std::move(req));
  }

  void Close() override {
    if (!is_open()) return;  // nothing to do, and nothing may be queued on a stopped io_context
    asio::post(strand_, [self = shared_from_this()] { self->CloseNow(); });
  }

  // Only on the strand, or when no io thread runs any more.
  void CloseNow(bool notify = true) {
    if (!open_.exchange(false)) return;
    asio::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_both, ec);
    sock_.close(ec);
    std::unordered_map<int32_t, Pending> pending;
    {
      std::lock_guard<std::mutex> l(pending_mu_);
      pending.swap(pending_);
      for (auto& [opaque, p] : pending) p.timer->cancel();
    }
    for (auto& [opaque, p] : pending) {
      p.done(absl::UnavailableError(fmt::format("connection to {} closed", remote_)));
    }
    wq_.clear();
    if (notify && on_close_) on_close_(shared_from_this());
  }

 private:
  struct Pending {
    ResponseCallback done;
    std::shared_ptr<asio::steady_timer> timer;
  };

  ResponseCallback TakePending(int32_t opaque) {
    std::lock_guard<std::mutex> l(pending_mu_);
    auto it = pending_.find(opaque);
    if (it == pending_.end()) return nullptr;
    ResponseCallback cb = std::move(it->second.done);
    it->second.timer->cancel();
    pending_.erase(it);
    return cb;
  }

  void DoRead() {
    if (!is_open()) return;
    if (rbuf_.size() - rlen_ < kReadChunk / 4) {
      // Grow with the bytes that actually arrive (doubling, so a big frame costs O(n) copies),
      // never to a declared length up front: a peer announcing 16 MiB and sending 12 bytes must
      // not cost 16 MiB.
      size_t grow = std::max(rlen_ + kReadChunk, rbuf_.size() * 2);
      if (want_ > 0) grow = std::min(grow, std::max(want_, rlen_ + kReadChunk));
      rbuf_.resize(grow);
    }
    sock_.async_read_some(asio::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
                          asio::bind_executor(strand_, [self = shared_from_this()](
                                                           const asio::error_code& ec, size_t n) {
                            if (ec) {
                              if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
                                log::Debug("{}: connection {} read error: {}", self->name_,
                                           self->remote_, ec.message());
                              }
                              self->CloseNow();
                              return;
                            }
                            self->rlen_ += n;
                            if (self->ParseFrames()) self->DoRead();
                          }));
  }

  // Handles every whole frame in the buffer. False when the connection was closed.
  bool ParseFrames() {
    size_t pos = 0;
    while (rlen_ - pos >= 4) {
      auto len = DecodeFrameLength(rbuf_.data() + pos);
      if (!len.ok()) return Reject(len.status());
      const size_t need = 4 + static_cast<size_t>(*len);
      if (rlen_ - pos < need) {
        want_ = need;
        break;
      }
      want_ = 0;
      auto cmd = DecodeFrameBody(std::string_view(rbuf_.data() + pos + 4, *len));
      pos += need;
      if (!cmd.ok()) return Reject(cmd.status());
      Dispatch(std::move(*cmd));
      if (!is_open()) return false;
    }
    if (pos > 0) {
      std::memmove(rbuf_.data(), rbuf_.data() + pos, rlen_ - pos);
      rlen_ -= pos;
    }
    if (rbuf_.size() > 4 * kReadChunk && rlen_ < kReadChunk && want_ == 0) {
      rbuf_.resize(kReadChunk);
      rbuf_.shrink_to_fit();  // a past big frame does not keep its buffer
    }
    return true;
  }

  bool Reject(const absl::Status& why) {
    log::Warn("{}: closing connection from {}: {}", name_, remote_, std::string(why.message()));
    CloseNow();
    return false;
  }

  void Dispatch(RemotingCommand cmd) {
    if (cmd.is_response()) {
      if (auto cb = TakePending(cmd.opaque)) cb(std::move(cmd));
      return;  // unmatched responses (timed out, or for oneway requests) are dropped
    }
    ChannelPtr self = shared_from_this();
    Reply reply(std::weak_ptr<Channel>(self), cmd, observer_);
    auto it = handlers_->find(cmd.code);
    if (it == handlers_->end()) {
      reply(response::kRequestCodeNotSupported,
            fmt::format(" request type {} not supported", cmd.code));
      return;
    }
    const int32_t code = cmd.code;
    try {
      it->second(self, std::move(cmd), reply);
    } catch (const std::exception& e) {  // a bug, but one request must not take the server down
      log::Error("{}: handler for code {} threw: {}", name_, code, e.what());
      reply(response::kSystemError, fmt::format("internal error: {}", e.what()));
    }
  }

  void Enqueue(std::string buf) {
    if (!is_open()) return;
    wq_bytes_ += buf.size();
    wq_.push_back(std::move(buf));
    if (wq_bytes_ > max_write_bytes_) {
      log::Warn("{}: closing connection {}: {} bytes of replies unsent (the peer stopped reading)",
                name_, remote_, wq_bytes_);
      CloseNow();
      return;
    }
    if (!writing_) DoWrite();
  }

  void DoWrite() {
    const size_t n = std::min(wq_.size(), kMaxGather);
    std::vector<asio::const_buffer> bufs;
    bufs.reserve(n);
    for (size_t i = 0; i < n; ++i) bufs.emplace_back(asio::buffer(wq_[i]));
    writing_ = true;
    asio::async_write(sock_, bufs,
                      asio::bind_executor(strand_, [self = shared_from_this(), n](
                                                       const asio::error_code& ec, size_t) {
                        self->writing_ = false;
                        if (ec || !self->is_open()) {
                          self->CloseNow();
                          return;
                        }
                        for (size_t i = 0; i < n; ++i) {
                          self->wq_bytes_ -= self->wq_.front().size();
                          self->wq_.pop_front();
                        }
                        if (!self->wq_.empty()) self->DoWrite();
                      }));
  }

  std::shared_ptr<const ReplyObserver> observer_;
  std::shared_ptr<void> owner_;  // destroyed after the socket and strand that use it
  tcp::socket sock_;
  asio::strand<tcp::socket::executor_type> strand_;
  const uint64_t id_;
  std::shared_ptr<const Handlers> handlers_;
  CloseFn on_close_;
  const uint64_t max_write_bytes_;
  const std::string name_;
  std::string remote_, local_;
  std::atomic<bool> open_{true};
  std::atomic<int32_t> next_opaque_{1};
  std::mutex pending_mu_;
  std::unordered_map<int32_t, Pending> pending_;
  // Strand-only state.
  std::vector<char> rbuf_;
  size_t rlen_ = 0;
  size_t want_ = 0;  // length of the frame being received, once its prefix is in
  std::deque<std::string> wq_;
  uint64_t wq_bytes_ = 0;
  bool writing_ = false;
};

// io_context + threads + timers, shared by server and client.
class IoRunner {
 public:
  void Start(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { io.run(); });
  }
  void Stop() {
    guard.reset();
    io.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  // After Stop() and after the owner closed its sockets: runs the handlers those closes made ready
  // (aborted reads and writes, cancelled timers) so that none is left holding a channel, which
  // would hold its owner and so the io_context that holds the handler: a cycle.
  void Drain() {
    io.restart();
    io.poll();
  }
  void Every(std::chrono::milliseconds period, std::function<void()> fn) {
    auto timer = std::make_shared<asio::steady_timer>(io, period);
    Arm(timer, period, std::make_shared<std::function<void()>>(std::move(fn)));
  }
  void After(std::chrono::milliseconds delay, std::function<void()> fn) {
    auto timer = std::make_shared<asio::steady_timer>(io, delay);
    timer->async_wait([timer, fn = std::move(fn)](const asio::error_code& ec) {
      if (!ec) fn();
    });
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};

 private:
  void Arm(std::shared_ptr<asio::steady_timer> t, std::chrono::milliseconds period,
           std::shared_ptr<std::function<void()>> fn) {
    t->async_wait([this, t, period, fn](const asio::error_code& ec) {
      if (ec) return;
      (*fn)();
      t->expires_after(period);
      Arm(t, period, fn);
    });
  }
  std::vector<std::thread> threads_;
};

}  // namespace

// ---- Reply ----

struct Reply::State {
  std::weak_ptr<Channel> ch;
  int32_t opaque = 0;
  int32_t request_code = 0;
  SerializeType type = SerializeType::kJson;
  bool oneway = false;
  std::atomic<bool> sent{false};
  std::shared_ptr<const ReplyObserver> observer;
  std::chrono::steady_clock::time_point start;
};

Reply::Reply(std::weak_ptr<Channel> ch, const RemotingCommand& req,
             std::shared_ptr<const ReplyObserver> observer)
    : state_(std::make_shared<State>()) {
  state_->ch = std::move(ch);
  state_->opaque = req.opaque;
  state_->request_code = req.code;
  state_->type = req.serialize_type;
  state_->oneway = req.is_oneway();
  if (observer != nullptr && *observer) {
    state_->observer = std::move(observer);
    state_->start = std::chrono::steady_clock::now();
  }
}

void Reply::operator()(RemotingCommand resp) const {
  if (!state_ || state_->oneway || state_->sent.exchange(true)) return;
  if (state_->observer) {
    (*state_->observer)(state_->request_code, resp.code,
                        std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - state_->start));
  }
  auto ch = state_->ch.lock();
  if (!ch) return;
  resp.opaque = state_->opaque;
  resp.flag = (resp.flag | kFlagResponse) & ~kFlagOneway;
  resp.serialize_type = state_->type;
  ch->Send(std::move(resp));
}

void Reply::operator()(int32_t code, std::string remark) const {
  RemotingCommand resp;
  resp.code = code;
  if (!remark.empty()) resp.remark = std::move(remark);
  (*this)(std::move(resp));
}

// ---- RemotingServer ----

struct RemotingServer::Impl : std::enable_shared_from_this<RemotingServer::Impl> {
  explicit Impl(ServerOptions o)
      : options(std::move(o)),
        observer(options.on_reply ? std::make_shared<const ReplyObserver>(options.on_reply)
                                  : nullptr),
        acceptor(runner.io) {}

  void Accept() {
    acceptor.async_accept(asio::make_strand(runner.io),
                          [this](const asio::error_code& ec, tcp::socket sock) {
                            if (stopping.load()) return;
                            if (!ec) {
                              auto ch = std::make_shared<ChannelImpl>(
                                  shared_from_this(), std::move(sock), next_id.fetch_add(1),
                                  handlers, [this](const ChannelPtr& c) { Closed(c); },
                                  options.max_write_queue_bytes, options.name, observer);
                              {
                                std::lock_guard<std::mutex> l(mu);
                                channels[ch->id()] = ch;
                              }
                              ch->Start();
                            } else if (ec != asio::error::operation_aborted) {
                              log::Warn("{}: accept failed: {}", options.name, ec.message());
                            }
                            Accept();
                          });
  }

  void Closed(const ChannelPtr& c) {
    {
      std::lock_guard<std::mutex> l(mu);
      channels.erase(c->id());
    }
    if (stopping.load()) return;
    for (auto& fn : on_close) fn(c);
  }

  ServerOptions options;
  std::shared_ptr<const ReplyObserver> observer;  // from options.on_reply; null when unset
  IoRunner runner;
  tcp::acceptor acceptor;
  std::shared_ptr<Handlers> handlers = std::make_shared<Handlers>();
  std::vector<std::function<void(const ChannelPtr&)>> on_close;
  std::atomic<uint64_t> next_id{1};
  std::atomic<bool> started{false}, stopping{false};
  uint16_t port = 0;
  mutable std::mutex mu;
  std::unordered_map<uint64_t, std::shared_ptr<ChannelImpl>> channels;
};

RemotingServer::RemotingServer(ServerOptions options)
    : impl_(std::make_shared<Impl>(std::move(options))) {}

RemotingServer::~RemotingServer() { Stop(); }

void RemotingServer::Register(int32_t code, Handler handler) {
  (*impl_->handlers)[code] = std::move(handler);
}

void RemotingServer::OnChannelClosed(std::function<void(const ChannelPtr&)> fn) {
  impl_->on_close.push_back(std::move(fn));
}

absl::Status RemotingServer::Start() {
  auto& o = impl_->options;
  asio::error_code ec;
  const auto addr = asio::ip::make_address(o.bind_address, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        fmt::format("bind address '{}' is not an IP address: {}", o.bind_address, ec.message()));
  }
  const tcp::endpoint ep(addr, o.port);
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(fmt::format("{}: cannot listen on {}:{}: {}", o.name,
                                              o.bind_address, o.port, ec.message()));
  }
  impl_->port = acc.local_endpoint().port();
  impl_->Accept();
  impl_->runner.Start(o.io_threads);
  impl_->started = true;
  return absl::OkStatus();
}

void RemotingServer::Stop() {
  if (!impl_->started.exchange(false)) return;
  impl_->stopping = true;
  asio::error_code ec;
  asio::post(impl_->runner.io, [impl = impl_.get()] {
    asio::error_code e;
    impl->acceptor.close(e);
  });
  impl_->runner.Stop();
  std::unordered_map<uint64_t, std::shared_ptr<ChannelImpl>> channels;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    channels.swap(impl_->channels);
  }
  for (auto& [id, ch] : channels) ch->CloseNow(/*notify=*/false);
  impl_->acceptor.close(ec);
  channels.clear();
  impl_->runner.Drain();
}

uint16_t RemotingServer::port() const { return impl_->port; }

ChannelPtr RemotingServer::FindChannel(uint64_t id) const {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->channels.find(id);
  return it == impl_->channels.end() ? nullptr : it->second;
}

void RemotingServer::RunEvery(std::chrono::milliseconds period, std::function<void()> fn) {
  impl_->runner.Every(period, std::move(fn));
}

void RemotingServer::RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
  impl_->runner.After(delay, std::move(fn));
}

// ---- RemotingClient ----

struct RemotingClient::Impl {
  ClientOptions options;
  IoRunner runner;
  std::shared_ptr<Handlers> handlers = std::make_shared<Handlers>();
  std::atomic<uint64_t> next_id{1};
  std::atomic<bool> started{false}, stopped{false};
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<ChannelImpl>> channels;
  std::once_flag start_once;

  void EnsureStarted() {
    std::call_once(start_once, [this] {
      runner.Start(options.io_threads);
      started = true;
    });
  }
};

RemotingClient::RemotingClient(ClientOptions options) : impl_(std::make_shared<Impl>()) {
  impl_->options = std::move(options);
}

RemotingClient::~RemotingClient() { Shutdown(); }

void RemotingClient::Register(int32_t code, Handler handler) {
  (*impl_->handlers)[code] = std::move(handler);
}

absl::StatusOr<ChannelPtr> RemotingClient::GetChannel(const std::string& addr) {
  if (impl_->stopped.load()) return absl::UnavailableError("client is shut down");
  impl_->EnsureStarted();
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    auto it = impl_->channels.find(addr);
    if (it != impl_->channels.end() && it->second->is_open()) return ChannelPtr(it->second);
  }
  auto hp = SplitHostPort(addr);
  if (!hp.ok()) return hp.status();
  tcp::resolver resolver(impl_->runner.io);
  asio::error_code ec;
  auto endpoints = resolver.resolve(hp->first, hp->second, ec);
  if (ec) {
    return absl::UnavailableError(fmt::format("cannot resolve {}: {}", addr, ec.message()));
  }
  auto sock = std::make_shared<tcp::socket>(asio::make_strand(impl_->runner.io));
  auto promise = std::make_shared<std::promise<asio::error_code>>();
  auto fut = promise->get_future();
  asio::async_connect(*sock, endpoints, [promise](const asio::error_code& e, const tcp::endpoint&) {
    promise->set_value(e);
  });
  if (fut.wait_for(impl_->options.connect_timeout) != std::future_status::ready) {
    asio::post(sock->get_executor(), [sock] {
      asio::error_code e;
      sock->close(e);
    });
    fut.wait();
    return absl::DeadlineExceededError(fmt::format("connect to {} timed out after {} ms", addr,
                                                   impl_->options.connect_timeout.count()));
  }
  ec = fut.get();
  if (ec) return absl::UnavailableError(fmt::format("connect to {}: {}", addr, ec.message()));
  std::weak_ptr<Impl> weak = impl_;
  auto ch = std::make_shared<ChannelImpl>(
      impl_, std::move(*sock), impl_->next_id.fetch_add(1), impl_->handlers,
      [weak, addr](const ChannelPtr& c) {
        if (auto impl = weak.lock()) {
          std::lock_guard<std::mutex> l(impl->mu);
          auto it = impl->channels.find(addr);
          if (it != impl->channels.end() && it->second.get() == c.get()) impl->channels.erase(it);
        }
      },
      256ull << 20, impl_->options.name);
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    auto& slot = impl_->channels[addr];
    if (slot && slot->is_open()) {  // another caller connected meanwhile; use theirs
      ch->CloseNow(false);
      return ChannelPtr(slot);
    }
    slot = ch;
  }
  ch->Start();
  return ChannelPtr(ch);
}

void RemotingClient::Invoke(const std::string& addr, RemotingCommand req,
                            std::chrono::milliseconds timeout, ResponseCallback done) {
  auto ch = GetChannel(addr);
  if (!ch.ok()) {
    done(ch.status());
    return;
  }
  (*ch)->Invoke(std::move(req), timeout, std::move(done));
}

absl::StatusOr<RemotingCommand> RemotingClient::InvokeSync(const std::string& addr,
                                                           RemotingCommand req,
                                                           std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<RemotingCommand>>>();
  auto fut = promise->get_future();
  Invoke(addr, std::move(req), timeout,
         [promise](absl::StatusOr<RemotingCommand> r) { promise->set_value(std::move(r)); });
  return fut.get();
}

void RemotingClient::InvokeOneway(const std::string& addr, RemotingCommand req) {
  auto ch = GetChannel(addr);
  if (ch.ok()) (*ch)->InvokeOneway(std::move(req));
}

void RemotingClient::Shutdown() {
  if (impl_->stopped.exchange(true)) return;
  if (!impl_->started.load()) return;
  impl_->runner.Stop();
  std::unordered_map<std::string, std::shared_ptr<ChannelImpl>> channels;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    channels.swap(impl_->channels);
  }
  for (auto& [addr, ch] : channels) ch->CloseNow(false);
  channels.clear();
  impl_->runner.Drain();
}

}  // namespace stele::remoting
