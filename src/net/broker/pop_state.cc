#include "net/broker/pop_state.h"

#include <algorithm>
#include <charconv>

#include "common/crc32.h"
#include "fmt/format.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

constexpr size_t kMaxHandleLength = 1024;

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string_view::npos ? s.npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

// A non-negative decimal with nothing else around it (no sign, spaces or leading '+').
bool ParseNonNegative(std::string_view s, int64_t* v) {
  if (s.empty() || s.size() > 19) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && *v >= 0;
}

bool ParseQueueId(std::string_view s, int32_t* qid) {
  int64_t v = 0;
  if (!ParseNonNegative(s, &v) || v > INT32_MAX) return false;
  *qid = static_cast<int32_t>(v);
  return true;
}

bool ValidKey(const PopKey& k) {
  return ValidateGroup(k.group).ok() && ValidateInternalTopic(k.topic).ok();
}

std::string KeyFields(const PopKey& k) {
  return fmt::format("{} {} {}", k.group, k.topic, k.queue_id);
}

}  // namespace

std::string QueueLine(const PopKey& k, int64_t pop_offset) {
  return fmt::format("Q {} {}\n", KeyFields(k), pop_offset);
}
std::string DeliverLine(const PopKey& k, int64_t qoff, const PopDelivery& d) {
  return fmt::format("D {} {} {} {} {} {}\n", KeyFields(k), qoff, d.gen, d.attempt, d.until_ms,
                     d.phys);
}
std::string AckLine(const PopKey& k, int64_t qoff) {
  return fmt::format("A {} {}\n", KeyFields(k), qoff);
}
std::string ChangeLine(const PopKey& k, int64_t qoff, int64_t gen, int64_t until_ms) {
  return fmt::format("C {} {} {} {}\n", KeyFields(k), qoff, gen, until_ms);
}

