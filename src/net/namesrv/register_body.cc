#include "net/namesrv/register_body.h"

#include <zlib.h>

#include <charconv>

#include "common/bytes.h"
#include "common/crc32.h"
#include "common/status.h"
#include "fmt/format.h"

namespace stele::namesrv {
namespace {

using nlohmann::json;

absl::Status Bad(std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("bad compressed register body: {}", why));
}

// zlib-wrapped inflate of `in`, refusing to produce more than kMaxInflatedBodySize bytes.
absl::StatusOr<std::string> Inflate(std::string_view in) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return absl::InternalError("inflateInit failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (out.size() >= kMaxInflatedBodySize) break;
    size_t old = out.size();
    size_t chunk =
        std::min<size_t>(std::max<size_t>(in.size() * 4, 64u << 10), kMaxInflatedBodySize - old);
    out.resize(old + chunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    zs.avail_out = static_cast<uInt>(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + chunk - zs.avail_out);
    if (rc == Z_BUF_ERROR && zs.avail_in > 0 && zs.avail_out == 0) rc = Z_OK;  // needs more room
  }
  inflateEnd(&zs);
  if (rc == Z_STREAM_END) return out;
  if (out.size() >= kMaxInflatedBodySize) return Bad("inflates to more than 64 MiB");
  return Bad(fmt::format("not zlib data (zlib code {})", rc));
}

// Reads the compressed form's length-prefixed pieces.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  absl::StatusOr<int32_t> Int() {
    if (data_.size() < 4) return Bad("truncated");
    int32_t v = static_cast<int32_t>(LoadBe32(data_.data()));
    data_.remove_prefix(4);
    return v;
  }
  absl::StatusOr<std::string_view> Bytes() {
    STELE_ASSIGN_OR_RETURN(int32_t n, Int());
    if (n < 0 || static_cast<size_t>(n) > data_.size()) return Bad("length past the end");
    std::string_view s = data_.substr(0, n);
    data_.remove_prefix(n);
    return s;
  }

 private:
  std::string_view data_;
};

absl::StatusOr<int32_t> ParseInt32(std::string_view s, std::string_view what) {
  int32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return Bad(fmt::format("topic config {} is not an integer", what));
  }
  return v;
}

// Java TopicConfig.decode: space-separated, at least 5 fields.
absl::StatusOr<TopicConfig> DecodeTopicConfigText(std::string_view text) {
  // String.split(" ") keeps empty fields between separators but drops trailing ones.
  std::vector<std::string_view> f;
  for (size_t start = 0;;) {
    size_t sp = text.find(' ', start);
    f.push_back(text.substr(start, sp == std::string_view::npos ? sp : sp - start));
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  while (!f.empty() && f.back().empty()) f.pop_back();
  if (f.size() < 5) return Bad("topic config has fewer than 5 fields");
  TopicConfig t;
  t.topic_name = std::string(f[0]);
  STELE_ASSIGN_OR_RETURN(t.read_queue_nums, ParseInt32(f[1], "readQueueNums"));
  STELE_ASSIGN_OR_RETURN(t.write_queue_nums, ParseInt32(f[2], "writeQueueNums"));
  STELE_ASSIGN_OR_RETURN(t.perm, ParseInt32(f[3], "perm"));
  t.topic_filter_type = std::string(f[4]);
  return t;
}

absl::StatusOr<std::vector<std::string>> FilterServersFromJson(const json& j) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) return absl::InvalidArgumentError("filterServerList is not an array");
  for (const json& e : j) {
    if (!e.is_string()) return absl::InvalidArgumentError("filterServerList holds a non-string");
    out.push_back(e.get<std::string>());
  }
  return out;
}

