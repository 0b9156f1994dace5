#include "net/remoting/codec.h"

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/json_depth.h"
#include "fmt/format.h"

namespace stele::remoting {
namespace {

using nlohmann::json;

template <typename U>
U LoadBe(const char* p) {
  if constexpr (sizeof(U) == 1) return static_cast<U>(static_cast<uint8_t>(*p));
  if constexpr (sizeof(U) == 2) return LoadBe16(p);
  if constexpr (sizeof(U) == 4) return LoadBe32(p);
  if constexpr (sizeof(U) == 8) return LoadBe64(p);
}
template <typename U>
void StoreBe(char* p, U v) {
  if constexpr (sizeof(U) == 1) *p = static_cast<char>(v);
  if constexpr (sizeof(U) == 2) StoreBe16(p, v);
  if constexpr (sizeof(U) == 4) StoreBe32(p, v);
  if constexpr (sizeof(U) == 8) StoreBe64(p, v);
}

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("malformed remoting frame: {}", what));
}

// Bounds-checked big-endian reader over a header.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  template <typename T>
  bool Read(T* out) {
    if (s_.size() - pos_ < sizeof(T)) return false;
    *out = static_cast<T>(LoadBe<std::make_unsigned_t<T>>(s_.data() + pos_));
    pos_ += sizeof(T);
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (s_.size() - pos_ < n) return false;
    *out = s_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

template <typename T>
void Put(std::string* out, T v) {
  char b[sizeof(T)];
  StoreBe<std::make_unsigned_t<T>>(b, static_cast<std::make_unsigned_t<T>>(v));
  out->append(b, sizeof(T));
}

// A JSON scalar as Java would see it in a String field: strings verbatim, numbers and booleans
// as their JSON text (ali-ons sends `"e":3,"k":false`).
bool ScalarText(const json& v, std::string* out) {
  if (v.is_string()) {
    *out = v.get<std::string>();
  } else if (v.is_boolean()) {
    *out = v.get<bool>() ? "true" : "false";
  } else if (v.is_number_integer()) {
    *out = v.is_number_unsigned() ? std::to_string(v.get<uint64_t>())
                                  : std::to_string(v.get<int64_t>());
  } else if (v.is_number()) {
    *out = v.dump();
  } else {
    return false;
  }
  return true;
}

template <typename T>
absl::Status JsonInt(const json& h, const char* key, T* out, bool required) {
  auto it = h.find(key);
  if (it == h.end() || it->is_null()) {
    return required ? Malformed(fmt::format("JSON header has no {}", key)) : absl::OkStatus();
  }
  if (it->is_number_integer()) {
    const int64_t v = it->get<int64_t>();  // an unsigned above INT64_MAX reads as negative
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max() ||
        (it->is_number_unsigned() && v < 0)) {
      return Malformed(fmt::format("JSON header {} out of range", key));
    }
    *out = static_cast<T>(v);
    return absl::OkStatus();
  }
  if (it->is_string()) {  // lenient: some clients quote numbers
    const std::string s = it->get<std::string>();
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0 && end != s.c_str() && *end == '\0' && v >= std::numeric_limits<T>::min() &&
        v <= std::numeric_limits<T>::max()) {
      *out = static_cast<T>(v);
      return absl::OkStatus();
    }
  }
  return Malformed(fmt::format("JSON header {} is not an integer", key));
}

}  // namespace