absl::Status PopTable::ApplyBody(std::string_view body) {
  for (std::string_view line : Split(body, '\n')) {
    if (line.empty()) continue;
    if (absl::Status s = ApplyLine(line); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status PopTable::ApplyLine(std::string_view line) {
  const std::vector<std::string_view> f = Split(line, ' ');
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        fmt::format("bad pop journal line: {}", ShortForMessage(line)));
  };
  if (f.size() < 5 || f[0].size() != 1) return bad();
  PopKey k{std::string(f[1]), std::string(f[2]), 0};
  if (!ParseQueueId(f[3], &k.queue_id) || !ValidKey(k)) return bad();
  int64_t v[5] = {0, 0, 0, 0, 0};
  const size_t want = f[0] == "Q" ? 1 : f[0] == "D" ? 5 : f[0] == "A" ? 1 : f[0] == "C" ? 3 : 0;
  if (want == 0 || f.size() != 4 + want) return bad();
  for (size_t i = 0; i < want; ++i) {
    if (!ParseNonNegative(f[4 + i], &v[i])) return bad();
  }
  PopQueue& q = queues_[k];
  switch (f[0][0]) {
    case 'Q':
      q.pop_offset = std::max(q.pop_offset, v[0]);
      break;
    case 'D':
      if (v[2] < 1 || v[2] > INT32_MAX) return bad();
      q.in_flight[v[0]] = PopDelivery{v[1], static_cast<int32_t>(v[2]), v[3], v[4]};
      q.pop_offset = std::max(q.pop_offset, v[0] + 1);
      NoteGen(v[1]);
      break;
    case 'A':
      q.in_flight.erase(v[0]);
      break;
    case 'C':
      if (auto it = q.in_flight.find(v[0]); it != q.in_flight.end()) {
        it->second.gen = v[1];
        it->second.until_ms = v[2];
      }
      NoteGen(v[1]);
      break;
  }
  return absl::OkStatus();
}

nlohmann::json PopTable::ToJson(int64_t journal_offset) const {
  nlohmann::json qs = nlohmann::json::array();
  for (const auto& [k, q] : queues_) {
    nlohmann::json in = nlohmann::json::array();
    for (const auto& [qoff, d] : q.in_flight) {
      in.push_back({qoff, d.gen, d.attempt, d.until_ms, d.phys});
    }
    qs.push_back({{"group", k.group},
                  {"topic", k.topic},
                  {"queueId", k.queue_id},
                  {"popOffset", q.pop_offset},
                  {"inFlight", std::move(in)}});
  }
  return {{"version", 1},
          {"journalOffset", journal_offset},
          {"generation", max_gen_},
          {"queues", std::move(qs)}};
}

absl::StatusOr<int64_t> PopTable::FromJson(const nlohmann::json& doc) {
  // Decoded into locals first: a rejected document leaves the table as it was.
  std::map<PopKey, PopQueue> queues;
  int64_t max_gen = 0;
  int64_t journal_offset = 0;
  try {
    journal_offset = doc.at("journalOffset").get<int64_t>();
    max_gen = doc.at("generation").get<int64_t>();
    for (const auto& jq : doc.at("queues")) {
      PopKey k{jq.at("group").get<std::string>(), jq.at("topic").get<std::string>(),
               jq.at("queueId").get<int32_t>()};
      if (!ValidKey(k) || k.queue_id < 0) {
        return absl::InvalidArgumentError("popState.json: bad group, topic or queue id");
      }
      PopQueue& q = queues[k];
      q.pop_offset = jq.at("popOffset").get<int64_t>();
      for (const auto& d : jq.at("inFlight")) {
        if (d.size() != 5) return absl::InvalidArgumentError("popState.json: bad inFlight entry");
        q.in_flight[d[0].get<int64_t>()] = PopDelivery{d[1].get<int64_t>(), d[2].get<int32_t>(),
                                                       d[3].get<int64_t>(), d[4].get<int64_t>()};
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(fmt::format("popState.json: {}", e.what()));
  }
  if (journal_offset < 0) return absl::InvalidArgumentError("popState.json: bad journalOffset");
  queues_ = std::move(queues);
  max_gen_ = max_gen;
  return journal_offset;
}

std::string EncodeHandle(const ReceiptHandle& h) {
  const std::string text = fmt::format("1.{}.{}.{}.{}.{}.{}", h.key.queue_id, h.queue_offset, h.gen,
                                       h.until_ms, h.key.group, h.key.topic);
  return fmt::format("{}.{:08x}", text, MaskedCrc32(text));
}

absl::StatusOr<ReceiptHandle> DecodeHandle(std::string_view text) {
  const auto bad = [] { return absl::InvalidArgumentError("malformed receipt handle"); };
  if (text.size() > kMaxHandleLength) return bad();
  const size_t dot = text.rfind('.');
  if (dot == std::string_view::npos || text.size() - dot - 1 != 8) return bad();
  const std::string_view body = text.substr(0, dot);
  uint32_t crc = 0;
  const std::string_view hex = text.substr(dot + 1);
  const auto r = std::from_chars(hex.data(), hex.data() + hex.size(), crc, 16);
  if (r.ec != std::errc() || r.ptr != hex.data() + hex.size() || crc != MaskedCrc32(body) ||
      hex != fmt::format("{:08x}", crc)) {
    return bad();
  }
  const std::vector<std::string_view> f = Split(body, '.');
  if (f.size() != 7 || f[0] != "1") return bad();
  ReceiptHandle h;
  h.key.group = std::string(f[5]);
  h.key.topic = std::string(f[6]);
  if (!ParseQueueId(f[1], &h.key.queue_id) || !ParseNonNegative(f[2], &h.queue_offset) ||
      !ParseNonNegative(f[3], &h.gen) || !ParseNonNegative(f[4], &h.until_ms) || !ValidKey(h.key)) {
    return bad();
  }
  return h;
}

std::vector<std::string> ParseTagExpression(std::string_view expr) {
  std::vector<std::string> tags;
  size_t start = 0;
  while (start <= expr.size()) {
    size_t end = expr.find("||", start);
    if (end == std::string_view::npos) end = expr.size();
    std::string_view t = expr.substr(start, end - start);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (t == "*") return {};
    if (!t.empty()) tags.emplace_back(t);
    start = end + 2;
  }
  return tags;
}

}  // namespace stele::broker
