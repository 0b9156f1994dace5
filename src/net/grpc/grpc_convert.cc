#include "net/grpc/grpc_convert.h"

#include <zlib.h>

#include <array>
#include <chrono>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/broker/state/message_limits.h"
#include "net/broker/state/names.h"
#include "net/broker/transaction_service.h"

namespace stele::rpc {
namespace {

constexpr std::string_view kCodePayload = "stele.rpc/code";

// Properties the broker or the protocol owns; never handed out as user properties.
constexpr std::array<std::string_view, 27> kSystemKeys = {
    kPropertyTags,
    kPropertyKeys,
    kPropertyUniqKey,
    kPropertyCrc32,
    kPropShardingKey,
    kPropTimerDeliverMs,
    kPropBornHostName,
    broker::kPropDelayLevel,
    broker::kPropRealTopic,
    broker::kPropRealQueueId,
    broker::kPropRetryTopic,
    broker::kPropOriginMessageId,
    broker::kPropMaxReconsumeTimes,
    broker::kPropReconsumeTime,
    broker::kPropCluster,
    broker::kPropTransactionPrepared,
    broker::kPropTransactionId,
    broker::kPropProducerGroup,
    broker::kPropCheckTimes,
    broker::kPropCheckImmunitySeconds,
    "WAIT",
    "MIN_OFFSET",
    "MAX_OFFSET",
    "CONSUME_START_TIME",
    "POP_CK",
    "1ST_POP_TIME",
    "TIMER_OUT_MS",
};

bool IsSystemKey(std::string_view k) {
  for (std::string_view s : kSystemKeys) {
    if (s == k) return true;
  }
  return false;
}

bool HasSeparator(std::string_view s) {
  return s.find(kNameValueSeparator) != std::string_view::npos ||
         s.find(kPropertySeparator) != std::string_view::npos;
}

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::string HostOnly(const HostAddress& h) {
  std::string s = h.ToString();
  const size_t colon = s.rfind(':');
  if (colon != std::string::npos) s.resize(colon);
  if (s.size() >= 2 && s.front() == '[') s = s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

absl::StatusOr<std::string> Inflate(std::string_view in, size_t max_out) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) {  // 15 + 32: zlib or gzip header, detected
    return absl::InternalError("zlib inflateInit2 failed");
  }
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out.size() >= max_out + 1) break;
    const size_t old = out.size();
    out.resize(std::min(max_out + 1, std::max<size_t>(old * 2, 4096)));
    z.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    z.avail_out = static_cast<uInt>(out.size() - old);
    rc = inflate(&z, Z_NO_FLUSH);
    out.resize(out.size() - z.avail_out);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) {
    if (out.size() > max_out) {
      return absl::OutOfRangeError(fmt::format("inflates to more than {} bytes", max_out));
    }
    return absl::DataLossError("the compressed body is corrupt or truncated");
  }
  return out;
}

absl::Status Error(v2::Code code, std::string_view message) {
  absl::Status s(absl::StatusCode::kFailedPrecondition,
                 absl::string_view(message.data(), message.size()));
  s.SetPayload(absl::string_view(kCodePayload.data(), kCodePayload.size()),
               absl::Cord(std::to_string(static_cast<int>(code))));
  return s;
}

v2::Status Ok() {
  v2::Status st;
  st.set_code(v2::OK);
  st.set_message("OK");
  return st;
}

v2::Status ToProto(const absl::Status& s, v2::Code not_found) {
  if (s.ok()) return Ok();
  v2::Status st;
  st.set_message(std::string(s.message()));
  int code = 0;
  if (auto p = s.GetPayload(absl::string_view(kCodePayload.data(), kCodePayload.size()));
      p && absl::SimpleAtoi(std::string(*p), &code) && v2::Code_IsValid(code)) {
    st.set_code(static_cast<v2::Code>(code));
    return st;
  }
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      st.set_code(v2::BAD_REQUEST);
      break;
    case absl::StatusCode::kNotFound:
      st.set_code(not_found);
      break;
    case absl::StatusCode::kResourceExhausted:
      st.set_code(v2::TOO_MANY_REQUESTS);
      break;
    case absl::StatusCode::kPermissionDenied:
      st.set_code(v2::FORBIDDEN);
      break;
    case absl::StatusCode::kDeadlineExceeded:
      st.set_code(v2::PROXY_TIMEOUT);
      break;
    case absl::StatusCode::kUnimplemented:
      st.set_code(v2::NOT_IMPLEMENTED);
      break;
    default:
      st.set_code(v2::INTERNAL_SERVER_ERROR);
  }
  return st;
}

