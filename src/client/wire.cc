#include "client/wire.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <random>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/status.h"
#include "engine/record.h"
#include "fmt/format.h"
#include "net/remoting/codes.h"
#include "stele/message.h"

namespace stele::client {

namespace {

constexpr char kCodePayload[] = "stele.rocketmq/code";

void Append(std::string* out, std::string_view k, std::string_view v) {
  out->append(k);
  out->push_back(kNameValueSeparator);
  out->append(v);
  out->push_back(kPropertySeparator);
}

// Epoch ms of the first instant of the current (local-time) month, and of the next one.
std::pair<int64_t, int64_t> MonthBounds(int64_t now_ms) {
  std::time_t t = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  tm.tm_mday = 1;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  tm.tm_isdst = -1;
  const int64_t start = static_cast<int64_t>(std::mktime(&tm)) * 1000;
  tm.tm_mon += 1;
  tm.tm_isdst = -1;
  const int64_t next = static_cast<int64_t>(std::mktime(&tm)) * 1000;
  return {start, next};
}

void HexAppend(std::string* out, const uint8_t* p, size_t n) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; ++i) {
    out->push_back(kHex[p[i] >> 4]);
    out->push_back(kHex[p[i] & 0xF]);
  }
}

}  // namespace

std::string MessageQueue::ToString() const {
  return fmt::format("{}@{}#{}", topic, broker_name, queue_id);
}

const std::string* Message::Property(std::string_view name) const {
  auto it = properties.find(std::string(name));
  return it == properties.end() ? nullptr : &it->second;
}

std::string_view SendStatusName(SendStatus s) {
  switch (s) {
    case SendStatus::kSendOk:
      return "SEND_OK";
    case SendStatus::kFlushDiskTimeout:
      return "FLUSH_DISK_TIMEOUT";
    case SendStatus::kFlushSlaveTimeout:
      return "FLUSH_SLAVE_TIMEOUT";
    case SendStatus::kSlaveNotAvailable:
      return "SLAVE_NOT_AVAILABLE";
  }
  return "UNKNOWN";
}

std::optional<int32_t> RocketMqCode(const absl::Status& s) {
  auto p = s.GetPayload(kCodePayload);
  if (!p) return std::nullopt;
  int32_t code = 0;
  if (!absl::SimpleAtoi(std::string(*p), &code)) return std::nullopt;
  return code;
}

std::string EncodeProperties(const Message& m, const std::map<std::string, std::string>& extra) {
  // Each name goes on the wire once: the broker (FindProperty) reads a name's first occurrence and
  // DecodeProperties its last, so with a duplicate the broker would index and filter by one value
  // (e.g. a user "TAGS" property) while consumers see another (the tags field). Precedence:
  // `extra`, then the message's own fields, then user properties.
  auto in_extra = [&](std::string_view k) { return extra.count(std::string(k)) != 0; };
  auto field_set = [&](std::string_view k) {
    return (k == prop::kTags && !m.tags.empty()) || (k == prop::kKeys && !m.keys.empty()) ||
           (k == prop::kDelayLevel && m.delay_level > 0) ||
           (k == prop::kDeliverTimeMs && m.deliver_time_ms > 0);
  };
  std::string out;
  for (const auto& [k, v] : m.properties) {
    if (!in_extra(k) && !field_set(k)) Append(&out, k, v);
  }
  if (!m.tags.empty() && !in_extra(prop::kTags)) Append(&out, prop::kTags, m.tags);
  if (!m.keys.empty() && !in_extra(prop::kKeys)) Append(&out, prop::kKeys, m.keys);
  if (m.delay_level > 0 && !in_extra(prop::kDelayLevel)) {
    Append(&out, prop::kDelayLevel, std::to_string(m.delay_level));
  }
  if (m.deliver_time_ms > 0 && !in_extra(prop::kDeliverTimeMs)) {
    Append(&out, prop::kDeliverTimeMs, std::to_string(m.deliver_time_ms));
  }
  for (const auto& [k, v] : extra) Append(&out, k, v);
  return out;
}

