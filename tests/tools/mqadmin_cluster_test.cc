// The real mqadmin binary against real mqnamesrv and mqbroker processes (127.0.0.1, free ports,
// stopped by PID): every subcommand's --help, usage errors, an unreachable name server, and the
// output layout of the cluster / config / write-perm / subscription-group commands.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "testutil.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Result {
  int rc = -1;
  std::string out, err;
  std::chrono::milliseconds elapsed{0};
};

// Runs `path args...` to completion (killed after `limit`), collecting stdout and stderr.
Result Run(const char* path, const std::vector<std::string>& args,
           std::chrono::milliseconds limit = 15000ms) {
  Result r;
  int out[2], err[2];
  if (::pipe(out) != 0 || ::pipe(err) != 0) return r;
  const auto t0 = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close(out[0]), ::close(out[1]), ::close(err[0]), ::close(err[1]);
    std::vector<char*> argv{const_cast<char*>(path)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::unsetenv("NAMESRV_ADDR");
    ::execv(path, argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open = 2;
  const auto deadline = t0 + limit;
  while (open > 0 && Clock::now() < deadline) {
    if (::poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  if (open > 0) ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.rc = open == 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  return r;
}

Result Admin(const std::vector<std::string>& args) { return Run(MQADMIN_PATH, args); }

// A server process with its output in a file; SIGTERM then SIGKILL on destruction.
class Server {
 public:
  Server(const char* path, std::vector<std::string> args, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::fopen(log.c_str(), "w");
      if (f != nullptr) {
        ::dup2(fileno(f), 1);
        ::dup2(fileno(f), 2);
      }
      std::vector<char*> argv{const_cast<char*>(path)};
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(path, argv.data());
      ::_exit(127);
    }
  }
  ~Server() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(10ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  bool alive() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }

 private:
  pid_t pid_ = -1;
};

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Repeats `fn` until it returns true, 10 s at most.
template <typename Fn>
bool Eventually(Fn fn) {
  const auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    if (fn()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// ---- without servers --------------------------------------------------------------------------

std::vector<std::string> SubcommandNames() {
  Result list = Admin({"help"});
  std::vector<std::string> names;
  for (const std::string& l : Lines(list.out)) {
    if (l.rfind("   ", 0) != 0) continue;
    std::istringstream in(l);
    std::string name;
    in >> name;
    names.push_back(name);
  }
  return names;
}

TEST(MqadminCliTest, EverySubcommandHasHelp) {
  const std::vector<std::string> names = SubcommandNames();
  for (const char* mine :
       {"clusterList", "brokerStatus", "getBrokerConfig", "updateBrokerConfig", "getNamesrvConfig",
        "wipeWritePerm", "addWritePerm", "topicClusterList", "updateSubGroup", "deleteSubGroup"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), mine), names.end()) << mine;
  }
  for (const std::string& name : names) {
    Result r = Admin({name, "--help"});
    EXPECT_EQ(r.rc, 0) << name;
    EXPECT_NE(r.out.find("usage: mqadmin " + name), std::string::npos) << name << r.out;
    EXPECT_NE(r.out.find("-n,--namesrvAddr <arg>"), std::string::npos) << name;
    EXPECT_NE(r.out.find("-h,--help"), std::string::npos) << name;
  }
  // RocketMQ's long option names for the commands of this file.
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"updateSubGroup",
       {"-b,--brokerAddr", "-c,--clusterName", "-g,--groupName", "-s,--consumeEnable",
        "-m,--consumeFromMinEnable", "-d,--consumeBroadcastEnable", "-o,--consumeMessageOrderly",
        "-q,--retryQueueNums", "-r,--retryMaxTimes", "-i,--brokerId",
        "-w,--whichBrokerWhenConsumeSlowly", "-a,--notifyConsumerIdsChanged"}},
      {"deleteSubGroup",
       {"-b,--brokerAddr", "-c,--clusterName", "-g,--groupName", "-r,--removeOffset"}},
      {"updateBrokerConfig", {"-b,--brokerAddr", "-c,--clusterName", "-k,--key", "-v,--value"}},
      {"getBrokerConfig", {"-b,--brokerAddr", "-c,--clusterName"}},
      {"brokerStatus", {"-b,--brokerAddr", "-c,--clusterName"}},
      {"wipeWritePerm", {"-b,--brokerName"}},
      {"addWritePerm", {"-b,--brokerName"}},
      {"topicClusterList", {"-t,--topic"}},
  };
  for (const auto& [name, options] : expected) {
    Result r = Admin({name, "-h"});
    for (const std::string& o : options) {
      EXPECT_NE(r.out.find(o), std::string::npos) << name << " lacks " << o << "\n" << r.out;
    }
  }
}

TEST(MqadminCliTest, UsageErrorsExit2) {
  Result r = Admin({"noSuchCommand"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("unknown subcommand noSuchCommand"), std::string::npos) << r.err;
  r = Admin({"topicClusterList", "-n", "127.0.0.1:1"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("-t <arg> is required"), std::string::npos) << r.err;
  r = Admin({"updateSubGroup", "-g", "G", "-n", "127.0.0.1:1"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("one of -b or -c is required"), std::string::npos) << r.err;
  r = Admin({"deleteSubGroup", "-b", "127.0.0.1:1", "-g", "G", "-r", "yes"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("expects true or false"), std::string::npos) << r.err;
  r = Admin({"updateBrokerConfig", "-b", "127.0.0.1:1", "-k", "brokerPermission"});
  EXPECT_EQ(r.rc, 2);
}

TEST(MqadminCliTest, UnreachableNameServerFailsFastWithOneLine) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"clusterList", "-n", "127.0.0.1:1"},
                                             {"topicRoute", "-t", "T", "-n", "127.0.0.1:1"},
                                             {"getNamesrvConfig", "-n", "127.0.0.1:1"},
                                             {"wipeWritePerm", "-b", "b", "-n", "127.0.0.1:1"}}) {
    Result r = Admin(args);
    EXPECT_EQ(r.rc, 1) << args[0] << r.out << r.err;
    EXPECT_LT(r.elapsed, 5000ms) << args[0];
    std::vector<std::string> err = Lines(r.err);
    ASSERT_EQ(err.size(), 1u) << args[0] << ": " << r.err;
    EXPECT_EQ(err[0].rfind("mqadmin: ", 0), 0u) << err[0];
    EXPECT_NE(err[0].find("127.0.0.1:1"), std::string::npos) << err[0];
  }
}

// ---- against servers --------------------------------------------------------------------------

class MqadminClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new stele::testing::TempDir();
    ns_port_ = stele::testing::FreeLoopbackPort();
    broker_port_ = stele::testing::FreeLoopbackPort();
    ns_ = fmt::format("127.0.0.1:{}", ns_port_);
    broker_addr_ = fmt::format("127.0.0.1:{}", broker_port_);
    namesrv_ = new Server(MQNAMESRV_PATH,
                          {fmt::format("--listenPort={}", ns_port_), "--bindAddress=127.0.0.1",
                           fmt::format("--kvConfigPath={}/kv.json", dir_->path())},
                          dir_->path() + "/namesrv.log");
    const std::string conf = dir_->path() + "/broker.conf";
    std::ofstream(conf) << fmt::format(
        "brokerClusterName=StCluster\nbrokerName=broker-st\nbrokerId=0\nlistenPort={}\n"
        "bindAddress=127.0.0.1\nbrokerIP1=127.0.0.1\nnamesrvAddr={}\nstorePathRootDir={}/store\n"
        "grpcServerPort=0\nupdateConfigAllowed=true\nmappedFileSizeCommitLog=4194304\n"
        "mappedFileSizeConsumeQueue=60000\n",
        broker_port_, ns_, dir_->path());
    broker_ = new Server(MQBROKER_PATH, {"-c", conf}, dir_->path() + "/broker.log");
  }
  static void TearDownTestSuite() {
    delete broker_;
    delete namesrv_;
    delete dir_;
  }
  void SetUp() override {
    // Registered: the name server lists the broker (the broker registers right after start).
    ASSERT_TRUE(Eventually([] {
      Result r = Admin({"clusterList", "-n", ns_});
      return r.rc == 0 && r.out.find(broker_addr_) != std::string::npos;
    })) << "broker did not register; logs in "
        << dir_->path();
  }

  static Result A(std::vector<std::string> args) {
    args.push_back("-n");
    args.push_back(ns_);
    return Admin(args);
  }

  static inline stele::testing::TempDir* dir_ = nullptr;
  static inline Server* namesrv_ = nullptr;
  static inline Server* broker_ = nullptr;
  static inline uint16_t ns_port_ = 0, broker_port_ = 0;
  static inline std::string ns_, broker_addr_;
};

