// Java maps keyed by MessageQueue (TopicStatsTable, ConsumeStats, ResetOffsetBody), written the
// way fastjson writes them, because that is what Java's mqadmin and rocketmq-dashboard parse:
//
//   {"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"maxOffset":5,...},...}}
//
// The key is a JSON object, not a string, so the document is not standard JSON; Stele's own
// client turns such keys into strings before parsing (admin.cc QuoteObjectKeys). Key fields are in
// fastjson's order (alphabetical).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace stele::broker {

class QueueTableWriter {
 public:
  void Add(std::string_view topic, std::string_view broker_name, int32_t queue_id,
           const nlohmann::json& value) {
    if (!entries_.empty()) entries_ += ',';
    entries_ +=
        Dump(nlohmann::json{{"brokerName", broker_name}, {"queueId", queue_id}, {"topic", topic}});
    entries_ += ':';
    entries_ += Dump(value);
  }
  // The map as a JSON-like object text.
  std::string Object() const {
    std::string out = "{";
    out += entries_;
    out += '}';
    return out;
  }
  static std::string Dump(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

 private:
  std::string entries_;
};

}  // namespace stele::broker
