// stele_filter_bench: the per-message cost of the broker's filters on stored properties
// (RocketMQ's "k\x01v\x02" string), tag filter vs SQL92, in the same run:
//   BM_TagFilter     the tag check of a pull: the TAGS property looked up and compared with the
//                    subscription's tags (the consume-queue hash check before it is one compare)
//   BM_Sql92Simple   "a > 5"
//   BM_Sql92Complex  five properties, BETWEEN / IN / AND / OR / STARTSWITH / a double compare
//   BM_Sql92Compile  compiling the complex expression (done once per expression, then cached)
// Each iteration filters one message of a rotating set of 1024 with varied values.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "net/broker/filter/sql92_filter.h"
#include "stele/message.h"

namespace {

constexpr char kComplex[] =
    "(a BETWEEN 3 AND 8 AND region IN ('eu', 'us')) OR (price > 20.5 AND TAGS = 'TagA' AND "
    "name STARTSWITH 'order-1')";

std::vector<std::string> Messages() {
  std::vector<std::string> out;
  const char* regions[] = {"eu", "us", "asia"};
  for (int i = 0; i < 1024; ++i) {
    std::string p;
    stele::AppendProperty(&p, "TAGS", i % 4 == 0 ? "TagA" : "TagC");
    stele::AppendProperty(&p, "KEYS", fmt::format("key-{}", i));
    stele::AppendProperty(&p, "UNIQ_KEY", fmt::format("7F000001000018B4AAC2{:012X}", i));
    stele::AppendProperty(&p, "a", std::to_string(i % 10));
    stele::AppendProperty(&p, "region", regions[i % 3]);
    stele::AppendProperty(&p, "price", fmt::format("{}.{}", i % 40, i % 100));
    stele::AppendProperty(&p, "name", fmt::format("order-{}", i));
    out.push_back(std::move(p));
  }
  return out;
}

void BM_TagFilter(benchmark::State& state) {
  const std::vector<std::string> msgs = Messages();
  const std::vector<std::string> tags = {"TagA", "TagB"};
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    const std::string& props = msgs[i++ & 1023];
    const std::string_view tag = stele::FindProperty(props, "TAGS").value_or("");
    hits += std::find(tags.begin(), tags.end(), tag) != tags.end();
  }
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TagFilter);

void RunSql(benchmark::State& state, const char* expr) {
  const std::vector<std::string> msgs = Messages();
  auto f = stele::filter::CompileSql92(expr);
  if (!f.ok()) {
    state.SkipWithError(std::string(f.status().message()).c_str());
    return;
  }
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    const std::string& props = msgs[i++ & 1023];
    hits += (*f)->Matches([&](std::string_view name) { return stele::FindProperty(props, name); });
  }
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(state.iterations());
  state.counters["match_ratio"] =
      static_cast<double>(hits) / static_cast<double>(std::max<size_t>(1, i));
}

void BM_Sql92Simple(benchmark::State& state) { RunSql(state, "a > 5"); }
BENCHMARK(BM_Sql92Simple);

void BM_Sql92Complex(benchmark::State& state) { RunSql(state, kComplex); }
BENCHMARK(BM_Sql92Complex);

void BM_Sql92Compile(benchmark::State& state) {
  for (auto _ : state) {
    auto f = stele::filter::CompileSql92(kComplex);
    benchmark::DoNotOptimize(f);
  }
}
BENCHMARK(BM_Sql92Compile);

}  // namespace

BENCHMARK_MAIN();