std::string EncodeJsonHeader(const RemotingCommand& cmd) {
  json h = json::object();
  h["code"] = cmd.code;
  h["language"] = LanguageName(cmd.language);
  h["version"] = cmd.version;
  h["opaque"] = cmd.opaque;
  h["flag"] = cmd.flag;
  if (cmd.remark) h["remark"] = *cmd.remark;
  json ext = json::object();
  for (const auto& [k, v] : cmd.ext_fields) ext[k] = v;
  h["extFields"] = std::move(ext);
  h["serializeTypeCurrentRPC"] = "JSON";
  // Bytes that are not UTF-8 (possible in fields that came in a binary header) are replaced
  // rather than aborting the reply.
  return h.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::Status DecodeJsonHeader(std::string_view header, RemotingCommand* cmd) {
  if (JsonNestingDepth(header) > kMaxJsonDepth) return Malformed("JSON header nests too deeply");
  json h = json::parse(header.begin(), header.end(), nullptr, /*allow_exceptions=*/false);
  if (h.is_discarded()) return Malformed("JSON header does not parse");
  if (!h.is_object()) return Malformed("JSON header is not an object");
  absl::Status s = JsonInt(h, "code", &cmd->code, true);
  if (s.ok()) s = JsonInt(h, "opaque", &cmd->opaque, false);
  if (s.ok()) s = JsonInt(h, "flag", &cmd->flag, false);
  if (s.ok()) s = JsonInt(h, "version", &cmd->version, false);
  if (!s.ok()) return s;
  if (auto it = h.find("language"); it != h.end() && it->is_string()) {
    cmd->language = LanguageFromName(it->get_ref<const std::string&>());
  }
  if (auto it = h.find("remark"); it != h.end() && !it->is_null()) {
    std::string r;
    if (!ScalarText(*it, &r)) return Malformed("JSON header remark is not a string");
    cmd->remark = std::move(r);
  }
  if (auto it = h.find("extFields"); it != h.end() && !it->is_null()) {
    if (!it->is_object()) return Malformed("JSON header extFields is not an object");
    for (const auto& [k, v] : it->items()) {
      if (v.is_null()) continue;
      std::string text;
      if (!ScalarText(v, &text)) text = v.dump(-1, ' ', false, json::error_handler_t::replace);
      cmd->ext_fields.insert_or_assign(k, std::move(text));
    }
  }
  cmd->serialize_type = SerializeType::kJson;
  return absl::OkStatus();
}

std::string EncodeBinaryHeader(const RemotingCommand& cmd) {
  std::string out;
  out.reserve(64 + cmd.ext_fields.size() * 32);
  Put<int16_t>(&out, static_cast<int16_t>(cmd.code));
  Put<uint8_t>(&out, static_cast<uint8_t>(cmd.language));
  Put<int16_t>(&out, static_cast<int16_t>(cmd.version));
  Put<int32_t>(&out, cmd.opaque);
  Put<int32_t>(&out, cmd.flag);
  if (cmd.remark) {
    Put<int32_t>(&out, static_cast<int32_t>(cmd.remark->size()));
    out += *cmd.remark;
  } else {
    Put<int32_t>(&out, 0);
  }
  std::string ext;
  for (const auto& [k, v] : cmd.ext_fields) {
    Put<int16_t>(&ext, static_cast<int16_t>(k.size()));
    ext += k;
    Put<int32_t>(&ext, static_cast<int32_t>(v.size()));
    ext += v;
  }
  Put<int32_t>(&out, static_cast<int32_t>(ext.size()));
  out += ext;
  return out;
}

absl::Status DecodeBinaryHeader(std::string_view header, RemotingCommand* cmd) {
  Reader r(header);
  int16_t code = 0, version = 0;
  uint8_t lang = 0;
  int32_t remark_len = 0, ext_len = 0;
  if (!r.Read(&code) || !r.Read(&lang) || !r.Read(&version) || !r.Read(&cmd->opaque) ||
      !r.Read(&cmd->flag) || !r.Read(&remark_len)) {
    return Malformed("binary header too short");
  }
  cmd->code = code;
  cmd->version = version;
  cmd->language = lang <= static_cast<uint8_t>(LanguageCode::kNodeJs)
                      ? static_cast<LanguageCode>(lang)
                      : LanguageCode::kOther;
  std::string_view remark;
  if (remark_len < 0 || !r.Bytes(static_cast<size_t>(remark_len), &remark)) {
    return Malformed("binary header remark length out of bounds");
  }
  if (remark_len > 0) cmd->remark = std::string(remark);
  std::string_view ext;
  if (!r.Read(&ext_len) || ext_len < 0 || !r.Bytes(static_cast<size_t>(ext_len), &ext)) {
    return Malformed("binary header extFields length out of bounds");
  }
  if (!r.done()) return Malformed("binary header has trailing bytes");
  Reader e(ext);
  while (!e.done()) {
    int16_t klen = 0;
    int32_t vlen = 0;
    std::string_view k, v;
    if (!e.Read(&klen) || klen < 0 || !e.Bytes(static_cast<size_t>(klen), &k) || !e.Read(&vlen) ||
        vlen < 0 || !e.Bytes(static_cast<size_t>(vlen), &v)) {
      return Malformed("binary header extFields entry out of bounds");
    }
    cmd->ext_fields.insert_or_assign(std::string(k), std::string(v));
  }
  cmd->serialize_type = SerializeType::kRocketMq;
  return absl::OkStatus();
}

std::string EncodeFrame(const RemotingCommand& cmd) {
  const std::string header = cmd.serialize_type == SerializeType::kRocketMq
                                 ? EncodeBinaryHeader(cmd)
                                 : EncodeJsonHeader(cmd);
  std::string out;
  out.reserve(8 + header.size() + cmd.body.size());
  Put<uint32_t>(&out, static_cast<uint32_t>(4 + header.size() + cmd.body.size()));
  Put<uint32_t>(&out, (static_cast<uint32_t>(cmd.serialize_type) << 24) |
                          (static_cast<uint32_t>(header.size()) & 0xFFFFFF));
  out += header;
  out += cmd.body;
  return out;
}

absl::StatusOr<uint32_t> DecodeFrameLength(const char prefix[4]) {
  const uint32_t len = LoadBe<uint32_t>(prefix);
  if (len < 4) return Malformed(fmt::format("frame length {} is below the minimum 4", len));
  if (len > kMaxFrameSize) {
    return Malformed(fmt::format("frame length {} exceeds the limit {}", len, kMaxFrameSize));
  }
  return len;
}

absl::StatusOr<RemotingCommand> DecodeFrameBody(std::string_view frame) {
  if (frame.size() < 4) return Malformed("frame shorter than its header-length word");
  const uint32_t word = LoadBe<uint32_t>(frame.data());
  const uint32_t type = word >> 24;
  const uint32_t hlen = word & 0xFFFFFF;
  if (hlen > frame.size() - 4) {
    return Malformed(
        fmt::format("header length {} exceeds the frame ({} bytes)", hlen, frame.size() - 4));
  }
  RemotingCommand cmd;
  const std::string_view header = frame.substr(4, hlen);
  absl::Status s;
  if (type == static_cast<uint32_t>(SerializeType::kJson)) {
    s = DecodeJsonHeader(header, &cmd);
  } else if (type == static_cast<uint32_t>(SerializeType::kRocketMq)) {
    s = DecodeBinaryHeader(header, &cmd);
  } else {
    s = Malformed(fmt::format("unknown serialize type {}", type));
  }
  if (!s.ok()) return s;
  cmd.body = std::string(frame.substr(4 + hlen));
  return cmd;
}

}  // namespace stele::remoting
