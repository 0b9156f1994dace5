#include "engine/record.h"

#include <cstring>

#include "common/bytes.h"
#include "common/crc32.h"
#include "stele/store.h"

namespace stele::engine {
namespace {

constexpr std::string_view kRetryPrefix = "%RETRY%";
constexpr std::string_view kDlqPrefix = "%DLQ%";

uint32_t HostLen(bool v6) { return v6 ? 20 : 8; }

char* PutHost(char* p, const HostAddress& h) {
  size_t n = h.v6 ? 16 : 4;
  std::memcpy(p, h.ip.data(), n);
  StoreBe32(p + n, h.port);
  return p + n + 4;
}

// Bounds-checked big-endian reader over one record.
struct Reader {
  const char* p;
  size_t n;
  size_t pos = 0;
  bool ok = true;
  bool Need(size_t k) {
    if (!ok || pos > n || n - pos < k) ok = false;
    return ok;
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t v = LoadBe32(p + pos);
    pos += 4;
    return v;
  }
  uint64_t U64() {
    if (!Need(8)) return 0;
    uint64_t v = LoadBe64(p + pos);
    pos += 8;
    return v;
  }
  uint16_t U16() {
    if (!Need(2)) return 0;
    uint16_t v = LoadBe16(p + pos);
    pos += 2;
    return v;
  }
  uint8_t U8() {
    if (!Need(1)) return 0;
    return static_cast<uint8_t>(p[pos++]);
  }
  std::string_view Bytes(size_t k) {
    if (!Need(k)) return {};
    std::string_view v(p + pos, k);
    pos += k;
    return v;
  }
  HostAddress Host(bool v6) {
    HostAddress h;
    h.v6 = v6;
    std::string_view ip = Bytes(v6 ? 16 : 4);
    if (ok) std::memcpy(h.ip.data(), ip.data(), ip.size());
    h.port = U32();
    return h;
  }
};

enum class CrcTail { kNone, kValid, kDamaged };

// Finds RocketMQ's 20-byte "__CRC32#\x01dddddddddd\x02" tail. A tail whose key or whose digit
// layout is recognizable but not both counts as damaged, so that a flipped bit in the tail itself
// cannot turn the whole-record check off.
CrcTail FindCrcTail(const char* rec, uint32_t size) {
  if (size < kCrcReservedLen) return CrcTail::kNone;
  const char* t = rec + size - kCrcReservedLen;
  bool key = std::memcmp(t, kPropertyCrc32.data(), kPropertyCrc32.size()) == 0;
  bool layout = t[8] == kNameValueSeparator && t[19] == kPropertySeparator;
  for (int i = 9; i < 19 && layout; ++i) layout = t[i] >= '0' && t[i] <= '9';
  if (key && layout) return CrcTail::kValid;
  return key || layout ? CrcTail::kDamaged : CrcTail::kNone;
}

uint32_t ParseCrcTail(const char* rec, uint32_t size) {
  const char* d = rec + size - kCrcReservedLen + 9;
  uint64_t v = 0;
  for (int i = 9; i >= 0; --i) v = v * 10 + static_cast<uint64_t>(d[i] - '0');
  return static_cast<uint32_t>(v);
}

}  // namespace

std::string_view PreparedRecord::topic() const {
  // Located after the body: header_len + 4 + body_len, then 1- or 2-byte length.
  uint32_t body_len = LoadBe32(buf.data() + header_len);
  size_t pos = header_len + 4 + body_len;
  bool v2 = LoadBe32(buf.data() + 4) == kMagicV2;
  size_t len = v2 ? LoadBe16(buf.data() + pos) : static_cast<uint8_t>(buf[pos]);
  return std::string_view(buf.data() + pos + (v2 ? 2 : 1), len);
}

absl::Status ValidateTopic(std::string_view topic) {
  if (topic.empty()) {
    return PutError(PutMessageStatus::kMessageIllegal, absl::StatusCode::kInvalidArgument,
                    "The specified topic is blank.");
  }
  for (char c : topic) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '%' || c == '|' || c == '_' || c == '-';
    if (!ok) {
      return PutError(PutMessageStatus::kMessageIllegal, absl::StatusCode::kInvalidArgument,
                      "The specified topic contains illegal characters, allowing only "
                      "^[%|a-zA-Z0-9_-]+$");
    }
  }
  bool retry = topic.starts_with(kRetryPrefix) || topic.starts_with(kDlqPrefix);
  size_t max = retry ? 255 : 127;
  if (topic.size() > max) {
    return PutError(PutMessageStatus::kMessageIllegal, absl::StatusCode::kInvalidArgument,
                    "The specified topic is longer than topic max length " + std::to_string(max));
  }
  return absl::OkStatus();
}

