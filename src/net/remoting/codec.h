// RocketMQ's remoting frame and its two header serializations.
//
//   +----------------+-----------------------------+-------------------+-------------+
//   | int32 BE total | int32 BE serType<<24|hdrLen | header (hdrLen B) | body (rest) |
//   +----------------+-----------------------------+-------------------+-------------+
//   total = 4 + hdrLen + bodyLen (it does not count itself); at most kMaxFrameSize.
//
// serType 0, JSON header (UTF-8):
//   {"code":310,"language":"JAVA","version":121,"opaque":17,"flag":0,"remark":"..",
//    "extFields":{"a":"G",...},"serializeTypeCurrentRPC":"JSON"}
//   Clients put JSON numbers and booleans into extFields (ali-ons); they are kept as their JSON
//   text ("3", "false"). Unknown keys are ignored.
// serType 1, ROCKETMQ binary header (big-endian):
//   int16 code, int8 language, int16 version, int32 opaque, int32 flag,
//   int32 remarkLen + bytes (0 = none), int32 extLen + repeated {int16 kLen, key, int32 vLen, val}
//
// Decoders never trust a length: every read is bounds-checked and a bad frame is an
// InvalidArgument error (the connection is then closed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "net/remoting/command.h"

namespace stele::remoting {

// Java's NettyDecoder limit: 16 MiB for a whole frame (the length field's value).
constexpr uint32_t kMaxFrameSize = 16u << 20;

// Encodes `cmd` as a whole frame, length prefix included, in cmd.serialize_type.
std::string EncodeFrame(const RemotingCommand& cmd);

// Validates the 4-byte length prefix; returns the number of bytes that follow it.
absl::StatusOr<uint32_t> DecodeFrameLength(const char prefix[4]);

// Decodes the `length` bytes after the prefix (header-length word, header, body).
absl::StatusOr<RemotingCommand> DecodeFrameBody(std::string_view frame);

// The header serializations alone (fuzzing and golden tests use them directly).
std::string EncodeJsonHeader(const RemotingCommand& cmd);
absl::Status DecodeJsonHeader(std::string_view header, RemotingCommand* cmd);
std::string EncodeBinaryHeader(const RemotingCommand& cmd);
absl::Status DecodeBinaryHeader(std::string_view header, RemotingCommand* cmd);

}  // namespace stele::remoting
