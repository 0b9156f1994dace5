// Helpers shared by the tests: temporary directories, option presets, message builders.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "stele/file_system.h"
#include "stele/store.h"

namespace stele::testing {

// A fresh directory under $TMPDIR (or /tmp), removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Small segments, consume-queue and index files and a small write buffer so tests roll files often.
StoreOptions SmallOptions(const std::string& root, std::shared_ptr<FileSystem> fs,
                          FlushDiskType flush = FlushDiskType::kSyncFlush);

// The file-system backends every engine suite runs against.
enum class Backend { kMemory, kPosix, kUring };
std::string BackendName(Backend b);
std::shared_ptr<FileSystem> MakeBackend(Backend b);

// Multiplier for seeded loops (seeds, crash cycles): $STELE_SOAK, default 1. CI runs 1; a soak run
// sets e.g. STELE_SOAK=10. The seeds stay fixed, so any failure still names a reproducible seed.
int SoakFactor();

// Deterministic body for (seed, i) of the given size.
std::string Body(uint64_t seed, uint64_t i, size_t size);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed), for
// starting a server process on it.
uint16_t FreeLoopbackPort();

}  // namespace stele::testing
