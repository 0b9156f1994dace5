// Child process for crash_test: appends from several threads until killed, and reports every
// acknowledged append on stdout as one line "offset cycle thread i size queue_offset".
//
// Message i of thread t in cycle c goes to topic "crash", queue t, with body
// Body(c * 100 + t, i, size) and the single key "k-<c>-<t>-<i>" (crash_test.cc's ChildKey), so the
// parent can find it again by commit-log offset, by queue offset and by key.
//
//   crash_child DIR SYNC|ASYNC CYCLE [posix|uring]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "stele/store.h"
#include "testutil.h"

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: crash_child DIR SYNC|ASYNC CYCLE [posix|uring]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const bool sync = std::string(argv[2]) == "SYNC";
  const int cycle = std::atoi(argv[3]);
  auto opts = stele::testing::SmallOptions(
      dir,
      argc == 5 && std::string(argv[4]) == "posix" ? stele::NewPosixFileSystem()
                                                   : stele::NewDefaultFileSystem(),
      sync ? stele::FlushDiskType::kSyncFlush : stele::FlushDiskType::kAsyncFlush);
  opts.checkpoint_interval_ms = 20;
  auto store = stele::Store::Open(opts);
  if (!store.ok()) {
    std::fprintf(stderr, "open failed: %s\n", store.status().ToString().c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  std::mutex out_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        size_t size = 1 + static_cast<size_t>((cycle * 131 + t * 7919 + i * 104729) % 6000);
        std::string body = stele::testing::Body(cycle * 100 + t, i, size);
        char key[64];
        std::snprintf(key, sizeof key, "k-%d-%d-%d", cycle, t, i);
        auto r = (*store)->Append(
            stele::Message{.topic = "crash", .queue_id = t, .body = body, .keys = key});
        if (!r.ok() || r->status != stele::PutMessageStatus::kPutOk) continue;
        char line[128];
        int n = std::snprintf(line, sizeof line, "%lld %d %d %d %zu %lld\n",
                              static_cast<long long>(r->wrote_offset), cycle, t, i, size,
                              static_cast<long long>(r->queue_offset));
        std::lock_guard<std::mutex> l(out_mu);
        // One write per line, straight to the pipe: once it returns, the parent will see it.
        if (write(STDOUT_FILENO, line, static_cast<size_t>(n)) != n) std::_Exit(3);
      }
    });
  }
  for (auto& th : threads) th.join();
}
