#include "net/broker/state/config_fields.h"

#include <charconv>
#include <cstdlib>

namespace stele::broker {

absl::Status ParseInt64(std::string_view key, std::string_view value, int64_t lo, int64_t hi,
                        int64_t* out) {
  std::string_view v = value;
  // Java's Long.parseLong accepts one leading '+'.
  if (v.size() > 1 && v[0] == '+' && v[1] != '-') v.remove_prefix(1);
  int64_t x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: '{}' is not an integer (expected {}..{})", key, value, lo, hi));
  }
  if (x < lo || x > hi) {
    return absl::InvalidArgumentError(
        fmt::format("{}: '{}' is out of range (expected {}..{})", key, value, lo, hi));
  }
  *out = x;
  return absl::OkStatus();
}

absl::Status ParseBoolValue(std::string_view key, std::string_view value, bool* out) {
  // Java's Boolean.parseBoolean takes anything but "true" as false; a typo ("ture") silently
  // turning a feature off is worth an error instead.
  auto lower = [](std::string_view s) {
    std::string r(s);
    for (char& c : r) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return r;
  };
  std::string v = lower(value);
  if (v == "true") {
    *out = true;
  } else if (v == "false") {
    *out = false;
  } else {
    return absl::InvalidArgumentError(
        fmt::format("{}: '{}' is not a boolean (expected true or false)", key, value));
  }
  return absl::OkStatus();
}

absl::Status ValidateHostPort(std::string_view key, std::string_view value) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        fmt::format("{}: '{}' is not host:port (port 1..65535, IPv6 as [addr]:port)", key, value));
  };
  size_t colon = value.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  std::string_view host = value.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad();
  } else if (host.find(':') != std::string_view::npos) {
    return bad();  // a bare IPv6 address is ambiguous with its port
  }
  for (char c : host) {
    if (c == ' ' || c == '\t' || c == ';' || c == '/') return bad();
  }
  int64_t port = 0;
  if (!ParseInt64(key, value.substr(colon + 1), 1, 65535, &port).ok()) return bad();
  return absl::OkStatus();
}

std::string OriginPrefix(std::string_view origin) {
  return origin.empty() ? std::string() : fmt::format("{}: ", origin);
}

std::string HomeDir() {
  const char* home = std::getenv("HOME");
  return home != nullptr && *home != '\0' ? std::string(home) : std::string(".");
}

}  // namespace stele::broker
