// The name server's own configuration over the wire: GET_NAMESRV_CONFIG answers the effective
// configuration as Java properties text (what Java's getNamesrvConfig prints);
// UPDATE_NAMESRV_CONFIG is refused whatever it names. Java lets it change kvConfigPath and similar
// keys, which is how a remote caller gets the server to write where it chooses; Stele's name server
// has no key worth that risk at run time (restart it with the new namesrv.conf instead).
#include "common/logging.h"
#include "fmt/format.h"
#include "net/namesrv/processor.h"
#include "net/remoting/codes.h"

namespace stele::namesrv {
namespace {

using remoting::RemotingCommand;

absl::StatusOr<RemotingCommand> GetConfig(const NamesrvContext& ctx, const RemotingCommand& req) {
  std::string text;
  for (const auto& [k, v] : ctx.config) text.append(k).append("=").append(v).append("\n");
  return internal::Success(req, std::move(text));
}

absl::StatusOr<RemotingCommand> UpdateConfig(const NamesrvContext&, const RemotingCommand& req) {
  log::Warn("namesrv: refused UPDATE_NAMESRV_CONFIG");
  return RemotingCommand::ResponseTo(
      req, remoting::response::kNoPermission,
      "updating the name server config over the network is not supported; edit namesrv.conf "
      "and restart");
}

}  // namespace

void AddConfigHandlers(const NamesrvContext& ctx, HandlerTable* table) {
  namespace rq = remoting::request;
  internal::Add(table, ctx, rq::kGetNamesrvConfig, GetConfig);
  internal::Add(table, ctx, rq::kUpdateNamesrvConfig, UpdateConfig);
}

}  // namespace stele::namesrv
