// A real mqbroker as a child process, for the server-level crash tests: writes its broker.conf,
// starts it (fork + exec), waits until it serves, and kills or stops it. Every start writes the
// child's stdout and stderr to its own log file (broker-<n>.log in the work directory), so a test
// can read what one particular start logged (e.g. its recovery line).
//
// Not thread-safe: one test thread drives it. The destructor SIGKILLs and reaps a child that is
// still running, so no test path leaves a broker behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace stele::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed). Another
// process may take it before we use it; BrokerProcess::Start retries with a fresh one.
absl::StatusOr<uint16_t> PickFreePort();

// True if something accepts TCP connections on 127.0.0.1:port.
bool PortAcceptsConnections(uint16_t port);

class BrokerProcess {
 public:
  // The broker's mappedFileSizeCommitLog: small, so that a test's few megabytes roll it.
  static constexpr int64_t kSegmentBytes = 1 << 20;

  // `binary` is mqbroker; the store, broker.conf and logs live under `work_dir` (which exists).
  // flushDiskType is SYNC_FLUSH, or ASYNC_FLUSH when !sync_flush.
  BrokerProcess(std::string binary, std::string work_dir, bool sync_flush = true);
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // Starts the broker and returns once it logged its boot line and its port accepts connections,
  // or an error (the child exited, or `timeout` passed: the child is then killed). The first
  // start picks a free port; later starts reuse it so that clients and message ids stay valid,
  // unless it cannot be bound any more (then a fresh one is picked, as on the first start).
  absl::Status Start(std::chrono::milliseconds timeout);

  // Starts the broker and SIGKILLs it `delay` later, wherever its start-up (store recovery,
  // consume-queue rebuild, ...) has got to. Returns whether it had already booted, or an error if
  // it could not be launched or exited by itself.
  absl::StatusOr<bool> StartAndKillAfter(std::chrono::milliseconds delay);
  // Sends SIGKILL and reaps the child (if running). Returns its wait status.
  int Kill();
  // Sends SIGTERM and waits up to `timeout` for the child to exit. Returns the wait status, or
  // DeadlineExceeded (after SIGKILLing it) if it did not stop in time.
  absl::StatusOr<int> Stop(std::chrono::milliseconds timeout);

  // broker.conf lines ("key=value\n" ...) appended to the generated ones on every later start.
  void set_extra_config(std::string text) { extra_config_ = std::move(text); }

  bool running() const { return pid_ > 0; }
  uint16_t port() const { return port_; }
  std::string addr() const;  // "127.0.0.1:port"
  const std::string& store_dir() const { return store_dir_; }
  int starts() const { return starts_; }
  // The longest Start() so far: fork to serving, recovery included.
  double slowest_start_seconds() const { return slowest_start_s_; }
  // How many commit-log segment files the store holds now (the broker creates the next one
  // ahead of need, so this is one more than the segments written).
  int CommitLogSegments() const;
  // The log of start `n` (1-based), or of the latest start when n is 0; empty if unreadable.
  std::string Log(int n = 0) const;

 private:
  absl::Status WriteConfig() const;
  // Writes broker.conf and forks the broker with the next log file; does not wait.
  absl::Status Launch();
  absl::Status StartOnce(std::chrono::steady_clock::time_point deadline, bool* bind_failed);
  std::string LogPath(int n) const;

  const std::string binary_;
  const std::string work_dir_;
  const std::string store_dir_;
  const std::string conf_path_;
  const bool sync_flush_;
  std::string extra_config_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  int starts_ = 0;
  double slowest_start_s_ = 0;
};

}  // namespace stele::testing
