#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "common/logging.h"

namespace stele::testing {
namespace {
// Recovery and segment creation log at INFO on every open; tests open stores thousands of times.
const bool kQuietLogs = [] {
  log::SetMinLevel(std::getenv("STELE_TEST_VERBOSE") ? log::Level::kDebug : log::Level::kWarn);
  return true;
}();
}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/stele-test-XXXXXX";
  char* p = mkdtemp(tmpl.data());
  if (p == nullptr) std::abort();
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

StoreOptions SmallOptions(const std::string& root, std::shared_ptr<FileSystem> fs,
                          FlushDiskType flush) {
  StoreOptions o;
  o.store_path_root_dir = root;
  o.mapped_file_size_commit_log = 256 * 1024;
  o.max_message_size = 64 * 1024;
  o.write_buffer_size = 1 << 20;
  o.flush_disk_type = flush;
  o.flush_interval_commit_log_ms = 10;
  o.checkpoint_interval_ms = 50;
  // Small consume-queue and index files so tests cross file boundaries (and the in-memory file
  // system does not allocate RocketMQ's 420 MB index file).
  o.mapped_file_size_consume_queue = 64 * 20;
  o.flush_interval_consume_queue_ms = 20;
  o.max_hash_slot_num = 256;
  o.max_index_num = 2048;
  o.file_system = std::move(fs);
  return o;
}

std::string BackendName(Backend b) {
  switch (b) {
    case Backend::kMemory:
      return "Memory";
    case Backend::kPosix:
      return "Posix";
    case Backend::kUring:
      return "Uring";
  }
  return "?";
}

std::shared_ptr<FileSystem> MakeBackend(Backend b) {
  switch (b) {
    case Backend::kMemory:
      return NewMemFileSystem();
    case Backend::kPosix:
      return NewPosixFileSystem();
    case Backend::kUring: {
      auto fs = NewUringFileSystem();
      if (!fs.ok()) {
        ADD_FAILURE() << "io_uring unavailable: " << fs.status();
        return NewPosixFileSystem();
      }
      return *fs;
    }
  }
  return nullptr;
}

int SoakFactor() {
  const char* v = std::getenv("STELE_SOAK");
  int f = v ? std::atoi(v) : 1;
  return f > 0 ? f : 1;
}

std::string Body(uint64_t seed, uint64_t i, size_t size) {
  std::mt19937_64 rng(seed * 1000003 + i);
  std::string s(size, '\0');
  for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

uint16_t FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  socklen_t len = sizeof(sa);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  return ntohs(sa.sin_port);
}

}  // namespace stele::testing
