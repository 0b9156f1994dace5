#include "net/remoting/command.h"

#include <array>
#include <charconv>

#include "absl/strings/str_cat.h"
#include "fmt/format.h"

namespace stele::remoting {
namespace {
constexpr std::array<std::string_view, 14> kLanguageNames = {
    "JAVA",  "CPP",  "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY",
    "OTHER", "HTTP", "GO",     "PHP",    "OMS",    "RUST",   "NODE_JS"};
}  // namespace

std::string_view LanguageName(LanguageCode c) {
  const auto i = static_cast<size_t>(c);
  return i < kLanguageNames.size() ? kLanguageNames[i] : "OTHER";
}

LanguageCode LanguageFromName(std::string_view name) {
  for (size_t i = 0; i < kLanguageNames.size(); ++i) {
    if (kLanguageNames[i] == name) return static_cast<LanguageCode>(i);
  }
  return LanguageCode::kOther;
}

RemotingCommand RemotingCommand::Request(int32_t code) {
  RemotingCommand c;
  c.code = code;
  return c;
}

RemotingCommand RemotingCommand::ResponseTo(const RemotingCommand& req, int32_t code,
                                            std::string remark) {
  RemotingCommand c;
  c.code = code;
  c.opaque = req.opaque;
  c.flag = kFlagResponse;
  c.serialize_type = req.serialize_type;
  if (!remark.empty()) c.remark = std::move(remark);
  return c;
}

const std::string* RemotingCommand::Field(std::string_view key) const {
  auto it = ext_fields.find(key);
  return it == ext_fields.end() ? nullptr : &it->second;
}

absl::StatusOr<std::string> RemotingCommand::RequireString(std::string_view key) const {
  const std::string* v = Field(key);
  if (v == nullptr) return absl::InvalidArgumentError(fmt::format("missing header field {}", key));
  return *v;
}

namespace {
absl::StatusOr<int64_t> ParseInt(std::string_view key, std::string_view v) {
  int64_t out = 0;
  // JSON clients may send integral doubles ("3.0"); Java would reject them too, so we do.
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("header field {} is not an integer: '{}'", key, v.substr(0, 64)));
  }
  return out;
}
}  // namespace

absl::StatusOr<int64_t> RemotingCommand::RequireInt(std::string_view key) const {
  const std::string* v = Field(key);
  if (v == nullptr) return absl::InvalidArgumentError(fmt::format("missing header field {}", key));
  return ParseInt(key, *v);
}

absl::StatusOr<int64_t> RemotingCommand::IntOr(std::string_view key, int64_t dflt) const {
  const std::string* v = Field(key);
  if (v == nullptr || *v == "null") return dflt;
  return ParseInt(key, *v);
}

absl::StatusOr<bool> RemotingCommand::BoolOr(std::string_view key, bool dflt) const {
  const std::string* v = Field(key);
  if (v == nullptr || *v == "null") return dflt;
  if (*v == "true") return true;
  if (*v == "false") return false;
  return absl::InvalidArgumentError(
      fmt::format("header field {} is not a boolean: '{}'", key, v->substr(0, 64)));
}

void RemotingCommand::Set(std::string_view key, int64_t value) {
  ext_fields.insert_or_assign(std::string(key), absl::StrCat(value));
}

}  // namespace stele::remoting
