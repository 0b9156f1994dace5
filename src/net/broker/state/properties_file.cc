#include "net/broker/state/properties_file.h"

#include <algorithm>

#include <fmt/format.h>

namespace stele::broker {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

std::string_view TrimBlank(std::string_view s) {
  while (!s.empty() && (IsBlank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (IsBlank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// True if `s` ends in an odd number of backslashes (a continuation, not an escaped backslash).
bool EndsWithContinuation(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && s[s.size() - 1 - n] == '\\') ++n;
  return n % 2 == 1;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes the escapes of one logical line, stopping (for a key) at the first unescaped separator.
// Returns the position after what was consumed.
absl::StatusOr<size_t> Unescape(std::string_view s, bool stop_at_separator, int line,
                                std::string* out) {
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (stop_at_separator && (c == '=' || c == ':' || IsBlank(c))) return i;
    if (c != '\\') {
      out->push_back(c);
      ++i;
      continue;
    }
    if (i + 1 >= s.size()) return ++i;  // a lone trailing backslash: nothing to escape
    char e = s[i + 1];
    i += 2;
    switch (e) {
      case 't':
        out->push_back('\t');
        break;
      case 'n':
        out->push_back('\n');
        break;
      case 'r':
        out->push_back('\r');
        break;
      case 'f':
        out->push_back('\f');
        break;
      case 'u': {
        uint32_t cp = 0;
        for (int k = 0; k < 4; ++k, ++i) {
          char h = i < s.size() ? s[i] : '\0';
          int v = (h >= '0' && h <= '9')   ? h - '0'
                  : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                  : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                           : -1;
          if (v < 0) {
            return absl::InvalidArgumentError(
                fmt::format("line {}: malformed \\uXXXX escape", line));
          }
          cp = cp * 16 + static_cast<uint32_t>(v);
        }
        AppendUtf8(cp, out);
        break;
      }
      default:
        out->push_back(e);
    }
  }
  return i;
}

}  // namespace

absl::StatusOr<std::vector<Property>> ParseProperties(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte-order mark
  std::vector<Property> props;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    // Gather one logical line: physical lines joined while they end in a continuation; the
    // leading blanks of each continued line are dropped, as Java does.
    int start_line = line_no + 1;
    std::string logical;
    bool first = true;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      std::string_view phys = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
      pos = nl == std::string_view::npos ? text.size() : nl + 1;
      ++line_no;
      if (!phys.empty() && phys.back() == '\r') phys.remove_suffix(1);
      std::string_view lead = phys;
      while (!lead.empty() && IsBlank(lead.front())) lead.remove_prefix(1);
      if (first && (lead.empty() || lead.front() == '#' || lead.front() == '!')) break;
      first = false;
      if (!EndsWithContinuation(lead)) {
        logical.append(lead);
        break;
      }
      lead.remove_suffix(1);
      logical.append(lead);
    }
    std::string_view rest = TrimBlank(logical);
    if (rest.empty()) continue;

    Property p;
    p.line = start_line;
    auto key_end = Unescape(rest, /*stop_at_separator=*/true, start_line, &p.key);
    if (!key_end.ok()) return key_end.status();
    if (p.key.empty()) {
      return absl::InvalidArgumentError(fmt::format("line {}: empty key", start_line));
    }
    rest.remove_prefix(*key_end);
    while (!rest.empty() && IsBlank(rest.front())) rest.remove_prefix(1);
    if (!rest.empty() && (rest.front() == '=' || rest.front() == ':')) rest.remove_prefix(1);
    rest = TrimBlank(rest);
    auto value_end = Unescape(rest, /*stop_at_separator=*/false, start_line, &p.value);
    if (!value_end.ok()) return value_end.status();

    props.erase(std::remove_if(props.begin(), props.end(),
                               [&](const Property& q) { return q.key == p.key; }),
                props.end());
    props.push_back(std::move(p));
  }
  return props;
}

}  // namespace stele::broker
