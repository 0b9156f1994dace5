// RocketMQ's DataVersion: the version stamp of a broker's topic and subscription tables. The name
// server compares the stamp a broker registers with the last one it saw to decide whether the
// topic table in a REGISTER_BROKER request must be re-read, so every change must bump it.
//
// JSON: {"stateVersion":0,"timestamp":<ms>,"counter":<n>}. Thread safety: a plain value.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/status.h"
#include "net/broker/state/json_fields.h"

namespace stele::broker {

struct DataVersion {
  int64_t state_version = 0;  // Stele has no replicated state machine: always 0
  int64_t timestamp = NowMs();
  int64_t counter = 0;

  // DataVersion.nextVersion(): a new timestamp and the next counter.
  void Next(int64_t now_ms = NowMs()) {
    timestamp = now_ms;
    ++counter;
  }
  bool operator==(const DataVersion&) const = default;

  nlohmann::json ToJson() const {
    return {{"stateVersion", state_version}, {"timestamp", timestamp}, {"counter", counter}};
  }
  // Missing fields keep their defaults (older RocketMQ versions wrote no stateVersion).
  static absl::StatusOr<DataVersion> FromJson(const nlohmann::json& j) {
    constexpr int64_t kMin = INT64_MIN, kMax = INT64_MAX;
    DataVersion v;
    STELE_ASSIGN_OR_RETURN(v.state_version, JsonInt(j, "stateVersion", 0, kMin, kMax));
    STELE_ASSIGN_OR_RETURN(v.timestamp, JsonInt(j, "timestamp", v.timestamp, kMin, kMax));
    STELE_ASSIGN_OR_RETURN(v.counter, JsonInt(j, "counter", 0, kMin, kMax));
    return v;
  }
};

}  // namespace stele::broker
