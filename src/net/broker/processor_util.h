// Small pieces shared by the request processors: header-field parsing with RocketMQ's error
// replies, and mapping store outcomes to response codes.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "net/remoting/codes.h"
#include "net/remoting/command.h"
#include "net/remoting/transport.h"
#include "stele/message.h"
#include "stele/store.h"

namespace stele::broker {

class BrokerController;

// The names every processor uses.
using remoting::ChannelPtr;
using remoting::RemotingCommand;
using remoting::Reply;

// Adapts `void fn(BrokerController&, const ChannelPtr&, RemotingCommand, Reply)` to a Handler.
template <typename Fn>
remoting::Handler Bind(BrokerController& b, Fn fn) {
  return [&b, fn](const remoting::ChannelPtr& ch, remoting::RemotingCommand req,
                  remoting::Reply reply) { fn(b, ch, std::move(req), std::move(reply)); };
}

// The response code for a failed store put (PutMessageStatus), or for a refused admission
// (ResourceExhausted → SYSTEM_BUSY).
int32_t PutFailureCode(const absl::Status& s);

// The peer of a channel as a HostAddress (0.0.0.0:0 if it cannot be parsed).
HostAddress PeerHost(const remoting::Channel& ch);

// Replies SYSTEM_ERROR with the status message for malformed requests; returns true if `s` was
// an error (and so replied).
inline bool ReplyIfError(const absl::Status& s, const remoting::Reply& reply,
                         int32_t code = remoting::response::kSystemError) {
  if (s.ok()) return false;
  reply(code, std::string(s.message()));
  return true;
}

}  // namespace stele::broker

// Assigns `lhs` from a StatusOr header field, or replies SYSTEM_ERROR and returns from the handler.
#define STELE_FIELD_OR_REPLY(lhs, expr, reply)                                              \
  auto STELE_CONCAT_F(_f_, __LINE__) = (expr);                                              \
  if (::stele::broker::ReplyIfError(STELE_CONCAT_F(_f_, __LINE__).status(), reply)) return; \
  lhs = std::move(*STELE_CONCAT_F(_f_, __LINE__))
#define STELE_CONCAT_F_INNER(a, b) a##b
#define STELE_CONCAT_F(a, b) STELE_CONCAT_F_INNER(a, b)
