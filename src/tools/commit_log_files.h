// Read-only view of a commit-log directory for the store tools: lists the 20-digit segment files,
// works out the segment size and checks the layout (equal sizes, aligned names, no gaps) without
// opening the store, so it works while a broker has the store open and never writes a byte.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "stele/file_system.h"
#include "stele/message.h"

namespace stele::tools {

struct SegmentFile {
  int64_t start = 0;
  uint64_t size = 0;  // the file's actual size
  std::string path;
  int64_t end() const { return start + static_cast<int64_t>(size); }
};

// A problem at a commit-log offset ("corrupt at offset N: reason").
struct Problem {
  int64_t offset = 0;
  std::string reason;
};

struct CommitLogFiles {
  std::string dir;
  uint64_t segment_size = 0;          // detected, or as given; 0 when there are no segments
  std::vector<SegmentFile> segments;  // sorted by start; a zero-length last file is left out
  std::vector<std::string> notes;     // files ignored, and why
  std::optional<Problem> problem;     // the first layout problem: gap, wrong size, misaligned name

  int64_t start() const { return segments.empty() ? 0 : segments.front().start; }
  int64_t end() const { return segments.empty() ? 0 : segments.back().end(); }
  // The segment holding `offset`, or null.
  const SegmentFile* Find(int64_t offset) const;
};

// Lists `dir`. segment_size 0 means detect it: the size most segment files have (ties go to the
// first file's). An unreadable directory is an error; layout problems are reported in `problem`.
absl::StatusOr<CommitLogFiles> ListCommitLog(FileSystem* fs, const std::string& dir,
                                             uint64_t segment_size);

// Maps a whole segment read-only.
absl::StatusOr<std::shared_ptr<const MappedRegion>> MapSegment(FileSystem* fs,
                                                               const SegmentFile& seg);

// Decodes records at arbitrary commit-log offsets (the ones consume-queue entries name), keeping
// the few segments last used mapped. `files` must outlive it.
class RecordLookup {
 public:
  // `log_end`: where the log ends (the files' end if not known).
  RecordLookup(FileSystem* fs, const CommitLogFiles* files, int64_t log_end)
      : fs_(fs), files_(files), log_end_(log_end) {}
  void set_log_end(int64_t end) { log_end_ = end; }
  // Decodes the record starting at `offset` into *v (views into the mapping, valid until the next
  // call). Otherwise false, and *why says what is there instead ("past the end of the log at N",
  // "where no record starts", ...). The CRC is not checked.
  bool At(int64_t offset, MessageView* v, std::string* why);
  void Release() { maps_.clear(); }

 private:
  static constexpr size_t kMaxMapped = 4;
  FileSystem* fs_;
  const CommitLogFiles* files_;
  int64_t log_end_;
  std::vector<std::pair<const SegmentFile*, std::shared_ptr<const MappedRegion>>> maps_;
};

}  // namespace stele::tools
