// Embedding Stele as a durable queue: append with SYNC_FLUSH, close, reopen, read everything back.
//
//   embedded_queue [DATA_DIR] [COUNT]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "stele/store.h"

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "./stele-demo-data";
  const int count = argc > 2 ? std::atoi(argv[2]) : 10;

  stele::StoreOptions opts;
  opts.store_path_root_dir = dir;
  opts.flush_disk_type = stele::FlushDiskType::kSyncFlush;  // ack = on disk
  opts.mapped_file_size_commit_log = 64ull << 20;           // 64 MiB segments for the demo

  int64_t first = -1;
  {
    auto store = stele::Store::Open(opts);
    if (!store.ok()) {
      std::fprintf(stderr, "open %s: %s\n", dir.c_str(), store.status().ToString().c_str());
      return 1;
    }
    for (int i = 0; i < count; ++i) {
      std::string body = "order #" + std::to_string(i);
      auto r = (*store)->Append(stele::Message{
          .topic = "Orders", .queue_id = i % 2, .body = body, .tags = "created", .keys = body});
      if (!r.ok()) {
        std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
        return 1;
      }
      if (first < 0) first = r->wrote_offset;
      std::printf("appended  offset=%lld queue=%d queueOffset=%lld msgId=%s\n",
                  static_cast<long long>(r->wrote_offset), i % 2,
                  static_cast<long long>(r->queue_offset), r->msg_id.c_str());
    }
    if (auto st = (*store)->Close(); !st.ok()) {
      std::fprintf(stderr, "close: %s\n", st.ToString().c_str());
      return 1;
    }
  }

  auto store = stele::Store::Open(opts);  // reopen: a clean shutdown skips the recovery scan
  if (!store.ok()) {
    std::fprintf(stderr, "reopen: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const stele::RecoveryReport& rep = (*store)->recovery_report();
  std::printf("reopened  clean=%s scanned=%llu bytes in %.3f s, log ends at %lld\n",
              rep.clean_shutdown ? "yes" : "no", static_cast<unsigned long long>(rep.bytes_scanned),
              rep.seconds, static_cast<long long>(rep.end_offset));
  int n = 0;
  for (int64_t off = first; off >= 0 && off < (*store)->MaxOffset();) {
    auto rec = (*store)->Read(off);
    if (!rec.ok()) break;
    std::printf("read back offset=%lld topic=%.*s queue=%d queueOffset=%lld body=\"%.*s\"\n",
                static_cast<long long>(rec->offset), static_cast<int>(rec->msg.topic.size()),
                rec->msg.topic.data(), rec->msg.queue_id,
                static_cast<long long>(rec->msg.queue_offset),
                static_cast<int>(rec->msg.body.size()), rec->msg.body.data());
    off = rec->next_offset;
    ++n;
  }
  std::printf("%d records read back from %s\n", n, dir.c_str());
  return n >= count ? 0 : 1;
}
