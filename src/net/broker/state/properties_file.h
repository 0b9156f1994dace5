// Parsing of Java .properties text, the format of RocketMQ's broker.conf and namesrv.conf.
//
// Accepted, as java.util.Properties does: "key=value", "key: value", "key value" (the key ends at
// the first unescaped '=', ':' or whitespace); lines whose first non-blank character is '#' or '!'
// are comments; a line ending in an odd number of backslashes continues on the next line; the
// escapes \t \n \r \f \uXXXX, and a backslash before any other character, stand for that
// character. Unlike Java, a value's trailing whitespace is trimmed too (a stray space after
// "ASYNC_FLUSH" should not make the value invalid), and a line with an empty key is an error
// rather than the key "".
//
// Thread safety: stateless.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace stele::broker {

struct Property {
  std::string key;
  std::string value;
  int line = 0;  // 1-based line where the (effective) definition starts
  bool operator==(const Property&) const = default;
};

// The properties in order of their effective definition: a key defined twice appears once, with
// the later value and line. InvalidArgument names the line of an empty key or a bad \u escape.
absl::StatusOr<std::vector<Property>> ParseProperties(std::string_view text);

}  // namespace stele::broker
