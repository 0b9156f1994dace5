// The mqnamesrv binary: command line, configuration errors, serving, and a clean stop on SIGTERM.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "testutil.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A child mqnamesrv with stdout and stderr on one pipe.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(MQNAMESRV_PATH));
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(MQNAMESRV_PATH, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_fd_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0 && status_ < 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }

  // Reads output until it contains `text` or the child closes it; false after `limit`.
  bool WaitForOutput(const std::string& text, std::chrono::milliseconds limit = 10000ms) {
    auto deadline = Clock::now() + limit;
    while (output_.find(text) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{.fd = out_fd_, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[4096];
      ssize_t n = ::read(out_fd_, buf, sizeof(buf));
      if (n <= 0) return output_.find(text) != std::string::npos;
      output_.append(buf, n);
    }
    return true;
  }

  // The exit code, once the child exits (-1 if it did not within `limit`, or died by a signal).
  int Wait(std::chrono::milliseconds limit = 10000ms) {
    auto deadline = Clock::now() + limit;
    WaitForOutput("\x01never\x01", limit);  // drain until EOF (the child is exiting)
    int st = 0;
    // EOF can come a moment before the child is reapable.
    while (::waitpid(pid_, &st, WNOHANG) != pid_) {
      if (Clock::now() > deadline) return -1;
      ::usleep(1000);
    }
    status_ = st;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }

  void Signal(int sig) { ::kill(pid_, sig); }
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int status_ = -1;
  std::string output_;
};

std::string WriteConf(const std::string& dir, const std::string& text) {
  std::string path = dir + "/namesrv.conf";
  std::ofstream(path) << text;
  return path;
}

TEST(MqnamesrvTest, HelpAndBadArguments) {
  Child help({"-h"});
  EXPECT_EQ(help.Wait(), 0);
  EXPECT_NE(help.output().find("usage: mqnamesrv"), std::string::npos);
  Child bad({"--listenPort"});
  EXPECT_EQ(bad.Wait(), 2);
  EXPECT_NE(bad.output().find("needs a value"), std::string::npos) << bad.output();
  Child unknown({"-x"});
  EXPECT_EQ(unknown.Wait(), 2);
}

TEST(MqnamesrvTest, PrintsConfig) {
  stele::testing::TempDir dir;
  std::string conf = WriteConf(dir.path(), "listenPort=9988\nkvConfigPath=/tmp/x/kv.json\n");
  Child p({"-c", conf, "--bindAddress", "127.0.0.1", "-p"});
  EXPECT_EQ(p.Wait(), 0);
  EXPECT_NE(p.output().find("listenPort=9988"), std::string::npos) << p.output();
  EXPECT_NE(p.output().find("bindAddress=127.0.0.1"), std::string::npos) << p.output();
  EXPECT_NE(p.output().find("kvConfigPath=/tmp/x/kv.json"), std::string::npos) << p.output();
}

TEST(MqnamesrvTest, BadConfigIsAClearError) {
  stele::testing::TempDir dir;
  Child bad_value({"-c", WriteConf(dir.path(), "listenPort=abc\n")});
  EXPECT_EQ(bad_value.Wait(), 1);
  EXPECT_NE(bad_value.output().find("listenPort"), std::string::npos) << bad_value.output();
  Child missing({"-c", dir.path() + "/nope.conf"});
  EXPECT_EQ(missing.Wait(), 1);
  EXPECT_NE(missing.output().find("nope.conf"), std::string::npos) << missing.output();
}

TEST(MqnamesrvTest, ServesAndStopsCleanlyOnSigterm) {
  stele::testing::TempDir dir;
  const uint16_t port = stele::testing::FreeLoopbackPort();
  std::string conf = WriteConf(
      dir.path(), fmt::format("listenPort={}\nbindAddress=127.0.0.1\nkvConfigPath={}/kv.json\n",
                              port, dir.path()));
  Child srv({"-c", conf});
  ASSERT_TRUE(srv.WaitForOutput(fmt::format("mqnamesrv listening on 127.0.0.1:{}", port)))
      << srv.output();

  {
    stele::remoting::RemotingClient client;
    auto req =
        stele::remoting::RemotingCommand::Request(stele::remoting::request::kGetRouteinfoByTopic);
    req.Set("topic", "TopicTest");
    auto resp = client.InvokeSync(fmt::format("127.0.0.1:{}", port), req, 5000ms);
    ASSERT_TRUE(resp.ok()) << resp.status();
    EXPECT_EQ(resp->code, stele::remoting::response::kTopicNotExist);

    // A second instance on the same port fails with a clear message.
    Child dup({"-c", conf});
    EXPECT_EQ(dup.Wait(), 1);
    EXPECT_NE(dup.output().find("cannot start"), std::string::npos) << dup.output();
  }

  srv.Signal(SIGTERM);
  EXPECT_EQ(srv.Wait(), 0) << srv.output();
  EXPECT_NE(srv.output().find("mqnamesrv stopped"), std::string::npos) << srv.output();
}

}  // namespace
