// REGISTER_BROKER's body (Java RegisterBrokerBody) in its two forms, chosen by the request's
// `compressed` header field.
//
// Plain (compressed=false): JSON
//   {"topicConfigSerializeWrapper":{"topicConfigTable":{"T":TopicConfig,...},
//                                   "dataVersion":DataVersion, ...},
//    "filterServerList":["ip:port",...]}
//
// Compressed (compressed=true): zlib-wrapped deflate (java.util.zip.Deflater, not raw) of
//   int32 dvLen, dvLen bytes DataVersion JSON,
//   int32 nTopics, nTopics x (int32 len, len bytes TopicConfig *text*),
//   int32 len, len bytes filterServerList JSON array,
//   [5.x only] int32 nMappings, nMappings x (int32 len, len bytes TopicQueueMappingInfo JSON)
// all int32 big-endian. TopicConfig text is Java's TopicConfig.encode(), not JSON:
//   "<topicName> <readQueueNums> <writeQueueNums> <perm> <topicFilterType>[ <attributes JSON>]"
// so a compressed registration carries no topicSysFlag (Java loses it too; it reads as 0).
// Static-topic mappings are not used by Stele and are not read.
//
// Decoding is bounded: at most kMaxInflatedBodySize bytes are inflated and every length is
// checked against what remains; a bad body is InvalidArgument, never a crash or a throw.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "net/namesrv/route_data.h"

namespace stele::namesrv {

constexpr size_t kMaxInflatedBodySize = 64u << 20;

struct RegisterBrokerBody {
  TopicConfigWrapper topic_config;
  std::vector<std::string> filter_servers;
};

// An empty body is an empty topic set with a zero DataVersion (Java does the same for a null body).
absl::StatusOr<RegisterBrokerBody> DecodeRegisterBrokerBody(std::string_view body, bool compressed);

// The inverse, for tests and for Stele's broker. The compressed form has no mappings section.
std::string EncodeRegisterBrokerBody(const RegisterBrokerBody& body, bool compressed);

// RocketMQ's UtilAll.crc32: java.util.zip.CRC32 of the bytes with the sign bit cleared, as the
// request's bodyCrc32 field carries it (0 there means "not computed").
int32_t BodyCrc32(std::string_view body);

}  // namespace stele::namesrv
