#include "net/namesrv/kv_config_manager.h"

#include "common/logging.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/broker/state/json_fields.h"
#include "net/broker/state/names.h"
#include "nlohmann/json.hpp"

namespace stele::namesrv {

using broker::ShortForMessage;
using nlohmann::json;

namespace {
// Bounds on a kvConfig.json we load (admin-set keys: a handful in practice).
constexpr size_t kMaxNamespaces = 1u << 16;
constexpr size_t kMaxKeysPerNamespace = 1u << 20;
}  // namespace

KvConfigManager::KvConfigManager(std::shared_ptr<FileSystem> fs, std::string path)
    : path_(std::move(path)), file_(std::move(fs), path_) {}

absl::Status KvConfigManager::Load() {
  if (path_.empty()) return absl::OkStatus();
  std::lock_guard lock(mu_);
  absl::Status s = file_.Load([&](const json& doc) -> absl::Status {
    STELE_RETURN_IF_ERROR(broker::RequireObject(doc, "kvConfig.json"));
    Table table;
    auto ct = doc.find("configTable");
    if (ct != doc.end() && !ct->is_null()) {
      STELE_RETURN_IF_ERROR(broker::RequireObject(*ct, "configTable"));
      if (ct->size() > kMaxNamespaces) return absl::InvalidArgumentError("too many namespaces");
      for (const auto& [ns, kvs] : ct->items()) {
        STELE_ASSIGN_OR_RETURN(table[ns], broker::JsonStringMap(*ct, ns, kMaxKeysPerNamespace));
      }
    }
    table_ = std::move(table);
    return absl::OkStatus();
  });
  if (absl::IsNotFound(s)) return absl::OkStatus();  // a fresh name server
  if (!s.ok()) return s;
  log::Info("namesrv: loaded {} KV namespaces from {}", table_.size(), path_);
  return absl::OkStatus();
}

absl::Status KvConfigManager::Put(const std::string& ns, const std::string& key,
                                  const std::string& value) {
  std::lock_guard lock(mu_);
  std::optional<std::string> old = GetLocked(ns, key);
  if (old == value) return absl::OkStatus();
  table_[ns][key] = value;
  absl::Status s = PersistLocked();
  if (!s.ok()) {
    SetLocked(ns, key, old);
    return s;
  }
  log::Info("namesrv: KV put {}/{} = {}", ShortForMessage(ns), ShortForMessage(key),
            ShortForMessage(value));
  return absl::OkStatus();
}

absl::Status KvConfigManager::Delete(const std::string& ns, const std::string& key) {
  std::lock_guard lock(mu_);
  std::optional<std::string> old = GetLocked(ns, key);
  if (!old) return absl::OkStatus();
  SetLocked(ns, key, std::nullopt);
  absl::Status s = PersistLocked();
  if (!s.ok()) {
    SetLocked(ns, key, old);
    return s;
  }
  log::Info("namesrv: KV delete {}/{}", ShortForMessage(ns), ShortForMessage(key));
  return absl::OkStatus();
}

std::optional<std::string> KvConfigManager::Get(const std::string& ns,
                                                const std::string& key) const {
  std::lock_guard lock(mu_);
  return GetLocked(ns, key);
}

std::optional<std::string> KvConfigManager::GetKvListByNamespace(const std::string& ns) const {
  std::lock_guard lock(mu_);
  auto it = table_.find(ns);
  if (it == table_.end() || it->second.empty()) return std::nullopt;
  return json{{"table", it->second}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::string> KvConfigManager::GetLocked(const std::string& ns,
                                                      const std::string& key) const {
  auto it = table_.find(ns);
  if (it == table_.end()) return std::nullopt;
  auto kv = it->second.find(key);
  if (kv == it->second.end()) return std::nullopt;
  return kv->second;
}

void KvConfigManager::SetLocked(const std::string& ns, const std::string& key,
                                const std::optional<std::string>& value) {
  if (value) {
    table_[ns][key] = *value;
    return;
  }
  auto it = table_.find(ns);
  if (it == table_.end()) return;
  it->second.erase(key);
  if (it->second.empty()) table_.erase(it);
}

absl::Status KvConfigManager::PersistLocked() {
  if (path_.empty()) return absl::OkStatus();
  absl::Status s = file_.Store(json{{"configTable", table_}});
  if (!s.ok()) log::Error("namesrv: cannot persist {}: {}", path_, std::string(s.message()));
  return s;
}

}  // namespace stele::namesrv
