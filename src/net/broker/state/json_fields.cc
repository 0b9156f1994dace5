#include "net/broker/state/json_fields.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

using json = nlohmann::json;

const json* Find(const json& obj, std::string_view field) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(std::string(field));
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status WrongType(std::string_view field, std::string_view expected, const json& v) {
  return absl::InvalidArgumentError(
      fmt::format("field '{}': expected {}, got {}", field, expected, v.type_name()));
}

}  // namespace

absl::StatusOr<int64_t> JsonInt(const json& obj, std::string_view field, int64_t def, int64_t lo,
                                int64_t hi) {
  const json* v = Find(obj, field);
  if (v == nullptr) return def;
  int64_t x = 0;
  bool ok = true;
  if (v->is_number_unsigned()) {
    auto u = v->get<uint64_t>();
    ok = u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    x = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    x = v->get<int64_t>();
  } else if (v->is_number_float()) {
    double d = v->get<double>();
    // Bounded a little inside +-2^63, where the conversion below is always defined.
    ok = std::isfinite(d) && d == std::floor(d) && d >= -9.2e18 && d <= 9.2e18;
    if (ok) x = static_cast<int64_t>(d);
  } else if (v->is_string()) {
    const auto& s = v->get_ref<const std::string&>();
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
    ok = !s.empty() && ec == std::errc() && p == s.data() + s.size();
  } else {
    return WrongType(field, "an integer", *v);
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        fmt::format("field '{}': {} is not a 64-bit integer", field,
                    v->dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 64)));
  }
  if (x < lo || x > hi) {
    return absl::InvalidArgumentError(
        fmt::format("field '{}': {} is out of range {}..{}", field, x, lo, hi));
  }
  return x;
}

absl::StatusOr<bool> JsonBool(const json& obj, std::string_view field, bool def) {
  const json* v = Find(obj, field);
  if (v == nullptr) return def;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_string()) {
    std::string s = v->get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(),
                   [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
    if (s == "true") return true;
    if (s == "false") return false;
  }
  if (v->is_number_integer() && (v->get<int64_t>() == 0 || v->get<int64_t>() == 1)) {
    return v->get<int64_t>() == 1;
  }
  return WrongType(field, "a boolean", *v);
}

absl::StatusOr<std::string> JsonString(const json& obj, std::string_view field,
                                       std::string_view def, size_t max_len) {
  const json* v = Find(obj, field);
  if (v == nullptr) return std::string(def);
  std::string s;
  if (v->is_string()) {
    s = v->get<std::string>();
  } else if (v->is_number() || v->is_boolean()) {
    s = v->dump();  // fastjson coerces scalars to String the same way
  } else {
    return WrongType(field, "a string", *v);
  }
  if (s.size() > max_len) {
    return absl::InvalidArgumentError(
        fmt::format("field '{}': {} characters, more than {}", field, s.size(), max_len));
  }
  return s;
}

absl::StatusOr<std::vector<const json*>> JsonArray(const json& obj, std::string_view field,
                                                   size_t max_items) {
  std::vector<const json*> out;
  const json* v = Find(obj, field);
  if (v == nullptr) return out;
  if (!v->is_array()) return WrongType(field, "an array", *v);
  if (v->size() > max_items) {
    return absl::InvalidArgumentError(
        fmt::format("field '{}': {} elements, more than {}", field, v->size(), max_items));
  }
  out.reserve(v->size());
  for (const json& e : *v) out.push_back(&e);
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> JsonStringMap(const json& obj,
                                                                 std::string_view field,
                                                                 size_t max_items) {
  std::map<std::string, std::string> out;
  const json* v = Find(obj, field);
  if (v == nullptr) return out;
  if (!v->is_object()) return WrongType(field, "an object", *v);
  if (v->size() > max_items) {
    return absl::InvalidArgumentError(
        fmt::format("field '{}': {} entries, more than {}", field, v->size(), max_items));
  }
  for (const auto& [k, e] : v->items()) {
    auto s = JsonString(*v, k, "");
    if (!s.ok())
      return absl::InvalidArgumentError(
          fmt::format("field '{}': {}", field, StatusMessage(s.status())));
    out.emplace(k, *std::move(s));
  }
  return out;
}

absl::Status RequireObject(const json& v, std::string_view what) {
  if (v.is_object()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      fmt::format("{}: expected an object, got {}", what, v.type_name()));
}

json UnknownFields(const json& obj, std::initializer_list<std::string_view> known) {
  json extra = json::object();
  if (!obj.is_object()) return extra;
  for (const auto& [k, v] : obj.items()) {
    if (std::find(known.begin(), known.end(), k) == known.end()) extra[k] = v;
  }
  return extra;
}

}  // namespace stele::broker
