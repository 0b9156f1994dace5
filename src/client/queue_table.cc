#include "client/queue_table.h"

#include <cstdlib>

#include "fmt/format.h"
#include "net/broker/state/json_file.h"

namespace stele::client {
namespace {

using nlohmann::json;

// End of the object or array opening at in[start] (the index of its closing bracket), skipping
// strings; npos if unbalanced.
size_t MatchingBracket(std::string_view in, size_t start) {
  int depth = 0;
  for (size_t i = start; i < in.size(); ++i) {
    const char ch = in[i];
    if (ch == '"') {
      for (++i; i < in.size() && in[i] != '"'; ++i) {
        if (in[i] == '\\') ++i;
      }
    } else if (ch == '{' || ch == '[') {
      ++depth;
    } else if ((ch == '}' || ch == ']') && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

std::string StringOf(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string QuoteObjectKeys(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 64);
  std::vector<bool> in_object;  // per open container: object (true) or array
  bool expect_key = false;
  for (size_t i = 0; i < in.size(); ++i) {
    const char ch = in[i];
    if (ch == '"') {
      const size_t begin = i;
      for (++i; i < in.size() && in[i] != '"'; ++i) {
        if (in[i] == '\\') ++i;
      }
      out.append(in.substr(begin, i - begin + 1));
      continue;
    }
    if (ch == '{' && expect_key) {
      const size_t end = MatchingBracket(in, i);
      if (end == std::string_view::npos) {
        out.append(in.substr(i));
        break;
      }
      out += json(std::string(in.substr(i, end - i + 1))).dump();
      i = end;
      expect_key = false;
      continue;
    }
    switch (ch) {
      case '{':
        in_object.push_back(true);
        expect_key = true;
        break;
      case '[':
        in_object.push_back(false);
        expect_key = false;
        break;
      case '}':
      case ']':
        if (!in_object.empty()) in_object.pop_back();
        expect_key = false;
        break;
      case ',':
        expect_key = !in_object.empty() && in_object.back();
        break;
      case ':':
        expect_key = false;
        break;
      default:
        break;
    }
    out.push_back(ch);
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<MessageQueue, json>>> ParseQueueTable(
    std::string_view body, std::string_view context) {
  auto j = broker::ParseLenientJson(QuoteObjectKeys(body));
  if (!j.ok() || !j->is_object()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: the response body is not a JSON object{}", context,
                    j.ok() ? "" : fmt::format(" ({})", std::string(j.status().message()))));
  }
  std::vector<std::pair<MessageQueue, json>> out;
  auto table = j->find("offsetTable");
  if (table == j->end() || !table->is_object()) return out;
  for (auto& [key, value] : table->items()) {
    const json k = json::parse(key, nullptr, false);
    if (!k.is_object()) continue;
    auto qid = k.find("queueId");
    if (qid == k.end() || !qid->is_number_integer()) continue;
    out.emplace_back(
        MessageQueue{StringOf(k, "topic"), StringOf(k, "brokerName"), qid->get<int32_t>()}, value);
  }
  return out;
}

}  // namespace stele::client
