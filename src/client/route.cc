#include "client/route.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "common/status.h"
#include "fmt/format.h"
#include "net/broker/state/json_file.h"

namespace stele::client {

using nlohmann::json;

namespace {

absl::Status Bad(std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("malformed topic route: {}", what));
}

template <typename T>
absl::Status Get(const json& o, const char* key, T* out) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return absl::OkStatus();
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return Bad(fmt::format("{} is not a string", key));
    *out = it->template get<std::string>();
  } else {
    if (!it->is_number_integer()) return Bad(fmt::format("{} is not an integer", key));
    // get<T>() would wrap a value past T's range (readQueueNums 4294967300 -> 4): refuse it.
    const bool fits =
        it->is_number_unsigned()
            ? it->template get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
            : it->template get<int64_t>() >= std::numeric_limits<T>::min() &&
                  it->template get<int64_t>() <= std::numeric_limits<T>::max();
    if (!fits) return Bad(fmt::format("{} is out of range", key));
    *out = it->template get<T>();
  }
  return absl::OkStatus();
}

bool PermitsWrite(int32_t perm) { return (perm & kPermWrite) != 0; }
bool PermitsRead(int32_t perm) { return (perm & kPermRead) != 0; }

}  // namespace

std::string TopicRoute::MasterAddr(std::string_view broker_name) const {
  for (const BrokerData& b : brokers) {
    if (b.broker_name != broker_name) continue;
    auto it = b.addrs.find(0);
    return it == b.addrs.end() ? std::string() : it->second;
  }
  return {};
}

absl::StatusOr<TopicRoute> ParseTopicRoute(std::string_view text) {
  auto doc = broker::ParseLenientJson(text);
  if (!doc.ok()) return doc.status();
  const json& j = *doc;
  if (!j.is_object()) return Bad("not an object");
  TopicRoute r;
  STELE_RETURN_IF_ERROR(Get(j, "orderTopicConf", &r.order_topic_conf));
  if (auto q = j.find("queueDatas"); q != j.end() && !q->is_null()) {
    if (!q->is_array()) return Bad("queueDatas is not an array");
    for (const json& e : *q) {
      if (!e.is_object()) return Bad("a queueDatas entry is not an object");
      QueueData d;
      STELE_RETURN_IF_ERROR(Get(e, "brokerName", &d.broker_name));
      STELE_RETURN_IF_ERROR(Get(e, "readQueueNums", &d.read_queue_nums));
      STELE_RETURN_IF_ERROR(Get(e, "writeQueueNums", &d.write_queue_nums));
      STELE_RETURN_IF_ERROR(Get(e, "perm", &d.perm));
      if (d.read_queue_nums < 0 || d.write_queue_nums < 0 || d.read_queue_nums > 65535 ||
          d.write_queue_nums > 65535) {
        return Bad(
            fmt::format("queue counts {}/{} out of range", d.read_queue_nums, d.write_queue_nums));
      }
      r.queues.push_back(std::move(d));
    }
  }
  if (auto b = j.find("brokerDatas"); b != j.end() && !b->is_null()) {
    if (!b->is_array()) return Bad("brokerDatas is not an array");
    for (const json& e : *b) {
      if (!e.is_object()) return Bad("a brokerDatas entry is not an object");
      BrokerData d;
      STELE_RETURN_IF_ERROR(Get(e, "cluster", &d.cluster));
      STELE_RETURN_IF_ERROR(Get(e, "brokerName", &d.broker_name));
      if (auto a = e.find("brokerAddrs"); a != e.end() && a->is_object()) {
        for (const auto& [k, v] : a->items()) {
          int64_t id = 0;
          auto [p, ec] = std::from_chars(k.data(), k.data() + k.size(), id);
          if (ec != std::errc() || p != k.data() + k.size() || !v.is_string()) {
            return Bad(fmt::format("brokerAddrs entry {}", k));
          }
          d.addrs[id] = v.get<std::string>();
        }
      }
      r.brokers.push_back(std::move(d));
    }
  }
  auto by_name = [](const auto& a, const auto& b) { return a.broker_name < b.broker_name; };
  std::sort(r.queues.begin(), r.queues.end(), by_name);
  std::sort(r.brokers.begin(), r.brokers.end(), by_name);
  return r;
}

std::vector<MessageQueue> PublishQueues(std::string_view topic, const TopicRoute& r) {
  std::vector<MessageQueue> out;
  if (!r.order_topic_conf.empty()) {
    std::string_view rest = r.order_topic_conf;
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      const std::string_view item = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      const size_t colon = item.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string_view num = item.substr(colon + 1);
      int n = 0;
      auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
      if (ec != std::errc() || n < 0 || n > 65535) continue;
      for (int i = 0; i < n; ++i) {
        out.push_back({std::string(topic), std::string(item.substr(0, colon)), i});
      }
    }
    return out;
  }
  for (const QueueData& q : r.queues) {
    if (!PermitsWrite(q.perm) || r.MasterAddr(q.broker_name).empty()) continue;
    for (int i = 0; i < q.write_queue_nums; ++i) {
      out.push_back({std::string(topic), q.broker_name, i});
    }
  }
  return out;
}

std::vector<MessageQueue> SubscribeQueues(std::string_view topic, const TopicRoute& r) {
  std::vector<MessageQueue> out;
  for (const QueueData& q : r.queues) {
    if (!PermitsRead(q.perm)) continue;
    for (int i = 0; i < q.read_queue_nums; ++i) {
      out.push_back({std::string(topic), q.broker_name, i});
    }
  }
  return out;
}

}  // namespace stele::client
