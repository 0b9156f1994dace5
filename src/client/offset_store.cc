#include "client/offset_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/wire.h"
#include "common/logging.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/remoting/codes.h"
#include "nlohmann/json.hpp"

namespace stele::client {

using remoting::RemotingCommand;
namespace code = remoting::request;
namespace rc = remoting::response;
using nlohmann::json;

void OffsetStore::Update(const MessageQueue& q, int64_t offset, bool increase_only) {
  std::lock_guard l(mu_);
  auto [it, inserted] = offsets_.try_emplace(q, offset);
  if (!inserted && (!increase_only || offset > it->second)) it->second = offset;
}

int64_t OffsetStore::ReadMemory(const MessageQueue& q) const {
  std::lock_guard l(mu_);
  auto it = offsets_.find(q);
  return it == offsets_.end() ? -1 : it->second;
}

void OffsetStore::Remove(const MessageQueue& q) {
  std::lock_guard l(mu_);
  offsets_.erase(q);
}

absl::StatusOr<int64_t> RemoteOffsetStore::ReadStore(const MessageQueue& q) {
  std::string addr = c_->BrokerAddr(q.broker_name);
  if (addr.empty()) {
    (void)c_->FetchRoute(q.topic);
    addr = c_->BrokerAddr(q.broker_name);
  }
  if (addr.empty()) return absl::NotFoundError(fmt::format("no address for {}", q.broker_name));
  RemotingCommand req = RemotingCommand::Request(code::kQueryConsumerOffset);
  req.Set("consumerGroup", group_);
  req.Set("topic", q.topic);
  req.Set("queueId", int64_t{q.queue_id});
  auto resp = c_->Call(addr, std::move(req));
  if (!resp.ok()) return resp.status();
  if (resp->code == rc::kQueryNotFound) return -1;
  if (resp->code != rc::kSuccess) {
    return ResponseError(resp->code, resp->remark.value_or(""),
                         fmt::format("offset of {} for {}", q.ToString(), group_));
  }
  STELE_ASSIGN_OR_RETURN(int64_t off, resp->RequireInt("offset"));
  Update(q, off, false);
  return off;
}

absl::Status RemoteOffsetStore::Persist(const std::set<MessageQueue>& queues) {
  std::lock_guard persist(persist_mu_);
  absl::Status first;
  std::map<MessageQueue, int64_t> snapshot;
  {
    std::lock_guard l(mu_);
    snapshot = offsets_;
  }
  for (const auto& [q, off] : snapshot) {
    if (!queues.empty() && queues.count(q) == 0) continue;
    const std::string addr = c_->BrokerAddr(q.broker_name);
    if (addr.empty()) {
      first.Update(absl::NotFoundError(fmt::format("no address for {}", q.broker_name)));
      continue;
    }
    RemotingCommand req = RemotingCommand::Request(code::kUpdateConsumerOffset);
    req.Set("consumerGroup", group_);
    req.Set("topic", q.topic);
    req.Set("queueId", int64_t{q.queue_id});
    req.Set("commitOffset", off);
    // Synchronous (Java sends it oneway): at shutdown the commit must reach the broker before
    // the connection closes, and the periodic persist runs on the callback executor anyway.
    auto resp = ExpectSuccess(c_->Call(addr, std::move(req)),
                              fmt::format("offset commit of {} for {}", q.ToString(), group_));
    if (!resp.ok()) {
      log::Warn("{}", resp.status().ToString());
      first.Update(resp.status());
    }
  }
  return first;
}

absl::Status LocalOffsetStore::Load() {
  std::ifstream in(path_);
  if (!in) return absl::OkStatus();  // first start
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (!j.is_object() || !j.contains("offsetTable") || !j["offsetTable"].is_array()) {
    return absl::DataLossError(fmt::format("offset file {} is malformed", path_));
  }
  std::lock_guard l(mu_);
  for (const json& e : j["offsetTable"]) {
    if (!e.is_object() || !e.contains("offset") || !e["offset"].is_number_integer()) continue;
    MessageQueue q{e.value("topic", ""), e.value("brokerName", ""), e.value("queueId", 0)};
    persisted_[q] = e["offset"].get<int64_t>();
    offsets_[q] = persisted_[q];
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> LocalOffsetStore::ReadStore(const MessageQueue& q) {
  std::lock_guard l(mu_);
  auto it = persisted_.find(q);
  return it == persisted_.end() ? -1 : it->second;
}

absl::Status LocalOffsetStore::Persist(const std::set<MessageQueue>& /*queues*/) {
  std::lock_guard file_lock(file_mu_);  // one writer of path_.tmp at a time
  json table = json::array();
  {
    std::lock_guard l(mu_);
    for (const auto& [q, off] : offsets_) {
      table.push_back({{"topic", q.topic},
                       {"brokerName", q.broker_name},
                       {"queueId", q.queue_id},
                       {"offset", off}});
    }
    for (const auto& [q, off] : offsets_) persisted_[q] = off;
  }
  const std::string text = json{{"offsetTable", std::move(table)}}.dump(2);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0;
  for (size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && ::fdatasync(fd) == 0;
  if (fd >= 0) ::close(fd);
  ok = ok && ::rename(tmp.c_str(), path_.c_str()) == 0;
  if (ok) return absl::OkStatus();
  const std::string why =
      fmt::format("writing consumer offsets to {} failed: {}", path_, std::strerror(errno));
  log::Warn("{}", why);
  return absl::UnavailableError(why);
}

}  // namespace stele::client
