// The broker's and name server's JSON body parsers, which take request bodies straight off the
// network. The first byte picks the parser; the rest is the body:
//   0 HEART_BEAT body (broker::ParseHeartbeat)
//   1 REGISTER_BROKER body, plain JSON      (namesrv::DecodeRegisterBrokerBody, compressed=false)
//   2 REGISTER_BROKER body, zlib + binary   (compressed=true)
//   3 broker::ParseLenientJson (config files and bodies with fastjson's bare integer keys)
//   4 namesrv::ParseJson + TopicConfigWrapperFromJson
// Nothing may crash, throw or hang; what decodes must re-encode and decode again.
// TODO(lock batch): add LOCK_BATCH_MQ / UNLOCK_BATCH_MQ bodies once their parser exists.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"
#include "net/broker/state/heartbeat.h"
#include "net/broker/state/json_file.h"
#include "net/namesrv/register_body.h"
#include "net/namesrv/route_data.h"

namespace {
// nlohmann's dump() recurses once per nesting level, so dumping a document nested tens of
// thousands deep overflows the stack. The parsers under test never dump what a peer sent, so the
// harness only dumps documents of sane depth (or it would report its own crash).
bool ShallowEnoughToDump(std::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth <= 512;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stele;
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto hb = broker::ParseHeartbeat(body);
      if (hb.ok()) {
        STELE_FUZZ_CHECK(hb->client_id.size() <= broker::kMaxClientIdLength);
        STELE_FUZZ_CHECK(hb->producers.size() <= broker::kMaxHeartbeatGroups);
        STELE_FUZZ_CHECK(hb->consumers.size() <= broker::kMaxHeartbeatGroups);
      }
      break;
    }
    case 1:
    case 2: {
      const bool compressed = data[0] % 5 == 2;
      auto rb = namesrv::DecodeRegisterBrokerBody(body, compressed);
      if (rb.ok()) {
        const std::string again = namesrv::EncodeRegisterBrokerBody(*rb, compressed);
        auto rb2 = namesrv::DecodeRegisterBrokerBody(again, compressed);
        STELE_FUZZ_CHECK(rb2.ok());
        STELE_FUZZ_CHECK(rb2->filter_servers == rb->filter_servers);
        STELE_FUZZ_CHECK(namesrv::EncodeRegisterBrokerBody(*rb2, compressed) == again);
      }
      break;
    }
    case 3: {
      auto j = broker::ParseLenientJson(body);
      if (j.ok() && ShallowEnoughToDump(body)) (void)namesrv::DumpJson(*j);
      break;
    }
    case 4: {
      auto j = namesrv::ParseJson(body, "fuzz");
      if (j.ok()) {
        if (ShallowEnoughToDump(body)) (void)namesrv::DumpJson(*j);
        auto w = namesrv::TopicConfigWrapperFromJson(*j);
        if (w.ok()) (void)namesrv::DumpJson(namesrv::ToJson(*w));
      }
      break;
    }
  }
  return 0;
}