std::string FullName(const v2::Resource& r) {
  if (r.resource_namespace().empty()) return r.name();
  return fmt::format("{}%{}", r.resource_namespace(), r.name());
}

absl::StatusOr<std::string> TopicName(const v2::Resource& r) {
  std::string name = FullName(r);
  if (absl::Status s = broker::ValidateTopic(name); !s.ok()) {
    return Error(v2::ILLEGAL_TOPIC, broker::StatusMessage(s));
  }
  return name;
}

absl::StatusOr<std::string> GroupName(const v2::Resource& r) {
  std::string name = FullName(r);
  if (absl::Status s = broker::ValidateGroup(name); !s.ok()) {
    return Error(v2::ILLEGAL_CONSUMER_GROUP, broker::StatusMessage(s));
  }
  return name;
}

int64_t ToMillis(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1000000;
}
int64_t ToMillis(const google::protobuf::Duration& d) {
  return d.seconds() * 1000 + d.nanos() / 1000000;
}
void SetMillis(google::protobuf::Timestamp* t, int64_t ms) {
  t->set_seconds(ms / 1000);
  t->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
}
void SetMillis(google::protobuf::Duration* d, int64_t ms) {
  d->set_seconds(ms / 1000);
  d->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
}
int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::Status ToOutgoing(const v2::Message& in, const SendLimits& limits, broker::OutgoingMessage* m,
                        v2::MessageType* type) {
  const v2::SystemProperties& sp = in.system_properties();
  if (in.body().size() > limits.max_body_size) {
    return Error(v2::MESSAGE_BODY_TOO_LARGE,
                 fmt::format("message body of {} bytes exceeds the limit of {} bytes",
                             in.body().size(), limits.max_body_size));
  }
  if (in.body().empty()) return Error(v2::MESSAGE_BODY_EMPTY, "message body is empty");
  // The checks are the broker's (message_limits.h), shared with remoting sends; here they only
  // get their protocol codes. What is added is what the stored form cannot encode: the property
  // separators in values, spaces inside one key (KEYS separates keys by spaces).
  broker::MessageLimits ml;
  ml.max_property_value = limits.max_user_property_size;
  broker::Properties& p = m->properties;
  size_t user_size = 0;
  std::vector<std::pair<std::string_view, std::string_view>> user;
  user.reserve(static_cast<size_t>(in.user_properties().size()));
  for (const auto& [k, v] : in.user_properties()) {
    user_size += k.size() + v.size();
    user.emplace_back(k, v);
  }
  if (user_size > limits.max_user_property_size) {
    return Error(v2::MESSAGE_PROPERTIES_TOO_LARGE,
                 fmt::format("user properties of {} bytes exceed the limit of {} bytes", user_size,
                             limits.max_user_property_size));
  }
  if (absl::Status s = broker::ValidateUserProperties(user, ml); !s.ok()) {
    return Error(v2::ILLEGAL_MESSAGE_PROPERTY_KEY, broker::StatusMessage(s));
  }
  for (const auto& [k, v] : user) {
    if (IsSystemKey(k)) {
      return Error(v2::ILLEGAL_MESSAGE_PROPERTY_KEY,
                   fmt::format("'{}' is a system property name; it cannot be a user property",
                               broker::ShortForMessage(k)));
    }
    if (HasSeparator(v)) {
      return Error(v2::ILLEGAL_MESSAGE_PROPERTY_KEY,
                   fmt::format("the value of user property '{}' has control characters",
                               broker::ShortForMessage(k)));
    }
    p.Set(k, v);
  }
  // An empty tag is no tag (as the proxy); a whitespace-only one is refused as the proxy does.
  if (sp.has_tag() && !sp.tag().empty()) {
    absl::Status s = broker::ValidateTag(sp.tag(), ml);
    if (s.ok() && IsBlank(sp.tag())) s = absl::InvalidArgumentError("the tag is blank");
    if (!s.ok()) return Error(v2::ILLEGAL_MESSAGE_TAG, broker::StatusMessage(s));
    p.Set(kPropertyTags, sp.tag());
  }
  if (!sp.keys().empty()) {
    for (const std::string& k : sp.keys()) {
      if (IsBlank(k) || k.find(' ') != std::string::npos) {
        return Error(v2::ILLEGAL_MESSAGE_KEY,
                     fmt::format("key '{}' is blank or has spaces", broker::ShortForMessage(k)));
      }
    }
    const std::string keys = absl::StrJoin(sp.keys(), " ");
    if (absl::Status s = broker::ValidateKeys(keys, ml); !s.ok()) {
      return Error(v2::ILLEGAL_MESSAGE_KEY, broker::StatusMessage(s));
    }
    p.Set(kPropertyKeys, keys);
  }
  if (sp.message_id().empty() || HasSeparator(sp.message_id()) || sp.message_id().size() > 128) {
    return Error(v2::ILLEGAL_MESSAGE_ID, "message_id is empty, too long or malformed");
  }
  p.Set(kPropertyUniqKey, sp.message_id());
  if (!sp.born_host().empty() && !HasSeparator(sp.born_host())) {
    p.Set(kPropBornHostName, sp.born_host());
  }
  if (sp.body_encoding() == v2::GZIP) {
    // Stored inflated: remoting clients expect zlib, not gzip, behind the compressed flag.
    auto plain = Inflate(in.body(), limits.max_body_size);
    if (absl::IsOutOfRange(plain.status())) {
      return Error(v2::MESSAGE_BODY_TOO_LARGE,
                   fmt::format("the gzip body {}", broker::StatusMessage(plain.status())));
    }
    if (!plain.ok()) return Error(v2::MESSAGE_CORRUPTED, broker::StatusMessage(plain.status()));
    m->body = *std::move(plain);
  } else {
    m->body = in.body();
  }
  m->born_timestamp = sp.has_born_timestamp() ? ToMillis(sp.born_timestamp()) : NowMillis();

  v2::MessageType t = sp.message_type();
  if (t == v2::MESSAGE_TYPE_UNSPECIFIED) {  // infer, as older clients leave it out
    t = sp.has_message_group() ? v2::FIFO : sp.has_delivery_timestamp() ? v2::DELAY : v2::NORMAL;
  }
  const bool has_group = sp.has_message_group();
  const bool has_time = sp.has_delivery_timestamp();
  if ((has_group && t != v2::FIFO) || (has_time && t != v2::DELAY)) {
    return Error(v2::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
                 "message_group needs type FIFO and delivery_timestamp needs type DELAY");
  }
  switch (t) {
    case v2::NORMAL:
      break;
    case v2::FIFO:
      if (!has_group || IsBlank(sp.message_group()) || HasSeparator(sp.message_group()) ||
          sp.message_group().size() > limits.max_message_group_size) {
        return Error(v2::ILLEGAL_MESSAGE_GROUP,
                     fmt::format("a FIFO message needs a message_group of 1..{} characters",
                                 limits.max_message_group_size));
      }
      p.Set(kPropShardingKey, sp.message_group());
      break;
    case v2::DELAY: {
      if (!has_time)
        return Error(v2::ILLEGAL_DELIVERY_TIME, "a DELAY message needs delivery_timestamp");
      const int64_t at = ToMillis(sp.delivery_timestamp());
      if (at - NowMillis() > limits.max_delay_ms) {
        return Error(
            v2::ILLEGAL_DELIVERY_TIME,
            fmt::format("delivery_timestamp is more than {} ms ahead", limits.max_delay_ms));
      }
      p.Set(kPropTimerDeliverMs, std::to_string(at));
      break;
    }
    case v2::TRANSACTION:
      p.Set(broker::kPropTransactionPrepared, "true");
      m->sys_flag |= sysflag::kTransactionPreparedType;
      if (sp.has_orphaned_transaction_recovery_duration()) {
        const int64_t secs = ToMillis(sp.orphaned_transaction_recovery_duration()) / 1000;
        if (secs > 0) p.Set(broker::kPropCheckImmunitySeconds, std::to_string(secs));
      }
      break;
    default:
      return Error(v2::UNSUPPORTED,
                   fmt::format("message type {} is not supported", v2::MessageType_Name(t)));
  }
  *type = t;
  return absl::OkStatus();
}

