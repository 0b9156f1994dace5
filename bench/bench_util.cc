#include "bench_util.h"

#include "random_body.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <thread>
#include <utility>

namespace stele::bench {

namespace fs = std::filesystem;

namespace {
const char* g_program_name = "stele_bench";
}  // namespace

void SetProgramName(const char* name) { g_program_name = name; }
const char* ProgramName() { return g_program_name; }

std::string Env(const char* name, const std::string& def) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : def;
}

double EnvDouble(const char* name, double def) {
  const std::string v = Env(name, "");
  if (v.empty()) return def;
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || d <= 0) {
    std::fprintf(stderr, "%s: ignoring %s=%s (want a positive number)\n", ProgramName(), name,
                 v.c_str());
    return def;
  }
  return d;
}

std::string BaseDir() { return Env("STELE_BENCH_DIR", "./stele-bench-data"); }

std::shared_ptr<FileSystem> BaseFs() {
  if (Env("STELE_BENCH_FS", "") == "posix") return NewPosixFileSystem();
  return NewDefaultFileSystem();
}

std::string FreshDir(const std::string& tag) {
  static int seq = 0;
  std::error_code ec;
  fs::create_directories(BaseDir(), ec);
  fs::path dir = fs::path(BaseDir()) /
                 ("stele-" + std::to_string(getpid()) + "-" + std::to_string(++seq) + "-" + tag);
  fs::remove_all(dir, ec);
  return dir.string();
}

void RemoveDir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) {
    std::fprintf(stderr, "%s: cannot remove %s: %s\n", ProgramName(), dir.c_str(),
                 ec.message().c_str());
  }
}

std::vector<fs::path> SegmentFiles(const std::string& root) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(root) / "commitlog", ec)) {
    if (e.path().filename().string().find('.') == std::string::npos) out.push_back(e.path());
  }
  return out;
}

void WaitForSpareSegment(const std::string& root) {
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (SegmentFiles(root).size() < 2 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

const std::string& Body() {
  static const std::string body = RandomBody(kBodySize);
  return body;
}

StoreOptions BaseOptions(const std::string& dir, FlushDiskType type, uint64_t segment_size,
                         std::shared_ptr<FileSystem> fs) {
  StoreOptions o;
  o.store_path_root_dir = dir;
  o.mapped_file_size_commit_log = segment_size;
  o.flush_disk_type = type;
  o.file_system = std::move(fs);
  return o;
}

void CloseStore(std::unique_ptr<Store>& store) {
  absl::Status st = store->Close();
  if (!st.ok()) std::fprintf(stderr, "%s: close: %s\n", ProgramName(), st.ToString().c_str());
  store.reset();
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

void SetLatencyCounters(benchmark::State& state, const std::string& prefix,
                        const std::vector<double>& sorted_us) {
  state.counters[prefix + "p50_us"] = Percentile(sorted_us, 0.50);
  state.counters[prefix + "p99_us"] = Percentile(sorted_us, 0.99);
  state.counters[prefix + "p999_us"] = Percentile(sorted_us, 0.999);
  state.counters[prefix + "max_us"] = sorted_us.empty() ? 0 : sorted_us.back();
}

void AddBenchContext() {
  benchmark::AddCustomContext("stele_bench_dir", BaseDir());
  benchmark::AddCustomContext("stele_segment_bytes", std::to_string(kSegmentSize));
  benchmark::AddCustomContext("stele_body_bytes", std::to_string(kBodySize));
}

}  // namespace stele::bench
