// The name server's request handlers, one family per file (broker_processor.cc: broker
// registration and liveness; route_processor.cc: route and topic queries and admin changes;
// kv_processor.cc: KV config), collected into a table by request code.
//
// A handler is synchronous: it reads the request, calls the managers and returns the response.
// None of them waits on the network, so they run directly on the transport's io threads (only
// KV changes touch the disk: one small fsync'd file write, and they are rare admin calls).
//
// Errors: a handler returns a non-OK status for a request it cannot serve (missing or malformed
// header fields, an unparseable body, a failed write); Dispatch turns it into SYSTEM_ERROR with
// the status message as the remark, and turns any escaping exception into the same, so a bad
// request never takes the server down. Expected negative answers (unknown topic: TOPIC_NOT_EXIST,
// unknown KV key: QUERY_NOT_FOUND) are ordinary responses.
//
// Thread safety: handlers may run concurrently; they share only the thread-safe managers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "net/namesrv/kv_config_manager.h"
#include "net/namesrv/route_info_manager.h"
#include "net/remoting/command.h"

namespace stele::namesrv {

// What the handlers use; not owned, must outlive the handler table.
struct NamesrvContext {
  RouteInfoManager* routes = nullptr;
  KvConfigManager* kv = nullptr;
  std::function<int64_t()> now_ms;  // wall clock in ms (injectable for tests)
  // Java orderMessageEnable: routes carry orderTopicConf from the ORDER_TOPIC_CONFIG namespace.
  bool order_message_enable = false;
  // Java returnOrderTopicConfigToBroker: REGISTER_BROKER replies carry that namespace.
  bool return_order_topic_config_to_broker = true;
  // What GET_NAMESRV_CONFIG reports: the effective configuration, key -> value, in order.
  std::vector<std::pair<std::string, std::string>> config;
};

using SyncHandler = std::function<absl::StatusOr<remoting::RemotingCommand>(
    const remoting::RemotingCommand& req, uint64_t channel_id)>;
using HandlerTable = std::map<int32_t, SyncHandler>;

void AddBrokerHandlers(const NamesrvContext& ctx, HandlerTable* table);
void AddRouteHandlers(const NamesrvContext& ctx, HandlerTable* table);
void AddKvHandlers(const NamesrvContext& ctx, HandlerTable* table);
// GET_NAMESRV_CONFIG, and UPDATE_NAMESRV_CONFIG (always refused: see config_processor.cc).
void AddConfigHandlers(const NamesrvContext& ctx, HandlerTable* table);
// All of the above.
HandlerTable BuildHandlerTable(const NamesrvContext& ctx);

// Runs the handler and always returns a response to `req` (see Errors above).
remoting::RemotingCommand Dispatch(const SyncHandler& handler, const remoting::RemotingCommand& req,
                                   uint64_t channel_id);

// Shared by the handlers.
namespace internal {
// Registers fn(ctx, req) (a handler that does not need the channel) under `code`.
template <typename Fn>
void Add(HandlerTable* table, const NamesrvContext& ctx, int32_t code, Fn fn) {
  (*table)[code] = [ctx, fn](const remoting::RemotingCommand& req, uint64_t) {
    return fn(ctx, req);
  };
}
// Names, addresses and other identifiers from the header: present, 1..255 bytes, no control
// characters (they end up in log lines and in other clients' replies).
absl::StatusOr<std::string> RequireName(const remoting::RemotingCommand& req, std::string_view key);
// The same for an optional field: nullopt when absent, empty or "null".
absl::StatusOr<std::optional<std::string>> OptionalName(const remoting::RemotingCommand& req,
                                                        std::string_view key);
// A topic from the header, checked with the broker's rules for any topic it may hold
// (broker::ValidateInternalTopic: [%|a-zA-Z0-9_-], 1..255, so retry and DLQ topics pass).
absl::StatusOr<std::string> RequireTopic(const remoting::RemotingCommand& req);
remoting::RemotingCommand Success(const remoting::RemotingCommand& req, std::string body = {});
}  // namespace internal

}  // namespace stele::namesrv
