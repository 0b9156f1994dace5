// The remoting transport: framed TCP connections carrying RemotingCommands, a server that
// dispatches requests by code, and a client that calls servers. Built on standalone Asio; no Asio
// type appears here so that only transport.cc pays for its headers.
//
// Threading: each server or client runs `io_threads` threads. Work for one connection is
// serialized (an Asio strand): its handlers run one at a time, in arrival order. Handlers must not
// block; a handler that needs to wait (long polling, a SYNC_FLUSH append) keeps the Reply and calls
// it later from any thread.
//
// Limits: a frame longer than kMaxFrameSize, shorter than its header, or with an undecodable
// header closes that connection with a log line; other connections are unaffected. A connection
// whose unsent replies exceed ServerOptions::max_write_queue_bytes is closed (a reader that stopped
// reading must not grow our memory without bound).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "net/remoting/command.h"

namespace stele::remoting {

using ResponseCallback = std::function<void(absl::StatusOr<RemotingCommand>)>;

// One TCP connection. Thread-safe.
class Channel {
 public:
  virtual ~Channel() = default;
  virtual uint64_t id() const = 0;
  // The peer's "ip:port" (IPv4-mapped IPv6 addresses are shown as IPv4).
  virtual const std::string& remote_address() const = 0;
  // The local "ip:port" of this connection.
  virtual const std::string& local_address() const = 0;
  virtual bool is_open() const = 0;
  // Queues `cmd` for sending (encoded in cmd.serialize_type, on the connection's io thread, so a
  // caller on an engine thread does not pay for encoding). Dropped if the channel is closed.
  virtual void Send(RemotingCommand cmd) = 0;
  // Sends a request (a fresh opaque is assigned) and calls `done` exactly once: with the
  // response, DeadlineExceeded after `timeout`, or Unavailable when the channel closes first.
  virtual void Invoke(RemotingCommand req, std::chrono::milliseconds timeout,
                      ResponseCallback done) = 0;
  // Sends a request with the ONEWAY flag; no response is expected.
  virtual void InvokeOneway(RemotingCommand req) = 0;
  virtual void Close() = 0;
};
using ChannelPtr = std::shared_ptr<Channel>;

// Observes every reply a server sends: the request's code, the reply's code and the time from
// reading the request to handing the reply to its connection. Runs on whichever thread replies;
// must be cheap and thread-safe.
using ReplyObserver =
    std::function<void(int32_t request_code, int32_t response_code, std::chrono::microseconds)>;

// Answers one request. Fills in opaque, the RESPONSE flag and the request's serialize type; does
// nothing for oneway requests or when the channel has closed. Callable from any thread; calls
// after the first are ignored.
class Reply {
 public:
  Reply() = default;
  // `observer` (may be null) is told about the reply; the clock starts now.
  Reply(std::weak_ptr<Channel> ch, const RemotingCommand& req,
        std::shared_ptr<const ReplyObserver> observer = nullptr);
  void operator()(RemotingCommand resp) const;
  // A response with just a code and remark.
  void operator()(int32_t code, std::string remark = {}) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// A request handler. `req` is the handler's to keep (e.g. a held pull).
using Handler = std::function<void(const ChannelPtr& ch, RemotingCommand req, Reply reply)>;

struct ServerOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t port = 0;  // 0 = any free port (see RemotingServer::port)
  int io_threads = 1;
  uint64_t max_write_queue_bytes = 256ull << 20;
  std::string name = "remoting";  // in log lines
  ReplyObserver on_reply;         // optional: e.g. request latency metrics
};

class RemotingServer {
 public:
  explicit RemotingServer(ServerOptions options);
  ~RemotingServer();  // Stop()s
  RemotingServer(const RemotingServer&) = delete;
  RemotingServer& operator=(const RemotingServer&) = delete;

  // Before Start(). A code without a handler gets REQUEST_CODE_NOT_SUPPORTED.
  void Register(int32_t code, Handler handler);
  // Called (on an io thread) after a connection closes, for any reason.
  void OnChannelClosed(std::function<void(const ChannelPtr&)> fn);

  // Binds, listens and starts the io threads. Fails (with the address in the message) if the
  // address cannot be bound.
  absl::Status Start();
  // Closes the listener and every connection, runs no more handlers or timers, joins the threads.
  void Stop();
  uint16_t port() const;
  // The open connection with this id, or null.
  ChannelPtr FindChannel(uint64_t id) const;

  // Timers on the io threads, until Stop(). Callbacks must not block.
  void RunEvery(std::chrono::milliseconds period, std::function<void()> fn);
  void RunAfter(std::chrono::milliseconds delay, std::function<void()> fn);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

struct ClientOptions {
  int io_threads = 1;
  std::chrono::milliseconds connect_timeout{3000};
  std::string name = "client";
};

// Calls remoting servers by "host:port", keeping one connection per address (reconnected on
// demand after it closes). Requests the servers send on those connections go to the handlers.
class RemotingClient {
 public:
  explicit RemotingClient(ClientOptions options = {});
  ~RemotingClient();
  RemotingClient(const RemotingClient&) = delete;
  RemotingClient& operator=(const RemotingClient&) = delete;

  void Register(int32_t code, Handler handler);
  // Invoke/InvokeOneway connect first when there is no open connection to addr; that part blocks
  // the caller for up to connect_timeout.
  void Invoke(const std::string& addr, RemotingCommand req, std::chrono::milliseconds timeout,
              ResponseCallback done);
  // Blocks the caller (never call it on an io thread).
  absl::StatusOr<RemotingCommand> InvokeSync(const std::string& addr, RemotingCommand req,
                                             std::chrono::milliseconds timeout);
  void InvokeOneway(const std::string& addr, RemotingCommand req);
  // The connected channel to addr, connecting (blocking, bounded by connect_timeout) if needed.
  absl::StatusOr<ChannelPtr> GetChannel(const std::string& addr);
  void Shutdown();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace stele::remoting
