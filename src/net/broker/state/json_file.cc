#include "net/broker/state/json_file.h"

#include "common/json_depth.h"

#include <utility>

#include <fmt/format.h>
#include "common/logging.h"
#include "common/path.h"
#include "common/status.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

absl::StatusOr<std::string> ReadFileToString(FileSystem& fs, const std::string& path,
                                             size_t max_bytes) {
  STELE_ASSIGN_OR_RETURN(auto file, fs.Open(path, OpenOptions{.read_only = true}));
  STELE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  if (size > max_bytes) {
    return absl::FailedPreconditionError(
        fmt::format("{} is {} bytes, more than the {} accepted", path, size, max_bytes));
  }
  std::string text(size, '\0');
  size_t done = 0;
  while (done < text.size()) {
    STELE_ASSIGN_OR_RETURN(size_t n, file->ReadAt(done, text.data() + done, text.size() - done));
    if (n == 0) break;  // shrank while being read
    done += n;
  }
  text.resize(done);
  return text;
}

std::string QuoteBareIntegerKeys(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    out.push_back(c);
    if (in_string) {
      if (c == '\\' && i + 1 < s.size()) {
        out.push_back(s[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '{' && c != ',') continue;
    // A key position: is what follows `-?[0-9]+ *:`? (In an array a number after ',' is never
    // followed by ':', so this cannot touch array elements.)
    size_t j = i + 1;
    while (j < s.size() && IsJsonSpace(s[j])) ++j;
    size_t k = j;
    if (k < s.size() && s[k] == '-') ++k;
    size_t digits = k;
    while (k < s.size() && IsDigit(s[k])) ++k;
    if (k == digits) continue;
    size_t m = k;
    while (m < s.size() && IsJsonSpace(s[m])) ++m;
    if (m >= s.size() || s[m] != ':') continue;
    out.append(s.substr(i + 1, j - i - 1));
    out.push_back('"');
    out.append(s.substr(j, k - j));
    out.push_back('"');
    i = k - 1;
  }
  return out;
}

absl::StatusOr<nlohmann::json> ParseLenientJson(std::string_view text) {
  if (JsonNestingDepth(text) > kMaxJsonDepth) {
    return absl::InvalidArgumentError(
        fmt::format("malformed JSON: nested deeper than {} levels", kMaxJsonDepth));
  }
  std::string quoted = QuoteBareIntegerKeys(text);
  try {
    return nlohmann::json::parse(quoted);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(fmt::format("malformed JSON: {}", e.what()));
  }
}

JsonFile::JsonFile(std::shared_ptr<FileSystem> fs, std::string path)
    : fs_(fs != nullptr ? std::move(fs) : NewPosixFileSystem()), path_(std::move(path)) {}

JsonFile::Outcome JsonFile::TryLoad(const std::string& path, const Decoder& decode,
                                    std::string* text, absl::Status* why) {
  auto read = ReadFileToString(*fs_, path, kMaxJsonFileBytes);
  if (absl::IsNotFound(read.status())) return Outcome::kMissing;
  if (absl::IsFailedPrecondition(read.status())) {
    *why = read.status();
    return Outcome::kBad;
  }
  if (!read.ok()) {
    *why = read.status();
    return Outcome::kIoError;
  }
  *text = *std::move(read);
  if (text->find_first_not_of(" \t\r\n") == std::string::npos) {
    *why = absl::DataLossError(fmt::format("{} is empty", path));
    return Outcome::kBad;
  }
  auto doc = ParseLenientJson(*text);
  if (!doc.ok()) {
    *why = absl::DataLossError(fmt::format("{}: {}", path, StatusMessage(doc.status())));
    return Outcome::kBad;
  }
  absl::Status s = decode(*doc);
  if (!s.ok()) {
    *why = absl::DataLossError(fmt::format("{}: {}", path, StatusMessage(s)));
    return Outcome::kBad;
  }
  return Outcome::kOk;
}

absl::Status JsonFile::Load(const Decoder& decode) {
  std::string text;
  absl::Status main_why;
  loaded_from_backup_ = false;
  Outcome main = TryLoad(path_, decode, &text, &main_why);
  if (main == Outcome::kOk) {
    last_good_ = std::move(text);
    return absl::OkStatus();
  }
  if (main == Outcome::kIoError) return main_why;
  if (main == Outcome::kBad)
    log::Error("{}; trying the backup {}", StatusMessage(main_why), bak_path());

  absl::Status bak_why;
  Outcome bak = TryLoad(bak_path(), decode, &text, &bak_why);
  switch (bak) {
    case Outcome::kOk:
      log::Warn("loaded {} from its backup {}", path_, bak_path());
      last_good_ = std::move(text);
      loaded_from_backup_ = true;
      return absl::OkStatus();
    case Outcome::kIoError:
      return bak_why;
    case Outcome::kMissing:
      if (main == Outcome::kMissing) {
        return absl::NotFoundError(fmt::format("neither {} nor its backup exists", path_));
      }
      return absl::DataLossError(
          fmt::format("{}, and there is no backup", StatusMessage(main_why)));
    case Outcome::kBad:
      break;
  }
  log::Error("{}", StatusMessage(bak_why));
  return absl::DataLossError(
      fmt::format("{} and its backup are both unusable: {}; {}", path_,
                  main == Outcome::kMissing ? "main file missing" : StatusMessage(main_why),
                  StatusMessage(bak_why)));
}

absl::Status JsonFile::WriteDurably(const std::string& path, std::string_view text) {
  STELE_ASSIGN_OR_RETURN(auto file, fs_->Open(path, OpenOptions{.create = true, .truncate = true}));
  return file->WriteAt(0, text, SyncMode::kData);
}

absl::Status JsonFile::Store(const nlohmann::json& doc) {
  // Strings that came off the network may hold invalid UTF-8; replace rather than throw.
  std::string text = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string dir = ParentDir(path_);
  STELE_RETURN_IF_ERROR(fs_->CreateDirs(dir));
  std::string tmp = path_ + ".tmp";
  STELE_RETURN_IF_ERROR(WriteDurably(tmp, text));

  // The previous version becomes the backup, unless nothing good was ever here (a fresh broker, or
  // a main file that did not parse: then the existing backup, if any, is the better copy).
  std::optional<std::string> previous = last_good_;
  if (!previous.has_value()) {
    auto old = ReadFileToString(*fs_, path_, kMaxJsonFileBytes);
    if (old.ok() && ParseLenientJson(*old).ok()) previous = *std::move(old);
  }
  if (previous.has_value()) {
    std::string bak_tmp = bak_path() + ".tmp";
    STELE_RETURN_IF_ERROR(WriteDurably(bak_tmp, *previous));
    STELE_RETURN_IF_ERROR(fs_->Rename(bak_tmp, bak_path()));
  }
  STELE_RETURN_IF_ERROR(fs_->Rename(tmp, path_));
  STELE_RETURN_IF_ERROR(fs_->SyncDir(dir));
  last_good_ = std::move(text);
  return absl::OkStatus();
}

}  // namespace stele::broker
