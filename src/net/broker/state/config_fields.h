// Tables of configuration keys (internal to the config loaders): each entry knows its RocketMQ key
// name, how to parse and range-check a value into a struct member, and how to print it back. One
// table per config struct gives Set(), the "-p" listing and the error messages from one source, so
// that a key cannot be settable but unlisted, or listed with a different name.
//
// Error messages have the form "<key>: '<value>' <what was expected>".
//
// Thread safety: the tables are immutable; applying them mutates only the given struct.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status.h"
#include "net/broker/state/json_file.h"
#include "net/broker/state/names.h"
#include "net/broker/state/properties_file.h"
#include "stele/file_system.h"

namespace stele::broker {

absl::Status ParseInt64(std::string_view key, std::string_view value, int64_t lo, int64_t hi,
                        int64_t* out);
absl::Status ParseBoolValue(std::string_view key, std::string_view value, bool* out);
// "host:port" with a non-empty host (IPv6 as "[addr]:port") and a port in 1..65535.
absl::Status ValidateHostPort(std::string_view key, std::string_view value);
// "origin: " or "" (for prefixing messages with where a value came from).
std::string OriginPrefix(std::string_view origin);
// $HOME, else "." (a broker started without HOME keeps its files in its working directory).
std::string HomeDir();

template <typename C>
struct ConfigField {
  std::string_view key;
  std::function<absl::Status(C&, std::string_view value)> set;
  std::function<std::string(const C&)> get;
};

template <typename C>
const ConfigField<C>* FindField(const std::vector<ConfigField<C>>& fields, std::string_view key) {
  for (const auto& f : fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

template <typename C, typename T>
ConfigField<C> IntField(std::string_view key, T C::*member, int64_t lo, int64_t hi) {
  return {key,
          [key, member, lo, hi](C& c, std::string_view v) -> absl::Status {
            int64_t x = 0;
            STELE_RETURN_IF_ERROR(ParseInt64(key, v, lo, hi, &x));
            c.*member = static_cast<T>(x);
            return absl::OkStatus();
          },
          [member](const C& c) { return fmt::format("{}", c.*member); }};
}

template <typename C>
ConfigField<C> BoolField(std::string_view key, bool C::*member) {
  return {key,
          [key, member](C& c, std::string_view v) { return ParseBoolValue(key, v, &(c.*member)); },
          [member](const C& c) { return std::string(c.*member ? "true" : "false"); }};
}

// `check` (optional) validates the value before it is stored.
template <typename C>
ConfigField<C> StringField(
    std::string_view key, std::string C::*member,
    std::function<absl::Status(std::string_view key, std::string_view v)> check = nullptr) {
  return {key,
          [key, member, check](C& c, std::string_view v) -> absl::Status {
            if (check) STELE_RETURN_IF_ERROR(check(key, v));
            c.*member = std::string(v);
            return absl::OkStatus();
          },
          [member](const C& c) { return c.*member; }};
}

inline constexpr size_t kMaxConfigFileBytes = 1 << 20;

// Parses properties text and applies each key with C::Set(key, value, "<origin>:<line>"), then
// C::Finalize(). Errors name the origin (and line).
template <typename C>
absl::StatusOr<C> ConfigFromText(std::string_view text, std::string_view origin) {
  auto props = ParseProperties(text);
  if (!props.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", origin, StatusMessage(props.status())));
  }
  C c;
  for (const Property& p : *props) {
    STELE_RETURN_IF_ERROR(c.Set(p.key, p.value, fmt::format("{}:{}", origin, p.line)));
  }
  absl::Status s = c.Finalize();
  if (!s.ok()) return absl::InvalidArgumentError(fmt::format("{}: {}", origin, StatusMessage(s)));
  return c;
}

template <typename C>
absl::StatusOr<C> LoadConfigFile(const std::string& path, std::shared_ptr<FileSystem> fs) {
  if (fs == nullptr) fs = NewPosixFileSystem();
  STELE_ASSIGN_OR_RETURN(std::string text, ReadFileToString(*fs, path, kMaxConfigFileBytes));
  return ConfigFromText<C>(text, path);
}

}  // namespace stele::broker
