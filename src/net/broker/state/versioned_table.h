// The shared core of the topic and subscription-group managers: a name -> config table with a
// DataVersion, persisted as one JSON file shaped like RocketMQ's
//
//   {"<tableField>":{"<name>":{...}, ...},"dataVersion":{...}, <other top-level fields>}
//
// Other top-level fields (e.g. subscriptionGroup.json's forbiddenTable) are kept from the loaded
// file and written back unchanged.
//
// T provides `nlohmann::json ToJson() const` and
// `static absl::StatusOr<T> FromJson(const nlohmann::json&, std::string_view key)`.
//
// Thread safety: all methods may be called from any thread. Reads take a shared lock that is never
// held across I/O; changes and file writes are serialized by a second mutex.
// Durability: Put/PutIfAbsent/Erase return OK only once the new table is durable; if persisting
// fails, the entry and the data version are restored and the error returned.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/logging.h"
#include "common/status.h"
#include "net/broker/state/data_version.h"
#include "net/broker/state/json_fields.h"
#include "net/broker/state/json_file.h"
#include "net/broker/state/names.h"

namespace stele::broker {

template <typename T>
class VersionedTable {
 public:
  // Checks a loaded entry; entries failing it are skipped with an error log, because one bad
  // entry (say, a name that is unsafe as a directory name) should not keep the rest from loading.
  using EntryCheck = std::function<absl::Status(const std::string& key, const T&)>;
  using Map = std::map<std::string, std::shared_ptr<const T>, std::less<>>;
  static constexpr size_t kMaxEntries = 1000000;

  VersionedTable(std::string path, std::string table_field, EntryCheck check,
                 std::shared_ptr<FileSystem> fs)
      : path_(std::move(path)),
        table_field_(std::move(table_field)),
        check_(std::move(check)),
        file_(std::move(fs), path_) {}

  const std::string& path() const { return path_; }

  // Replaces the table with `defaults`, then overlays the file (its entries win). A missing file
  // leaves the defaults; an unusable one is an error (JsonFile::Load).
  absl::Status Load(std::map<std::string, T> defaults) {
    std::lock_guard persist(persist_mu_);
    {
      std::lock_guard lock(mu_);
      table_.clear();
      for (auto& [k, v] : defaults) table_[k] = std::make_shared<const T>(std::move(v));
      data_version_ = DataVersion{};
      extra_ = nlohmann::json::object();
    }
    absl::Status s = file_.Load([this](const nlohmann::json& doc) { return Decode(doc); });
    return absl::IsNotFound(s) ? absl::OkStatus() : s;
  }

  absl::Status Persist() {
    std::lock_guard persist(persist_mu_);
    return PersistLocked();
  }

  std::shared_ptr<const T> Find(std::string_view key) const {
    std::shared_lock lock(mu_);
    auto it = table_.find(key);
    return it == table_.end() ? nullptr : it->second;
  }

  // The entries and the version, consistent with each other.
  std::pair<Map, DataVersion> Snapshot() const {
    std::shared_lock lock(mu_);
    return {table_, data_version_};
  }
  DataVersion data_version() const {
    std::shared_lock lock(mu_);
    return data_version_;
  }

  absl::Status Put(const std::string& key, T value) {
    std::lock_guard persist(persist_mu_);
    return Apply(key, std::make_shared<const T>(std::move(value)));
  }
  // Returns the existing entry, or stores and returns `value`. `created` (optional) tells which.
  absl::StatusOr<std::shared_ptr<const T>> PutIfAbsent(const std::string& key, T value,
                                                       bool* created = nullptr) {
    if (created != nullptr) *created = false;
    if (auto cur = Find(key)) return cur;
    std::lock_guard persist(persist_mu_);
    if (auto cur = Find(key)) return cur;  // added while we waited
    auto next = std::make_shared<const T>(std::move(value));
    STELE_RETURN_IF_ERROR(Apply(key, next));
    if (created != nullptr) *created = true;
    return next;
  }
  // NotFound if absent.
  absl::Status Erase(std::string_view key) {
    std::lock_guard persist(persist_mu_);
    if (Find(key) == nullptr) {
      return absl::NotFoundError(fmt::format("{} does not exist", ShortForMessage(key)));
    }
    return Apply(std::string(key), nullptr);
  }

 private:
  // Caller holds persist_mu_ (Load).
  absl::Status Decode(const nlohmann::json& doc) {
    STELE_RETURN_IF_ERROR(RequireObject(doc, path_));
    Map loaded;
    DataVersion version;
    if (auto it = doc.find(table_field_); it != doc.end() && !it->is_null()) {
      STELE_RETURN_IF_ERROR(RequireObject(*it, table_field_));
      if (it->size() > kMaxEntries) return absl::InvalidArgumentError("too many entries");
      for (const auto& [key, value] : it->items()) {
        STELE_ASSIGN_OR_RETURN(T entry, T::FromJson(value, key));
        if (absl::Status ok = check_(key, entry); !ok.ok()) {
          log::Error("{}: skipping entry '{}': {}", path_, ShortForMessage(key), StatusMessage(ok));
          continue;
        }
        loaded[key] = std::make_shared<const T>(std::move(entry));
      }
    }
    if (auto it = doc.find("dataVersion"); it != doc.end() && !it->is_null()) {
      STELE_ASSIGN_OR_RETURN(version, DataVersion::FromJson(*it));
    }
    std::lock_guard lock(mu_);
    for (auto& [k, v] : loaded) table_[k] = std::move(v);
    data_version_ = version;
    extra_ = UnknownFields(doc, {table_field_, "dataVersion"});
    return absl::OkStatus();
  }

  // Caller holds persist_mu_.
  absl::Status PersistLocked() {
    nlohmann::json doc;
    {
      std::shared_lock lock(mu_);
      doc = extra_;
      nlohmann::json table = nlohmann::json::object();
      for (const auto& [k, v] : table_) table[k] = v->ToJson();
      doc[table_field_] = std::move(table);
      doc["dataVersion"] = data_version_.ToJson();
    }
    return file_.Store(doc);
  }

  // Sets (null: erases) one entry, bumps the version, persists; undoes both if that fails.
  // Caller holds persist_mu_.
  absl::Status Apply(const std::string& key, std::shared_ptr<const T> next) {
    std::shared_ptr<const T> prev;
    DataVersion prev_version;
    {
      std::lock_guard lock(mu_);
      if (auto it = table_.find(key); it != table_.end()) prev = it->second;
      prev_version = data_version_;
      if (next != nullptr) {
        table_[key] = std::move(next);
      } else {
        table_.erase(key);
      }
      data_version_.Next();
    }
    absl::Status s = PersistLocked();
    if (!s.ok()) {
      std::lock_guard lock(mu_);
      if (prev != nullptr) {
        table_[key] = std::move(prev);
      } else {
        table_.erase(key);
      }
      data_version_ = prev_version;
    }
    return s;
  }

  const std::string path_;
  const std::string table_field_;
  const EntryCheck check_;
  // Lock order: persist_mu_, then mu_.
  std::mutex persist_mu_;
  JsonFile file_;  // guarded by persist_mu_
  mutable std::shared_mutex mu_;
  Map table_;                                        // guarded by mu_
  DataVersion data_version_;                         // guarded by mu_
  nlohmann::json extra_ = nlohmann::json::object();  // guarded by mu_
};

}  // namespace stele::broker