std::map<std::string, std::string> DecodeProperties(std::string_view s) {
  std::map<std::string, std::string> out;
  while (!s.empty()) {
    size_t end = s.find(kPropertySeparator);
    std::string_view item = s.substr(0, end);
    s = end == std::string_view::npos ? std::string_view{} : s.substr(end + 1);
    if (item.empty()) continue;
    size_t eq = item.find(kNameValueSeparator);
    if (eq == std::string_view::npos) {
      out.insert_or_assign(std::string(item), std::string());
    } else {
      out.insert_or_assign(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    }
  }
  return out;
}

UniqueIdGenerator::UniqueIdGenerator() {
  uint8_t fixed[10] = {};
  auto ip = HostAddress::Parse(LocalIp() + ":0");
  if (ip.ok()) std::memcpy(fixed, ip->ip.data(), 4);
  const auto pid = static_cast<uint16_t>(getpid());
  fixed[4] = static_cast<uint8_t>(pid >> 8);
  fixed[5] = static_cast<uint8_t>(pid);
  // Java uses the class loader's hash code; any per-process random value serves the same
  // purpose (two clients in one process with the same pid and ip still differ).
  std::random_device rd;
  StoreBe32(fixed + 6, rd());
  HexAppend(&fixed_, fixed, sizeof fixed);
  counter_.store(rd() & 0xFFFF, std::memory_order_relaxed);
}

std::string UniqueIdGenerator::Next() {
  const int64_t now = NowMs();
  // Threads share one generator (GlobalIdGenerator) and all write the bounds on the first call and
  // at a month rollover while others read them: plain int64_t accesses would be a data race (UB;
  // TSan reports it). The start is published before the end (release), so a thread that sees the
  // new end (acquire) sees the new start. Recomputing under a race only yields the same bounds.
  static_assert(alignof(int64_t) >= std::atomic_ref<int64_t>::required_alignment);
  std::atomic_ref<int64_t> start_ms(month_start_ms_);
  std::atomic_ref<int64_t> next_ms(next_month_ms_);
  if (now >= next_ms.load(std::memory_order_acquire) ||
      now < start_ms.load(std::memory_order_relaxed)) {
    auto [start, next] = MonthBounds(now);
    start_ms.store(start, std::memory_order_relaxed);
    next_ms.store(next, std::memory_order_release);
  }
  uint8_t var[6];
  StoreBe32(var, static_cast<uint32_t>(now - start_ms.load(std::memory_order_relaxed)));
  const uint32_t c = counter_.fetch_add(1, std::memory_order_relaxed);
  var[4] = static_cast<uint8_t>(c >> 8);
  var[5] = static_cast<uint8_t>(c);
  std::string id = fixed_;
  HexAppend(&id, var, sizeof var);
  return id;
}

UniqueIdGenerator& GlobalIdGenerator() {
  static UniqueIdGenerator* g = new UniqueIdGenerator();
  return *g;
}

absl::StatusOr<std::vector<MessageExt>> DecodeMessages(std::string_view body,
                                                       std::string_view broker_name) {
  std::vector<MessageExt> out;
  size_t pos = 0;
  while (pos < body.size()) {
    MessageView v;
    std::string reason;
    const engine::DecodeResult r = engine::DecodeRecord(body.data() + pos, body.size() - pos,
                                                        /*check_crc=*/false, &v, &reason);
    if (r != engine::DecodeResult::kOk) {
      return absl::InvalidArgumentError(
          fmt::format("undecodable message at byte {} of a {}-byte pull body: {}", pos, body.size(),
                      reason.empty() ? "not a message record" : reason));
    }
    MessageExt m;
    m.topic = std::string(v.topic);
    m.properties = DecodeProperties(v.properties);
    if (const std::string* t = m.Property(prop::kTags)) m.tags = *t;
    if (const std::string* k = m.Property(prop::kKeys)) m.keys = *k;
    m.flag = v.flag;
    m.sys_flag = v.sys_flag;
    if ((v.sys_flag & sysflag::kCompressed) != 0) {
      STELE_ASSIGN_OR_RETURN(m.body, Inflate(v.body, 64u << 20));
      m.sys_flag &= ~sysflag::kCompressed;
    } else {
      m.body = std::string(v.body);
    }
    m.broker_name = std::string(broker_name);
    m.queue_id = v.queue_id;
    m.queue_offset = v.queue_offset;
    m.commit_log_offset = v.physical_offset;
    m.body_crc = static_cast<int32_t>(v.body_crc);
    m.reconsume_times = v.reconsume_times;
    m.born_timestamp = v.born_timestamp;
    m.store_timestamp = v.store_timestamp;
    m.born_host = v.born_host.ToString();
    m.store_host = v.store_host.ToString();
    m.prepared_transaction_offset = v.prepared_transaction_offset;
    m.offset_msg_id = v.OffsetMsgId();
    const std::string* uniq = m.Property(prop::kUniqKey);
    m.msg_id = uniq != nullptr ? *uniq : m.offset_msg_id;
    out.push_back(std::move(m));
    pos += v.total_size;
  }
  return out;
}

absl::StatusOr<std::string> Deflate(std::string_view in, int level) {
  uLongf cap = compressBound(static_cast<uLong>(in.size()));
  std::string out(cap, '\0');
  const int rc =
      compress2(reinterpret_cast<Bytef*>(out.data()), &cap,
                reinterpret_cast<const Bytef*>(in.data()), static_cast<uLong>(in.size()), level);
  if (rc != Z_OK) return absl::InternalError(fmt::format("zlib compress failed ({})", rc));
  out.resize(cap);
  return out;
}

absl::StatusOr<std::string> Inflate(std::string_view in, size_t max_out) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return absl::InternalError("zlib inflateInit failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  int rc = Z_OK;
  char buf[64 * 1024];
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > max_out) {
      inflateEnd(&zs);
      return absl::InvalidArgumentError(
          fmt::format("compressed body inflates beyond {} bytes", max_out));
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) break;  // truncated input
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    return absl::InvalidArgumentError(fmt::format("corrupt compressed body (zlib {})", rc));
  }
  return out;
}