absl::StatusOr<RegisterBrokerBody> DecodeCompressed(std::string_view body) {
  STELE_ASSIGN_OR_RETURN(std::string raw, Inflate(body));
  Reader r(raw);
  RegisterBrokerBody out;
  STELE_ASSIGN_OR_RETURN(std::string_view dv_text, r.Bytes());
  STELE_ASSIGN_OR_RETURN(json dv, ParseJson(dv_text, "dataVersion"));
  STELE_ASSIGN_OR_RETURN(out.topic_config.data_version, DataVersion::FromJson(dv));
  STELE_ASSIGN_OR_RETURN(int32_t n, r.Int());
  // Each entry takes at least 4 bytes, which bounds n by what was inflated.
  if (n < 0 || static_cast<size_t>(n) > raw.size() / 4) return Bad("bad topic count");
  for (int32_t i = 0; i < n; ++i) {
    STELE_ASSIGN_OR_RETURN(std::string_view text, r.Bytes());
    STELE_ASSIGN_OR_RETURN(TopicConfig t, DecodeTopicConfigText(text));
    std::string name = t.topic_name;
    out.topic_config.topics.insert_or_assign(std::move(name), std::move(t));
  }
  STELE_ASSIGN_OR_RETURN(std::string_view fs_text, r.Bytes());
  STELE_ASSIGN_OR_RETURN(json fs, ParseJson(fs_text, "filterServerList"));
  STELE_ASSIGN_OR_RETURN(out.filter_servers, FilterServersFromJson(fs));
  return out;
}

void AppendInt(std::string* out, int32_t v) {
  char b[4];
  StoreBe32(b, static_cast<uint32_t>(v));
  out->append(b, 4);
}

void AppendBytes(std::string* out, std::string_view s) {
  AppendInt(out, static_cast<int32_t>(s.size()));
  out->append(s);
}

std::string Deflate(std::string_view in) {
  uLongf n = compressBound(static_cast<uLong>(in.size()));
  std::string out(n, '\0');
  int rc =
      compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(in.data()),
                static_cast<uLong>(in.size()), Z_BEST_COMPRESSION);
  // compress2 into a compressBound-sized buffer only fails on out-of-memory.
  if (rc != Z_OK) return {};
  out.resize(n);
  return out;
}

}  // namespace

absl::StatusOr<RegisterBrokerBody> DecodeRegisterBrokerBody(std::string_view body,
                                                            bool compressed) {
  if (body.empty()) {
    RegisterBrokerBody empty;
    empty.topic_config.data_version = DataVersion{.state_version = 0, .timestamp = 0, .counter = 0};
    return empty;
  }
  if (compressed) return DecodeCompressed(body);
  STELE_ASSIGN_OR_RETURN(json j, ParseJson(body, "register broker body"));
  if (!j.is_object()) return absl::InvalidArgumentError("register broker body is not an object");
  RegisterBrokerBody out;
  if (auto w = j.find("topicConfigSerializeWrapper"); w != j.end() && !w->is_null()) {
    STELE_ASSIGN_OR_RETURN(out.topic_config, TopicConfigWrapperFromJson(*w));
  }
  if (auto fs = j.find("filterServerList"); fs != j.end()) {
    STELE_ASSIGN_OR_RETURN(out.filter_servers, FilterServersFromJson(*fs));
  }
  return out;
}

std::string EncodeRegisterBrokerBody(const RegisterBrokerBody& body, bool compressed) {
  const TopicConfigWrapper& w = body.topic_config;
  if (!compressed) {
    return DumpJson(json{{"topicConfigSerializeWrapper", ToJson(w)},
                         {"filterServerList", body.filter_servers}});
  }
  std::string raw;
  AppendBytes(&raw, DumpJson(w.data_version.ToJson()));
  AppendInt(&raw, static_cast<int32_t>(w.topics.size()));
  for (const auto& [name, t] : w.topics) {
    AppendBytes(
        &raw, fmt::format("{} {} {} {} {} {}", t.topic_name, t.read_queue_nums, t.write_queue_nums,
                          t.perm, t.topic_filter_type, DumpJson(json(t.attributes))));
  }
  AppendBytes(&raw, DumpJson(json(body.filter_servers)));
  AppendInt(&raw, 0);  // no static-topic mappings
  return Deflate(raw);
}

int32_t BodyCrc32(std::string_view body) { return static_cast<int32_t>(MaskedCrc32(body)); }

}  // namespace stele::namesrv
