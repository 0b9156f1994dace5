// A RemotingServer on 127.0.0.1:0 with test handlers, and a RemotingClient pointed at it. Every
// wait is bounded (kWait); nothing sleeps and hopes.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"

namespace stele::remoting::testing {

using namespace std::chrono_literals;
constexpr auto kWait = 10s;

// Request codes the test server serves.
constexpr int32_t kEcho = 1000;        // replies at once with the request's extFields and body
constexpr int32_t kGather = 1001;      // holds replies until `n` arrived, then answers in reverse
                                       // order from another thread
constexpr int32_t kHold = 1002;        // never answers by itself (timeouts, closes)
constexpr int32_t kCallMe = 1003;      // records the channel, so the test can call the client
constexpr int32_t kClientCode = 2000;  // served by the client (server -> client calls)

// Runs jobs on its own thread (replies "from another thread, later").
class Worker {
 public:
  Worker() : thread_([this] { Run(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> l(mu_);
      jobs_.push_back(std::move(fn));
    }
    cv_.notify_all();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      cv_.wait(l, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      auto fn = std::move(jobs_.front());
      jobs_.pop_front();
      l.unlock();
      fn();
      l.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

// Records what the server saw; tests wait on it with bounded timeouts.
struct ServerLog {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ChannelPtr> called_me;  // kCallMe channels
  std::vector<Reply> held;            // kHold replies
  std::vector<uint64_t> closed;       // OnChannelClosed ids
  std::vector<RemotingCommand> oneways;
  std::vector<uint64_t> gather_channels;  // channel id of each kGather request

  template <typename Pred>
  bool WaitUntil(Pred pred) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, kWait, pred);
  }
  template <typename Fn>
  void Update(Fn fn) {
    {
      std::lock_guard<std::mutex> l(mu);
      fn();
    }
    cv.notify_all();
  }
};

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<RemotingServer>(
        ServerOptions{.bind_address = "127.0.0.1", .port = 0, .io_threads = 2, .name = "test"});
    server_->Register(kEcho, [](const ChannelPtr& ch, RemotingCommand req, Reply reply) {
      RemotingCommand resp;
      resp.code = response::kSuccess;
      resp.ext_fields = std::move(req.ext_fields);
      resp.Set("channel", static_cast<int64_t>(ch->id()));
      resp.body = std::move(req.body);
      if (req.is_oneway()) return;
      reply(std::move(resp));
    });
    server_->Register(kGather, [this](const ChannelPtr& ch, RemotingCommand req, Reply reply) {
      const size_t n = std::stoul(*req.Field("n"));
      gathered_.emplace_back(std::move(req), std::move(reply));
      log_.Update([&] { log_.gather_channels.push_back(ch->id()); });
      if (gathered_.size() < n) return;
      auto batch = std::make_shared<decltype(gathered_)>(std::move(gathered_));
      gathered_.clear();
      worker_.Post([batch] {
        for (auto it = batch->rbegin(); it != batch->rend(); ++it) {
          RemotingCommand resp;
          resp.Set("i", *it->first.Field("i"));
          it->second(std::move(resp));
        }
      });
    });
    server_->Register(kHold, [this](const ChannelPtr&, RemotingCommand req, Reply reply) {
      log_.Update([&] {
        if (req.is_oneway()) log_.oneways.push_back(std::move(req));
        log_.held.push_back(std::move(reply));
      });
    });
    server_->Register(kCallMe, [this](const ChannelPtr& ch, RemotingCommand, Reply reply) {
      log_.Update([&] { log_.called_me.push_back(ch); });
      reply(response::kSuccess);
    });
    server_->OnChannelClosed(
        [this](const ChannelPtr& ch) { log_.Update([&] { log_.closed.push_back(ch->id()); }); });
    ASSERT_TRUE(server_->Start().ok());
    addr_ = fmt::format("127.0.0.1:{}", server_->port());
  }

  void TearDown() override {
    client_.Shutdown();
    if (server_) server_->Stop();
  }

  static RemotingCommand Req(int32_t code, SerializeType type = SerializeType::kJson) {
    RemotingCommand r = RemotingCommand::Request(code);
    r.serialize_type = type;
    return r;
  }

  // Asynchronous Invoke whose result lands in a future.
  std::future<absl::StatusOr<RemotingCommand>> InvokeAsync(RemotingCommand req,
                                                           std::chrono::milliseconds timeout) {
    auto p = std::make_shared<std::promise<absl::StatusOr<RemotingCommand>>>();
    auto f = p->get_future();
    client_.Invoke(addr_, std::move(req), timeout,
                   [p](absl::StatusOr<RemotingCommand> r) { p->set_value(std::move(r)); });
    return f;
  }

  // Channel::Invoke whose result lands in a future.
  static std::future<absl::StatusOr<RemotingCommand>> InvokeOn(const ChannelPtr& ch,
                                                               RemotingCommand req,
                                                               std::chrono::milliseconds timeout) {
    auto p = std::make_shared<std::promise<absl::StatusOr<RemotingCommand>>>();
    auto f = p->get_future();
    ch->Invoke(std::move(req), timeout,
               [p](absl::StatusOr<RemotingCommand> r) { p->set_value(std::move(r)); });
    return f;
  }

  Worker worker_;  // declared first: destroyed after the server stops calling it
  std::unique_ptr<RemotingServer> server_;
  RemotingClient client_;
  std::string addr_;
  ServerLog log_;
  // kGather state: only touched by handlers, which run one at a time per connection.
  std::vector<std::pair<RemotingCommand, Reply>> gathered_;
};

}  // namespace stele::remoting::testing