std::string_view ResponseCodeName(int32_t code) {
  namespace r = remoting::response;
  switch (code) {
    case r::kSuccess:
      return "SUCCESS";
    case r::kSystemError:
      return "SYSTEM_ERROR";
    case r::kSystemBusy:
      return "SYSTEM_BUSY";
    case r::kRequestCodeNotSupported:
      return "REQUEST_CODE_NOT_SUPPORTED";
    case r::kTransactionFailed:
      return "TRANSACTION_FAILED";
    case r::kFlushDiskTimeout:
      return "FLUSH_DISK_TIMEOUT";
    case r::kSlaveNotAvailable:
      return "SLAVE_NOT_AVAILABLE";
    case r::kFlushSlaveTimeout:
      return "FLUSH_SLAVE_TIMEOUT";
    case r::kMessageIllegal:
      return "MESSAGE_ILLEGAL";
    case r::kServiceNotAvailable:
      return "SERVICE_NOT_AVAILABLE";
    case r::kVersionNotSupported:
      return "VERSION_NOT_SUPPORTED";
    case r::kNoPermission:
      return "NO_PERMISSION";
    case r::kTopicNotExist:
      return "TOPIC_NOT_EXIST";
    case r::kTopicExistAlready:
      return "TOPIC_EXIST_ALREADY";
    case r::kPullNotFound:
      return "PULL_NOT_FOUND";
    case r::kPullRetryImmediately:
      return "PULL_RETRY_IMMEDIATELY";
    case r::kPullOffsetMoved:
      return "PULL_OFFSET_MOVED";
    case r::kQueryNotFound:
      return "QUERY_NOT_FOUND";
    case r::kSubscriptionParseFailed:
      return "SUBSCRIPTION_PARSE_FAILED";
    case r::kSubscriptionNotExist:
      return "SUBSCRIPTION_NOT_EXIST";
    case r::kSubscriptionNotLatest:
      return "SUBSCRIPTION_NOT_LATEST";
    case r::kSubscriptionGroupNotExist:
      return "SUBSCRIPTION_GROUP_NOT_EXIST";
    case r::kConsumerNotOnline:
      return "CONSUMER_NOT_ONLINE";
    case r::kNoMessage:
      return "NO_MESSAGE";
    default:
      return "UNKNOWN_CODE";
  }
}

absl::Status ResponseError(int32_t code, std::string_view remark, std::string_view context) {
  namespace r = remoting::response;
  absl::StatusCode sc = absl::StatusCode::kInternal;
  switch (code) {
    case r::kSystemBusy:
      sc = absl::StatusCode::kResourceExhausted;
      break;
    case r::kTopicNotExist:
    case r::kQueryNotFound:
    case r::kSubscriptionGroupNotExist:
    case r::kSubscriptionNotExist:
    case r::kPullNotFound:
    case r::kConsumerNotOnline:
      sc = absl::StatusCode::kNotFound;
      break;
    case r::kNoPermission:
      sc = absl::StatusCode::kPermissionDenied;
      break;
    case r::kMessageIllegal:
    case r::kSubscriptionParseFailed:
      sc = absl::StatusCode::kInvalidArgument;
      break;
    case r::kServiceNotAvailable:
      sc = absl::StatusCode::kUnavailable;
      break;
    case r::kRequestCodeNotSupported:
    case r::kVersionNotSupported:
      sc = absl::StatusCode::kUnimplemented;
      break;
    default:
      break;
  }
  std::string msg = fmt::format("{} ({}): {}", ResponseCodeName(code), code, remark);
  if (!context.empty()) msg = fmt::format("{}: {}", context, msg);
  absl::Status s(sc, msg);
  s.SetPayload(kCodePayload, absl::Cord(std::to_string(code)));
  return s;
}

std::string LocalIp() {
  ifaddrs* ifs = nullptr;
  std::string best = "127.0.0.1";
  if (getifaddrs(&ifs) != 0) return best;
  for (ifaddrs* i = ifs; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    const uint32_t a = ntohl(sin->sin_addr.s_addr);
    if ((a >> 24) == 127) continue;
    best = fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xFF, (a >> 8) & 0xFF, a & 0xFF);
    break;
  }
  freeifaddrs(ifs);
  return best;
}

}  // namespace stele::client
