#include "net/broker/state/heartbeat.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include "common/status.h"
#include "net/broker/state/json_fields.h"
#include "net/broker/state/json_file.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

using json = nlohmann::json;
constexpr int64_t kI32Min = INT32_MIN, kI32Max = INT32_MAX;
constexpr int64_t kI64Min = INT64_MIN, kI64Max = INT64_MAX;

// Prefixes an error with where it happened, e.g. "consumerDataSet[2].subscriptionDataSet[0]".
absl::Status At(std::string_view where, const absl::Status& s) {
  return absl::InvalidArgumentError(fmt::format("heartbeat {}: {}", where, StatusMessage(s)));
}

absl::StatusOr<std::string> GroupName(const json& obj) {
  STELE_ASSIGN_OR_RETURN(std::string g, JsonString(obj, "groupName", "", kMaxHeartbeatNameLength));
  if (g.empty()) return absl::InvalidArgumentError("field 'groupName' is missing or empty");
  return g;
}

absl::StatusOr<SubscriptionData> ParseSubscription(const json& j) {
  STELE_RETURN_IF_ERROR(RequireObject(j, "subscription"));
  SubscriptionData s;
  STELE_ASSIGN_OR_RETURN(s.topic, JsonString(j, "topic", "", kMaxHeartbeatNameLength));
  if (s.topic.empty()) return absl::InvalidArgumentError("field 'topic' is missing or empty");
  STELE_ASSIGN_OR_RETURN(s.sub_string, JsonString(j, "subString", "*", kMaxSubStringLength));
  STELE_ASSIGN_OR_RETURN(s.class_filter_mode, JsonBool(j, "classFilterMode", false));
  STELE_ASSIGN_OR_RETURN(s.sub_version, JsonInt(j, "subVersion", 0, kI64Min, kI64Max));
  STELE_ASSIGN_OR_RETURN(s.expression_type, JsonString(j, "expressionType", "TAG", 64));
  STELE_ASSIGN_OR_RETURN(auto tags, JsonArray(j, "tagsSet", kMaxTagsPerSubscription));
  for (const json* t : tags) {
    if (!t->is_string()) return absl::InvalidArgumentError("field 'tagsSet': not all strings");
    if (t->get_ref<const std::string&>().size() > kMaxSubStringLength) {
      return absl::InvalidArgumentError("field 'tagsSet': tag too long");
    }
    s.tags_set.push_back(t->get<std::string>());
  }
  STELE_ASSIGN_OR_RETURN(auto codes, JsonArray(j, "codeSet", kMaxTagsPerSubscription));
  for (const json* c : codes) {
    if (c->is_null()) return absl::InvalidArgumentError("field 'codeSet': null element");
    // Reuse the lenient integer rules (number or numeric string) on the element itself.
    json wrapper = {{"codeSet", *c}};
    STELE_ASSIGN_OR_RETURN(int64_t code, JsonInt(wrapper, "codeSet", 0, kI32Min, kI32Max));
    s.code_set.push_back(static_cast<int32_t>(code));
  }
  return s;
}

absl::StatusOr<ConsumerData> ParseConsumer(const json& j, std::string_view where) {
  STELE_RETURN_IF_ERROR(RequireObject(j, "consumer data"));
  ConsumerData c;
  STELE_ASSIGN_OR_RETURN(c.group_name, GroupName(j));
  STELE_ASSIGN_OR_RETURN(std::string type, JsonString(j, "consumeType", "CONSUME_PASSIVELY", 64));
  if (type == "CONSUME_ACTIVELY") {
    c.consume_type = ConsumeType::kActively;
  } else if (type == "CONSUME_PASSIVELY") {
    c.consume_type = ConsumeType::kPassively;
  } else if (type == "CONSUME_POP") {
    c.consume_type = ConsumeType::kPop;
  } else {
    return absl::InvalidArgumentError(
        fmt::format("field 'consumeType': unknown value '{}'", ShortForMessage(type)));
  }
  STELE_ASSIGN_OR_RETURN(std::string model, JsonString(j, "messageModel", "CLUSTERING", 64));
  if (model == "CLUSTERING") {
    c.message_model = MessageModel::kClustering;
  } else if (model == "BROADCASTING") {
    c.message_model = MessageModel::kBroadcasting;
  } else {
    return absl::InvalidArgumentError(
        fmt::format("field 'messageModel': unknown value '{}'", ShortForMessage(model)));
  }
  STELE_ASSIGN_OR_RETURN(c.consume_from_where,
                         JsonString(j, "consumeFromWhere", "CONSUME_FROM_LAST_OFFSET", 128));
  STELE_ASSIGN_OR_RETURN(c.unit_mode, JsonBool(j, "unitMode", false));
  STELE_ASSIGN_OR_RETURN(auto subs, JsonArray(j, "subscriptionDataSet", kMaxSubscriptionsPerGroup));
  for (size_t i = 0; i < subs.size(); ++i) {
    auto s = ParseSubscription(*subs[i]);
    if (!s.ok()) return At(fmt::format("{}.subscriptionDataSet[{}]", where, i), s.status());
    c.subscriptions.push_back(*std::move(s));
  }
  return c;
}

}  // namespace

absl::StatusOr<HeartbeatData> ParseHeartbeat(std::string_view body) {
  auto doc = ParseLenientJson(body);
  if (!doc.ok()) return At("body", doc.status());
  if (!doc->is_object()) return At("body", RequireObject(*doc, "body"));
  HeartbeatData hb;
  auto id = JsonString(*doc, "clientID", "", kMaxClientIdLength);
  if (!id.ok()) return At("clientID", id.status());
  if (id->empty()) return At("clientID", absl::InvalidArgumentError("missing or empty"));
  hb.client_id = *std::move(id);

  auto producers = JsonArray(*doc, "producerDataSet", kMaxHeartbeatGroups);
  if (!producers.ok()) return At("producerDataSet", producers.status());
  for (size_t i = 0; i < producers->size(); ++i) {
    const json& p = *(*producers)[i];
    std::string where = fmt::format("producerDataSet[{}]", i);
    if (absl::Status s = RequireObject(p, "producer data"); !s.ok()) return At(where, s);
    auto group = GroupName(p);
    if (!group.ok()) return At(where, group.status());
    hb.producers.push_back(ProducerData{*std::move(group)});
  }

  auto consumers = JsonArray(*doc, "consumerDataSet", kMaxHeartbeatGroups);
  if (!consumers.ok()) return At("consumerDataSet", consumers.status());
  for (size_t i = 0; i < consumers->size(); ++i) {
    std::string where = fmt::format("consumerDataSet[{}]", i);
    auto c = ParseConsumer(*(*consumers)[i], where);
    if (!c.ok()) {
      // Errors from nested subscriptions already carry their full location.
      if (StatusMessage(c.status()).starts_with("heartbeat ")) return c.status();
      return At(where, c.status());
    }
    hb.consumers.push_back(*std::move(c));
  }
  return hb;
}

std::string_view ConsumeTypeName(ConsumeType t) {
  switch (t) {
    case ConsumeType::kActively:
      return "CONSUME_ACTIVELY";
    case ConsumeType::kPassively:
      return "CONSUME_PASSIVELY";
    case ConsumeType::kPop:
      return "CONSUME_POP";
  }
  return "?";
}

std::string_view MessageModelName(MessageModel m) {
  return m == MessageModel::kBroadcasting ? "BROADCASTING" : "CLUSTERING";
}

}  // namespace stele::broker