absl::Status PrepareRecord(const Message& m, const EncodeParams& p, int64_t now_ms,
                           PreparedRecord* out) {
  if (absl::Status s = ValidateTopic(m.topic); !s.ok()) return s;
  if (m.queue_id < 0) {
    return PutError(PutMessageStatus::kMessageIllegal, absl::StatusCode::kInvalidArgument,
                    "queue id must be >= 0");
  }
  if (m.body.size() > p.max_body_size) {
    return PutError(PutMessageStatus::kMessageIllegal, absl::StatusCode::kInvalidArgument,
                    "message body size " + std::to_string(m.body.size()) +
                        " exceeds maxMessageSize " + std::to_string(p.max_body_size));
  }
  // Properties: user properties, then TAGS/KEYS convenience fields, then the reserved CRC tail.
  std::string props(m.properties);
  if (!m.tags.empty()) AppendProperty(&props, kPropertyTags, m.tags);
  if (!m.keys.empty()) AppendProperty(&props, kPropertyKeys, m.keys);
  if (!props.empty() && props.back() != kPropertySeparator) {
    props.push_back(kPropertySeparator);
  }
  size_t props_len = props.size() + (p.prop_crc ? kCrcReservedLen : 0);
  if (props_len > kMaxPropertiesLen) {
    return PutError(PutMessageStatus::kPropertiesSizeExceeded, absl::StatusCode::kInvalidArgument,
                    "message properties length " + std::to_string(props_len) + " exceeds 32767");
  }
  const bool v2 = m.topic.size() > 127;
  int32_t sys_flag = m.sys_flag & ~(sysflag::kBornHostV6 | sysflag::kStoreHostV6);
  if (m.born_host.v6) sys_flag |= sysflag::kBornHostV6;
  if (p.store_host.v6) sys_flag |= sysflag::kStoreHostV6;
  const uint32_t header_len = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + HostLen(m.born_host.v6) + 8 +
                              HostLen(p.store_host.v6) + 4 + 8;
  const uint64_t total =
      uint64_t{header_len} + 4 + m.body.size() + (v2 ? 2 : 1) + m.topic.size() + 2 + props_len;

  out->buf.resize(total);
  out->header_len = header_len;
  out->prop_crc = p.prop_crc;
  out->queue_id = m.queue_id;
  out->assigns_queue_offset = sysflag::AssignsQueueOffset(m.sys_flag);
  const uint32_t body_crc = Crc32(m.body.data(), m.body.size());

  char* w = out->buf.data();
  StoreBe32(w, static_cast<uint32_t>(total));
  StoreBe32(w + 4, v2 ? kMagicV2 : kMagicV1);
  StoreBe32(w + 8, MaskCrc(body_crc));
  StoreBe32(w + 12, static_cast<uint32_t>(m.queue_id));
  StoreBe32(w + 16, static_cast<uint32_t>(m.flag));
  StoreBe64(w + 20, 0);  // QUEUEOFFSET, patched
  StoreBe64(w + 28, 0);  // PHYSICALOFFSET, patched
  StoreBe32(w + 36, static_cast<uint32_t>(sys_flag));
  StoreBe64(w + 40, static_cast<uint64_t>(m.born_timestamp_ms != 0 ? m.born_timestamp_ms : now_ms));
  char* q = PutHost(w + 48, m.born_host);
  out->store_ts_pos = static_cast<uint32_t>(q - w);
  StoreBe64(q, 0);  // STORETIMESTAMP, patched
  q = PutHost(q + 8, p.store_host);
  StoreBe32(q, static_cast<uint32_t>(m.reconsume_times));
  StoreBe64(q + 4, static_cast<uint64_t>(m.prepared_transaction_offset));
  q += 12;
  // Rest: body, topic, properties. Its CRC is built from pieces so the body is read only once.
  char* rest = q;
  StoreBe32(q, static_cast<uint32_t>(m.body.size()));
  q += 4;
  if (!m.body.empty()) std::memcpy(q, m.body.data(), m.body.size());
  q += m.body.size();
  char* after_body = q;
  if (v2) {
    StoreBe16(q, static_cast<uint16_t>(m.topic.size()));
    q += 2;
  } else {
    *q++ = static_cast<char>(m.topic.size());
  }
  std::memcpy(q, m.topic.data(), m.topic.size());
  q += m.topic.size();
  StoreBe16(q, static_cast<uint16_t>(props_len));
  q += 2;
  if (!props.empty()) std::memcpy(q, props.data(), props.size());
  q += props.size();
  if (p.prop_crc) {
    uint32_t c = Crc32(rest, 4);
    c = Crc32Combine(c, body_crc, m.body.size());
    c = Crc32(after_body, static_cast<size_t>(q - after_body), c);
    out->crc_rest = c;
    out->crc_combine_op = Crc32CombineOp(static_cast<size_t>(q - rest));
    std::memcpy(q, kPropertyCrc32.data(), kPropertyCrc32.size());
    q[8] = kNameValueSeparator;
    std::memset(q + 9, '0', 10);
    q[19] = kPropertySeparator;
  }
  return absl::OkStatus();
}

