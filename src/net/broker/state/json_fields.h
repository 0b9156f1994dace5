// Typed, bounded reads of fields from JSON objects written by Java (fastjson) or sent by clients.
//
// Lenient where Java clients are inconsistent: a missing or null field takes the default, integers
// and booleans may arrive as strings ("5", "true"), an integral float (5.0) is an integer. Strict
// about everything else: a wrong type, an out-of-range number or an over-long string is
// InvalidArgument naming the field, never an exception and never a silent default.
//
// Thread safety: stateless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace stele::broker {

inline constexpr size_t kMaxJsonStringField = 64 * 1024;

absl::StatusOr<int64_t> JsonInt(const nlohmann::json& obj, std::string_view field, int64_t def,
                                int64_t lo, int64_t hi);
absl::StatusOr<bool> JsonBool(const nlohmann::json& obj, std::string_view field, bool def);
absl::StatusOr<std::string> JsonString(const nlohmann::json& obj, std::string_view field,
                                       std::string_view def, size_t max_len = kMaxJsonStringField);
// A JSON array (missing/null = empty) of at most `max_items` elements. The result points into
// `obj`.
absl::StatusOr<std::vector<const nlohmann::json*>> JsonArray(const nlohmann::json& obj,
                                                             std::string_view field,
                                                             size_t max_items);
// An object of string (or number/bool, printed) values; missing/null = empty.
absl::StatusOr<std::map<std::string, std::string>> JsonStringMap(const nlohmann::json& obj,
                                                                 std::string_view field,
                                                                 size_t max_items);
// InvalidArgument unless `v` is an object; `what` names it.
absl::Status RequireObject(const nlohmann::json& v, std::string_view what);

// The fields of `obj` not listed in `known`, to carry fields a newer Java broker wrote through a
// load/store cycle unchanged.
nlohmann::json UnknownFields(const nlohmann::json& obj,
                             std::initializer_list<std::string_view> known);

}  // namespace stele::broker
