#include "net/namesrv/processor.h"

#include <exception>

#include "common/logging.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/broker/state/names.h"
#include "net/remoting/codes.h"

namespace stele::namesrv {

using remoting::RemotingCommand;

namespace {
constexpr size_t kMaxNameLength = 255;
}  // namespace

HandlerTable BuildHandlerTable(const NamesrvContext& ctx) {
  HandlerTable table;
  AddBrokerHandlers(ctx, &table);
  AddRouteHandlers(ctx, &table);
  AddKvHandlers(ctx, &table);
  AddConfigHandlers(ctx, &table);
  return table;
}

RemotingCommand Dispatch(const SyncHandler& handler, const RemotingCommand& req,
                         uint64_t channel_id) {
  std::string error;
  try {
    absl::StatusOr<RemotingCommand> resp = handler(req, channel_id);
    if (resp.ok()) return *std::move(resp);
    error = std::string(resp.status().message());
  } catch (const std::exception& e) {
    // Handlers are written not to throw; this is the last line of defence (bad_alloc, a JSON
    // type error we missed), and it must cost one request, not the server.
    error = fmt::format("internal error: {}", e.what());
    log::Error("namesrv: request code {} threw: {}", req.code, e.what());
  }
  log::Debug("namesrv: request code {} failed: {}", req.code, error);
  return RemotingCommand::ResponseTo(req, remoting::response::kSystemError, std::move(error));
}

namespace internal {

absl::StatusOr<std::string> RequireName(const RemotingCommand& req, std::string_view key) {
  STELE_ASSIGN_OR_RETURN(std::string v, req.RequireString(key));
  if (v.empty() || v.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        fmt::format("header field {} must be 1..{} bytes, got {}", key, kMaxNameLength, v.size()));
  }
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          fmt::format("header field {} holds a control character", key));
    }
  }
  return v;
}

absl::StatusOr<std::optional<std::string>> OptionalName(const RemotingCommand& req,
                                                        std::string_view key) {
  const std::string* v = req.Field(key);
  if (v == nullptr || v->empty() || *v == "null") return std::nullopt;
  return RequireName(req, key);
}

absl::StatusOr<std::string> RequireTopic(const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string topic, req.RequireString("topic"));
  STELE_RETURN_IF_ERROR(broker::ValidateInternalTopic(topic));
  return topic;
}

RemotingCommand Success(const RemotingCommand& req, std::string body) {
  RemotingCommand resp = RemotingCommand::ResponseTo(req, remoting::response::kSuccess);
  resp.body = std::move(body);
  return resp;
}

}  // namespace internal
}  // namespace stele::namesrv