void FinalizeRecord(PreparedRecord* rec, int64_t queue_offset, int64_t physical_offset,
                    int64_t store_timestamp) {
  char* w = rec->buf.data();
  StoreBe64(w + kQueueOffsetPos, static_cast<uint64_t>(queue_offset));
  StoreBe64(w + kPhysicalOffsetPos, static_cast<uint64_t>(physical_offset));
  StoreBe64(w + rec->store_ts_pos, static_cast<uint64_t>(store_timestamp));
  if (!rec->prop_crc) return;
  uint32_t size = rec->size();
  uint32_t crc = Crc32CombineWith(Crc32(w, rec->header_len), rec->crc_rest, rec->crc_combine_op);
  uint32_t v = MaskCrc(crc);
  char* d = w + size - kCrcReservedLen + 9;
  for (int i = 0; i < 10; ++i) {  // least significant digit first, as RocketMQ writes it
    d[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

DecodeResult DecodeRecord(const char* p, size_t avail, bool check_crc, MessageView* out,
                          std::string* reason, bool require_record_crc) {
  auto corrupt = [&](std::string why) {
    if (reason) *reason = std::move(why);
    return DecodeResult::kCorrupt;
  };
  if (avail < 8) return corrupt("fewer than 8 bytes left in segment");
  uint32_t size = LoadBe32(p);
  uint32_t magic = LoadBe32(p + 4);
  out->total_size = size;
  out->magic = magic;
  if (magic == kBlankMagic) {
    if (size < kBlankRecordSize || size > avail) return corrupt("blank record with bad size");
    return DecodeResult::kBlank;
  }
  if (size == 0 && magic == 0) return DecodeResult::kEmpty;
  if (magic != kMagicV1 && magic != kMagicV2) return corrupt("bad magic code");
  if (size > avail) return corrupt("TOTALSIZE " + std::to_string(size) + " runs past segment end");
  if (size < kMinRecordSize) return corrupt("TOTALSIZE " + std::to_string(size) + " is too small");
  Reader r{p, size};
  r.pos = 8;
  out->body_crc = r.U32();
  out->queue_id = static_cast<int32_t>(r.U32());
  out->flag = static_cast<int32_t>(r.U32());
  out->queue_offset = static_cast<int64_t>(r.U64());
  out->physical_offset = static_cast<int64_t>(r.U64());
  out->sys_flag = static_cast<int32_t>(r.U32());
  out->born_timestamp = static_cast<int64_t>(r.U64());
  out->born_host = r.Host((out->sys_flag & sysflag::kBornHostV6) != 0);
  out->store_timestamp = static_cast<int64_t>(r.U64());
  out->store_host = r.Host((out->sys_flag & sysflag::kStoreHostV6) != 0);
  out->reconsume_times = static_cast<int32_t>(r.U32());
  out->prepared_transaction_offset = static_cast<int64_t>(r.U64());
  uint32_t body_len = r.U32();
  if (!r.ok || body_len > size) return corrupt("body length runs past record end");
  out->body = r.Bytes(body_len);
  size_t topic_len = magic == kMagicV2 ? r.U16() : r.U8();
  out->topic = r.Bytes(topic_len);
  uint16_t props_len = r.U16();
  out->properties = r.Bytes(props_len);
  if (!r.ok) return corrupt("field lengths run past TOTALSIZE");
  if (r.pos != size) return corrupt("TOTALSIZE does not match field lengths");
  if (!out->properties.empty() && out->properties.back() != kPropertySeparator) {
    return corrupt("properties do not end with a separator (torn?)");
  }
  if (check_crc) {
    CrcTail tail = FindCrcTail(p, size);
    if (tail == CrcTail::kDamaged) return corrupt("damaged __CRC32# property");
    if (tail == CrcTail::kNone && require_record_crc) return corrupt("missing __CRC32# property");
    if (tail == CrcTail::kValid) {
      uint32_t want = ParseCrcTail(p, size);
      if (MaskCrc(Crc32(p, size - kCrcReservedLen)) != want) return corrupt("record CRC mismatch");
    } else if (MaskCrc(Crc32(out->body.data(), out->body.size())) != out->body_crc) {
      return corrupt("body CRC mismatch");
    }
  }
  return DecodeResult::kOk;
}

}  // namespace stele::engine
