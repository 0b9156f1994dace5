// The SQL92 filter compiler on arbitrary text, and whatever compiles evaluated against
// properties taken from the input: input = expression [\0 properties as "k\x01v\x02..."]. It
// must never crash, recurse without bound or allocate from an unchecked size; an error is
// always InvalidArgument; evaluation is deterministic.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fuzz_util.h"
#include "net/broker/filter/sql92_filter.h"

namespace {

// The value of `name` in "k\x01v\x02..." (first occurrence), without the store library so the
// target stays small.
std::optional<std::string_view> Find(std::string_view props, std::string_view name) {
  while (!props.empty()) {
    const size_t end = props.find('\x02');
    const std::string_view pair = props.substr(0, end);
    const size_t sep = pair.find('\x01');
    if (sep != std::string_view::npos && pair.substr(0, sep) == name) return pair.substr(sep + 1);
    if (end == std::string_view::npos) break;
    props.remove_prefix(end + 1);
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string_view expr = in.substr(0, nul);
  const std::string_view props =
      nul == std::string_view::npos ? std::string_view{} : in.substr(nul + 1);
  auto f = stele::filter::CompileSql92(expr);
  if (!f.ok()) {
    STELE_FUZZ_CHECK(f.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  STELE_FUZZ_CHECK((*f)->expression() == expr);
  auto lookup = [&](std::string_view name) { return Find(props, name); };
  const bool first = (*f)->Matches(lookup);
  STELE_FUZZ_CHECK((*f)->Matches(lookup) == first);
  return 0;
}
