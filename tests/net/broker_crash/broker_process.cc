#include "broker_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace stele::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPoll = std::chrono::milliseconds(5);
constexpr int kMaxPortAttempts = 5;

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The broker's own failure line when listenPort is taken (RemotingServer::Start names the
// address; the exact wording comes from the OS and Asio, so match loosely).
bool LooksLikeBindFailure(const std::string& log) {
  return log.find("cannot start") != std::string::npos &&
         (log.find("in use") != std::string::npos || log.find("bind") != std::string::npos);
}

}  // namespace

absl::StatusOr<uint16_t> PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(fmt::format("socket: {}", std::strerror(errno)));
  sockaddr_in a = Loopback(0);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const int e = errno;
    close(fd);
    return absl::InternalError(fmt::format("bind 127.0.0.1:0: {}", std::strerror(e)));
  }
  close(fd);
  return ntohs(a.sin_port);
}

bool PortAcceptsConnections(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a = Loopback(port);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

BrokerProcess::BrokerProcess(std::string binary, std::string work_dir, bool sync_flush)
    : binary_(std::move(binary)),
      work_dir_(std::move(work_dir)),
      store_dir_(work_dir_ + "/store"),
      conf_path_(work_dir_ + "/broker.conf"),
      sync_flush_(sync_flush) {}

BrokerProcess::~BrokerProcess() {
  if (running()) Kill();
}

std::string BrokerProcess::addr() const { return fmt::format("127.0.0.1:{}", port_); }

std::string BrokerProcess::LogPath(int n) const {
  return fmt::format("{}/broker-{}.log", work_dir_, n);
}

std::string BrokerProcess::Log(int n) const { return ReadWhole(LogPath(n == 0 ? starts_ : n)); }

int BrokerProcess::CommitLogSegments() const {
  std::error_code ec;
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(store_dir_ + "/commitlog", ec)) {
    n += e.is_regular_file() ? 1 : 0;
  }
  return n;
}

absl::Status BrokerProcess::WriteConfig() const {
  // SYNC_FLUSH: a SUCCESS reply means the record was fdatasync'ed (ASYNC_FLUSH: written to the
  // file, so in the page cache, which a process kill does not lose). Small segments so that the
  // commit log rolls during a test; a small index so the store does not allocate 400 MB files.
  // A 1 MiB write ring (the least maxMessageSize = 64 KiB allows) so that it wraps often; the
  // default 32 MiB ring alone costs a second of page faults per start on a loaded 2-core VM.
  // No name server (namesrvAddr unset): the broker then registers nowhere. gRPC off.
  const std::string text = fmt::format(
      "brokerClusterName=CrashCluster\n"
      "brokerName=crash-broker\n"
      "brokerId=0\n"
      "brokerIP1=127.0.0.1\n"
      "bindAddress=127.0.0.1\n"
      "listenPort={}\n"
      "grpcServerPort=0\n"
      "storePathRootDir={}\n"
      "flushDiskType={}\n"
      "mappedFileSizeCommitLog={}\n"
      "mappedFileSizeConsumeQueue={}\n"
      "maxMessageSize=65536\n"
      "writeBufferSize={}\n"
      "maxHashSlotNum=16384\n"
      "maxIndexNum=65536\n"
      "autoCreateTopicEnable=true\n"
      "defaultTopicQueueNums=4\n",
      port_, store_dir_, sync_flush_ ? "SYNC_FLUSH" : "ASYNC_FLUSH", kSegmentBytes, 20 * 20000,
      1 << 20);
  std::ofstream out(conf_path_, std::ios::trunc);
  out << text << extra_config_;
  out.close();
  if (!out) return absl::InternalError("cannot write " + conf_path_);
  return absl::OkStatus();
}

absl::Status BrokerProcess::Start(std::chrono::milliseconds timeout) {
  if (running()) return absl::FailedPreconditionError("broker already running");
  const auto t0 = Clock::now();
  const auto deadline = t0 + timeout;
  absl::Status last;
  for (int attempt = 0; attempt < kMaxPortAttempts; ++attempt) {
    if (port_ == 0 || attempt > 0) {
      auto p = PickFreePort();
      if (!p.ok()) return p.status();
      port_ = *p;
    }
    bool bind_failed = false;
    last = StartOnce(deadline, &bind_failed);
    if (last.ok()) {
      slowest_start_s_ =
          std::max(slowest_start_s_, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    if (last.ok() || !bind_failed) return last;
  }
  return last;
}

absl::Status BrokerProcess::Launch() {
  if (absl::Status s = WriteConfig(); !s.ok()) return s;
  ++starts_;
  const std::string log_path = LogPath(starts_);
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::InternalError("cannot create " + log_path);
  // Everything the child needs is built before fork: after it only async-signal-safe calls.
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "NAMESRV_ADDR=", 13) != 0) env_store.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string conf_arg = conf_path_;
  char* argv[] = {const_cast<char*>(binary_.c_str()), const_cast<char*>("-c"), conf_arg.data(),
                  nullptr};
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(fmt::format("fork: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    // Die with the test (e.g. a ctest timeout) instead of outliving it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    // Our clients' sockets must not live on in the broker.
    close_range(3, ~0u, 0);
    execve(argv[0], argv, envp.data());
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;
  return absl::OkStatus();
}

absl::Status BrokerProcess::StartOnce(Clock::time_point deadline, bool* bind_failed) {
  if (absl::Status s = Launch(); !s.ok()) return s;
  while (true) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      const std::string log = Log(starts_);
      *bind_failed = LooksLikeBindFailure(log);
      return absl::UnavailableError(fmt::format(
          "mqbroker exited during start-up (wait status {:#x}); its log:\n{}", status, log));
    }
    if (Log(starts_).find("boot success") != std::string::npos && PortAcceptsConnections(port_)) {
      return absl::OkStatus();
    }
    if (Clock::now() >= deadline) {
      Kill();
      return absl::DeadlineExceededError(
          fmt::format("mqbroker did not start in time; its log:\n{}", Log(starts_)));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

absl::StatusOr<bool> BrokerProcess::StartAndKillAfter(std::chrono::milliseconds delay) {
  if (running()) return absl::FailedPreconditionError("broker already running");
  if (absl::Status s = Launch(); !s.ok()) return s;
  // The delay is the point of the exercise (a seeded moment in start-up), not a wait for a state.
  std::this_thread::sleep_for(delay);
  const bool booted = Log(starts_).find("boot success") != std::string::npos;
  const int status = Kill();
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
    return absl::InternalError(
        fmt::format("mqbroker exited on its own during start-up (wait status {:#x}); its log:\n{}",
                    status, Log(starts_)));
  }
  return booted;
}

int BrokerProcess::Kill() {
  if (!running()) return 0;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

absl::StatusOr<int> BrokerProcess::Stop(std::chrono::milliseconds timeout) {
  if (!running()) return absl::FailedPreconditionError("broker not running");
  kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    if (Clock::now() >= deadline) {
      Kill();
      return absl::DeadlineExceededError(
          fmt::format("mqbroker did not stop within {} ms of SIGTERM", timeout.count()));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

}  // namespace stele::testing
