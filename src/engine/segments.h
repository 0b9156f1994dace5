// The commit log's segment files: fixed-size, preallocated, named by their 20-digit zero-padded
// start offset (RocketMQ's naming). Owns the allocator thread that prepares the next segment ahead
// of need, as RocketMQ's AllocateMappedFileService does, so a roll never waits for disk I/O.
//
// A new segment is built under "<name>.tmp" (allocated or zero-filled, then fdatasync'ed) and only
// then renamed into place and the directory fsync'ed: a crash never leaves a short segment behind.
// Zero-filling is for segments prepared ahead of need: a segment an appender is already waiting for
// is only allocated (fast on any disk), and one being zero-filled when an appender starts waiting
// stops filling at once, so a slow or busy disk never turns a roll into a multi-second stall.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "stele/file_system.h"

namespace stele::engine {

struct Segment {
  int64_t start = 0;
  uint64_t size = 0;
  std::string path;
  std::unique_ptr<File> file;
  std::shared_ptr<const MappedRegion> map;  // whole segment (read-write when `wdata` is set)
  char* wdata = nullptr;                    // writable view of `map`, in mmap write mode
  int64_t end() const { return start + static_cast<int64_t>(size); }
};

std::string SegmentName(int64_t start);
// Parses a 20-digit zero-padded name (segments, consume-queue files).
bool ParseSegmentName(std::string_view name, int64_t* start);

class SegmentSet {
 public:
  // With `writable_maps`, segments are mapped read-write when the file system supports it.
  SegmentSet(FileSystem* fs, std::string dir, uint64_t segment_size, bool zero_fill,
             bool writable_maps);
  ~SegmentSet();

  // Lists the directory: removes "*.tmp" leftovers and a zero-length last file, refuses gaps,
  // wrong sizes and misaligned names, warns about foreign files; opens and maps every segment.
  absl::Status Load();
  void StartAllocator();
  void StopAllocator();

  std::shared_ptr<Segment> Find(int64_t offset) const;
  std::shared_ptr<Segment> First() const;
  std::shared_ptr<Segment> Last() const;
  size_t Count() const;
  // Returns the segment starting at `start`, creating it (normally already prepared by the
  // allocator) if missing, and asks the allocator to prepare the one after it.
  absl::StatusOr<std::shared_ptr<Segment>> GetOrCreate(int64_t start);
  // Deletes every segment whose start is >= `start` (recovery's truncation of a dirty tail).
  absl::Status DeleteFrom(int64_t start);
  // Deletes every segment that ends at or before `offset` (retention). Returns how many. Readers
  // holding a segment keep its mapping until they drop it.
  absl::StatusOr<int> DeleteBefore(int64_t offset);
  std::vector<int64_t> Starts() const;
  uint64_t segment_size() const { return size_; }
  const std::string& dir() const { return dir_; }

 private:
  absl::StatusOr<std::shared_ptr<Segment>> OpenSegment(int64_t start);
  // `zero` asks for the zero fill; it stops early (the rest stays allocated) once `hurry_` is set.
  absl::Status Create(int64_t start, bool zero);
  void AllocatorLoop();

  FileSystem* fs_;
  std::string dir_;
  uint64_t size_;
  bool zero_fill_;
  bool writable_maps_;

  mutable std::shared_mutex mu_;
  std::map<int64_t, std::shared_ptr<Segment>> segs_;

  // Allocator state. Sets, not single slots: several appenders may wait for the same segment
  // while the allocator already prepares the next one.
  std::mutex amu_;
  std::condition_variable acv_;
  std::set<int64_t> wanted_;                // starts to prepare, smallest first
  std::set<int64_t> prepared_;              // prepared (synced, renamed) but not yet opened
  std::map<int64_t, absl::Status> failed_;  // starts whose preparation failed (reported once)
  std::map<int64_t, int> awaited_;          // starts appenders are blocked on, with their count
  int64_t creating_ = -1;                   // the start the allocator is preparing now
  std::atomic<bool> hurry_{false};          // an appender waits for `creating_`: skip the zeros
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace stele::engine
