// KV config requests: PUT_KV_CONFIG, GET_KV_CONFIG, DELETE_KV_CONFIG, GET_KVLIST_BY_NAMESPACE.
#include "common/status.h"
#include "fmt/format.h"
#include "net/namesrv/processor.h"
#include "net/remoting/codes.h"

namespace stele::namesrv {
namespace {

using internal::RequireName;
using internal::Success;
using remoting::RemotingCommand;

absl::StatusOr<RemotingCommand> PutKvConfig(const NamesrvContext& ctx, const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string ns, RequireName(req, "namespace"));
  STELE_ASSIGN_OR_RETURN(std::string key, RequireName(req, "key"));
  STELE_ASSIGN_OR_RETURN(std::string value, req.RequireString("value"));
  absl::Status s = ctx.kv->Put(ns, key, value);
  if (!s.ok()) {
    return absl::InternalError(fmt::format("could not persist the change, so it was not made: {}",
                                           std::string(s.message())));
  }
  return Success(req);
}

absl::StatusOr<RemotingCommand> GetKvConfig(const NamesrvContext& ctx, const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string ns, RequireName(req, "namespace"));
  STELE_ASSIGN_OR_RETURN(std::string key, RequireName(req, "key"));
  std::optional<std::string> value = ctx.kv->Get(ns, key);
  if (!value) {
    return RemotingCommand::ResponseTo(
        req, remoting::response::kQueryNotFound,
        fmt::format("No config item, Namespace: {} Key: {}", ns, key));
  }
  RemotingCommand resp = Success(req);
  resp.Set("value", *value);
  return resp;
}

absl::StatusOr<RemotingCommand> DeleteKvConfig(const NamesrvContext& ctx,
                                               const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string ns, RequireName(req, "namespace"));
  STELE_ASSIGN_OR_RETURN(std::string key, RequireName(req, "key"));
  absl::Status s = ctx.kv->Delete(ns, key);
  if (!s.ok()) {
    return absl::InternalError(fmt::format("could not persist the deletion, so the key remains: {}",
                                           std::string(s.message())));
  }
  return Success(req);
}

absl::StatusOr<RemotingCommand> GetKvListByNamespace(const NamesrvContext& ctx,
                                                     const RemotingCommand& req) {
  STELE_ASSIGN_OR_RETURN(std::string ns, RequireName(req, "namespace"));
  std::optional<std::string> table = ctx.kv->GetKvListByNamespace(ns);
  if (!table) {
    return RemotingCommand::ResponseTo(req, remoting::response::kQueryNotFound,
                                       fmt::format("No config item, Namespace: {}", ns));
  }
  return Success(req, *std::move(table));
}

}  // namespace

void AddKvHandlers(const NamesrvContext& ctx, HandlerTable* table) {
  namespace rq = remoting::request;
  auto add = [&](int32_t code, auto fn) { internal::Add(table, ctx, code, fn); };
  add(rq::kPutKvConfig, PutKvConfig);
  add(rq::kGetKvConfig, GetKvConfig);
  add(rq::kDeleteKvConfig, DeleteKvConfig);
  add(rq::kGetKvlistByNamespace, GetKvListByNamespace);
}

}  // namespace stele::namesrv