std::string MessageId(const MessageView& v) {
  if (auto u = v.Property(kPropertyUniqKey); u && !u->empty()) return std::string(*u);
  return v.OffsetMsgId();
}

void ToProtoMessage(const MessageView& v, const v2::Resource& topic, v2::Message* out) {
  *out->mutable_topic() = topic;
  // Remoting producers compress large bodies (zlib); gRPC clients only know gzip, so deliver them
  // inflated. A body that does not inflate goes out as stored.
  out->set_body(std::string(v.body));
  if (v.sys_flag & sysflag::kCompressed) {
    if (auto plain = Inflate(v.body, kMaxInflatedBody); plain.ok()) {
      out->set_body(*std::move(plain));
    }
  }
  v2::SystemProperties* sp = out->mutable_system_properties();
  // Walk the properties once: system ones map to fields, the rest are the user's.
  for (std::string_view rest = v.properties; !rest.empty();) {
    const size_t end = rest.find(kPropertySeparator);
    std::string_view kv = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    const size_t eq = kv.find(kNameValueSeparator);
    if (eq == std::string_view::npos) continue;
    const std::string_view k = kv.substr(0, eq), val = kv.substr(eq + 1);
    if (k == kPropertyTags) {
      sp->set_tag(std::string(val));
    } else if (k == kPropertyKeys) {
      for (absl::string_view key :
           absl::StrSplit(absl::string_view(val.data(), val.size()), ' ', absl::SkipEmpty())) {
        sp->add_keys(std::string(key.data(), key.size()));
      }
    } else if (k == kPropShardingKey) {
      sp->set_message_group(std::string(val));
    } else if (k == kPropTimerDeliverMs) {
      int64_t at = 0;
      if (absl::SimpleAtoi(absl::string_view(val.data(), val.size()), &at)) {
        SetMillis(sp->mutable_delivery_timestamp(), at);
      }
    } else if (!IsSystemKey(k)) {
      (*out->mutable_user_properties())[std::string(k)] = std::string(val);
    }
  }
  sp->set_message_id(MessageId(v));
  sp->mutable_body_digest()->set_type(v2::CRC32);
  const std::string& body = out->body();
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  sp->mutable_body_digest()->set_checksum(std::to_string(crc));
  sp->set_body_encoding(v2::IDENTITY);
  const int32_t tx = v.sys_flag & sysflag::kTransactionMask;
  sp->set_message_type(tx == sysflag::kTransactionCommitType ? v2::TRANSACTION
                       : sp->has_message_group()             ? v2::FIFO
                       : sp->has_delivery_timestamp()        ? v2::DELAY
                                                             : v2::NORMAL);
  SetMillis(sp->mutable_born_timestamp(), v.born_timestamp);
  if (auto h = v.Property(kPropBornHostName)) {
    sp->set_born_host(std::string(*h));
  } else {
    sp->set_born_host(HostOnly(v.born_host));
  }
  SetMillis(sp->mutable_store_timestamp(), v.store_timestamp);
  sp->set_store_host(v.store_host.ToString());
  sp->set_queue_id(v.queue_id);
  sp->set_queue_offset(v.queue_offset);
  sp->set_delivery_attempt(v.reconsume_times + 1);
}

uint32_t GroupHash(std::string_view group) {
  uint32_t h = 2166136261u;  // FNV-1a: fixed across builds and restarts, unlike std::hash
  for (unsigned char c : group) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

}  // namespace stele::rpc
