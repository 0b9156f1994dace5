// The Stele C++ client driven from the interop scenarios (k_cpp_client.js), so that its messages
// can be checked against the real ali-ons client field by field. Prints one JSON object per line.
//
//   stele_client_probe produce NAMESRV TOPIC N PREFIX
//       sends N messages (tags TagA/TagB, two keys, user properties, every 10th body over 4 KiB
//       so it is compressed) and prints each send result with what was sent.
//   stele_client_probe consume NAMESRV TOPIC GROUP N TIMEOUT_MS
//       push-consumes from the first offset until N distinct messages arrived (exit 0) or the
//       timeout passed (exit 1), printing each message.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>

#include "nlohmann/json.hpp"
#include "stele/client/producer.h"
#include "stele/client/push_consumer.h"

namespace {

using nlohmann::json;
using namespace stele::client;

std::string Base64(const std::string& in) {
  static constexpr char kTab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                       (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += {kTab[v >> 18], kTab[(v >> 12) & 63], kTab[(v >> 6) & 63], kTab[v & 63]};
  }
  if (i + 1 == in.size()) {
    const uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out += {kTab[v >> 18], kTab[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += {kTab[v >> 18], kTab[(v >> 12) & 63], kTab[(v >> 6) & 63], '='};
  }
  return out;
}

void Print(const json& j) {
  std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  std::fflush(stdout);
}

int Produce(const std::string& ns, const std::string& topic, int n, const std::string& prefix) {
  Producer p({.group = "PID_STELE_PROBE", .namesrv_addr = ns});
  if (auto s = p.Start(); !s.ok()) {
    std::fprintf(stderr, "probe: start: %s\n", s.ToString().c_str());
    return 2;
  }
  for (int i = 0; i < n; ++i) {
    Message m;
    m.topic = topic;
    m.tags = i % 2 ? "TagB" : "TagA";
    m.keys = prefix + "-key-" + std::to_string(i) + " " + prefix + "-k2-" + std::to_string(i);
    m.properties["probeIndex"] = std::to_string(i);
    m.properties["probeText"] = "caf\u00e9 " + prefix;
    m.body = prefix + "-" + std::to_string(i) + ": body \u00e9\u00e8";
    if (i % 10 == 9) m.body += std::string(6000 + i, static_cast<char>('a' + i % 26));
    auto r = p.Send(m);
    if (!r.ok()) {
      std::fprintf(stderr, "probe: send %d: %s\n", i, r.status().ToString().c_str());
      return 1;
    }
    Print({{"msgId", r->msg_id},
           {"offsetMsgId", r->offset_msg_id},
           {"status", SendStatusName(r->status)},
           {"brokerName", r->queue.broker_name},
           {"queueId", r->queue.queue_id},
           {"queueOffset", r->queue_offset},
           {"tags", m.tags},
           {"keys", m.keys},
           {"body", Base64(m.body)},
           {"properties", m.properties}});
  }
  p.Shutdown();
  return 0;
}

int Consume(const std::string& ns, const std::string& topic, const std::string& group, int n,
            int timeout_ms) {
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> seen;
  PushConsumer c({.group = group,
                  .namesrv_addr = ns,
                  .consume_from_where = ConsumeFromWhere::kFirstOffset,
                  .persist_offset_interval = std::chrono::milliseconds(500),
                  .rebalance_interval = std::chrono::milliseconds(1000)});
  if (auto s = c.Subscribe(topic); !s.ok()) {
    std::fprintf(stderr, "probe: subscribe: %s\n", s.ToString().c_str());
    return 2;
  }
  c.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
    std::lock_guard l(mu);
    for (const MessageExt& m : msgs) {
      Print({{"msgId", m.msg_id},
             {"offsetMsgId", m.offset_msg_id},
             {"topic", m.topic},
             {"tags", m.tags},
             {"keys", m.keys},
             {"body", Base64(m.body)},
             {"properties", m.properties},
             {"brokerName", m.broker_name},
             {"queueId", m.queue_id},
             {"queueOffset", m.queue_offset},
             {"reconsumeTimes", m.reconsume_times}});
      seen.insert(m.msg_id);
    }
    cv.notify_all();
    return ConsumeStatus::kSuccess;
  });
  if (auto s = c.Start(); !s.ok()) {
    std::fprintf(stderr, "probe: start: %s\n", s.ToString().c_str());
    return 2;
  }
  bool done;
  {
    std::unique_lock l(mu);
    done = cv.wait_for(l, std::chrono::milliseconds(timeout_ms),
                       [&] { return static_cast<int>(seen.size()) >= n; });
  }
  c.Shutdown();
  if (!done) std::fprintf(stderr, "probe: %zu of %d messages before the timeout\n", seen.size(), n);
  return done ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "produce" && argc == 6) return Produce(argv[2], argv[3], std::atoi(argv[4]), argv[5]);
  if (cmd == "consume" && argc == 7) {
    return Consume(argv[2], argv[3], argv[4], std::atoi(argv[5]), std::atoi(argv[6]));
  }
  std::fprintf(
      stderr,
      "usage: %s produce NAMESRV TOPIC N PREFIX | consume NAMESRV TOPIC GROUP N TIMEOUT_MS\n",
      argv[0]);
  return 2;
}
