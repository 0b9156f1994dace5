// A JSON config file kept the way RocketMQ's ConfigManager keeps config/*.json, made crash-safe.
//
// Store(): writes "<file>.tmp" and fdatasyncs it, saves the previous good version as "<file>.bak"
// (through "<file>.bak.tmp" and a rename, so a crash never leaves a torn backup), renames the tmp
// file over "<file>", and fsyncs the directory. At every instant "<file>" is a complete old or
// complete new version, and once Store() returns OK the new one is durable.
//
// Load(): reads "<file>" and hands the parsed document to a decoder. If the file does not parse or
// the decoder rejects it, logs an error and tries "<file>.bak" (also used when "<file>" is missing
// but a backup exists, which Java RocketMQ leaves if it crashed mid-write). Outcomes: OK; NotFound
// when neither file exists (the caller starts empty); DataLoss when what exists is unusable, so
// that the broker refuses to start instead of silently forgetting its topics or offsets.
//
// Java RocketMQ writes maps with integer keys the fastjson way, unquoted ({0:5,1:7}); Load accepts
// that. Store always writes standard JSON, which fastjson reads back.
//
// Thread safety: a JsonFile is not thread-safe; its owner serializes Load and Store.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stele/file_system.h"

namespace stele::broker {

// Largest config file read (consumerOffset.json grows with groups x topics x queues).
inline constexpr size_t kMaxJsonFileBytes = 256u << 20;

// The whole file; FailedPrecondition if it is larger than `max_bytes`.
absl::StatusOr<std::string> ReadFileToString(FileSystem& fs, const std::string& path,
                                             size_t max_bytes);

// Quotes integer object keys that are not inside strings: {0:5,"a":{-1:2}} ->
// {"0":5,"a":{"-1":2}}. Other text is copied unchanged.
std::string QuoteBareIntegerKeys(std::string_view text);

// Parses JSON after QuoteBareIntegerKeys; InvalidArgument with the parser's message (byte offset)
// on malformed input. Never throws.
absl::StatusOr<nlohmann::json> ParseLenientJson(std::string_view text);

class JsonFile {
 public:
  // Turns a parsed document into the owner's state. Must leave that state untouched when it
  // returns an error, so that Load can try the backup.
  using Decoder = std::function<absl::Status(const nlohmann::json&)>;

  JsonFile(std::shared_ptr<FileSystem> fs, std::string path);

  const std::string& path() const { return path_; }
  std::string bak_path() const { return path_ + ".bak"; }

  absl::Status Load(const Decoder& decode);
  // Whether the last successful Load used the backup (the owner may want to rewrite the main file).
  bool loaded_from_backup() const { return loaded_from_backup_; }
  // Writes `doc` (compact, keys sorted) as described above.
  absl::Status Store(const nlohmann::json& doc);

 private:
  enum class Outcome { kOk, kMissing, kBad, kIoError };
  Outcome TryLoad(const std::string& path, const Decoder& decode, std::string* text,
                  absl::Status* why);
  absl::Status WriteDurably(const std::string& path, std::string_view text);

  std::shared_ptr<FileSystem> fs_;
  std::string path_;
  // Text of the newest version known to be good (loaded or stored): what becomes the backup.
  std::optional<std::string> last_good_;
  bool loaded_from_backup_ = false;
};

}  // namespace stele::broker