TEST_F(MqadminClusterTest, ClusterListAndBrokerStatus) {
  Result r = A({"clusterList"});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_TRUE(
      std::regex_search(lines[0], std::regex("^#Cluster Name +#Broker Name +#BID +#Addr "
                                             "+#Version +#InTPS\\(LOAD\\) +#OutTPS\\(LOAD\\)"
                                             " +#Timer\\(Progress\\) +#PCWait\\(ms\\) +"
                                             "#Hour +#SPACE +#ACTIVATED$")))
      << lines[0];
  EXPECT_TRUE(std::regex_search(
      lines[1], std::regex("^StCluster +broker-st +0 +" + broker_addr_ + " +Stele")))
      << lines[1];
  // Columns line up under the header (Java's fixed widths).
  EXPECT_EQ(lines[1].find("broker-st"), lines[0].find("#Broker Name"));
  EXPECT_EQ(lines[1].find(broker_addr_), lines[0].find("#Addr"));

  r = A({"clusterList", "-m"});
  ASSERT_EQ(r.rc, 0) << r.err;
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_TRUE(std::regex_search(
      lines[0], std::regex("^#Cluster Name +#Broker Name +#InTotalYest +#OutTotalYest "
                           "+#InTotalToday +#OutTotalToday$")))
      << lines[0];
  EXPECT_TRUE(std::regex_search(lines[1], std::regex("^StCluster +broker-st +")));

  r = A({"brokerStatus", "-b", broker_addr_});
  ASSERT_EQ(r.rc, 0) << r.err;
  lines = Lines(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end()));
  EXPECT_NE(r.out.find(fmt::format("{:<32}: Stele", "brokerVersionDesc")), std::string::npos)
      << r.out;
  r = A({"brokerStatus", "-c", "StCluster"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find(fmt::format("{:<24} {:<32}: ", broker_addr_, "brokerVersionDesc")),
            std::string::npos)
      << r.out;
  r = A({"brokerStatus", "-c", "NoCluster"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("cluster NoCluster is unknown"), std::string::npos) << r.err;
}

TEST_F(MqadminClusterTest, BrokerConfigReadAndAllowlistedUpdate) {
  Result r = A({"getBrokerConfig", "-b", broker_addr_});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(Lines(r.out)[0], fmt::format("============{}============", broker_addr_));
  EXPECT_NE(r.out.find(fmt::format("{:<50}=  broker-st\n", "brokerName")), std::string::npos);
  r = A({"getBrokerConfig", "-c", "StCluster"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(Lines(r.out)[0], fmt::format("============Master: {}============", broker_addr_));

  r = A({"updateBrokerConfig", "-b", broker_addr_, "-k", "maxInflightSends", "-v", "777"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, fmt::format("update broker config success, {}\n", broker_addr_));
  r = A({"getBrokerConfig", "-b", broker_addr_});
  EXPECT_NE(r.out.find(fmt::format("{:<50}=  777\n", "maxInflightSends")), std::string::npos);

  // brokerPermission reaches the name server's routes at once (a re-registration whose
  // DataVersion changed), and back.
  ASSERT_EQ(A({"updateTopic", "-b", broker_addr_, "-t", "PermTopic"}).rc, 0);
  auto route_perm_is = [](int perm) {
    return Eventually([perm] {
      return A({"topicRoute", "-t", "PermTopic"}).out.find(fmt::format("\"perm\": {}", perm)) !=
             std::string::npos;
    });
  };
  ASSERT_TRUE(route_perm_is(6));
  ASSERT_EQ(A({"updateBrokerConfig", "-b", broker_addr_, "-k", "brokerPermission", "-v", "4"}).rc,
            0);
  EXPECT_TRUE(route_perm_is(4));
  ASSERT_EQ(A({"updateBrokerConfig", "-b", broker_addr_, "-k", "brokerPermission", "-v", "6"}).rc,
            0);
  EXPECT_TRUE(route_perm_is(6));

  r = A({"updateBrokerConfig", "-c", "StCluster", "-k", "storePathRootDir", "-v", "/tmp/x"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("NO_PERMISSION"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("storePathRootDir"), std::string::npos) << r.err;
  r = A({"getBrokerConfig", "-b", broker_addr_});
  EXPECT_NE(r.out.find(fmt::format("{:<50}=  {}/store\n", "storePathRootDir", dir_->path())),
            std::string::npos);
}

TEST_F(MqadminClusterTest, NamesrvConfig) {
  Result r = A({"getNamesrvConfig"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(Lines(r.out)[0], fmt::format("============{}============", ns_));
  EXPECT_NE(r.out.find(fmt::format("{:<50}=  {}\n", "listenPort", ns_port_)), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(fmt::format("{:<50}=  {}/kv.json\n", "kvConfigPath", dir_->path())),
            std::string::npos)
      << r.out;
}

TEST_F(MqadminClusterTest, TopicClusterListAndWritePerm) {
  Result r = A({"updateTopic", "-c", "StCluster", "-t", "AdmTopic", "-r", "2", "-w", "2"});
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_TRUE(Eventually([] { return A({"topicRoute", "-t", "AdmTopic"}).rc == 0; }));
  r = A({"topicClusterList", "-t", "AdmTopic"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "StCluster\n");
  r = A({"topicClusterList", "-t", "NoSuchTopic"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "mqadmin: No topic route info in name server for the topic: NoSuchTopic\n");
  r = A({"topicRoute", "-t", "NoSuchTopic"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "mqadmin: No topic route info in name server for the topic: NoSuchTopic\n");

  r = A({"wipeWritePerm", "-b", "broker-st"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(std::regex_match(
      r.out, std::regex("wipe write perm of broker\\[broker-st\\] in name server\\[" + ns_ +
                        "\\] OK, [1-9][0-9]*\n")))
      << r.out;
  EXPECT_NE(A({"topicRoute", "-t", "AdmTopic"}).out.find("\"perm\": 4"), std::string::npos);
  r = A({"addWritePerm", "-b", "broker-st"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("add write perm of broker[broker-st] in name server[" + ns_ + "] OK, ", 0),
            0u)
      << r.out;
  EXPECT_NE(A({"topicRoute", "-t", "AdmTopic"}).out.find("\"perm\": 6"), std::string::npos);
}

TEST_F(MqadminClusterTest, SubscriptionGroups) {
  Result r = A({"updateSubGroup", "-c", "StCluster", "-g", "AdmGroup", "-r", "3", "-o", "true"});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0], fmt::format("create subscription group to {} success.", broker_addr_));
  EXPECT_EQ(lines[1].rfind("SubscriptionGroupConfig [groupName=AdmGroup, ", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("consumeMessageOrderly=true"), std::string::npos);
  EXPECT_NE(lines[1].find("retryMaxTimes=3"), std::string::npos);

  r = A({"deleteSubGroup", "-b", broker_addr_, "-g", "AdmGroup", "-r", "true"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, fmt::format("delete subscription group [AdmGroup] from broker [{}] success.\n",
                               broker_addr_));
  r = A({"deleteSubGroup", "-c", "StCluster", "-g", "AdmGroup"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, fmt::format("delete subscription group [AdmGroup] from broker [{}] in cluster "
                               "[StCluster] success.\n",
                               broker_addr_));
}

}  // namespace
