// stele_bindings_bench: the C++ side of bench/bindings_bench.py. Appends N messages of B bytes to
// one queue in batches with Store::AppendBatch (ASYNC_FLUSH), then reads them all back with Get
// (32 per call, touching each body), and prints one JSON line of rates. The Python script runs the
// same workload through the binding and reports the ratio.
//
//   stele_bindings_bench DIR [--messages N] [--body-size B] [--batch K]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "stele/store.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: stele_bindings_bench DIR [--messages N] [--body-size B] [--batch K]\n");
    return 2;
  }
  const std::string dir = argv[1];
  long messages = 200000, body_size = 1024, batch = 32;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    const long v = std::strtol(argv[i + 1], nullptr, 10);
    if (a == "--messages")
      messages = v;
    else if (a == "--body-size")
      body_size = v;
    else if (a == "--batch")
      batch = v;
    else
      return 2;
  }
  stele::StoreOptions o;
  for (auto [k, v] : {std::pair{"storePathRootDir", dir},
                      {"mappedFileSizeCommitLog", "268435456"},
                      {"maxHashSlotNum", "100000"},
                      {"maxIndexNum", "400000"}}) {
    if (!o.SetOption(k, v).ok()) return 1;
  }
  auto store = stele::Store::Open(o);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  const std::string body(body_size, 'x');
  std::vector<stele::Message> msgs(batch, stele::Message{.topic = "BenchTopic", .body = body});
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  for (long done = 0; done < messages; done += batch) {
    auto r = (*store)->AppendBatch(msgs);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
  }
  const double put_s = std::chrono::duration<double>(Clock::now() - t0).count();
  (*store)->WaitForMessages("BenchTopic", 0, messages - 1, std::chrono::seconds(60));
  t0 = Clock::now();
  long read = 0, bytes = 0;
  for (int64_t off = 0; read < messages;) {
    auto g = (*store)->Get("BenchTopic", 0, off, {.max_messages = 32});
    if (!g.ok() || g->messages.empty()) return 1;
    for (const auto& m : g->messages) bytes += static_cast<long>(m.msg.body.size());
    read += static_cast<long>(g->messages.size());
    off = g->next_begin_offset;
  }
  const double get_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!(*store)->Close().ok()) return 1;
  std::printf(
      "{\"put_msgs_per_s\": %.0f, \"get_msgs_per_s\": %.0f, \"messages\": %ld, \"bytes_read\": "
      "%ld}\n",
      messages / put_s, read / get_s, messages, bytes);
  return 0;
}
