#include "tools/text.h"

#include <charconv>
#include <ctime>

#include <fmt/format.h>
#include "stele/message.h"

namespace stele::tools {

std::string IsoTime(int64_t ms) {
  int64_t secs = ms / 1000;
  int64_t millis = ms % 1000;
  if (millis < 0) {  // floor division, so that -1 ms is 23:59:59.999 the day before
    millis += 1000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
    return "?";
  }
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      out += fmt::format("\\x{:02x}", u);
    }
  }
  return out;
}

std::string FormatProperties(std::string_view props, bool* well_formed) {
  *well_formed = true;
  std::string out = "{";
  bool first = true;
  size_t pos = 0;
  while (pos < props.size()) {
    size_t end = props.find(kPropertySeparator, pos);
    if (end == std::string_view::npos) end = props.size();
    std::string_view item = props.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    if (!first) out += ", ";
    first = false;
    size_t sep = item.find(kNameValueSeparator);
    if (sep == std::string_view::npos) {
      *well_formed = false;
      out += Escape(item);
    } else {
      out += Escape(item.substr(0, sep));
      out += '=';
      out += Escape(item.substr(sep + 1));
    }
  }
  out += '}';
  return out;
}

bool PropertiesWellFormed(std::string_view props) {
  size_t pos = 0;
  while (pos < props.size()) {
    size_t end = props.find(kPropertySeparator, pos);
    if (end == std::string_view::npos) end = props.size();
    std::string_view item = props.substr(pos, end - pos);
    if (!item.empty() && item.find(kNameValueSeparator) == std::string_view::npos) return false;
    pos = end + 1;
  }
  return true;
}

std::string SysFlagString(int32_t f) {
  std::string names;
  auto add = [&](std::string_view n) {
    if (!names.empty()) names += '|';
    names += n;
  };
  if (f & sysflag::kCompressed) add("COMPRESSED");
  if (f & sysflag::kMultiTags) add("MULTI_TAGS");
  switch (f & sysflag::kTransactionMask) {
    case sysflag::kTransactionPreparedType:
      add("PREPARED");
      break;
    case sysflag::kTransactionCommitType:
      add("COMMIT");
      break;
    case sysflag::kTransactionRollbackType:
      add("ROLLBACK");
      break;
    default:
      break;
  }
  if (f & sysflag::kBornHostV6) add("BORNHOST_V6");
  if (f & sysflag::kStoreHostV6) add("STOREHOST_V6");
  std::string out = fmt::format("{:#x}", static_cast<uint32_t>(f));
  if (!names.empty()) out += "(" + names + ")";
  return out;
}

bool ParseUint64(std::string_view s, bool allow_suffix, uint64_t* out) {
  uint64_t mult = 1;
  if (allow_suffix && !s.empty()) {
    switch (s.back()) {
      case 'k':
      case 'K':
        mult = uint64_t{1} << 10;
        break;
      case 'm':
      case 'M':
        mult = uint64_t{1} << 20;
        break;
      case 'g':
      case 'G':
        mult = uint64_t{1} << 30;
        break;
      default:
        break;
    }
    if (mult != 1) s.remove_suffix(1);
  }
  if (s.empty()) return false;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return false;
  if (v > UINT64_MAX / mult) return false;
  *out = v * mult;
  return true;
}

}  // namespace stele::tools
