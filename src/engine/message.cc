#include "stele/message.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>
#include "common/bytes.h"

namespace stele {

absl::StatusOr<HostAddress> HostAddress::Parse(std::string_view s) {
  HostAddress h;
  std::string host;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return absl::InvalidArgumentError(fmt::format("bad address '{}'", s));
    }
    host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
    h.v6 = true;
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format("address '{}' has no :port", s));
    }
    host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
  }
  uint32_t p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || ptr != port.data() + port.size() || p > 65535) {
    return absl::InvalidArgumentError(fmt::format("bad port in address '{}'", s));
  }
  h.port = p;
  if (inet_pton(h.v6 ? AF_INET6 : AF_INET, host.c_str(), h.ip.data()) != 1) {
    return absl::InvalidArgumentError(fmt::format("bad IP in address '{}'", s));
  }
  return h;
}

std::string HostAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, ip.data(), buf, sizeof buf);
  return v6 ? fmt::format("[{}]:{}", buf, port) : fmt::format("{}:{}", buf, port);
}

void AppendProperty(std::string* props, std::string_view name, std::string_view value) {
  props->append(name);
  props->push_back(kNameValueSeparator);
  props->append(value);
  props->push_back(kPropertySeparator);
}

std::optional<std::string_view> FindProperty(std::string_view props, std::string_view name) {
  size_t pos = 0;
  while (pos < props.size()) {
    size_t end = props.find(kPropertySeparator, pos);
    if (end == std::string_view::npos) end = props.size();
    std::string_view item = props.substr(pos, end - pos);
    size_t sep = item.find(kNameValueSeparator);
    if (sep != std::string_view::npos && item.substr(0, sep) == name) return item.substr(sep + 1);
    pos = end + 1;
  }
  return std::nullopt;
}

std::string MessageView::OffsetMsgId() const {
  return stele::OffsetMsgId(store_host, physical_offset);
}

std::string OffsetMsgId(const HostAddress& store_host, int64_t physical_offset) {
  unsigned char raw[28];
  size_t n = store_host.v6 ? 16 : 4;
  std::memcpy(raw, store_host.ip.data(), n);
  StoreBe32(raw + n, store_host.port);
  StoreBe64(raw + n + 4, static_cast<uint64_t>(physical_offset));
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < n + 12; ++i) {
    out.push_back(kHex[raw[i] >> 4]);
    out.push_back(kHex[raw[i] & 15]);
  }
  return out;
}

}  // namespace stele
