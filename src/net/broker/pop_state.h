// The state behind PopService, kept apart from its threads so that it can be rebuilt from disk:
// per (group, topic, queue) the pop offset and the deliveries in flight, the journal lines that
// record every change to it, its JSON snapshot, and the receipt handle format.
//
// Journal: ordinary records of topic rmq_sys_POP_STATE (a "rmq_sys_" system topic: never in the
// topic table, so never registered, routed, sent to or pulled), queue 0. A record's body is one or
// more lines, applied in order (names cannot contain spaces, so fields split on ' '):
//   Q <group> <topic> <qid> <pop_offset>                        pop offset moved on
//   D <group> <topic> <qid> <qoff> <gen> <attempt> <until> <phys>  (re)delivery of qoff
//   A <group> <topic> <qid> <qoff>                              ack: qoff no longer in flight
//   C <group> <topic> <qid> <qoff> <gen> <until>                new handle / invisible time
// `gen` (generation) is unique per delivery across restarts; a receipt handle is valid while the
// delivery it names still has its generation. `until` is wall-clock ms, `phys` the message's
// commit-log offset.
//
// Snapshot: <storePathRootDir>/config/popState.json, {"journalOffset":N,"generation":G,
// "queues":[{"group","topic","queueId","popOffset","inFlight":[[qoff,gen,attempt,until,phys]..]}]}
// = the state after applying journal records [0, N).
//
// Thread safety: none; PopService serializes access.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include "absl/status/statusor.h"

namespace stele::broker {

inline constexpr std::string_view kPopStateTopic = "rmq_sys_POP_STATE";

struct PopKey {
  std::string group;
  std::string topic;
  int32_t queue_id = 0;
  auto operator<=>(const PopKey&) const = default;
};

struct PopDelivery {
  int64_t gen = 0;
  int32_t attempt = 1;
  int64_t until_ms = 0;  // INT64_MAX: on its way to the DLQ
  int64_t phys = 0;
};

struct PopQueue {
  int64_t pop_offset = 0;                    // next queue offset never delivered
  std::map<int64_t, PopDelivery> in_flight;  // queue offset -> its current delivery
  // What the group has consumed for good: everything below it is acked.
  int64_t Committed() const {
    return in_flight.empty() ? pop_offset : std::min(pop_offset, in_flight.begin()->first);
  }
};

class PopTable {
 public:
  std::map<PopKey, PopQueue>& queues() { return queues_; }
  const std::map<PopKey, PopQueue>& queues() const { return queues_; }
  int64_t max_gen() const { return max_gen_; }
  void NoteGen(int64_t gen) { max_gen_ = std::max(max_gen_, gen); }

  // Applies a journal record's body. InvalidArgument names the first bad line; the lines before
  // it stay applied (each line is valid alone).
  absl::Status ApplyBody(std::string_view body);

  nlohmann::json ToJson(int64_t journal_offset) const;
  // Replaces the table; returns the journal offset the snapshot covers.
  absl::StatusOr<int64_t> FromJson(const nlohmann::json& doc);

 private:
  absl::Status ApplyLine(std::string_view line);
  std::map<PopKey, PopQueue> queues_;
  int64_t max_gen_ = 0;
};

std::string QueueLine(const PopKey& k, int64_t pop_offset);
std::string DeliverLine(const PopKey& k, int64_t qoff, const PopDelivery& d);
std::string AckLine(const PopKey& k, int64_t qoff);
std::string ChangeLine(const PopKey& k, int64_t qoff, int64_t gen, int64_t until_ms);

// A receipt handle's content: "1.<qid>.<qoff>.<gen>.<until>.<group>.<topic>.<crc32 hex>".
struct ReceiptHandle {
  PopKey key;
  int64_t queue_offset = 0;
  int64_t gen = 0;
  int64_t until_ms = 0;
};
std::string EncodeHandle(const ReceiptHandle& h);
// InvalidArgument for anything but a handle EncodeHandle made (checksum, fields, names).
absl::StatusOr<ReceiptHandle> DecodeHandle(std::string_view text);

// RocketMQ's tag expression: "*" or "" -> {} (all); "A || B" -> {"A", "B"}.
std::vector<std::string> ParseTagExpression(std::string_view expr);

}  // namespace stele::broker
