// The name server's key/value configuration (Java KVConfigManager): namespace -> key -> value,
// set by admin tools (PUT_KV_CONFIG) and read by brokers and clients (e.g. the ORDER_TOPIC_CONFIG
// namespace, returned to brokers when they register).
//
// On disk it is RocketMQ's kvConfig.json, so a Java name server's file can be reused:
//   {"configTable":{"<namespace>":{"<key>":"<value>",...},...}}
//
// Durability: Put and Delete return OK only once the whole table is durable (broker::JsonFile:
// temp file, fdatasync, previous version kept as kvConfig.json.bak, rename, directory fsync), so
// an acknowledged change survives a crash. If persisting fails the change is undone in memory and
// the error returned. An empty path keeps the table in memory only.
//
// Thread safety: all methods may be called from any thread. One mutex serializes changes together
// with their persistence, so the file always holds exactly the acknowledged changes.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "net/broker/state/json_file.h"
#include "stele/file_system.h"

namespace stele::namesrv {

// Java NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG.
inline constexpr char kNamespaceOrderTopicConfig[] = "ORDER_TOPIC_CONFIG";

class KvConfigManager {
 public:
  // `fs` is used for all file access (null = POSIX).
  KvConfigManager(std::shared_ptr<FileSystem> fs, std::string path);

  // Reads the file (or its .bak) if it exists; a missing file is an empty table. DataLoss, naming
  // the file, if neither is a usable kvConfig.json: the name server must not start and later
  // overwrite it.
  absl::Status Load();

  absl::Status Put(const std::string& ns, const std::string& key, const std::string& value);
  // Deleting a missing key is OK (and writes nothing).
  absl::Status Delete(const std::string& ns, const std::string& key);
  std::optional<std::string> Get(const std::string& ns, const std::string& key) const;
  // KVTable JSON {"table":{key:value,...}} of the namespace; nullopt if it has no keys.
  std::optional<std::string> GetKvListByNamespace(const std::string& ns) const;

  const std::string& path() const { return path_; }

 private:
  using Table = std::map<std::string, std::map<std::string, std::string>>;
  // The *Locked helpers require mu_.
  std::optional<std::string> GetLocked(const std::string& ns, const std::string& key) const;
  // Sets, or with nullopt removes (dropping an emptied namespace), one key.
  void SetLocked(const std::string& ns, const std::string& key,
                 const std::optional<std::string>& value);
  absl::Status PersistLocked();

  const std::string path_;
  mutable std::mutex mu_;
  broker::JsonFile file_;  // guarded by mu_
  Table table_;            // guarded by mu_
};

}  // namespace stele::namesrv
