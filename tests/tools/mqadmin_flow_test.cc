// The mqadmin binary against real mqnamesrv and mqbroker processes (127.0.0.1, free ports): the
// operator's flow of issue 10 — create a topic, send, see the offsets (topicStatus), see a group's
// lag (consumerProgress), rewind it (resetOffsetByTime), skip the backlog (skipAccumulatedMessage)
// — plus the lookups, and the exit code and message for an unknown topic and an unreachable name
// server. Every wait is bounded.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "testutil.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;

// A port nobody listens on right now (the kernel's pick for port 0).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts `argv` with stdout and stderr going to the given files; returns the pid (or -1).
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out, const std::string& err,
            const std::string& cwd = "") {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// Exit status of `pid` within `limit` (SIGKILL and -1 past it).
int WaitExit(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return -1;
    std::this_thread::sleep_for(10ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

struct Result {
  int rc = -1;
  std::string out;
  std::string err;
};

class MqadminFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_port_ = FreePort();
    broker_port_ = FreePort();
    ASSERT_GT(ns_port_, 0);
    ASSERT_GT(broker_port_, 0);
    ASSERT_NE(ns_port_, broker_port_);
    ns_ = fmt::format("127.0.0.1:{}", ns_port_);
    broker_addr_ = fmt::format("127.0.0.1:{}", broker_port_);
    const std::string d = dir_.path();
    setenv("HOME", d.c_str(), 1);  // whatever a server or tool writes under ~ stays in the test
    std::ofstream(d + "/namesrv.conf") << fmt::format(
        "listenPort={}\nbindAddress=127.0.0.1\nkvConfigPath={}/kvConfig.json\n", ns_port_, d);
    std::ofstream(d + "/broker.conf") << fmt::format(
        "brokerClusterName=FlowCluster\nbrokerName=flow-a\nbrokerId=0\nbrokerIP1=127.0.0.1\n"
        "bindAddress=127.0.0.1\nlistenPort={}\nnamesrvAddr={}\nstorePathRootDir={}/store\n"
        "autoCreateTopicEnable=false\ngrpcServerPort=0\nmappedFileSizeCommitLog=16777216\n",
        broker_port_, ns_, d);
    ns_pid_ = Spawn({MQNAMESRV_PATH, "-c", d + "/namesrv.conf"}, d + "/namesrv.out",
                    d + "/namesrv.err", d);
    ASSERT_GT(ns_pid_, 0);
    broker_pid_ =
        Spawn({MQBROKER_PATH, "-c", d + "/broker.conf"}, d + "/broker.out", d + "/broker.err", d);
    ASSERT_GT(broker_pid_, 0);
    // Registered once clusterList names it (the broker registers as soon as it listens).
    ASSERT_TRUE(Until([&] {
      return Admin({"clusterList"}).out.find(broker_addr_) != std::string::npos;
    })) << ReadFile(d + "/broker.err")
        << ReadFile(d + "/namesrv.err");
  }

  void TearDown() override {
    for (pid_t pid : {broker_pid_, ns_pid_}) {
      if (pid <= 0) continue;
      kill(pid, SIGTERM);
      EXPECT_EQ(WaitExit(pid, 20s), 0) << "server " << pid << " did not stop cleanly";
    }
  }

  // Polls `ok` every 50 ms for at most 10 s.
  template <typename F>
  bool Until(F ok) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ok()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  Result Admin(std::vector<std::string> args, const std::string& ns = "") {
    std::vector<std::string> argv = {MQADMIN_PATH};
    argv.push_back(args.front());
    argv.push_back("-n");
    argv.push_back(ns.empty() ? ns_ : ns);
    argv.insert(argv.end(), args.begin() + 1, args.end());
    const std::string out = dir_.path() + "/admin.out";
    const std::string err = dir_.path() + "/admin.err";
    Result r;
    const pid_t pid = Spawn(argv, out, err);
    if (pid <= 0) return r;
    r.rc = WaitExit(pid, 30s);
    r.out = ReadFile(out);
    r.err = ReadFile(err);
    return r;
  }

  Result AdminOk(std::vector<std::string> args) {
    Result r = Admin(args);
    EXPECT_EQ(r.rc, 0) << args.front() << ": " << r.err << r.out;
    return r;
  }

  // The "Consume Diff Total:" of consumerProgress for the flow's group and topic.
  long long DiffTotal() {
    const Result r = AdminOk({"consumerProgress", "-g", "FlowG", "-t", "FlowT"});
    std::smatch m;
    if (!std::regex_search(r.out, m, std::regex("Consume Diff Total: (-?\\d+)"))) {
      ADD_FAILURE() << r.out << r.err;
      return -1;
    }
    return std::stoll(m[1]);
  }

  stele::testing::TempDir dir_;
  int ns_port_ = 0;
  int broker_port_ = 0;
  std::string ns_;
  std::string broker_addr_;
  pid_t ns_pid_ = -1;
  pid_t broker_pid_ = -1;
};

TEST_F(MqadminFlowTest, OffsetsLagResetAndSkip) {
  const int64_t before_sends = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count() -
                               1000;
  AdminOk({"updateTopic", "-c", "FlowCluster", "-t", "FlowT", "-r", "2", "-w", "2"});
  ASSERT_TRUE(Until([&] { return Admin({"topicRoute", "-t", "FlowT"}).rc == 0; }));
  // N = 6: four to queue 0, two to queue 1.
  for (int i = 0; i < 6; ++i) {
    AdminOk({"sendMessage", "-t", "FlowT", "-p", fmt::format("body-{}", i), "-c", "tagA", "-i",
             i < 4 ? "0" : "1"});
  }

  // A send is acknowledged once stored; the queue index (what topicStatus reads) follows in the
  // background, so the last send may take a moment to show.
  const std::regex q0("flow-a +0 +0 +4 +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d,\\d{3}\n");
  const std::regex q1("flow-a +1 +0 +2 +\\d{4}-");
  Result r;
  EXPECT_TRUE(Until([&] {
    r = AdminOk({"topicStatus", "-t", "FlowT"});
    return std::regex_search(r.out, q0) && std::regex_search(r.out, q1);
  })) << r.out;
  EXPECT_EQ(r.out.rfind("#Broker Name", 0), 0u) << r.out;

  // The group consumed M = 3 of queue 0 (its offset set the way Java's mqadmin sets one queue).
  r = AdminOk({"resetOffsetByTime", "-g", "FlowG", "-t", "FlowT", "-s", "now", "-b", broker_addr_,
               "-q", "0", "-o", "3"});
  EXPECT_NE(r.out.find("reset consumer offset to 3"), std::string::npos) << r.out;
  EXPECT_EQ(DiffTotal(), 6 - 3);
  r = AdminOk({"consumerProgress", "-g", "FlowG", "-t", "FlowT"});
  EXPECT_TRUE(std::regex_search(r.out, std::regex("FlowT +flow-a +0 +4 +3 +1 +0 "))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("FlowT +flow-a +1 +2 +0 +2 +0 +N/A"))) << r.out;

  // Back to before the sends: everything is lag again.
  r = AdminOk(
      {"resetOffsetByTime", "-g", "FlowG", "-t", "FlowT", "-s", std::to_string(before_sends)});
  EXPECT_NE(r.out.find("#brokerName"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("flow-a +0 +0"))) << r.out;
  EXPECT_EQ(DiffTotal(), 6);

  r = AdminOk({"skipAccumulatedMessage", "-g", "FlowG", "-t", "FlowT"});
  EXPECT_TRUE(std::regex_search(r.out, std::regex("flow-a +0 +4"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("flow-a +1 +2"))) << r.out;
  EXPECT_EQ(DiffTotal(), 0);

  // Lookups: a queue offset, the whole topic, a unique key.
  r = AdminOk({"queryMsgByOffset", "-t", "FlowT", "-b", "flow-a", "-i", "0", "-o", "1"});
  EXPECT_TRUE(std::regex_search(r.out, std::regex("Queue Offset: +1\n"))) << r.out;
  EXPECT_NE(r.out.find("body-1"), std::string::npos) << r.out;
  r = AdminOk({"printMsg", "-t", "FlowT", "-s", "tagA"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("MSGID: (\\S+) .*BODY: body-5"))) << r.out;
  const std::string msg_id = m[1];
  size_t lines = 0;
  for (size_t p = r.out.find("MSGID: "); p != std::string::npos; p = r.out.find("MSGID: ", p + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 6u) << r.out;
  EXPECT_EQ(AdminOk({"printMsg", "-t", "FlowT", "-s", "other"}).out.find("MSGID: "),
            std::string::npos);
  r = AdminOk({"queryMsgByUniqueKey", "-t", "FlowT", "-i", msg_id});
  EXPECT_NE(r.out.find("body-5"), std::string::npos) << r.out;
}

TEST_F(MqadminFlowTest, ClearErrors) {
  Result r = Admin({"topicStatus", "-t", "NoSuchTopic"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("NoSuchTopic"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");

  const int closed = FreePort();
  r = Admin({"topicStatus", "-t", "FlowT"}, fmt::format("127.0.0.1:{}", closed));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find(fmt::format("127.0.0.1:{}", closed)), std::string::npos) << r.err;

  r = Admin({"resetOffsetByTime", "-g", "G", "-t", "T", "-s", "yesterday"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("yyyy-MM-dd#HH:mm:ss:SSS"), std::string::npos) << r.err;
  r = Admin({"consumerConnection", "-g", "NobodyHere"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("NobodyHere"), std::string::npos) << r.err;
}

}  // namespace
